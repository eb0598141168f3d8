//! The kinds of node of each partition (GPUs by type and count, cores,
//! memory) and how an entry selects only the nodes of its kind. Pure.

use std::collections::BTreeSet;

use crate::parse::NodeRow;

/// GPUs of a node kind: (GRES type, count), in `sinfo` order.
pub(crate) type Gpus = Vec<(Option<String>, u64)>;

/// One kind of node of a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeKind {
    pub cpus: u64,
    pub memory_mb: u64,
    pub gpus: Gpus,
    /// The features every node of the kind has, sorted.
    pub features: Vec<String>,
    pub nodes: Vec<String>,
    pub states: BTreeSet<String>,
}

/// How an entry's jobs reach only nodes that serve them as its host says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Select {
    /// The partition has one kind of node.
    Whole,
    /// No GPUs: Slurm places a job by the cores and memory it asks, which
    /// the derived options say; any node it picks serves the job.
    ByResources,
    /// `--constraint`: these features, which no node of another kind has.
    Features(String),
    /// Every GPU of the kind has a type and the derived GPU option names
    /// it, so Slurm gives only GPUs of that type.
    TypedGpus,
    /// `--exclude`: the nodes of the other kinds (a hostlist).
    Exclude(String),
}

/// One launcher entry to write.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub name: String,
    pub partition: String,
    pub default: bool,
    pub available: bool,
    pub time_limit: Option<u64>,
    pub kind: NodeKind,
    pub select: Select,
    /// How many kinds of node the partition has, and how many nodes.
    pub kinds: usize,
    pub partition_nodes: usize,
    /// Why the partition's kinds could not be told apart (one conservative
    /// entry).
    pub merged: Option<String>,
}

/// The longest `--exclude` list written.
const EXCLUDE_LIMIT: usize = 1000;

fn gpus_of(row: &NodeRow) -> Gpus {
    let mut gpus: Gpus = Vec::new();
    for g in row.gres.iter().filter(|g| g.name == "gpu") {
        match gpus.iter_mut().find(|(t, _)| *t == g.kind) {
            Some((_, n)) => *n += g.count,
            None => gpus.push((g.kind.clone(), g.count)),
        }
    }
    gpus
}

fn same_gpus(a: &Gpus, b: &Gpus) -> bool {
    a.len() == b.len() && a.iter().all(|g| b.contains(g))
}

/// A partition: its first row, its kinds, each node's features.
struct Partition {
    first: NodeRow,
    kinds: Vec<NodeKind>,
    node_features: Vec<(usize, Vec<String>)>,
}

