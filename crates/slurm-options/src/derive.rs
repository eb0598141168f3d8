//! The options a requirement alternative derives: time, GPUs, memory,
//! cores. One function, used by the launcher file's finder and by the
//! Slurm launcher alike.

use core_types::{Alternative, Walltime};

use crate::options::SlurmOptions;
use crate::value::SlurmValue;

/// Derived options and the options that take their place: when any of
/// these is set, the option is not derived (sbatch refuses `--mem` with
/// `--mem-per-cpu`, and `--gres=gpu:N` says the GPU count).
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
    // Several GPU types: `gres` takes the place of `gpus-per-node`.
    (
        "gres",
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

/// The options for a job matched with `alternative` on a launcher whose
/// options are `fixed`: the fixed options first (they win), then those
/// derived from the match, each when non-zero: `time` from the duration
/// (see [`slurm_time`]), `gpus-per-node` from the accelerator count, `mem`
/// from the CPU memory (an integer of MiB, rounded up), `cpus-per-task`
/// from the cores.
///
/// A derived option is left out when `fixed` sets it or an option that
/// takes its place: `gpus`, `gpus-per-task`, `gpus-per-socket` or `gres`
/// for `gpus-per-node`; `mem-per-cpu` or `mem-per-gpu` for `mem`;
/// `cpus-per-gpu` for `cpus-per-task`. Deriving again from the result
/// changes nothing.
///
/// ```
/// use core_types::{AcceleratorKind, AcceleratorRequest, Alternative, MemSize, Walltime};
/// use slurm_options::{SlurmOptions, derive};
///
/// let alternative = Alternative {
///     duration: Walltime::from_seconds(4 * 3600),
///     accelerators: vec![
///         AcceleratorRequest { kind: AcceleratorKind::Cuda, memory: MemSize::from_bytes(24 << 30) };
///         2
///     ],
///     ..Alternative::default()
/// };
/// let fixed = SlurmOptions::new().partition("fast");
/// let options = derive(&fixed, &alternative);
/// assert_eq!(
///     options.to_args(),
///     ["--partition=fast", "--time=4:00:00", "--gpus-per-node=2"]
/// );
/// assert_eq!(derive(&options, &alternative), options);
/// ```
pub fn derive(fixed: &SlurmOptions, alternative: &Alternative) -> SlurmOptions {
    derive_typed(fixed, alternative, &[])
}

/// [`derive`], with the GRES type of the GPU that serves each accelerator
/// request of `alternative` (`gpu_types[i]` for request `i`, `None` when
/// unknown): when every request's type is known, the GPU option names the
/// types, so that Slurm can only give GPUs of the kind that was matched:
/// `gpus-per-node = "TYPE:N"` for one type, `gres = "gpu:A:N,gpu:B:M"`
/// (in the order of the requests) for several. Otherwise (or with no
/// types) it is the untyped count, as [`derive`] gives it. The same
/// options displace it.
///
/// ```
/// use core_types::{AcceleratorKind, AcceleratorRequest, Alternative, MemSize};
/// use slurm_options::{SlurmOptions, derive_typed};
///
/// let request = AcceleratorRequest { kind: AcceleratorKind::Cuda, memory: MemSize::from_bytes(40 << 30) };
/// let alternative = Alternative { accelerators: vec![request; 2], ..Alternative::default() };
/// let fixed = SlurmOptions::new().partition("gpu");
/// let whole = Some("nvidia_h100_80gb_hbm3");
/// let options = derive_typed(&fixed, &alternative, &[whole, whole]);
/// assert_eq!(options.to_args(), ["--partition=gpu", "--gpus-per-node=nvidia_h100_80gb_hbm3:2"]);
/// assert_eq!(derive_typed(&options, &alternative, &[whole, whole]), options);
/// let slice = Some("1g.10gb");
/// let mixed = derive_typed(&fixed, &alternative, &[whole, slice]);
/// assert_eq!(mixed.to_args(), ["--partition=gpu", "--gres=gpu:nvidia_h100_80gb_hbm3:1,gpu:1g.10gb:1"]);
/// ```
pub fn derive_typed(
    fixed: &SlurmOptions,
    alternative: &Alternative,
    gpu_types: &[Option<&str>],
) -> SlurmOptions {
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
    let typed = typed_gpus(gpus, gpu_types);
    match typed.as_slice() {
        [] => derive(
            "gpus-per-node",
            (gpus > 0).then(|| SlurmValue::Integer(clamp_i64(gpus as u64))),
        ),
        [(kind, n)] => derive(
            "gpus-per-node",
            Some(SlurmValue::from(format!("{kind}:{n}"))),
        ),
        several => {
            let gres: Vec<String> = several
                .iter()
                .map(|(k, n)| format!("gpu:{k}:{n}"))
                .collect();
            derive("gres", Some(SlurmValue::from(gres.join(","))));
        }
    }
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

/// The GPUs by type, in the order the requests name them; empty unless
/// every one of the `count` requests has a type.
fn typed_gpus<'a>(count: usize, gpu_types: &[Option<&'a str>]) -> Vec<(&'a str, u64)> {
    if count == 0
        || gpu_types.len() != count
        || gpu_types.iter().any(|t| t.is_none_or(str::is_empty))
    {
        return Vec::new();
    }
    let mut out: Vec<(&str, u64)> = Vec::new();
    for kind in gpu_types.iter().flatten() {
        match out.iter_mut().find(|(k, _)| k == kind) {
            Some((_, n)) => *n += 1,
            None => out.push((kind, 1)),
        }
    }
    out
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
    }

    #[test]
    fn derived_options() {
        let fixed = SlurmOptions::new();
        let options = derive(&fixed, &alternative(4 * 3600, 2, (1 << 30) + 1, 4));
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
        assert!(derive(&fixed, &Alternative::default()).is_empty());
    }

    #[test]
    fn fixed_options_win_and_displace() {
        let fixed: SlurmOptions = [
            ("time", SlurmValue::from("1:00:00")),
            ("mem_per_cpu", SlurmValue::from("2G")),
            ("gres", SlurmValue::from("gpu:a100:2")),
            ("exclusive", SlurmValue::Flag(true)),
            ("requeue", SlurmValue::Flag(false)),
        ]
        .into_iter()
        .collect();
        let options = derive(&fixed, &alternative(4 * 3600, 2, 1 << 30, 4));
        // `requeue = false` is `--no-requeue`, as sbatch is given it.
        assert_eq!(
            options.to_args(),
            [
                "--time=1:00:00",
                "--mem-per-cpu=2G",
                "--gres=gpu:a100:2",
                "--exclusive",
                "--no-requeue",
                "--cpus-per-task=4"
            ]
        );
        assert_eq!(options.get("mem_per_cpu"), Some(&SlurmValue::from("2G")));
        assert!(!options.contains("mem"));
    }

    #[test]
    fn typed_gpu_options() {
        let fixed = SlurmOptions::new();
        let alt = alternative(0, 2, 0, 0);
        let a100 = Some("a100");
        assert_eq!(
            derive_typed(&fixed, &alt, &[a100, a100]).to_args(),
            ["--gpus-per-node=a100:2"]
        );
        // A type unknown for one request: the untyped count.
        assert_eq!(
            derive_typed(&fixed, &alt, &[a100, None]).to_args(),
            ["--gpus-per-node=2"]
        );
        assert_eq!(
            derive_typed(&fixed, &alt, &[]).to_args(),
            ["--gpus-per-node=2"]
        );
        // Fixed GPU options win, typed or not.
        let by_hand = SlurmOptions::new().gpus_per_node("v100:1");
        assert_eq!(
            derive_typed(&by_hand, &alt, &[a100, a100]).to_args(),
            ["--gpus-per-node=v100:1"]
        );
        let gres: SlurmOptions = [("gres", SlurmValue::from("gpu:2"))].into_iter().collect();
        let mixed = derive_typed(&gres, &alt, &[a100, Some("1g.10gb")]);
        assert_eq!(mixed.to_args(), ["--gres=gpu:2"]);
        let mixed = derive_typed(&fixed, &alt, &[a100, Some("1g.10gb")]);
        assert_eq!(derive_typed(&mixed, &alt, &[a100, Some("1g.10gb")]), mixed);
    }
}
