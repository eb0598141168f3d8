//! Cluster discovery for `launch generate slurm`: the partitions and their
//! nodes as `sinfo` shows them, turned into a commented launcher file with
//! one slurm entry per partition (per node kind when a partition mixes
//! kinds that node features tell apart).
//!
//! Slurm does not know how much memory a GPU has. It is taken from the GRES
//! type when the name says it (`a100-sxm4-80gb`, MIG-like `1g.10gb`), else
//! from a table of common models, at the smallest memory each model is sold
//! with (so a match never over-promises), else left unknown (memory 0, so
//! nothing that asks for GPU memory matches) with a comment asking the user
//! to fill it in and a warning.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use core_types::job::Connector;
use core_types::{AcceleratorKind, MemSize};

use crate::SlurmError;
use crate::cluster::Cluster;
use crate::parse::{self, NodeRow};

/// Where a GPU's memory came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuMemory {
    /// The GRES type says it (`80gb`).
    FromName(MemSize),
    /// A model of the built-in table (the model's key, its smallest memory).
    FromModel(&'static str, MemSize),
    /// Unknown.
    Unknown,
}

impl GpuMemory {
    /// The memory, zero when unknown.
    pub fn size(&self) -> MemSize {
        match self {
            GpuMemory::FromName(m) | GpuMemory::FromModel(_, m) => *m,
            GpuMemory::Unknown => MemSize::ZERO,
        }
    }
}

/// Common GPU models and the smallest memory each is sold with, in GB
/// (decimal, which is below what the cards report in GiB). Longer keys
/// first where one key holds another.
pub const GPU_MODELS: &[(&str, u64)] = &[
    ("gh200", 96),
    ("h200", 141),
    ("h100", 80),
    ("h800", 80),
    ("b200", 180),
    ("a100", 40),
    ("a800", 40),
    ("a40", 48),
    ("a30", 24),
    ("a16", 16),
    ("a10g", 24),
    ("a10", 24),
    ("a2", 16),
    ("l40s", 48),
    ("l40", 48),
    ("l4", 24),
    ("t4", 16),
    ("v100s", 32),
    ("v100", 16),
    ("p100", 12),
    ("p40", 24),
    ("p4", 8),
    ("k80", 12),
    ("k40", 12),
    ("titanrtx", 24),
    ("titanv", 12),
    ("titanxp", 12),
    ("rtx8000", 48),
    ("rtx6000ada", 48),
    ("rtx6000", 24),
    ("a6000", 48),
    ("a5500", 24),
    ("a5000", 24),
    ("a4500", 20),
    ("a4000", 16),
    ("a2000", 6),
    ("4090", 24),
    ("4080", 16),
    ("4070", 12),
    ("3090", 24),
    ("3080", 10),
    ("3070", 8),
    ("3060", 8),
    ("2080ti", 11),
    ("2080", 8),
    ("1080ti", 11),
    ("1080", 8),
    ("mi300x", 192),
    ("mi250x", 128),
    ("mi250", 128),
    ("mi210", 64),
    ("mi100", 32),
    ("mi60", 32),
    ("mi50", 16),
];

/// The memory a GRES type name states: a token `NNgb` (or `NNg`, not the
/// leading compute slice of a MIG profile such as `1g.10gb`), in GB.
fn memory_in_name(kind: &str) -> Option<MemSize> {
    let lower = kind.to_ascii_lowercase();
    let tokens: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect();
    let size = |t: &str, suffix: &str| -> Option<u64> {
        let digits = t.strip_suffix(suffix)?;
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
    };
    let gb = tokens
        .iter()
        .rev()
        .find_map(|t| size(t, "gb"))
        .or_else(|| {
            tokens
                .iter()
                .skip(1)
                .rev()
                .find_map(|t| size(t, "g"))
                .filter(|&g| g >= 4)
        })?;
    Some(MemSize::from_bytes(gb.checked_mul(1_000_000_000)?)).filter(|m| !m.is_zero())
}

