//! `sbatch` options: typed, checked, merged, rendered as `#SBATCH` lines.
//!
//! The struct itself ([`SlurmOptions`]) is generated from the table in
//! `xtask/src/slurm_options.rs` (`cargo xtask codegen`).

use core_types::{Alternative, Walltime};

use crate::SlurmError;
pub use crate::options_gen::{OPTIONS, SlurmOptions};

/// How an option's value is typed and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    /// A count.
    Count,
    /// Text, as is.
    Text,
    /// A memory size: digits and an optional unit (`K`, `M`, `G`, `T`).
    Memory,
    /// A Slurm time (`minutes`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`).
    Time,
    /// A flag: `--name` when true; `--NEGATION` (when there is one) when false.
    Flag {
        /// The option that says false (`no-requeue`).
        negation: Option<&'static str>,
    },
}

/// One option of the table.
#[derive(Debug, Clone, Copy)]
pub struct OptionInfo {
    /// Its long name, without `--`.
    pub name: &'static str,
    /// Its type.
    pub kind: OptionKind,
    /// What it does.
    pub help: &'static str,
}

/// A checked option value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionValue {
    /// A count.
    Count(u32),
    /// Text (also memory sizes and times).
    Text(String),
    /// A flag.
    Flag(bool),
}

/// `sbatch` options outside the table, which a launcher file may still fix:
/// they are passed through as `--name=value` (`--name` for a true flag).
pub const PASSTHROUGH_OPTIONS: &[&str] = &[
    "acctg-freq",
    "batch",
    "bb",
    "bbf",
    "cluster-constraint",
    "clusters",
    "container",
    "container-id",
    "contiguous",
    "core-spec",
    "cores-per-socket",
    "cpu-freq",
    "deadline",
    "delay-boot",
    "distribution",
    "export",
    "export-file",
    "extra",
    "extra-node-info",
    "get-user-env",
    "gid",
    "gpu-bind",
    "gpu-freq",
    "gpus-per-socket",
    "gres-flags",
    "hint",
    "hold",
    "ignore-pbs",
    "kill-on-invalid-dep",
    "mcs-label",
    "mem-bind",
    "mincpus",
    "network",
    "nice",
    "no-kill",
    "nodefile",
    "ntasks-per-core",
    "ntasks-per-gpu",
    "ntasks-per-socket",
    "oom-kill-step",
    "open-mode",
    "overcommit",
    "oversubscribe",
    "power",
    "prefer",
    "priority",
    "profile",
    "propagate",
    "quiet",
    "reboot",
    "segment",
    "sockets-per-node",
    "spread-job",
    "switches",
    "thread-spec",
    "threads-per-core",
    "time-min",
    "tmp",
    "tres-bind",
    "tres-per-task",
    "uid",
    "use-min-nodes",
    "verbose",
    "wait-all-nodes",
    "wckey",
];

/// Options the launcher sets itself: the job's files and how it is
/// submitted and followed.
pub const RESERVED_OPTIONS: &[&str] = &[
    "chdir",
    "error",
    "input",
    "output",
    "parsable",
    "test-only",
    "wait",
    "wrap",
];

/// Every long option of `sbatch` this crate knows: the generated table, the
/// pass-through options and the reserved ones. The launcher file checks its
/// `slurm = {...}` keys against this one list.
pub fn sbatch_option_names() -> impl Iterator<Item = &'static str> {
    OPTIONS
        .iter()
        .map(|o| o.name)
        .chain(PASSTHROUGH_OPTIONS.iter().copied())
        .chain(RESERVED_OPTIONS.iter().copied())
}

/// Whether `name` (canonical: no `--`, `-` not `_`) is a long option of `sbatch`.
pub fn is_sbatch_option(name: &str) -> bool {
    sbatch_option_names().any(|n| n == name)
}

/// The canonical form of an option name: no leading `--`, `_` as `-`.
fn canonical(name: &str) -> String {
    name.trim_start_matches("--").replace('_', "-")
}

fn info(name: &str) -> Option<&'static OptionInfo> {
    OPTIONS.iter().find(|o| o.name == name)
}

