//! The table of `sbatch` options whose type `slurm-options` knows, and
//! the Rust it is generated into (`crates/slurm-options/src/table_gen.rs`).

use std::fmt::Write as _;

/// How an option's value is typed and checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A count (`u32`).
    Count,
    /// Text, passed as is.
    Text,
    /// A memory size: digits and an optional unit (`K`, `M`, `G`, `T`).
    Memory,
    /// A Slurm time (`minutes`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`).
    Time,
    /// A flag: `--name` when set to true; `negation` when set to false.
    Flag { negation: Option<&'static str> },
}

/// One option: its long name, its kind, its help text.
struct Opt {
    name: &'static str,
    kind: Kind,
    help: &'static str,
}

const fn opt(name: &'static str, kind: Kind, help: &'static str) -> Opt {
    Opt { name, kind, help }
}

/// The options, in the order they are written to a job script.
#[rustfmt::skip]
const OPTIONS: &[Opt] = &[
    opt("job-name", Kind::Text, "The job's name in the queue."),
    opt("partition", Kind::Text, "The partition (or comma-separated partitions) to run in."),
    opt("qos", Kind::Text, "The quality of service."),
    opt("account", Kind::Text, "The account charged for the job."),
    opt("reservation", Kind::Text, "The reservation to run in."),
    opt("time", Kind::Time, "The time limit (`minutes`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`)."),
    opt("nodes", Kind::Text, "How many nodes (`N` or `MIN-MAX`)."),
    opt("ntasks", Kind::Count, "How many tasks (the job script runs once, as task 0)."),
    opt("ntasks-per-node", Kind::Count, "How many tasks on each node."),
    opt("cpus-per-task", Kind::Count, "CPUs for each task."),
    opt("cpus-per-gpu", Kind::Count, "CPUs for each allocated GPU."),
    opt("mem", Kind::Memory, "Memory per node (`4096`, `4G`; megabytes without a unit; `0`: all of it)."),
    opt("mem-per-cpu", Kind::Memory, "Memory per allocated CPU."),
    opt("mem-per-gpu", Kind::Memory, "Memory per allocated GPU."),
    opt("gpus", Kind::Text, "GPUs for the whole job (`[type:]N`)."),
    opt("gpus-per-node", Kind::Text, "GPUs on each node (`[type:]N`)."),
    opt("gpus-per-task", Kind::Text, "GPUs for each task (`[type:]N`)."),
    opt("gres", Kind::Text, "Generic resources on each node (`gpu:a100:2,shard:1`)."),
    opt("constraint", Kind::Text, "Node features the job needs (`a100&nvlink`, `v100|a100`)."),
    opt("exclude", Kind::Text, "Nodes the job must not run on."),
    opt("nodelist", Kind::Text, "Nodes the job must run on (all of them)."),
    opt("exclusive", Kind::Flag { negation: None }, "Nodes not shared with other jobs."),
    opt("requeue", Kind::Flag { negation: Some("no-requeue") }, "Whether Slurm may requeue the job (false: `--no-requeue`)."),
    opt("signal", Kind::Text, "A signal sent before the time limit (`[{R|B}:]SIG[@SECONDS]`)."),
    opt("array", Kind::Text, "Job array indices (`0-15%4`); set by array submissions."),
    opt("dependency", Kind::Text, "Dependencies on other jobs (`afterok:123`)."),
    opt("begin", Kind::Text, "Do not start before this time (`now+1hour`, `2030-01-01T10:00`)."),
    opt("comment", Kind::Text, "A comment stored with the job."),
    opt("licenses", Kind::Text, "Licenses the job needs (`matlab:1`)."),
    opt("mail-type", Kind::Text, "Events that send mail (`END,FAIL`)."),
    opt("mail-user", Kind::Text, "Who gets the mail."),
];

fn rust_name(name: &str) -> String {
    name.replace('-', "_")
}

fn kind_expr(kind: Kind) -> String {
    match kind {
        Kind::Count => "OptionKind::Count".into(),
        Kind::Text => "OptionKind::Text".into(),
        Kind::Memory => "OptionKind::Memory".into(),
        Kind::Time => "OptionKind::Time".into(),
        Kind::Flag { negation: None } => "OptionKind::Flag { negation: None }".into(),
        Kind::Flag { negation: Some(n) } => format!("OptionKind::Flag {{ negation: Some({n:?}) }}"),
    }
}

/// The generated Rust source: the table, and one typed setter per option.
pub(crate) fn generate(mark: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// {mark}; the table is in xtask/src/slurm_options.rs."
    );
    out.push_str(
        "\nuse crate::options::SlurmOptions;\n\
         use crate::table::{OptionInfo, OptionKind};\n\
         use crate::value::SlurmValue;\n\n",
    );
    out.push_str("/// The options with a known type, in the order of `sbatch --help`'s groups.\npub const OPTIONS: &[OptionInfo] = &[\n");
    for o in OPTIONS {
        let _ = writeln!(
            out,
            "    OptionInfo {{ name: {:?}, kind: {}, help: {:?} }},",
            o.name,
            kind_expr(o.kind),
            o.help
        );
    }
    out.push_str("];\n\n/// Typed setters, one per option of [`OPTIONS`] (unchecked: [`SlurmOptions::validate`] checks).\nimpl SlurmOptions {\n");
    for o in OPTIONS {
        let field = rust_name(o.name);
        let (arg, conv) = match o.kind {
            Kind::Count => ("u32", "SlurmValue::Integer(i64::from(value))"),
            Kind::Flag { .. } => ("bool", "SlurmValue::Flag(value)"),
            _ => ("impl Into<String>", "SlurmValue::Text(value.into())"),
        };
        // One line a setter: the table's rows, not code to read twice.
        let _ = writeln!(
            out,
            "    #[doc = {doc:?}] #[must_use] pub fn {field}(mut self, value: {arg}) -> Self {{ self.insert({name:?}, {conv}); self }}",
            doc = format!("Sets `--{}`: {}", o.name, o.help),
            name = o.name,
        );
    }
    let trimmed = out.trim_end().to_owned();
    out = trimmed;
    out.push_str("\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_cover_the_issue() {
        let names: Vec<&str> = OPTIONS.iter().map(|o| o.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "duplicate option");
        for needed in [
            "nodes",
            "ntasks",
            "ntasks-per-node",
            "cpus-per-task",
            "mem",
            "mem-per-cpu",
            "mem-per-gpu",
            "gpus",
            "gpus-per-node",
            "gpus-per-task",
            "gres",
            "partition",
            "qos",
            "account",
            "constraint",
            "exclude",
            "nodelist",
            "time",
            "job-name",
            "signal",
            "requeue",
            "exclusive",
            "array",
            "dependency",
            "comment",
            "reservation",
        ] {
            assert!(names.contains(&needed), "{needed} is missing");
        }
    }
}
