//! Slurm options: the fixed ones of a launcher file and those a match
//! derives (time, GPUs, memory, cores).

use std::fmt;

use core_types::{Alternative, Walltime};
use serde::Serialize;

/// A Slurm option's value: `--name=VALUE`, or a flag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum SlurmValue {
    /// A text value (`partition = "fast"`, `time = "4:00:00"`).
    Text(String),
    /// An integer value (`gpus-per-node = 2`, `mem = 8192`: MiB).
    Integer(i64),
    /// A flag: `true` passes `--name`, `false` leaves it out.
    Flag(bool),
}

impl fmt::Display for SlurmValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlurmValue::Text(text) => f.write_str(text),
            SlurmValue::Integer(n) => write!(f, "{n}"),
            SlurmValue::Flag(b) => write!(f, "{b}"),
        }
    }
}

impl From<&str> for SlurmValue {
    fn from(text: &str) -> Self {
        SlurmValue::Text(text.to_owned())
    }
}

impl From<String> for SlurmValue {
    fn from(text: String) -> Self {
        SlurmValue::Text(text)
    }
}

impl From<i64> for SlurmValue {
    fn from(n: i64) -> Self {
        SlurmValue::Integer(n)
    }
}

impl From<bool> for SlurmValue {
    fn from(b: bool) -> Self {
        SlurmValue::Flag(b)
    }
}

/// Slurm options by sbatch long name (`partition`, `gpus-per-node`,
/// without the leading `--`), in the order they were set: the fixed
/// options of a launcher file in file order, then the derived ones.
///
/// Names are stored normalised (`_` becomes `-`); setting a name twice
/// replaces the value in place. Serialised as a JSON object in this order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SlurmOptionsMap {
    entries: Vec<(String, SlurmValue)>,
}

impl SlurmOptionsMap {
    /// An empty map.
    pub fn new() -> Self {
        SlurmOptionsMap::default()
    }

    /// Sets an option (`_` in the name becomes `-`); the old value, if any.
    pub fn insert(
        &mut self,
        name: impl AsRef<str>,
        value: impl Into<SlurmValue>,
    ) -> Option<SlurmValue> {
        let name = normalize_name(name.as_ref());
        let value = value.into();
        if let Some((_, old)) = self.entries.iter_mut().find(|(n, _)| *n == name) {
            return Some(std::mem::replace(old, value));
        }
        self.entries.push((name, value));
        None
    }

