//! Cluster discovery for `launch generate slurm`: the partitions and their
//! nodes as `sinfo` shows them, the partitions' access rules as `scontrol
//! show partition` shows them, and who the user is, turned into a
//! commented launcher file.
//!
//! A partition whose nodes are of one kind (the GPUs by type and count,
//! cores, memory) is one entry. A partition of several kinds is one entry
//! per kind (named after the partition, `gpu-1`, `gpu-2` ...), each made to
//! reach only nodes that serve it: by node features when they tell its
//! nodes from the others (`constraint`), else by typed GPU requests (the
//! accelerators' `slurm_type`, which the derived GPU option names), else by
//! excluding the other nodes (`exclude`). A kind without GPUs needs none of
//! these: Slurm places its jobs by the cores and memory they ask. When some
//! kind cannot be told apart, the partition is one conservative entry (what
//! every node offers) with a comment saying why.
//!
//! Partitions the user cannot submit to (hidden, root-only, groups or
//! accounts that exclude the user, draining or inactive) are left out with
//! a comment, unless [`Settings::all_partitions`].
//!
//! GPU memory comes from the GRES type (see [`gpu_memory`]).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use core_types::job::{Connector, ProcessSpec};

use crate::SlurmError;
pub use crate::access::{User, refusal};
use crate::cluster::Cluster;
pub use crate::gpu_models::{GPU_MODELS, GpuMemory, MIG_SLICES, gpu_kind, gpu_memory};
use crate::kinds::{Entry, Select, entries};
use crate::parse::{self, NodeRow, PartitionRow};

/// What discovery read of a cluster.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    /// Each node of each partition (`sinfo`).
    pub nodes: Vec<NodeRow>,
    /// Each partition's access rules (`scontrol show partition`).
    pub partitions: Vec<PartitionRow>,
    /// Who asked.
    pub user: User,
}

/// How the launcher file is written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    /// Keep the partitions the user cannot submit to.
    pub all_partitions: bool,
}

fn query_error(e: impl std::fmt::Display) -> SlurmError {
    SlurmError::Query {
        message: e.to_string(),
        transient: false,
    }
}

/// Runs `sinfo` for every node of every partition, `scontrol show
/// partition`, and asks who the user is (`id`; `sacctmgr` for the
/// accounts, when there is accounting).
pub fn discover(
    connector: Arc<dyn Connector>,
    bin: Option<&Path>,
    env: Vec<(OsString, OsString)>,
) -> Result<Discovery, SlurmError> {
    let cluster = Cluster::new(connector, bin.map(Path::to_path_buf), env);
    let out = cluster
        .run(
            "sinfo",
            [
                "--noheader".to_owned(),
                "--all".to_owned(),
                "--Node".to_owned(),
                format!("--format={}", parse::SINFO_FORMAT),
            ],
            None,
        )
        .map_err(query_error)?;
    let nodes =
        parse::sinfo_nodes(&String::from_utf8_lossy(&out.stdout)).map_err(SlurmError::Parse)?;
    let out = cluster
        .run(
            "scontrol",
            ["--all", "--oneliner", "show", "partition"],
            None,
        )
        .map_err(query_error)?;
    let partitions = parse::scontrol_partitions(&String::from_utf8_lossy(&out.stdout))
        .map_err(SlurmError::Parse)?;
    let id = |args: &[&str]| -> Result<String, SlurmError> {
        let mut spec = ProcessSpec::new("id").args(args.iter().copied());
        spec.env.clone_from(&cluster.env);
        let out = cluster.connector.run(&spec).map_err(query_error)?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let name = id(&["-un"])?;
    let uid = id(&["-u"])?
        .parse()
        .map_err(|_| query_error("`id -u` printed no number"))?;
    let groups = id(&["-Gn"])?
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let accounts = cluster
        .run(
            "sacctmgr",
            [
                "--noheader".to_owned(),
                "--parsable2".to_owned(),
                "show".to_owned(),
                "association".to_owned(),
                format!("where user={name}"),
                "format=account".to_owned(),
            ],
            None,
        )
        .ok()
        .map(|out| {
            let mut accounts: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            accounts.sort();
            accounts.dedup();
            accounts
        });
    Ok(Discovery {
        nodes,
        partitions,
        user: User {
            name,
            uid,
            groups,
            accounts,
        },
    })
}

/// Priorities: the entry that offers the least (shortest time limit, then
/// fewest GPUs, cores, memory) gets the highest, so that a job goes to the
/// smallest partition that serves it. A partition that is not up gets 0.
fn priorities(entries: &[Entry]) -> Vec<u32> {
    let key = |e: &Entry| {
        let gpus: u64 = e.kind.gpus.iter().map(|(_, n)| n).sum();
        (
            e.time_limit.unwrap_or(u64::MAX),
            gpus,
            e.kind.cpus,
            e.kind.memory_mb,
        )
    };
    let mut order: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].available)
        .collect();
    order.sort_by_key(|&i| key(&entries[i]));
    let mut out = vec![0; entries.len()];
    let mut rank = u32::try_from(entries.len()).unwrap_or(u32::MAX);
    let mut last = None;
    for i in order {
        let k = key(&entries[i]);
        if last.is_some_and(|l| l != k) {
            rank = rank.saturating_sub(1);
        }
        last = Some(k);
        out[i] = rank * 10;
    }
    out
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    use toml_writer::ToTomlValue as _;
    toml_writer::TomlStringBuilder::new(text)
        .as_basic()
        .to_toml_value()
}