/// A flag's value from text: `true`/`false`, `yes`/`no`, `1`/`0`, or empty
/// (a flag named with no value is set).
fn parse_flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "true" | "yes" | "1" | "on" => Some(true),
        "false" | "no" | "0" | "off" => Some(false),
        _ => None,
    }
}

/// Whether `text` is a Slurm memory size: digits, then at most one unit
/// letter (`K`, `M`, `G`, `T`, either case).
pub fn is_memory(text: &str) -> bool {
    let number = text
        .strip_suffix(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't'])
        .unwrap_or(text);
    !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
}

/// A value for `name`, checked against its kind.
fn check(info: &OptionInfo, value: &str) -> Result<OptionValue, SlurmError> {
    let invalid = |reason: &str| SlurmError::InvalidOption {
        name: info.name.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    if value.contains(['\n', '\r', '\0']) {
        return Err(invalid("a value cannot hold a line break or a NUL byte"));
    }
    match info.kind {
        OptionKind::Count => value
            .trim()
            .parse::<u32>()
            .map(OptionValue::Count)
            .map_err(|_| invalid("expected a whole number")),
        OptionKind::Flag { .. } => parse_flag(value)
            .map(OptionValue::Flag)
            .ok_or_else(|| invalid("expected true or false")),
        OptionKind::Memory if !is_memory(value.trim()) => Err(invalid(
            "expected a size: digits with an optional unit K, M, G or T (megabytes without one)",
        )),
        OptionKind::Time if crate::parse::slurm_time(value.trim()).is_err() => Err(invalid(
            "expected a Slurm time: minutes, M:S, H:M:S, D-H, D-H:M, D-H:M:S or UNLIMITED",
        )),
        OptionKind::Text if value.trim().is_empty() => Err(invalid("expected a value")),
        _ => Ok(OptionValue::Text(value.trim().to_owned())),
    }
}

/// A duration as a Slurm time: `H:MM:SS` under a day, `D-HH:MM:SS` from a
/// day on (the form the launcher file's derived options use).
pub fn slurm_time_string(duration: Walltime) -> String {
    let total = duration.seconds();
    let (days, rest) = (total / 86_400, total % 86_400);
    let (hours, minutes, seconds) = (rest / 3600, rest % 3600 / 60, rest % 60);
    if days > 0 {
        format!("{days}-{hours:02}:{minutes:02}:{seconds:02}")
    } else {
        format!("{hours}:{minutes:02}:{seconds:02}")
    }
}

/// Characters that need no quoting in an `#SBATCH` line.
fn plain(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%&|[]*!#^~".contains(&b))
}

/// A value as `sbatch` reads it back from an `#SBATCH` line: bare when
/// plain, else in double quotes with `"` and `\` escaped by `\` (what
/// sbatch's own line splitter undoes).
pub fn sbatch_line_value(value: &str) -> String {
    if plain(value) {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

impl SlurmOptions {
    /// Sets an option by its long name (`_` or `-` alike, `--` optional)
    /// from text: counts are whole numbers, flags `true`/`false`, sizes and
    /// times are checked. Table options get their typed field; other
    /// `sbatch` options ([`PASSTHROUGH_OPTIONS`]) go to
    /// [`extra_args`](Self::extra_args). An unknown or reserved name is an
    /// error that names it.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), SlurmError> {
        let name = canonical(name);
        if let Some(info) = info(&name) {
            self.put(info.name, check(info, value)?);
            return Ok(());
        }
        if let Some(flag) = OPTIONS.iter().find(
            |o| matches!(o.kind, OptionKind::Flag { negation: Some(negation) } if negation == name),
        ) {
            // `no-requeue = true` is `requeue = false`.
            if let OptionValue::Flag(v) = check(flag, value)? {
                self.put(flag.name, OptionValue::Flag(!v));
            }
            return Ok(());
        }
        if RESERVED_OPTIONS.contains(&name.as_str()) {
            return Err(SlurmError::ReservedOption { name });
        }
        if PASSTHROUGH_OPTIONS.contains(&name.as_str()) {
            if value.contains(['\n', '\r', '\0']) {
                return Err(SlurmError::InvalidOption {
                    name,
                    value: value.to_owned(),
                    reason: "a value cannot hold a line break or a NUL byte".into(),
                });
            }
            match parse_flag(value) {
                Some(true) if value.trim().is_empty() || value.trim() == "true" => {
                    self.extra_args.push(format!("--{name}"));
                }
                Some(false) if value.trim() == "false" => {}
                _ => self.extra_args.push(format!("--{name}={value}")),
            }
            return Ok(());
        }
        Err(SlurmError::UnknownOption {
            hint: suggestion(&name),
            name,
        })
    }

    /// Options from `(name, value)` pairs, in order (see [`set`](Self::set)).
    pub fn from_pairs<I, N, V>(pairs: I) -> Result<Self, SlurmError>
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let mut options = SlurmOptions::default();
        for (name, value) in pairs {
            options.set(name.as_ref(), value.as_ref())?;
        }
        Ok(options)
    }

    /// The value of a table option, when set.
    pub fn value(&self, name: &str) -> Option<OptionValue> {
        self.get(&canonical(name))
    }

    /// The set options of the table, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static OptionInfo, OptionValue)> + '_ {
        OPTIONS
            .iter()
            .filter_map(|info| self.get(info.name).map(|v| (info, v)))
    }

    /// Whether no option is set and there are no extra arguments.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none() && self.extra_args.is_empty()
    }

    /// Checks every set value (fields are public, so they may have been
    /// set without [`set`](Self::set)).
    pub fn validate(&self) -> Result<(), SlurmError> {
        for (info, value) in self.iter() {
            if let OptionValue::Text(text) = &value {
                check(info, text)?;
            }
        }
        for arg in &self.extra_args {
            if arg.contains(['\n', '\r', '\0']) {
                return Err(SlurmError::InvalidOption {
                    name: "extra argument".into(),
                    value: arg.clone(),
                    reason: "an argument cannot hold a line break or a NUL byte".into(),
                });
            }
        }
        Ok(())
    }

    /// The options as `sbatch` arguments (`--name=value`, `--flag`), table
    /// options first, then the extra arguments.
    pub fn to_args(&self) -> Vec<String> {
        let mut args: Vec<String> = self
            .iter()
            .filter_map(|(info, value)| match (value, info.kind) {
                (OptionValue::Flag(true), _) => Some(format!("--{}", info.name)),
                (
                    OptionValue::Flag(false),
                    OptionKind::Flag {
                        negation: Some(negation),
                    },
                ) => Some(format!("--{negation}")),
                (OptionValue::Flag(false), _) => None,
                (OptionValue::Count(n), _) => Some(format!("--{}={n}", info.name)),
                (OptionValue::Text(text), _) => Some(format!("--{}={text}", info.name)),
            })
            .collect();
        args.extend(self.extra_args.iter().cloned());
        args
    }

    /// The `#SBATCH` lines of a job script, one per argument of
    /// [`to_args`](Self::to_args), values quoted so that sbatch reads them
    /// back unchanged.
    pub fn sbatch_lines(&self) -> Result<String, SlurmError> {
        self.validate()?;
        let mut out = String::new();
        for arg in self.to_args() {
            out.push_str("#SBATCH ");
            match arg.split_once('=') {
                Some((name, value)) => {
                    out.push_str(name);
                    out.push('=');
                    out.push_str(&sbatch_line_value(value));
                }
                None => out.push_str(&sbatch_line_value(&arg)),
            }
            out.push('\n');
        }
        Ok(out)
    }

    /// Fills what a requirement alternative asks for, where nothing set
    /// says it already (as a launcher file derives options): `time` from
    /// the duration, `gpus-per-node` from the accelerator count, `mem` from
    /// the CPU memory (MiB, rounded up), `cpus-per-task` from the cores;
    /// each only when non-zero. An option that takes the derived one's
    /// place counts as set (`gpus`, `gpus-per-task`, `gres` for the GPUs;
    /// `mem-per-cpu`, `mem-per-gpu` for the memory; `cpus-per-gpu` for the
    /// cores).
    pub fn fill_from(&mut self, alternative: &Alternative) {
        if self.time.is_none() && !alternative.duration.is_zero() {
            self.time = Some(slurm_time_string(alternative.duration));
        }
        let gpus = alternative.accelerators.len();
        if gpus > 0
            && self.gpus_per_node.is_none()
            && self.gpus.is_none()
            && self.gpus_per_task.is_none()
            && self.gres.is_none()
        {
            self.gpus_per_node = Some(gpus.to_string());
        }
        if !alternative.cpu.memory.is_zero()
            && self.mem.is_none()
            && self.mem_per_cpu.is_none()
            && self.mem_per_gpu.is_none()
        {
            self.mem = Some(format!("{}M", alternative.cpu.memory.mebibytes_ceil()));
        }
        if alternative.cpu.cores > 0 && self.cpus_per_task.is_none() && self.cpus_per_gpu.is_none()
        {
            self.cpus_per_task = Some(u32::try_from(alternative.cpu.cores).unwrap_or(u32::MAX));
        }
    }
}