/// The node kinds of each partition, in `sinfo` order.
fn partitions(rows: &[NodeRow]) -> Vec<Partition> {
    let mut out: Vec<Partition> = Vec::new();
    for row in rows {
        let index = if let Some(i) = out.iter().position(|p| p.first.partition == row.partition) {
            i
        } else {
            out.push(Partition {
                first: row.clone(),
                kinds: Vec::new(),
                node_features: Vec::new(),
            });
            out.len() - 1
        };
        let part = &mut out[index];
        if part.kinds.iter().any(|k| k.nodes.contains(&row.node)) {
            continue;
        }
        let mut features = row.features.clone();
        features.sort();
        features.dedup();
        let gpus = gpus_of(row);
        let found = part.kinds.iter().position(|k| {
            k.cpus == row.cpus && k.memory_mb == row.memory_mb && same_gpus(&k.gpus, &gpus)
        });
        let at = if let Some(i) = found {
            let kind = &mut part.kinds[i];
            kind.nodes.push(row.node.clone());
            kind.states.insert(row.state.clone());
            kind.features.retain(|f| features.contains(f));
            i
        } else {
            part.kinds.push(NodeKind {
                cpus: row.cpus,
                memory_mb: row.memory_mb,
                gpus,
                features: features.clone(),
                nodes: vec![row.node.clone()],
                states: BTreeSet::from([row.state.clone()]),
            });
            part.kinds.len() - 1
        };
        part.node_features.push((at, features));
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

/// How kind `i` of `part` is selected, or `None` when nothing can.
fn select(part: &Partition, i: usize) -> Option<Select> {
    let kind = &part.kinds[i];
    let others = || part.node_features.iter().filter(|(k, _)| *k != i);
    if !kind.features.is_empty()
        && others().all(|(_, f)| kind.features.iter().any(|want| !f.contains(want)))
    {
        return Some(Select::Features(kind.features.join("&")));
    }
    if kind.gpus.is_empty() {
        return Some(Select::ByResources);
    }
    if kind.gpus.iter().all(|(t, _)| t.is_some()) {
        return Some(Select::TypedGpus);
    }
    let excluded: Vec<String> = part
        .kinds
        .iter()
        .enumerate()
        .filter(|(k, _)| *k != i)
        .flat_map(|(_, k)| k.nodes.iter().cloned())
        .collect();
    let list = hostlist(&excluded);
    (list.len() <= EXCLUDE_LIMIT).then_some(Select::Exclude(list))
}

/// The entries of every partition.
pub(crate) fn entries(rows: &[NodeRow]) -> Vec<Entry> {
    let mut out = Vec::new();
    for part in partitions(rows) {
        let first = &part.first;
        let base = Entry {
            name: first.partition.clone(),
            partition: first.partition.clone(),
            default: first.default,
            available: first.available,
            time_limit: first.time_limit,
            kind: part.kinds[0].clone(),
            select: Select::Whole,
            kinds: part.kinds.len(),
            partition_nodes: part.kinds.iter().map(|k| k.nodes.len()).sum(),
            merged: None,
        };
        if part.kinds.len() == 1 {
            out.push(base);
            continue;
        }
        let selects: Vec<Option<Select>> =
            (0..part.kinds.len()).map(|i| select(&part, i)).collect();
        if selects.iter().all(Option::is_some) {
            for (i, (kind, select)) in part.kinds.iter().zip(selects).enumerate() {
                out.push(Entry {
                    name: format!("{}-{}", first.partition, i + 1),
                    kind: kind.clone(),
                    select: select.unwrap_or(Select::Whole),
                    ..base.clone()
                });
            }
        } else {
            out.push(Entry {
                kind: smallest(&part.kinds),
                merged: Some(format!(
                    "their features do not tell them apart, some have GPUs without a type, \
                     and the list of the other nodes is longer than {EXCLUDE_LIMIT} characters"
                )),
                ..base
            });
        }
    }
    out
}

/// Node names as a Slurm hostlist: `n[1-3,7],gpu01`. Names that end in
/// digits of the same width and share their prefix are grouped.
pub(crate) fn hostlist(names: &[String]) -> String {
    let mut groups: Vec<(String, usize, Vec<u64>)> = Vec::new();
    let mut plain: Vec<(usize, String)> = Vec::new();
    for (order, name) in names.iter().enumerate() {
        let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let number = (digits > 0 && digits <= 18)
            .then(|| name[name.len() - digits..].parse::<u64>().ok())
            .flatten();
        match number {
            Some(n) => {
                let prefix = &name[..name.len() - digits];
                match groups
                    .iter_mut()
                    .find(|(p, w, _)| p == prefix && *w == digits)
                {
                    Some((_, _, ns)) => ns.push(n),
                    None => groups.push((prefix.to_owned(), digits, vec![n])),
                }
            }
            None => plain.push((order, name.clone())),
        }
    }
    let mut parts = Vec::new();
    for (prefix, width, mut numbers) in groups {
        numbers.sort_unstable();
        numbers.dedup();
        if numbers.len() == 1 {
            parts.push(format!("{prefix}{:0width$}", numbers[0]));
            continue;
        }
        let mut ranges = Vec::new();
        let mut start = numbers[0];
        let mut prev = start;
        for &n in &numbers[1..] {
            if n != prev + 1 {
                ranges.push((start, prev));
                start = n;
            }
            prev = n;
        }
        ranges.push((start, prev));
        let text: Vec<String> = ranges
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    format!("{a:0width$}")
                } else {
                    format!("{a:0width$}-{b:0width$}")
                }
            })
            .collect();
        parts.push(format!("{prefix}[{}]", text.join(",")));
    }
    parts.extend(plain.into_iter().map(|(_, n)| n));
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    #[test]
    fn hostlists() {
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(hostlist(&names(&["n1", "n2", "n3", "n7"])), "n[1-3,7]");
        assert_eq!(hostlist(&names(&["g01", "g02", "big"])), "g[01-02],big");
        assert_eq!(hostlist(&names(&["a1"])), "a1");
        assert_eq!(hostlist(&names(&["x9", "x10"])), "x9,x10");
    }

    fn entries_of(text: &str) -> Vec<Entry> {
        entries(&crate::parse::sinfo_nodes(text).unwrap())
    }

    #[test]
    fn kinds_that_nothing_tells_apart_make_one_conservative_entry() {
        // Untyped GPUs, no features, and too many nodes to list.
        let mut text = String::new();
        for i in 0..300 {
            let _ = writeln!(text, "p|node-{i}-x|32|64000|gpu:4|(null)|1:00:00|up|idle");
        }
        text.push_str("p|small-x|16|32000|gpu:2|(null)|1:00:00|up|idle\n");
        let one = entries_of(&text);
        assert_eq!(one.len(), 1);
        let e = &one[0];
        assert!(e.merged.is_some());
        assert_eq!((e.kind.cpus, e.kind.memory_mb), (16, 32000));
        assert_eq!(e.kind.gpus, [(None, 2)]);
        assert_eq!(e.kind.nodes.len(), 301);
        // Fewer nodes: excluded by name.
        let text = "p|a1|32|64000|gpu:4|(null)|1:00:00|up|idle\np|b1|16|32000|gpu:2|(null)|1:00:00|up|idle\n";
        let two = entries_of(text);
        assert_eq!(two[0].select, Select::Exclude("b1".into()));
        assert_eq!(two[1].select, Select::Exclude("a1".into()));
    }
}