/// A duration for a launcher file (`"1d"`, `"2h30m"` ...): whole units.
fn duration_text(seconds: u64) -> String {
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if seconds % size == 0 {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

fn gres_text(gpus: &[(Option<String>, u64)]) -> String {
    if gpus.is_empty() {
        return "none".to_owned();
    }
    gpus.iter()
        .map(|(t, n)| match t {
            Some(t) => format!("gpu:{t}:{n}"),
            None => format!("gpu:{n}"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The comment above an entry: what `sinfo` said of its partition and,
/// for an entry of several, which nodes it stands for and how it selects
/// them.
fn describe(out: &mut String, entry: &Entry) {
    let kind = &entry.kind;
    let _ = writeln!(
        out,
        "\n# Partition `{}`{}{}: {} node(s) ({}), {} CPUs and {} MB each, GRES {}, features {}; MaxTime {}; state {}.",
        entry.partition,
        if entry.default { " (the default)" } else { "" },
        if entry.available { "" } else { ", NOT UP" },
        kind.nodes.len(),
        crate::kinds::hostlist(&kind.nodes),
        kind.cpus,
        kind.memory_mb,
        gres_text(&kind.gpus),
        if kind.features.is_empty() {
            "none".to_owned()
        } else {
            kind.features.join(",")
        },
        entry
            .time_limit
            .map_or_else(|| "unlimited".to_owned(), duration_text),
        kind.states.iter().cloned().collect::<Vec<_>>().join(","),
    );
    if let Some(why) = &entry.merged {
        let _ = writeln!(
            out,
            "# Its {} nodes are of {} kinds and {why}: this entry offers what every\n\
             # one of them offers (the fewest CPUs, the least memory, the GPUs all share).",
            entry.partition_nodes, entry.kinds
        );
        return;
    }
    let how = match &entry.select {
        Select::Whole => return,
        Select::ByResources => {
            "no GPUs: Slurm places its jobs by the cores and memory they ask".to_owned()
        }
        Select::Features(f) => format!("selected by their features (constraint `{f}`)"),
        Select::TypedGpus => {
            "selected by typed GPU requests (Slurm gives only GPUs of these types)".to_owned()
        }
        Select::Exclude(list) => format!(
            "selected by excluding the partition's other nodes ({list}; a node added later is not excluded)"
        ),
    };
    let _ = writeln!(
        out,
        "# One of {} kinds of node of the partition ({} nodes in all): these nodes, {how}.",
        entry.kinds, entry.partition_nodes
    );
}

/// The `accelerators` of an entry's host, with where their memory came
/// from; a warning for each GPU type of unknown memory.
fn write_gpus(out: &mut String, entry: &Entry, warnings: &mut Vec<String>) {
    let kind = &entry.kind;
    out.push_str("accelerators = [\n");
    for (gres_type, count) in &kind.gpus {
        let name = gres_type.as_deref().unwrap_or("");
        let memory = gpu_memory(name);
        let comment = match &memory {
            GpuMemory::FromName(_) => "memory from the type's name".to_owned(),
            GpuMemory::FromModel(model, _) => {
                format!("memory: the smallest {model} sold")
            }
            GpuMemory::FromSlice(model, profile, _) => {
                format!("memory: the smallest {profile} slice of a {model}")
            }
            GpuMemory::Unknown => {
                let what = if name.is_empty() {
                    format!("the GPUs of partition `{}` have no type", entry.partition)
                } else {
                    format!("GPU type `{name}` of partition `{}`", entry.partition)
                };
                warnings.push(format!(
                        "{what}: their memory is unknown; fill it in the launcher file (memory = \"0\" until then, so no job that asks for GPU memory goes there)"
                    ));
                "FILL IN: the memory of one GPU (Slurm does not know it)".to_owned()
            }
        };
        let model = gres_type
            .as_ref()
            .map(|t| {
                let t = toml_string(t);
                format!(", model = {t}, slurm_type = {t}")
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {{ kind = \"{}\", memory = \"{}\"{model}, count = {count} }},  # {comment}",
            gpu_kind(name).host_name(),
            memory.size(),
        );
    }
    out.push_str("]\n");
}

/// One entry: its comment, its table, its host.
fn write_entry(
    out: &mut String,
    entry: &Entry,
    priority: u32,
    connector: &str,
    warnings: &mut Vec<String>,
) {
    describe(out, entry);
    let kind = &entry.kind;
    out.push_str("[[launcher]]\n");
    let _ = writeln!(out, "name = {}", toml_string(&entry.name));
    out.push_str("type = \"slurm\"\n");
    let _ = writeln!(out, "connector = {}", toml_string(connector));
    let _ = writeln!(out, "priority = {priority}");
    let _ = writeln!(
        out,
        "tags = [{}]",
        kind.features
            .iter()
            .map(|f| toml_string(f))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = write!(
        out,
        "slurm = {{ partition = {}",
        toml_string(&entry.partition)
    );
    match &entry.select {
        Select::Features(constraint) => {
            let _ = write!(out, ", constraint = {}", toml_string(constraint));
        }
        Select::Exclude(list) => {
            let _ = write!(out, ", exclude = {}", toml_string(list));
        }
        Select::Whole | Select::ByResources | Select::TypedGpus => {}
    }
    out.push_str(" }\n[launcher.host]\n");
    let _ = writeln!(out, "cores = {}", kind.cpus);
    let _ = writeln!(out, "memory = \"{}MiB\"", kind.memory_mb);
    match entry.time_limit {
        Some(s) => {
            let _ = writeln!(out, "max_duration = \"{}\"", duration_text(s));
        }
        None => out.push_str("max_duration = 0  # unlimited\n"),
    }
    if kind.gpus.is_empty() {
        out.push_str("accelerators = []\n");
        return;
    }
    write_gpus(out, entry, warnings);
}

/// What [`launcher_file`] wrote.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The launcher file.
    pub text: String,
    /// How many entries it has.
    pub entries: usize,
    /// What the user must look at (GPU types of unknown memory).
    pub warnings: Vec<String>,
    /// The partitions left out, each with why.
    pub left_out: Vec<(String, String)>,
}

/// A launcher file for the cluster `discovery` describes, reached through
/// the connector named `connector` (`local` is built in). Pure.
pub fn launcher_file(discovery: &Discovery, connector: &str, settings: Settings) -> Generated {
    let mut left_out = Vec::new();
    for p in &discovery.partitions {
        if let Some(why) = refusal(p, &discovery.user) {
            left_out.push((p.name.clone(), why));
        }
    }
    let mut rows: Vec<NodeRow> = discovery
        .nodes
        .iter()
        .filter(|r| settings.all_partitions || !left_out.iter().any(|(p, _)| *p == r.partition))
        .cloned()
        .collect();
    // Partitions in the order of the configuration (`scontrol`), which
    // does not change with the nodes' states as `sinfo`'s does.
    let rank = |r: &NodeRow| {
        discovery
            .partitions
            .iter()
            .position(|p| p.name == r.partition)
            .unwrap_or(usize::MAX)
    };
    rows.sort_by_key(rank);
    let entries = entries(&rows);
    let priorities = priorities(&entries);
    let mut warnings = Vec::new();
    let mut out = String::from(
        "# Launchers for `launch`, one per Slurm partition (one per kind of node\n\
         # when a partition's nodes differ), written by `launch generate slurm`\n\
         # from what `sinfo` and `scontrol` say; edit freely.\n\
         #\n\
         # `host` is what one node of the partition (or of the kind) offers;\n\
         # `max_duration` is the partition's MaxTime. The priorities prefer the\n\
         # partition that offers the least (the shortest time limit, then the\n\
         # fewest GPUs, cores and memory), so a job goes to the smallest\n\
         # partition that serves it; a partition that is not up gets 0. Node\n\
         # features are the entries' tags.\n\
         # Slurm does not know GPU memory: it comes from the GRES type's name, or\n\
         # from a table of common models (the smallest memory each is sold with).\n\
         # A GPU's `slurm_type` is its GRES type: the derived GPU option asks for\n\
         # it (`--gpus-per-node=TYPE:N`), so Slurm gives no other kind of GPU.\n",
    );
    if !left_out.is_empty() {
        let _ = writeln!(
            out,
            "#\n# {} partition(s) you cannot submit to{}:",
            left_out.len(),
            if settings.all_partitions {
                " (kept: --all-partitions)"
            } else {
                " are left out (--all-partitions keeps them)"
            }
        );
        for (name, why) in &left_out {
            let _ = writeln!(out, "#   {name}: {why}");
        }
    }
    if entries.is_empty() {
        out.push_str("\n# sinfo showed no partition.\n");
    }
    for (entry, priority) in entries.iter().zip(&priorities) {
        write_entry(&mut out, entry, *priority, connector, &mut warnings);
    }
    Generated {
        text: out,
        entries: entries.len(),
        warnings,
        left_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Discovery {
        Discovery {
            nodes: parse::sinfo_nodes(text).unwrap(),
            ..Discovery::default()
        }
    }

    #[test]
    fn the_test_clusters_partitions() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sinfo-nodes.txt"),
        )
        .unwrap();
        let generated = launcher_file(&rows(&text), "local", Settings::default());
        assert_eq!(generated.entries, 2);
        assert!(generated.warnings.is_empty(), "{:?}", generated.warnings);
        insta::assert_snapshot!(generated.text);
    }

    #[test]
    fn several_gpu_types_mig_and_unknown_ones() {
        let text = "\
gpu*|g1|64|512000|gpu:a100:4(S:0-1),gpu:1g.10gb:7|a100,ib|2-00:00:00|up|idle
gpu*|g2|64|512000|gpu:a100:4(S:0-1),gpu:1g.10gb:7|a100,ib|2-00:00:00|up|mix
cpu|c1|128|256000|(null)|(null)|infinite|up|idle
odd|o1|8|16000|gpu:frobnitz:2|(null)|30:00|down|down*
mixed|m1|32|128000|gpu:v100:2|v100|1-00:00:00|up|idle
mixed|m2|48|192000|gpu:a40:4|a40|1-00:00:00|up|idle
same|s1|32|128000|gpu:t4:2|(null)|1:00:00|up|idle
same|s2|16|64000|gpu:t4:1|(null)|1:00:00|up|idle
";
        let generated = launcher_file(&rows(text), "local", Settings::default());
        // `same` is two kinds (2 T4 and 32 CPUs, 1 T4 and 16), told apart
        // by their typed GPUs.
        assert_eq!(generated.entries, 7);
        let registry = registry::Registry::from_toml_str(&generated.text, "generated.toml")
            .unwrap_or_else(|e| panic!("{e}\n{}", generated.text));
        assert_eq!(registry.entries().len(), 7);
        assert_eq!(generated.warnings.len(), 1);
        assert!(
            generated.warnings[0].contains("frobnitz"),
            "{:?}",
            generated.warnings
        );
        insta::assert_snapshot!(generated.text);
    }

    #[test]
    fn priorities_prefer_the_smallest() {
        let text = "\
long|n1|32|1000|(null)|(null)|7-00:00:00|up|idle
short|n1|32|1000|(null)|(null)|1:00:00|up|idle
short-gpu|n2|32|1000|gpu:a100:1|(null)|1:00:00|up|idle
";
        let entries = entries(&rows(text).nodes);
        let p = priorities(&entries);
        assert!(p[1] > p[2] && p[2] > p[0], "{p:?}");
        assert_eq!(duration_text(7 * 86_400), "7d");
        assert_eq!(duration_text(90), "90s");
        assert_eq!(duration_text(5400), "90m");
        assert_eq!(toml_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
    }

    #[test]
    fn the_file_reads_back_and_finds_the_right_partition() {
        let text = "\
main*|n1|32|32000|gpu:a100-sxm4-80gb:4|a100,nvlink|1-00:00:00|up|idle
short|n1|32|32000|gpu:a100-sxm4-80gb:4|a100,nvlink|2:00|up|idle
";
        let generated = launcher_file(&rows(text), "local", Settings::default());
        let registry = registry::Registry::from_toml_str(&generated.text, "generated.toml")
            .unwrap_or_else(|e| panic!("{e}\n{}", generated.text));
        let pick = |expr: &str| {
            let req = reqparse::parse(expr).unwrap();
            let found = registry.find(&req, &[] as &[&str])?;
            Some(registry.entries()[found.entry].name.clone())
        };
        assert_eq!(
            pick("duration=1m & cuda(mem=40G) * 2").as_deref(),
            Some("short")
        );
        assert_eq!(
            pick("duration=2h & cuda(mem=80G) * 4").as_deref(),
            Some("main")
        );
        assert_eq!(pick("duration=2h & cuda(mem=81G)"), None);
        assert_eq!(pick("duration=2d"), None);
        let tagged = reqparse::parse("duration=1m").unwrap();
        assert!(registry.find(&tagged, &["nvlink"]).is_some());
        assert!(registry.find(&tagged, &["h100"]).is_none());
    }

    /// What a real controller of the university layout printed (no
    /// slurmd): see `tests/data/layouts/README.md`.
    #[test]
    fn the_university_layout_as_captured() {
        let data = |name: &str| {
            std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/data/layouts")
                    .join(name),
            )
            .unwrap()
        };
        let discovery = Discovery {
            nodes: parse::sinfo_nodes(&data("sinfo-university.txt")).unwrap(),
            partitions: parse::scontrol_partitions(&data("scontrol-partitions-university.txt"))
                .unwrap(),
            user: User {
                name: "alice".into(),
                uid: 1000,
                groups: vec!["users".into(), "astro".into()],
                accounts: Some(vec!["proj2".into()]),
            },
        };
        let generated = launcher_file(&discovery, "local", Settings::default());
        let left: Vec<&str> = generated.left_out.iter().map(|(p, _)| p.as_str()).collect();
        // `physics` allows `astro`; `paid` wants `proj1`.
        assert_eq!(left, ["admin", "maint", "paid"]);
        let registry = registry::Registry::from_toml_str(&generated.text, "generated.toml")
            .unwrap_or_else(|e| panic!("{e}\n{}", generated.text));
        let names: Vec<&str> = registry.entries().iter().map(|e| e.name.as_str()).collect();
        assert!(
            names.contains(&"physics") && names.contains(&"hgx-2"),
            "{names:?}"
        );
        let all = launcher_file(
            &discovery,
            "local",
            Settings {
                all_partitions: true,
            },
        );
        assert!(all.entries > generated.entries);
        insta::assert_snapshot!(generated.text);
    }
}