    /// An option's value (`_` or `-` alike in the name).
    pub fn get(&self, name: &str) -> Option<&SlurmValue> {
        let name = normalize_name(name);
        self.entries
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// Whether an option is set (`_` or `-` alike in the name).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The options, in the order they were set.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &SlurmValue)> + '_ {
        self.entries.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// How many options are set.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The sbatch arguments: `--name=value` for values, `--name` for a
    /// `true` flag, nothing for a `false` one.
    pub fn to_args(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter_map(|(name, value)| match value {
                SlurmValue::Flag(true) => Some(format!("--{name}")),
                SlurmValue::Flag(false) => None,
                other => Some(format!("--{name}={other}")),
            })
            .collect()
    }
}

impl Serialize for SlurmOptionsMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for (name, value) in &self.entries {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<N: AsRef<str>, V: Into<SlurmValue>> FromIterator<(N, V)> for SlurmOptionsMap {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut map = SlurmOptionsMap::new();
        for (name, value) in iter {
            map.insert(name, value);
        }
        map
    }
}

/// An sbatch option name in its canonical form: `_` becomes `-`.
pub fn normalize_name(name: &str) -> String {
    name.replace('_', "-")
}

/// Whether a launcher file may not fix `name` (canonical form): the Slurm
/// launcher sets it itself (the job's files and directory, how it is
/// submitted and followed; `array` is how it groups jobs).
pub fn is_reserved_option(name: &str) -> bool {
    name == "array" || launcher_slurm::options::RESERVED_OPTIONS.contains(&name)
}

/// Derived options and the fixed options that take their place: when the
/// file fixes any of these, the option is not derived (sbatch refuses
/// `--mem` with `--mem-per-cpu`, and `--gres=gpu:N` says the GPU count).
const DERIVED: &[(&str, &[&str])] = &[
    ("time", &["time"]),
    (
        "gpus-per-node",
        &[
            "gpus-per-node",
            "gpus",
            "gpus-per-task",
            "gpus-per-socket",
            "gres",
        ],
    ),
    ("mem", &["mem", "mem-per-cpu", "mem-per-gpu"]),
    ("cpus-per-task", &["cpus-per-task", "cpus-per-gpu"]),
];

/// The Slurm options for a job matched with `alternative` on a launcher
/// whose fixed options are `fixed`: the fixed options first (they win),
/// then those derived from the match, each when non-zero:
/// `time` from the duration (`D-HH:MM:SS`, or `H:MM:SS` under a day: see
/// [`slurm_time`]), `gpus-per-node` from the accelerator count, `mem` from
/// the CPU memory (an integer of MiB, rounded up), `cpus-per-task` from the
/// cores.
///
/// A derived option is left out when the file fixes it or an option that
/// takes its place: `gpus`, `gpus-per-task`, `gpus-per-socket` or `gres`
/// for `gpus-per-node`; `mem-per-cpu` or `mem-per-gpu` for `mem`;
/// `cpus-per-gpu` for `cpus-per-task`.
///
/// ```
/// use registry::{SlurmOptionsMap, derive_slurm_options};
///
/// let alternative = &reqparse::parse("duration=4h & cuda(mem=24GiB) * 2")?.alternatives[0];
/// let fixed: SlurmOptionsMap = [("partition", "fast")].into_iter().collect();
/// let options = derive_slurm_options(&fixed, alternative);
/// assert_eq!(
///     options.to_args(),
///     ["--partition=fast", "--time=4:00:00", "--gpus-per-node=2"]
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn derive_slurm_options(fixed: &SlurmOptionsMap, alternative: &Alternative) -> SlurmOptionsMap {
    let mut options = fixed.clone();
    let mut derive = |name: &str, value: Option<SlurmValue>| {
        let Some(value) = value else { return };
        let displaced = DERIVED
            .iter()
            .find(|(derived, _)| *derived == name)
            .map_or(&[][..], |(_, by)| *by);
        if !displaced.iter().any(|by| fixed.contains(by)) {
            options.insert(name, value);
        }
    };
    derive(
        "time",
        (!alternative.duration.is_zero()).then(|| slurm_time(alternative.duration).into()),
    );
    let gpus = alternative.accelerators.len();
    derive(
        "gpus-per-node",
        (gpus > 0).then(|| SlurmValue::Integer(clamp_i64(gpus as u64))),
    );
    derive(
        "mem",
        (!alternative.cpu.memory.is_zero())
            .then(|| SlurmValue::Integer(clamp_i64(alternative.cpu.memory.mebibytes_ceil()))),
    );
    derive(
        "cpus-per-task",
        (alternative.cpu.cores > 0).then(|| SlurmValue::Integer(clamp_i64(alternative.cpu.cores))),
    );
    options
}

fn clamp_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A duration in Slurm's time format: `H:MM:SS` under a day (`4:00:00`),
/// `D-HH:MM:SS` from a day on (`4-04:00:00` for 100 hours).
pub fn slurm_time(duration: Walltime) -> String {
    let total = duration.seconds();
    let (days, rest) = (total / 86_400, total % 86_400);
    let (hours, minutes, seconds) = (rest / 3600, rest % 3600 / 60, rest % 60);
    if days > 0 {
        format!("{days}-{hours:02}:{minutes:02}:{seconds:02}")
    } else {
        format!("{hours}:{minutes:02}:{seconds:02}")
    }
}

/// Checks a fixed option's value where its form is known: `time` and
/// `time-min` must be Slurm times, `mem`, `mem-per-cpu` and `mem-per-gpu`
/// Slurm sizes; `None` when it is fine, else why not.
pub(crate) fn check_value(name: &str, value: &SlurmValue) -> Option<String> {
    match (name, value) {
        ("time" | "time-min", SlurmValue::Text(text)) if !is_slurm_time(text) => Some(format!(
            "`{text}` is not a Slurm time (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS or UNLIMITED)"
        )),
        ("mem" | "mem-per-cpu" | "mem-per-gpu", SlurmValue::Text(text)) if !is_slurm_size(text) => {
            Some(format!(
                "`{text}` is not a Slurm size (an integer with an optional unit K, M, G or T)"
            ))
        }
        ("time" | "time-min" | "mem" | "mem-per-cpu" | "mem-per-gpu", SlurmValue::Integer(n))
            if *n < 0 =>
        {
            Some(format!("{n} is negative"))
        }
        ("time" | "time-min" | "mem" | "mem-per-cpu" | "mem-per-gpu", SlurmValue::Flag(_)) => {
            Some("needs a value, not true or false".to_owned())
        }
        _ => None,
    }
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Slurm's time formats: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`,
/// or `UNLIMITED`/`INFINITE`.
fn is_slurm_time(text: &str) -> bool {
    if matches!(text.to_ascii_uppercase().as_str(), "UNLIMITED" | "INFINITE") {
        return true;
    }
    let (days, clock) = match text.split_once('-') {
        Some((days, clock)) => (Some(days), clock),
        None => (None, text),
    };
    if days.is_some_and(|d| !digits(d)) {
        return false;
    }
    let parts: Vec<&str> = clock.split(':').collect();
    // `M`, `M:S`, `H:M:S`; after `D-`: `H`, `H:M`, `H:M:S`.
    (1..=3).contains(&parts.len()) && parts.iter().all(|p| digits(p))
}

/// A Slurm size: digits and an optional unit `K`, `M`, `G`, `T`.
fn is_slurm_size(text: &str) -> bool {
    let number = text
        .strip_suffix(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't'])
        .unwrap_or(text);
    digits(number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_types::{AcceleratorKind, AcceleratorRequest, CpuRequest, MemSize};

    fn alternative(seconds: u64, gpus: usize, memory: u64, cores: u64) -> Alternative {
        Alternative {
            duration: Walltime::from_seconds(seconds),
            cpu: CpuRequest {
                cores,
                memory: MemSize::from_bytes(memory),
            },
            accelerators: vec![
                AcceleratorRequest {
                    kind: AcceleratorKind::Cuda,
                    memory: MemSize::from_bytes(1 << 30),
                };
                gpus
            ],
        }
    }

    #[test]
    fn times() {
        assert_eq!(slurm_time(Walltime::from_seconds(4 * 3600)), "4:00:00");
        assert_eq!(slurm_time(Walltime::from_seconds(61)), "0:01:01");
        assert_eq!(slurm_time(Walltime::from_seconds(100 * 3600)), "4-04:00:00");
        assert_eq!(slurm_time(Walltime::from_seconds(86_400 + 5)), "1-00:00:05");
        for ok in [
            "60",
            "1:00",
            "4:00:00",
            "2-0",
            "2-12:30",
            "2-12:30:00",
            "UNLIMITED",
        ] {
            assert!(is_slurm_time(ok), "{ok}");
        }
        for bad in ["", "4h", "1:2:3:4", "-1", "a-1", "1-", "1:", "1-2:3:4:5"] {
            assert!(!is_slurm_time(bad), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        for ok in ["64G", "1000", "512m"] {
            assert!(is_slurm_size(ok), "{ok}");
        }
        for bad in ["", "G", "1.5G", "64GiB", "-1"] {
            assert!(!is_slurm_size(bad), "{bad}");
        }
        assert!(check_value("mem", &SlurmValue::from("64GiB")).is_some());
        assert!(check_value("mem", &SlurmValue::Integer(-1)).is_some());
        assert!(check_value("time", &SlurmValue::Flag(true)).is_some());
        assert!(check_value("partition", &SlurmValue::Flag(true)).is_none());
    }

    #[test]
    fn derived_options() {
        let fixed = SlurmOptionsMap::new();
        let options = derive_slurm_options(&fixed, &alternative(4 * 3600, 2, (1 << 30) + 1, 4));
        assert_eq!(
            options.to_args(),
            [
                "--time=4:00:00",
                "--gpus-per-node=2",
                "--mem=1025",
                "--cpus-per-task=4"
            ]
        );
        // Nothing asked, nothing derived.
        assert!(derive_slurm_options(&fixed, &Alternative::default()).is_empty());
    }

    #[test]
    fn fixed_options_win_and_displace() {
        let fixed: SlurmOptionsMap = [
            ("time", SlurmValue::from("1:00:00")),
            ("mem_per_cpu", SlurmValue::from("2G")),
            ("gres", SlurmValue::from("gpu:a100:2")),
            ("exclusive", SlurmValue::Flag(true)),
            ("requeue", SlurmValue::Flag(false)),
        ]
        .into_iter()
        .collect();
        let options = derive_slurm_options(&fixed, &alternative(4 * 3600, 2, 1 << 30, 4));
        assert_eq!(
            options.to_args(),
            [
                "--time=1:00:00",
                "--mem-per-cpu=2G",
                "--gres=gpu:a100:2",
                "--exclusive",
                "--cpus-per-task=4"
            ]
        );
        assert_eq!(options.get("mem_per_cpu"), Some(&SlurmValue::from("2G")));
        assert!(!options.contains("mem"));
    }

    #[test]
    fn map_keeps_order_and_replaces_in_place() {
        let mut map = SlurmOptionsMap::new();
        assert_eq!(map.insert("qos", "normal"), None);
        assert_eq!(map.insert("gpus_per_node", 2), None);
        assert_eq!(map.insert("qos", "high"), Some(SlurmValue::from("normal")));
        let names: Vec<&str> = map.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["qos", "gpus-per-node"]);
        assert_eq!(
            serde_json::to_string(&map).unwrap(),
            r#"{"qos":"high","gpus-per-node":2}"#
        );
        assert_eq!(map.len(), 2);
    }
}
