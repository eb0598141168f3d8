//! The machine's ledger: what every job on a machine holds (cores, memory,
//! each device, tokens) and who waits for what, in order, shared by every
//! process that runs direct jobs there, attached or detached, local or over
//! SSH.
//!
//! The protocol is POSIX `sh` (`ledger.sh`), run by each job's own
//! supervisor before its command starts, so that a job waits, and takes
//! its share, also when the process that submitted it is gone, on a machine
//! that has `sh` and not `launch`. This module renders the job's part of
//! it, and reads the ledger back (pure functions of strings) to say why a
//! job waits.

use std::collections::BTreeMap;
use std::path::Path;

use core_types::job::shell_quote;
use core_types::{AcceleratorKind, AcceleratorRequest, HostSpec, MemSize};

use crate::DirectError;
use crate::sched::Need;

/// The protocol.
const PROTOCOL: &str = include_str!("ledger.sh");

/// The job's place, when the process that started it says it
/// (`lg_export` too, which the protocol uses).
const TOLD: &str = include_str!("ledger_told.sh");

/// The `sh` function `lg_default_dir`: where the ledger is when no
/// directory is named (the protocol's and the probe's one rule).
pub(crate) const DEFAULT_DIR: &str = include_str!("ledger_dir.sh");

/// The file of a job directory that says where the job's ledger is and its
/// ticket there (`ledger PATH`, `seq N`), written when the job has to wait.
pub const JOB_FILE: &str = "ledger";

/// How often the first waiter looks for shares of jobs that vanished
/// (seconds, as `sleep` takes them).
const TICK: &str = "0.02";

/// Memory is counted in KiB; needs are capped so that `sh` arithmetic
/// never overflows.
const MAX_KIB: u64 = 1 << 40;

/// At most this many alternative device sets are written for one job
/// (requests whose devices overlap in complex ways).
const MAX_SETS: usize = 512;

/// The variables that say which devices a job may use, for each kind:
/// `(kind, variable, ordinal)`. Each is set for every job, to the job's
/// devices of that kind, comma-separated, and **empty** when it has none:
/// an empty `CUDA_VISIBLE_DEVICES` (or `ROCR_VISIBLE_DEVICES`) hides every
/// device, an unset one shows them all, so empty is the safe choice, and
/// the caller's own value never reaches the job. A device is named by its
/// index among the host's devices of its kind, except where `ordinal`:
/// HIP numbers the devices `ROCR_VISIBLE_DEVICES` leaves from 0, so
/// `HIP_VISIBLE_DEVICES` lists `0..n` (empty: HIP shows what `ROCR_VISIBLE_DEVICES` leaves,
/// none).
pub(crate) const DEVICE_VARS: [(AcceleratorKind, &str, bool); 3] = [
    (AcceleratorKind::Cuda, "CUDA_VISIBLE_DEVICES", false),
    (AcceleratorKind::Rocm, "ROCR_VISIBLE_DEVICES", false),
    (AcceleratorKind::Rocm, "HIP_VISIBLE_DEVICES", true),
];

/// What a job asks of the ledger.
#[derive(Debug)]
pub(crate) struct Ask<'a> {
    pub host: &'a HostSpec,
    pub need: &'a Need,
    /// `(name, taken, declared count)`.
    pub tokens: &'a [(String, u32, u32)],
    pub overtake_limit: u32,
    /// `None`: the per-user default of the job's machine.
    pub ledger: Option<&'a Path>,
}

/// The `sh` text the job script runs before the command.
pub(crate) fn snippet(ask: &Ask<'_>) -> Result<Vec<u8>, DirectError> {
    let mut s = Vec::with_capacity(PROTOCOL.len() + 256);
    s.extend_from_slice(b"L=");
    if let Some(dir) = ask.ledger {
        s.extend_from_slice(&shell_quote(dir.as_os_str())?);
    }
    // Every variable, whatever the host has: a job sees its own devices
    // and none of the caller's (an empty list hides them all).
    let kinds: Vec<String> = DEVICE_VARS
        .iter()
        .map(|(kind, var, ordinal)| {
            format!(
                "{}{}={var}",
                kind.host_name(),
                if *ordinal { "#" } else { "" }
            )
        })
        .collect();
    s.extend_from_slice(
        format!(
            "\nlg_tick={TICK}\nlg_kinds='{}'\nlg_need='{}'\n",
            kinds.join(" "),
            need_field(ask)
        )
        .as_bytes(),
    );
    s.extend_from_slice(TOLD.as_bytes());
    s.extend_from_slice(DEFAULT_DIR.as_bytes());
    s.extend_from_slice(PROTOCOL.as_bytes());
    s.extend_from_slice(b"ledger_take\n");
    Ok(s)
}