/// The model of the table a GRES type names, when one.
fn model_of(kind: &str) -> Option<(&'static str, u64)> {
    let name: String = kind
        .to_ascii_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let mut best: Option<(&'static str, u64)> = None;
    for &(key, gb) in GPU_MODELS {
        let found = name.match_indices(key).any(|(at, _)| {
            // `a10` is not `a100`, `l4` is not `l40`.
            !name[at + key.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        });
        if found && best.is_none_or(|(b, _)| key.len() > b.len()) {
            best = Some((key, gb));
        }
    }
    best
}

/// How much memory a GPU of this GRES type has, as far as its name says.
pub fn gpu_memory(kind: &str) -> GpuMemory {
    if let Some(size) = memory_in_name(kind) {
        return GpuMemory::FromName(size);
    }
    match model_of(kind) {
        Some((model, gb)) => GpuMemory::FromModel(model, MemSize::from_bytes(gb * 1_000_000_000)),
        None => GpuMemory::Unknown,
    }
}

/// The accelerator kind of a GRES type: AMD Instinct models are `ROCm`,
/// the rest CUDA (Slurm's `gpu` GRES is NVIDIA on most clusters).
pub fn gpu_kind(kind: &str) -> AcceleratorKind {
    match model_of(kind) {
        Some((model, _)) if model.starts_with("mi") => AcceleratorKind::Rocm,
        _ => AcceleratorKind::Cuda,
    }
}

/// Runs `sinfo` for every node of every partition.
pub fn discover(
    connector: Arc<dyn Connector>,
    bin: Option<&Path>,
    env: Vec<(OsString, OsString)>,
) -> Result<Vec<NodeRow>, SlurmError> {
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
        .map_err(|e| SlurmError::Query {
            message: e.to_string(),
            transient: false,
        })?;
    parse::sinfo_nodes(&String::from_utf8_lossy(&out.stdout)).map_err(SlurmError::Parse)
}

/// GPUs of a node kind: (GRES type, count), types in order.
type Gpus = Vec<(Option<String>, u64)>;

/// One kind of node of a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NodeKind {
    cpus: u64,
    memory_mb: u64,
    gpus: Gpus,
    features: Vec<String>,
    nodes: Vec<String>,
    states: BTreeSet<String>,
}

/// One launcher entry to write.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    partition: String,
    default: bool,
    available: bool,
    time_limit: Option<u64>,
    kind: NodeKind,
    constraint: Option<String>,
    merged: bool,
}

fn gpus_of(row: &NodeRow) -> Gpus {
    row.gres
        .iter()
        .filter(|g| g.name == "gpu")
        .map(|g| (g.kind.clone(), g.count))
        .collect()
}

/// The node kinds of each partition, in `sinfo` order.
fn partitions(rows: &[NodeRow]) -> Vec<(NodeRow, Vec<NodeKind>)> {
    let mut out: Vec<(NodeRow, Vec<NodeKind>)> = Vec::new();
    for row in rows {
        let index = if let Some(i) = out.iter().position(|(p, _)| p.partition == row.partition) {
            i
        } else {
            out.push((row.clone(), Vec::new()));
            out.len() - 1
        };
        let mut features = row.features.clone();
        features.sort();
        let gpus = gpus_of(row);
        let kinds = &mut out[index].1;
        match kinds.iter_mut().find(|k| {
            k.cpus == row.cpus
                && k.memory_mb == row.memory_mb
                && k.gpus == gpus
                && k.features == features
        }) {
            Some(kind) => {
                kind.nodes.push(row.node.clone());
                kind.states.insert(row.state.clone());
            }
            None => kinds.push(NodeKind {
                cpus: row.cpus,
                memory_mb: row.memory_mb,
                gpus,
                features,
                nodes: vec![row.node.clone()],
                states: BTreeSet::from([row.state.clone()]),
            }),
        }
    }
    out
}