impl TryFrom<&[(String, String)]> for SlurmOptions {
    type Error = SlurmError;

    fn try_from(pairs: &[(String, String)]) -> Result<Self, SlurmError> {
        SlurmOptions::from_pairs(pairs.iter().map(|(n, v)| (n, v)))
    }
}

impl TryFrom<&serde_json::Map<String, serde_json::Value>> for SlurmOptions {
    type Error = SlurmError;

    /// Strings, numbers and booleans (flags); other JSON values are errors.
    fn try_from(map: &serde_json::Map<String, serde_json::Value>) -> Result<Self, SlurmError> {
        let mut options = SlurmOptions::default();
        for (name, value) in map {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                other => {
                    return Err(SlurmError::InvalidOption {
                        name: canonical(name),
                        value: other.to_string(),
                        reason: "expected a string, a number or a boolean".into(),
                    });
                }
            };
            options.set(name, &text)?;
        }
        Ok(options)
    }
}

/// ` (did you mean `x`?)` for the closest known name, when one is close.
fn suggestion(name: &str) -> String {
    let known = OPTIONS
        .iter()
        .map(|o| o.name)
        .chain(PASSTHROUGH_OPTIONS.iter().copied());
    let best = known
        .map(|k| (edit_distance(name, k), k))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, k)) if d <= 2.max(name.len() / 4) => format!(" (did you mean `{k}`?)"),
        _ => String::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_types::{AcceleratorKind, AcceleratorRequest, CpuRequest, MemSize};

    #[test]
    fn set_checks_and_types() {
        let mut o = SlurmOptions::default();
        o.set("partition", "gpu").unwrap();
        o.set("--cpus_per_task", "4").unwrap();
        o.set("mem", "16G").unwrap();
        o.set("time", "1-02:00:00").unwrap();
        o.set("requeue", "true").unwrap();
        o.set("exclusive", "").unwrap();
        o.set("hint", "nomultithread").unwrap();
        o.set("overcommit", "true").unwrap();
        assert_eq!(o.partition.as_deref(), Some("gpu"));
        assert_eq!(o.cpus_per_task, Some(4));
        assert_eq!(o.requeue, Some(true));
        assert_eq!(
            o.to_args(),
            [
                "--partition=gpu",
                "--time=1-02:00:00",
                "--cpus-per-task=4",
                "--mem=16G",
                "--exclusive",
                "--requeue",
                "--hint=nomultithread",
                "--overcommit"
            ]
        );
        o.set("no-requeue", "true").unwrap();
        assert_eq!(o.requeue, Some(false));
        assert!(o.to_args().contains(&"--no-requeue".to_owned()));
    }

    #[test]
    fn bad_values_and_names_are_named() {
        let mut o = SlurmOptions::default();
        let errors = [
            o.set("cpus-per-task", "four").unwrap_err(),
            o.set("mem", "16GiB").unwrap_err(),
            o.set("time", "4h").unwrap_err(),
            o.set("requeue", "maybe").unwrap_err(),
            o.set("partiton", "gpu").unwrap_err(),
            o.set("output", "x").unwrap_err(),
            o.set("comment", "a\nb").unwrap_err(),
            o.set("frobnicate", "1").unwrap_err(),
        ];
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        insta::assert_snapshot!(text.join("\n"));
        assert_eq!(o, SlurmOptions::default(), "failed sets change nothing");
    }

    #[test]
    fn merge_keeps_what_is_set() {
        let mut base = SlurmOptions::default()
            .nodes("2")
            .partition("cpu")
            .requeue(true);
        base.extra_args.push("--hint=nomultithread".into());
        let over = SlurmOptions::default().partition("gpu").gpus_per_node("2");
        base.merge(&over);
        assert_eq!(base.nodes.as_deref(), Some("2"), "never reset");
        assert_eq!(base.partition.as_deref(), Some("gpu"));
        assert_eq!(base.gpus_per_node.as_deref(), Some("2"));
        assert_eq!(base.requeue, Some(true));
        assert_eq!(base.extra_args, ["--hint=nomultithread"]);
        let mut unchanged = base.clone();
        unchanged.merge(&SlurmOptions::default());
        assert_eq!(unchanged, base);
    }

    #[test]
    fn sbatch_lines_quote_what_sbatch_would_split() {
        let o = SlurmOptions::default()
            .job_name("plain-name_1.x")
            .comment(r#"a b "q" 'x' \ $y"#);
        assert_eq!(
            o.sbatch_lines().unwrap(),
            "#SBATCH --job-name=plain-name_1.x\n#SBATCH --comment=\"a b \\\"q\\\" 'x' \\\\ $y\"\n"
        );
        let bad = SlurmOptions {
            comment: Some("line\nbreak".into()),
            ..SlurmOptions::default()
        };
        assert!(bad.sbatch_lines().is_err());
    }

    #[test]
    fn derived_options_fill_only_the_gaps() {
        let alt = Alternative {
            duration: Walltime::from_seconds(4 * 3600),
            cpu: CpuRequest {
                cores: 4,
                memory: MemSize::from_bytes((1 << 30) + 1),
            },
            accelerators: vec![
                AcceleratorRequest {
                    kind: AcceleratorKind::Cuda,
                    memory: MemSize::from_bytes(1 << 30),
                };
                2
            ],
        };
        let mut o = SlurmOptions::default();
        o.fill_from(&alt);
        assert_eq!(
            o.to_args(),
            [
                "--time=4:00:00",
                "--cpus-per-task=4",
                "--mem=1025M",
                "--gpus-per-node=2"
            ]
        );
        let mut fixed = SlurmOptions::default()
            .time("10")
            .mem_per_cpu("2G")
            .gres("gpu:a100:2");
        fixed.fill_from(&alt);
        assert_eq!(
            fixed.to_args(),
            [
                "--time=10",
                "--cpus-per-task=4",
                "--mem-per-cpu=2G",
                "--gres=gpu:a100:2"
            ]
        );
        let mut nothing = SlurmOptions::default();
        nothing.fill_from(&Alternative::default());
        assert!(nothing.is_empty());
        assert_eq!(
            slurm_time_string(Walltime::from_seconds(100 * 3600)),
            "4-04:00:00"
        );
    }

    #[test]
    fn conversions_from_maps() {
        let pairs = vec![
            ("partition".to_owned(), "fast".to_owned()),
            ("gpus_per_node".to_owned(), "2".to_owned()),
        ];
        let o = SlurmOptions::try_from(pairs.as_slice()).unwrap();
        assert_eq!(o.gpus_per_node.as_deref(), Some("2"));
        let json = serde_json::json!({"partition": "fast", "cpus-per-task": 8, "exclusive": true});
        let o = SlurmOptions::try_from(json.as_object().unwrap()).unwrap();
        assert_eq!(o.cpus_per_task, Some(8));
        assert_eq!(o.exclusive, Some(true));
        let bad = serde_json::json!({"nodes": [1]});
        assert!(SlurmOptions::try_from(bad.as_object().unwrap()).is_err());
        let unknown = vec![("gpu_per_node".to_owned(), "1".to_owned())];
        let err = SlurmOptions::try_from(unknown.as_slice()).unwrap_err();
        assert!(err.to_string().contains("gpu-per-node"), "{err}");
    }
}