/// What a job asks, as a waiter's line of the ledger says it after its
/// identity: `CORES MEM CAPC CAPM TOKENS PLAN LIMIT`.
pub(crate) fn need_field(ask: &Ask<'_>) -> String {
    let tokens = if ask.tokens.is_empty() {
        "-".to_owned()
    } else {
        ask.tokens
            .iter()
            .map(|(name, k, count)| format!("{name}={k}/{count}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let cap_mem = if ask.host.memory.is_zero() {
        0
    } else {
        (ask.host.memory.bytes() / 1024).clamp(1, MAX_KIB)
    };
    format!(
        "{} {} {} {cap_mem} {tokens} {} {}",
        ask.need.cores,
        ask.need.memory.div_ceil(1024).min(MAX_KIB),
        ask.host.cores,
        device_plan(ask.host, &ask.need.accelerators),
        ask.overtake_limit,
    )
}

/// A device's name in the ledger: `cuda:0` (its index among the host's
/// devices of its kind), as `LAUNCH_ACCELERATORS` says it.
fn device_names(host: &HostSpec) -> Vec<String> {
    let mut seen: Vec<(AcceleratorKind, usize)> = Vec::new();
    host.accelerators
        .iter()
        .map(|a| {
            let n = if let Some(entry) = seen.iter_mut().find(|(k, _)| *k == a.kind) {
                entry.1 += 1;
                entry.1 - 1
            } else {
                seen.push((a.kind, 1));
                0
            };
            format!("{}:{n}", a.kind.host_name())
        })
        .collect()
}

/// Which devices may serve `requests`, as the ledger's plan: `-` for none;
/// else alternatives (`|`) of groups (`;`), a group `K/dev,...` meaning
/// any K of those. Requests that accept the same devices form one group;
/// when groups would overlap, the plan lists the device sets that serve
/// every request (bipartite matching), in order.
pub(crate) fn device_plan(host: &HostSpec, requests: &[AcceleratorRequest]) -> String {
    if requests.is_empty() {
        return "-".to_owned();
    }
    let names = device_names(host);
    let accepts = |r: &AcceleratorRequest, d: usize| {
        let dev = &host.accelerators[d];
        r.kind.accepts(dev.kind) && dev.memory >= r.memory && dev.min_memory <= r.memory
    };
    let mut groups: Vec<(Vec<usize>, usize)> = Vec::new();
    for r in requests {
        let set: Vec<usize> = (0..names.len()).filter(|&d| accepts(r, d)).collect();
        match groups.iter_mut().find(|(s, _)| *s == set) {
            Some(group) => group.1 += 1,
            None => groups.push((set, 1)),
        }
    }
    let disjoint = groups.iter().enumerate().all(|(i, (a, _))| {
        groups[i + 1..]
            .iter()
            .all(|(b, _)| a.iter().all(|d| !b.contains(d)))
    });
    let group = |k: usize, devs: &[usize]| {
        let list: Vec<&str> = devs.iter().map(|&d| names[d].as_str()).collect();
        format!("{k}/{}", list.join(","))
    };
    if disjoint {
        return groups
            .iter()
            .map(|(set, k)| group(*k, set))
            .collect::<Vec<_>>()
            .join(";");
    }
    // Overlapping: every set of devices (in order) that serves them all.
    let candidates: Vec<usize> = (0..names.len())
        .filter(|&d| requests.iter().any(|r| accepts(r, d)))
        .collect();
    let mut sets = Vec::new();
    let mut chosen = Vec::with_capacity(requests.len());
    subsets(&candidates, requests.len(), 0, &mut chosen, &mut |set| {
        if serves(set, requests, &accepts) {
            sets.push(group(set.len(), set));
        }
        sets.len() < MAX_SETS
    });
    if sets.is_empty() {
        // Never fits: refused before it gets here.
        return group(requests.len(), &candidates);
    }
    sets.join("|")
}

/// Calls `each` on every `k`-subset of `items` from `from` on, in order,
/// while it says to go on.
fn subsets(
    items: &[usize],
    k: usize,
    from: usize,
    chosen: &mut Vec<usize>,
    each: &mut dyn FnMut(&[usize]) -> bool,
) -> bool {
    if chosen.len() == k {
        return each(chosen);
    }
    for i in from..items.len() {
        if items.len() - i < k - chosen.len() {
            break;
        }
        chosen.push(items[i]);
        let go_on = subsets(items, k, i + 1, chosen, each);
        chosen.pop();
        if !go_on {
            return false;
        }
    }
    true
}

/// Whether the devices `set` serve `requests`, one each.
fn serves(
    set: &[usize],
    requests: &[AcceleratorRequest],
    accepts: &dyn Fn(&AcceleratorRequest, usize) -> bool,
) -> bool {
    fn augment(
        r: usize,
        set: &[usize],
        requests: &[AcceleratorRequest],
        accepts: &dyn Fn(&AcceleratorRequest, usize) -> bool,
        owner: &mut [Option<usize>],
        seen: &mut [bool],
    ) -> bool {
        for (i, &d) in set.iter().enumerate() {
            if seen[i] || !accepts(&requests[r], d) {
                continue;
            }
            seen[i] = true;
            if owner[i].is_none_or(|o| augment(o, set, requests, accepts, owner, seen)) {
                owner[i] = Some(r);
                return true;
            }
        }
        false
    }
    let mut owner = vec![None; set.len()];
    (0..requests.len()).all(|r| {
        let mut seen = vec![false; set.len()];
        augment(r, set, requests, accepts, &mut owner, &mut seen)
    })
}

/// A job of the ledger, as its line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its ticket.
    pub seq: u64,
    /// Whether it holds its share (else it waits).
    pub holds: bool,
    /// Cores.
    pub cores: u64,
    /// Memory, in KiB.
    pub memory_kib: u64,
    /// The cores and KiB of its own host (0 KiB: no limit); waiters only.
    pub capacity: (u64, u64),
    /// Tokens: `(name, taken, declared count)` (the count is 0 in a
    /// holder's line when it does not say).
    pub tokens: Vec<(String, u64, u64)>,
    /// The devices it holds, or its plan while it waits.
    pub devices: String,
}

/// The ledger's jobs, holders first, then waiters in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Every job.
    pub entries: Vec<Entry>,
}

