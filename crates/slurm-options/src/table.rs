//! What `sbatch` accepts: the typed table ([`OPTIONS`], generated), the
//! options passed through as text, and those the launcher sets itself.

pub use crate::table_gen::OPTIONS;

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

/// Every long option of `sbatch` known here: the typed table, the
/// pass-through options and the reserved ones.
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

/// Whether a launcher file or a job may not set `name` (canonical form):
/// the Slurm launcher sets it itself (the job's files and directory, how it
/// is submitted and followed; `array` is how it groups jobs).
pub fn is_reserved_option(name: &str) -> bool {
    name == "array" || RESERVED_OPTIONS.contains(&name)
}

/// An option name in its canonical form: no leading `--`, `_` as `-`.
pub fn normalize_name(name: &str) -> String {
    name.trim_start_matches("--").replace('_', "-")
}

/// The table's entry for `name` (canonical).
pub fn info(name: &str) -> Option<&'static OptionInfo> {
    OPTIONS.iter().find(|o| o.name == name)
}

/// The flag whose negation is `name` (`no-requeue` gives `requeue`).
pub fn negated(name: &str) -> Option<&'static OptionInfo> {
    OPTIONS.iter().find(
        |o| matches!(o.kind, OptionKind::Flag { negation: Some(negation) } if negation == name),
    )
}

/// How `name`'s value is checked: the table's kind, `time-min` as a time;
/// `None` for other pass-through options (any text, number or flag).
pub fn kind_of(name: &str) -> Option<OptionKind> {
    match name {
        "time-min" => Some(OptionKind::Time),
        _ => info(name).map(|o| o.kind),
    }
}

/// The closest known option name to `name`, when one is close.
pub fn suggestion(name: &str) -> Option<&'static str> {
    core_types::suggest::closest(name, sbatch_option_names())
}