/// The kind every node of `kinds` can serve: the smallest of each.
fn smallest(kinds: &[NodeKind]) -> NodeKind {
    let mut out = kinds[0].clone();
    for k in &kinds[1..] {
        out.cpus = out.cpus.min(k.cpus);
        out.memory_mb = out.memory_mb.min(k.memory_mb);
        out.gpus = out
            .gpus
            .iter()
            .filter_map(|(t, n)| {
                k.gpus
                    .iter()
                    .find(|(u, _)| u == t)
                    .map(|(_, m)| (t.clone(), (*n).min(*m)))
            })
            .collect();
        out.features.retain(|f| k.features.contains(f));
        out.nodes.extend(k.nodes.iter().cloned());
        out.states.extend(k.states.iter().cloned());
    }
    out
}

fn entries(rows: &[NodeRow]) -> Vec<Entry> {
    let mut out = Vec::new();
    for (first, kinds) in partitions(rows) {
        let base = Entry {
            name: first.partition.clone(),
            partition: first.partition.clone(),
            default: first.default,
            available: first.available,
            time_limit: first.time_limit,
            kind: kinds[0].clone(),
            constraint: None,
            merged: false,
        };
        let feature_sets: BTreeSet<&Vec<String>> = kinds.iter().map(|k| &k.features).collect();
        if kinds.len() == 1 {
            out.push(base);
        } else if feature_sets.len() == kinds.len() && kinds.iter().all(|k| !k.features.is_empty())
        {
            // Features tell the kinds apart: one entry each, constrained.
            for (i, kind) in kinds.iter().enumerate() {
                out.push(Entry {
                    name: format!("{}-{}", first.partition, i + 1),
                    constraint: Some(kind.features.join("&")),
                    kind: kind.clone(),
                    ..base.clone()
                });
            }
        } else {
            out.push(Entry {
                kind: smallest(&kinds),
                merged: true,
                ..base
            });
        }
    }
    out
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

/// The comment above an entry: what `sinfo` said of its partition.
fn describe(out: &mut String, entry: &Entry) {
    let kind = &entry.kind;
    let _ = writeln!(
        out,
        "\n# Partition `{}`{}{}: {} node(s) ({}), {} CPUs and {} MB each, GRES {}, features {}; MaxTime {}; state {}.",
        entry.partition,
        if entry.default { " (the default)" } else { "" },
        if entry.available { "" } else { ", NOT UP" },
        kind.nodes.len(),
        kind.nodes.join(","),
        kind.cpus,
        kind.memory_mb,
        if kind.gpus.is_empty() {
            "none".to_owned()
        } else {
            kind.gpus
                .iter()
                .map(|(t, n)| match t {
                    Some(t) => format!("gpu:{t}:{n}"),
                    None => format!("gpu:{n}"),
                })
                .collect::<Vec<_>>()
                .join(",")
        },
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
    if entry.merged {
        out.push_str(
            "# Its nodes differ and their features do not tell them apart: this is\n\
                 # what every one of them offers.\n",
        );
    }
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
            .map(|t| format!(", model = {}", toml_string(t)))
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

/// What [`launcher_file`] wrote.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The launcher file.
    pub text: String,
    /// How many entries it has.
    pub entries: usize,
    /// What the user must look at (GPU types of unknown memory).
    pub warnings: Vec<String>,
}

/// A launcher file for the partitions `rows` describe, reached through the
/// connector named `connector` (`local` is built in). Pure.
pub fn launcher_file(rows: &[NodeRow], connector: &str) -> Generated {
    let entries = entries(rows);
    let priorities = priorities(&entries);
    let mut warnings = Vec::new();
    let mut out = String::from(
        "# Launchers for `launch`, one per Slurm partition, written by\n\
         # `launch generate slurm` from what `sinfo` says; edit freely.\n\
         #\n\
         # `host` is what one node of the partition offers (the smallest node\n\
         # when its nodes differ and their features cannot tell them apart);\n\
         # `max_duration` is the partition's MaxTime. The priorities prefer the\n\
         # partition that offers the least (the shortest time limit, then the\n\
         # fewest GPUs, cores and memory), so a job goes to the smallest\n\
         # partition that serves it; a partition that is not up gets 0. Node\n\
         # features are the entries' tags.\n\
         # Slurm does not know GPU memory: it comes from the GRES type's name, or\n\
         # from a table of common models (the smallest memory each is sold with).\n",
    );
    if entries.is_empty() {
        out.push_str("\n# sinfo showed no partition.\n");
    }
    for (entry, priority) in entries.iter().zip(&priorities) {
        describe(&mut out, entry);
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
        if let Some(constraint) = &entry.constraint {
            let _ = write!(out, ", constraint = {}", toml_string(constraint));
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
            continue;
        }
        write_gpus(&mut out, entry, &mut warnings);
    }
    Generated {
        text: out,
        entries: entries.len(),
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gb(n: u64) -> MemSize {
        MemSize::from_bytes(n * 1_000_000_000)
    }

    #[test]
    fn gpu_memory_from_names_and_models() {
        assert_eq!(gpu_memory("a100-sxm4-80gb"), GpuMemory::FromName(gb(80)));
        assert_eq!(gpu_memory("1g.10gb"), GpuMemory::FromName(gb(10)));
        assert_eq!(gpu_memory("3g.40gb"), GpuMemory::FromName(gb(40)));
        assert_eq!(
            gpu_memory("nvidia_h100_80gb_hbm3"),
            GpuMemory::FromName(gb(80))
        );
        assert_eq!(gpu_memory("a100_40g"), GpuMemory::FromName(gb(40)));
        assert_eq!(gpu_memory("a100"), GpuMemory::FromModel("a100", gb(40)));
        assert_eq!(
            gpu_memory("tesla_v100"),
            GpuMemory::FromModel("v100", gb(16))
        );
        assert_eq!(gpu_memory("v100s"), GpuMemory::FromModel("v100s", gb(32)));
        assert_eq!(gpu_memory("A10"), GpuMemory::FromModel("a10", gb(24)));
        assert_eq!(gpu_memory("l40s"), GpuMemory::FromModel("l40s", gb(48)));
        assert_eq!(gpu_memory("l4"), GpuMemory::FromModel("l4", gb(24)));
        assert_eq!(
            gpu_memory("rtx_a6000"),
            GpuMemory::FromModel("a6000", gb(48))
        );
        assert_eq!(
            gpu_memory("quadro_rtx_8000"),
            GpuMemory::FromModel("rtx8000", gb(48))
        );
        assert_eq!(
            gpu_memory("geforce_rtx_3090"),
            GpuMemory::FromModel("3090", gb(24))
        );
        assert_eq!(
            gpu_memory("gtx1080ti"),
            GpuMemory::FromModel("1080ti", gb(11))
        );
        assert_eq!(
            gpu_memory("mi250x"),
            GpuMemory::FromModel("mi250x", gb(128))
        );
        assert_eq!(gpu_kind("mi250x"), AcceleratorKind::Rocm);
        assert_eq!(gpu_kind("a100"), AcceleratorKind::Cuda);
        assert_eq!(gpu_memory("frobnitz"), GpuMemory::Unknown);
        assert_eq!(gpu_memory(""), GpuMemory::Unknown);
    }

    fn rows(text: &str) -> Vec<NodeRow> {
        parse::sinfo_nodes(text).unwrap()
    }

    #[test]
    fn the_test_clusters_partitions() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sinfo-nodes.txt"),
        )
        .unwrap();
        let generated = launcher_file(&rows(&text), "local");
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
        let generated = launcher_file(&rows(text), "local");
        assert_eq!(generated.entries, 6);
        let registry = registry::Registry::from_toml_str(&generated.text, "generated.toml")
            .unwrap_or_else(|e| panic!("{e}\n{}", generated.text));
        assert_eq!(registry.entries().len(), 6);
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
        let entries = entries(&rows(text));
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
        let generated = launcher_file(&rows(text), "local");
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
}