fn tokens_of(field: &str) -> Vec<(String, u64, u64)> {
    if field == "-" {
        return Vec::new();
    }
    field
        .split(',')
        .filter_map(|t| {
            let (name, rest) = t.split_once('=')?;
            let (k, count) = rest.split_once('/').unwrap_or((rest, "0"));
            Some((name.to_owned(), k.parse().ok()?, count.parse().ok()?))
        })
        .collect()
}

/// Reads a ledger file; lines it does not know are skipped.
pub fn parse(text: &str) -> Ledger {
    let mut entries = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
        match f.first() {
            Some(&"h") if f.len() >= 9 => {
                let (Some(seq), Some(cores), Some(memory_kib)) = (num(1), num(5), num(6)) else {
                    continue;
                };
                entries.push(Entry {
                    seq,
                    holds: true,
                    cores,
                    memory_kib,
                    capacity: (0, 0),
                    tokens: tokens_of(f[7]),
                    devices: f[8].to_owned(),
                });
            }
            Some(&"w") if f.len() >= 13 => {
                let (Some(seq), Some(cores), Some(memory_kib), Some(cap_c), Some(cap_m)) =
                    (num(1), num(5), num(6), num(7), num(8))
                else {
                    continue;
                };
                entries.push(Entry {
                    seq,
                    holds: false,
                    cores,
                    memory_kib,
                    capacity: (cap_c, cap_m),
                    tokens: tokens_of(f[9]),
                    devices: f[10].to_owned(),
                });
            }
            _ => {}
        }
    }
    Ledger { entries }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Ledger {
    /// Why the job of ticket `seq` waits (`waiting for 2 cores: 2 of 2 in
    /// use`); `None` when it is not waiting there.
    pub fn reason(&self, seq: u64) -> Option<String> {
        let me = self.entries.iter().find(|e| e.seq == seq && !e.holds)?;
        let want = Want {
            cores: me.cores,
            memory_kib: me.memory_kib,
            tokens: me
                .tokens
                .iter()
                .map(|(name, k, count)| (name.as_str(), *k, *count))
                .collect(),
            devices: &me.devices,
            capacity: me.capacity,
        };
        if let Some(why) = shortfall(&want, self.entries.iter().filter(|e| e.holds)) {
            return Some(why);
        }
        let ahead = self
            .entries
            .iter()
            .filter(|e| !e.holds && e.seq < seq)
            .count();
        Some(if ahead > 0 {
            format!(
                "waiting for {} submitted before it",
                plural(ahead as u64, "job", "jobs")
            )
        } else {
            "waiting for its turn in the machine's ledger".to_owned()
        })
    }
}

