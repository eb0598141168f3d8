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
}