/// Reads a job directory's [`JOB_FILE`]: the ledger's path and the ticket.
pub fn job_file(text: &str) -> Option<(String, u64)> {
    let mut path = None;
    let mut seq = None;
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("ledger ") {
            path = Some(p.to_owned());
        } else if let Some(n) = line.strip_prefix("seq ") {
            seq = n.trim().parse().ok();
        }
    }
    Some((path?, seq?))
}

/// What a job asks, as the ledger counts it, and the room of its machine.
pub(crate) struct Want<'a> {
    pub cores: u64,
    pub memory_kib: u64,
    /// `(name, taken, declared count)`.
    pub tokens: Vec<(&'a str, u64, u64)>,
    /// Its device plan (`-`: none).
    pub devices: &'a str,
    /// The machine's cores and KiB (0 KiB: no limit).
    pub capacity: (u64, u64),
}

/// Why a job asking `want` does not fit beside `holders` (the first of
/// cores, memory, tokens and devices it lacks: `waiting for 2 cores: 2 of
/// 2 in use`); `None` when it fits. The one judgement of fit, for the
/// reason a job waits and for the expected start.
pub(crate) fn shortfall<'e>(
    want: &Want<'_>,
    holders: impl Iterator<Item = &'e Entry> + Clone,
) -> Option<String> {
    let cores: u64 = holders.clone().map(|e| e.cores).sum();
    let memory: u64 = holders.clone().map(|e| e.memory_kib).sum();
    if cores.saturating_add(want.cores) > want.capacity.0 {
        return Some(format!(
            "waiting for {}: {cores} of {} in use",
            plural(want.cores, "core", "cores"),
            want.capacity.0
        ));
    }
    if want.capacity.1 > 0 && memory.saturating_add(want.memory_kib) > want.capacity.1 {
        let human = |kib: u64| MemSize::from_bytes(kib.saturating_mul(1024)).human();
        return Some(format!(
            "waiting for {} of memory: {} of {} in use",
            human(want.memory_kib),
            human(memory),
            human(want.capacity.1)
        ));
    }
    let mut used: BTreeMap<&str, u64> = BTreeMap::new();
    for e in holders.clone() {
        for (name, k, _) in &e.tokens {
            *used.entry(name).or_default() += k;
        }
    }
    for &(name, k, count) in &want.tokens {
        let held = used.get(name).copied().unwrap_or(0);
        if held.saturating_add(k) > count {
            return Some(format!(
                "waiting for {} `{name}`: {held} of {count} in use",
                plural(k, "token", "tokens")
            ));
        }
    }
    if want.devices != "-" {
        let busy: Vec<&str> = holders
            .filter(|e| e.devices != "-")
            .flat_map(|e| e.devices.split(','))
            .collect();
        let wanted: u64 = want
            .devices
            .split('|')
            .next()
            .unwrap_or("")
            .split(';')
            .filter_map(|g| g.split_once('/')?.0.parse::<u64>().ok())
            .sum();
        if !plan_fits(want.devices, &busy) {
            return Some(format!(
                "waiting for {}: {} in use",
                plural(wanted, "accelerator", "accelerators"),
                if busy.is_empty() {
                    "none".to_owned()
                } else {
                    busy.join(", ")
                }
            ));
        }
    }
    None
}

/// Whether a device plan (`K/D,D;K/D|...`: alternatives of groups, each K
/// devices among a list) can be served by the devices not in `busy`.
pub(crate) fn plan_fits(plan: &str, busy: &[&str]) -> bool {
    plan.split('|').any(|alt| {
        let mut taken: Vec<&str> = Vec::new();
        alt.split(';').all(|group| {
            let Some((k, list)) = group.split_once('/') else {
                return false;
            };
            let mut k: usize = k.parse().unwrap_or(usize::MAX);
            for d in list.split(',') {
                if k > 0 && !busy.contains(&d) && !taken.contains(&d) {
                    taken.push(d);
                    k -= 1;
                }
            }
            k == 0
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_types::AcceleratorSpec;

    fn gpu(kind: AcceleratorKind, gib: u64, min: u64) -> AcceleratorSpec {
        AcceleratorSpec {
            kind,
            memory: MemSize::from_bytes(gib << 30),
            min_memory: MemSize::from_bytes(min << 30),
            model: None,
            slurm_type: None,
        }
    }

    fn req(kind: AcceleratorKind, gib: u64) -> AcceleratorRequest {
        AcceleratorRequest {
            kind,
            memory: MemSize::from_bytes(gib << 30),
        }
    }

    #[test]
    fn plans_group_requests_that_accept_the_same_devices() {
        let host = HostSpec {
            cores: 4,
            accelerators: vec![
                gpu(AcceleratorKind::Cuda, 16, 0),
                gpu(AcceleratorKind::Cuda, 16, 0),
                gpu(AcceleratorKind::Rocm, 16, 0),
            ],
            ..HostSpec::default()
        };
        assert_eq!(device_plan(&host, &[]), "-");
        let cuda = req(AcceleratorKind::Cuda, 1);
        assert_eq!(device_plan(&host, &[cuda]), "1/cuda:0,cuda:1");
        assert_eq!(
            device_plan(&host, &[cuda, req(AcceleratorKind::Rocm, 1)]),
            "1/cuda:0,cuda:1;1/rocm:0"
        );
        // A generic request overlaps both kinds: the sets that serve both.
        assert_eq!(
            device_plan(&host, &[cuda, req(AcceleratorKind::Generic, 1)]),
            "2/cuda:0,cuda:1|2/cuda:0,rocm:0|2/cuda:1,rocm:0"
        );
    }

    #[test]
    fn plans_follow_min_memory() {
        let host = HostSpec {
            cores: 4,
            accelerators: vec![
                gpu(AcceleratorKind::Cuda, 80, 40),
                gpu(AcceleratorKind::Cuda, 24, 0),
            ],
            ..HostSpec::default()
        };
        let plan = device_plan(
            &host,
            &[
                req(AcceleratorKind::Cuda, 48),
                req(AcceleratorKind::Cuda, 8),
            ],
        );
        assert_eq!(plan, "1/cuda:0;1/cuda:1");
    }

    const LEDGER: &str = "next 9\n\
        h 3 100 5000 b 2 1024 gpu=1/1 cuda:0\n\
        h 4 101 5001 b 1 0 - -\n\
        w 5 102 5002 b 2 0 3 0 - - 16 0\n\
        w 6 103 5003 b 1 0 8 0 gpu=1/1 - 16 0\n\
        w 7 104 5004 b 1 0 8 0 - 1/cuda:0 16 0\n\
        w 8 105 5005 b 1 0 8 0 - 1/cuda:0,cuda:1 16 0\n\
        w 9 106 5006 b 1 4096 8 4096 - - 16 0\n\
        garbage line\n";

    #[test]
    fn reasons_say_what_a_job_waits_for() {
        let ledger = parse(LEDGER);
        assert_eq!(ledger.entries.len(), 7);
        for (ticket, reason) in [
            (5, "waiting for 2 cores: 3 of 3 in use"),
            (6, "waiting for 1 token `gpu`: 1 of 1 in use"),
            (7, "waiting for 1 accelerator: cuda:0 in use"),
            (8, "waiting for 3 jobs submitted before it"),
            (9, "waiting for 4 MiB of memory: 1 MiB of 4 MiB in use"),
        ] {
            assert_eq!(
                ledger.reason(ticket).as_deref(),
                Some(reason),
                "ticket {ticket}"
            );
        }
        assert_eq!(ledger.reason(3), None, "holders do not wait");
        assert_eq!(ledger.reason(42), None);
    }

    #[test]
    fn job_files_name_the_ledger_and_the_ticket() {
        assert_eq!(
            job_file("ledger /a b/c\nseq 12\n"),
            Some(("/a b/c".to_owned(), 12))
        );
        assert_eq!(job_file("ledger /x\n"), None);
    }
}
