//! Hosts prepared for fast matching, and the matching itself.

use std::cmp::{Ordering, Reverse};

use core_types::{AcceleratorKind, AcceleratorRequest, Alternative, HostSpec, Requirement};

use crate::assignment::Assignment;
use crate::bipartite::{SMALL, hopcroft_karp, kuhn_small};
use crate::{AltMatch, HostMatch, Match};

/// One host accelerator, as the matcher reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Device {
    pub(crate) memory: u64,
    pub(crate) min_memory: u64,
    pub(crate) kind: AcceleratorKind,
    /// Its index in the host's original list.
    pub(crate) index: u32,
}

impl Device {
    /// Whether this device may serve `request` (rule 2 for one pair).
    #[inline]
    pub(crate) fn serves(&self, request: &AcceleratorRequest) -> bool {
        let want = request.memory.bytes();
        request.kind.accepts(self.kind) && self.memory >= want && self.min_memory <= want
    }
}

/// A host ready for matching many requirements: its accelerators sorted by
/// memory (largest first, stable), its limits in the form the checks use.
///
/// Matching against a prepared host allocates nothing, except when an
/// alternative asks for more than [`INLINE_ASSIGNMENT`](crate::INLINE_ASSIGNMENT)
/// accelerators, lists its accelerators out of memory order (only a
/// hand-built [`Alternative`] does), or fails the greedy pairing on a host
/// of more than 64 accelerators.
#[derive(Debug, Clone)]
pub struct PreparedHost {
    cores: u64,
    memory: u64,
    /// `u64::MAX` when unlimited.
    max_duration: u64,
    min_gpu: u64,
    priority: f64,
    /// Sorted by memory, largest first, stable.
    devices: Vec<Device>,
    /// For hosts of at most 64 devices: bit `j` of `kind_masks[k]` is set
    /// when a request of kind `k` accepts sorted device `j`.
    kind_masks: [u64; 4],
    /// Whether some device has a `min_memory`.
    has_min_memory: bool,
}

impl PreparedHost {
    /// Prepares `host`. A host with more than `u32::MAX` accelerators is
    /// read as having its first `u32::MAX - 1`.
    pub fn new(host: &HostSpec) -> Self {
        let mut devices: Vec<Device> = host
            .accelerators
            .iter()
            .take(u32::MAX as usize - 1)
            .enumerate()
            .map(|(i, a)| Device {
                memory: a.memory.bytes(),
                min_memory: a.min_memory.bytes(),
                kind: a.kind,
                index: i as u32,
            })
            .collect();
        devices.sort_by_key(|d| Reverse(d.memory));
        let mut kind_masks = [0u64; 4];
        for kind in KINDS {
            for (j, device) in devices.iter().enumerate().take(SMALL) {
                if kind.accepts(device.kind) {
                    kind_masks[kind_index(kind)] |= 1 << j;
                }
            }
        }
        let has_min_memory = devices.iter().any(|d| d.min_memory > 0);
        PreparedHost {
            cores: host.cores,
            memory: host.memory.bytes(),
            max_duration: if host.max_duration.is_zero() {
                u64::MAX
            } else {
                host.max_duration.seconds()
            },
            min_gpu: host.min_gpu,
            priority: host.priority,
            devices,
            kind_masks,
            has_min_memory,
        }
    }

    /// The host's priority: the score of every match on it.
    pub fn priority(&self) -> f64 {
        self.priority
    }

    /// Matches one alternative against this host (rules 1 to 6).
    #[inline]
    pub fn match_alternative(&self, alt: &Alternative) -> Option<AltMatch> {
        self.assign(alt).map(|assignment| AltMatch {
            score: self.priority,
            assignment,
        })
    }

    /// The best alternative of `requirement` on this host: every match on
    /// one host has the same score, so this is the first that matches.
    #[inline]
    pub fn match_requirement(&self, requirement: &Requirement) -> Option<Match> {
        requirement
            .alternatives
            .iter()
            .enumerate()
            .find_map(|(alternative, alt)| {
                self.assign(alt).map(|assignment| Match {
                    alternative,
                    score: self.priority,
                    assignment,
                })
            })
    }

    /// All rules; the accelerator assignment when they hold.
    #[inline]
    fn assign(&self, alt: &Alternative) -> Option<Assignment> {
        // Cheap rejections first: duration, CPU, counts.
        if alt.duration.seconds() > self.max_duration
            || alt.cpu.cores > self.cores
            || alt.cpu.memory.bytes() > self.memory
        {
            return None;
        }
        let requests = alt.accelerators.as_slice();
        let n = requests.len();
        if n > self.devices.len() || (n as u64) < self.min_gpu {
            return None;
        }
        // experimaestro's greedy pairing: request i with device i, both by
        // memory, largest first. Along the way: the unified memory and
        // whether the requests are in the order the pairing assumes.
        let devices = &self.devices[..n];
        let mut greedy = true;
        let mut sorted = true;
        let mut previous = u64::MAX;
        let mut unified = alt.cpu.memory.bytes();
        for (request, device) in requests.iter().zip(devices) {
            let want = request.memory.bytes();
            sorted &= want <= previous;
            previous = want;
            if device.memory < want {
                if sorted {
                    // The i+1 largest requests each need at least `want`,
                    // and at most i devices have that much: no assignment.
                    return None;
                }
                greedy = false;
            }
            greedy &= request.kind.accepts(device.kind) && device.min_memory <= want;
            if request.kind == AcceleratorKind::Mps {
                unified = unified.checked_add(want)?;
            }
        }
        if unified > self.memory {
            return None;
        }
        if greedy && sorted {
            return Some(Assignment::build(n, true, |i| devices[i].index));
        }
        if !sorted {
            if let Some(found) = self.greedy_unsorted(requests) {
                return Some(found);
            }
        }
        self.bipartite(requests)
    }

    /// The greedy pairing for requests that are not sorted by memory (an
    /// alternative built by hand): sort a copy, pair, map back.
    #[cold]
    fn greedy_unsorted(&self, requests: &[AcceleratorRequest]) -> Option<Assignment> {
        let mut order: Vec<usize> = (0..requests.len()).collect();
        order.sort_by_key(|&i| Reverse(requests[i].memory));
        let mut device_of = vec![0u32; requests.len()];
        for (rank, &i) in order.iter().enumerate() {
            let device = &self.devices[rank];
            if !device.serves(&requests[i]) {
                return None;
            }
            device_of[i] = device.index;
        }
        Some(Assignment::build(requests.len(), true, |i| device_of[i]))
    }

    /// An assignment by bipartite matching, whenever one exists.
    #[inline(never)]
    fn bipartite(&self, requests: &[AcceleratorRequest]) -> Option<Assignment> {
        let devices = &self.devices;
        if devices.len() <= SMALL {
            let mut adjacency = [0u64; SMALL];
            for (row, request) in adjacency.iter_mut().zip(requests) {
                let want = request.memory.bytes();
                // Devices with enough memory are a prefix of the sorted list.
                let enough = devices.partition_point(|d| d.memory >= want);
                let mut mask = self.kind_masks[kind_index(request.kind)] & low_bits(enough);
                if self.has_min_memory {
                    let mut rest = mask;
                    while rest != 0 {
                        let j = rest.trailing_zeros() as usize;
                        rest &= rest - 1;
                        if devices[j].min_memory > want {
                            mask &= !(1 << j);
                        }
                    }
                }
                if mask == 0 {
                    return None;
                }
                *row = mask;
            }
            let device_of = kuhn_small(&adjacency[..requests.len()])?;
            Some(Assignment::build(requests.len(), false, |i| {
                devices[usize::from(device_of[i])].index
            }))
        } else {
            let matching = hopcroft_karp(requests.len(), devices.len(), |i, j| {
                devices[j].serves(&requests[i])
            });
            let device_of = matching.complete()?;
            Some(Assignment::build(requests.len(), false, |i| {
                devices[device_of[i] as usize].index
            }))
        }
    }
}

const KINDS: [AcceleratorKind; 4] = [
    AcceleratorKind::Cuda,
    AcceleratorKind::Mps,
    AcceleratorKind::Rocm,
    AcceleratorKind::Generic,
];

/// The position of `kind` in [`KINDS`].
#[inline]
fn kind_index(kind: AcceleratorKind) -> usize {
    match kind {
        AcceleratorKind::Cuda => 0,
        AcceleratorKind::Mps => 1,
        AcceleratorKind::Rocm => 2,
        AcceleratorKind::Generic => 3,
    }
}

/// The lowest `n` bits set (`n <= 64`).
#[inline]
fn low_bits(n: usize) -> u64 {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

/// Orders priorities from best to worst: higher first, NaN last.
pub(crate) fn best_first(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
    }
}

/// Many hosts ready for matching, kept in order of priority (highest first,
/// earliest first on ties), so the first host that matches is the best.
#[derive(Debug, Clone, Default)]
pub struct PreparedHosts {
    /// Each host with its index in the list given to [`PreparedHosts::new`].
    hosts: Vec<(usize, PreparedHost)>,
}

impl PreparedHosts {
    /// Prepares every host of `hosts`.
    pub fn new(hosts: &[HostSpec]) -> Self {
        let mut hosts: Vec<(usize, PreparedHost)> =
            hosts.iter().map(PreparedHost::new).enumerate().collect();
        hosts.sort_by(|(_, a), (_, b)| best_first(a.priority, b.priority));
        PreparedHosts { hosts }
    }

    /// The number of hosts.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Whether there are no hosts.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// The prepared form of host `index` (its index in the list given to
    /// [`PreparedHosts::new`]).
    pub fn get(&self, index: usize) -> Option<&PreparedHost> {
        self.hosts
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, host)| host)
    }

    /// The best host for `requirement` (highest score, the earliest host on
    /// ties; a NaN priority ranks below every number) and its best
    /// alternative (the first that matches on that host).
    pub fn match_requirement(&self, requirement: &Requirement) -> Option<HostMatch> {
        self.hosts.iter().find_map(|(host, prepared)| {
            prepared.match_requirement(requirement).map(|m| HostMatch {
                host: *host,
                alternative: m.alternative,
                score: m.score,
                assignment: m.assignment,
            })
        })
    }

    /// The best host for one alternative (highest score, earliest on ties).
    pub fn match_alternative(&self, alt: &Alternative) -> Option<(usize, AltMatch)> {
        self.hosts
            .iter()
            .find_map(|(host, prepared)| prepared.match_alternative(alt).map(|m| (*host, m)))
    }

    /// The launcher finder's order: alternatives in order; for the first
    /// alternative that some host matches, the best such host.
    pub fn match_alternatives_in_order(&self, requirement: &Requirement) -> Option<HostMatch> {
        requirement
            .alternatives
            .iter()
            .enumerate()
            .find_map(|(alternative, alt)| {
                self.match_alternative(alt).map(|(host, m)| HostMatch {
                    host,
                    alternative,
                    score: m.score,
                    assignment: m.assignment,
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_types::{AcceleratorSpec, CpuRequest, MemSize, Walltime};

    const GIB: u64 = 1 << 30;

    fn device(kind: AcceleratorKind, gib: u64, min_gib: u64) -> AcceleratorSpec {
        AcceleratorSpec {
            kind,
            memory: MemSize::from_bytes(gib * GIB),
            min_memory: MemSize::from_bytes(min_gib * GIB),
            model: None,
            slurm_type: None,
        }
    }

    fn request(kind: AcceleratorKind, gib: u64) -> AcceleratorRequest {
        AcceleratorRequest {
            kind,
            memory: MemSize::from_bytes(gib * GIB),
        }
    }

    fn host(accelerators: Vec<AcceleratorSpec>) -> HostSpec {
        HostSpec {
            cores: 32,
            memory: MemSize::from_bytes(1024 * GIB),
            accelerators,
            ..HostSpec::default()
        }
    }

    fn alt(accelerators: Vec<AcceleratorRequest>) -> Alternative {
        Alternative {
            accelerators,
            ..Alternative::default()
        }
    }

    use AcceleratorKind::{Cuda, Generic, Mps};

    #[test]
    fn greedy_pairs_largest_with_largest() {
        let h = PreparedHost::new(&host(vec![
            device(Cuda, 16, 0),
            device(Cuda, 80, 0),
            device(Cuda, 40, 0),
        ]));
        let m = h
            .match_alternative(&alt(vec![request(Cuda, 32), request(Cuda, 8)]))
            .unwrap();
        assert_eq!(m.assignment.to_vec(), vec![1, 2]);
        assert!(m.assignment.is_greedy());
    }

    #[test]
    fn bipartite_when_greedy_fails() {
        // Sorted: 80GiB (min 40GiB), 24GiB. A 16GiB request cannot use the
        // 80GiB card; greedy gives it that card and fails.
        let h = PreparedHost::new(&host(vec![device(Cuda, 24, 0), device(Cuda, 80, 40)]));
        let m = h.match_alternative(&alt(vec![request(Cuda, 16)])).unwrap();
        assert_eq!(m.assignment.to_vec(), vec![0]);
        assert!(!m.assignment.is_greedy());
        // A kind mismatch: the largest device is an mps one.
        let h = PreparedHost::new(&host(vec![device(Cuda, 40, 20), device(Mps, 48, 0)]));
        let m = h.match_alternative(&alt(vec![request(Cuda, 20)])).unwrap();
        assert_eq!(m.assignment.to_vec(), vec![0]);
    }

    #[test]
    fn memory_shortfall_rejects_without_bipartite() {
        let h = PreparedHost::new(&host(vec![device(Cuda, 24, 0); 8]));
        assert!(
            h.match_alternative(&alt(vec![request(Cuda, 40); 2]))
                .is_none()
        );
    }

    #[test]
    fn unsorted_requests_still_match() {
        let h = PreparedHost::new(&host(vec![device(Cuda, 80, 0), device(Cuda, 16, 0)]));
        let m = h
            .match_alternative(&alt(vec![request(Cuda, 8), request(Cuda, 64)]))
            .unwrap();
        assert_eq!(m.assignment.to_vec(), vec![1, 0]);
        assert!(m.assignment.is_greedy());
        let h = PreparedHost::new(&host(vec![device(Cuda, 80, 0), device(Cuda, 80, 60)]));
        let m = h
            .match_alternative(&alt(vec![request(Cuda, 8), request(Cuda, 64)]))
            .unwrap();
        assert_eq!(m.assignment.to_vec(), vec![0, 1]);
        assert!(!m.assignment.is_greedy());
    }

    #[test]
    fn cpu_duration_counts_and_unified_memory() {
        let mut spec = host(vec![device(Mps, 64, 0)]);
        spec.memory = MemSize::from_bytes(64 * GIB);
        spec.max_duration = Walltime::from_seconds(3600);
        spec.min_gpu = 1;
        let h = PreparedHost::new(&spec);
        let mut a = alt(vec![request(Mps, 32)]);
        a.cpu = CpuRequest {
            cores: 4,
            memory: MemSize::from_bytes(32 * GIB),
        };
        assert!(h.match_alternative(&a).is_some());
        a.cpu.memory = MemSize::from_bytes(33 * GIB);
        assert!(h.match_alternative(&a).is_none(), "unified memory");
        a.cpu.memory = MemSize::ZERO;
        a.duration = Walltime::from_seconds(3601);
        assert!(h.match_alternative(&a).is_none(), "duration");
        a.duration = Walltime::from_seconds(3600);
        a.cpu.cores = 33;
        assert!(h.match_alternative(&a).is_none(), "cores");
        assert!(h.match_alternative(&alt(vec![])).is_none(), "min_gpu");
        // Overflowing unified memory is a non-match, not a wrap.
        let mut spec = host(vec![device(Mps, u64::MAX / GIB, 0); 2]);
        spec.memory = MemSize::MAX;
        let h = PreparedHost::new(&spec);
        let huge = AcceleratorRequest {
            kind: Mps,
            memory: MemSize::from_bytes(u64::MAX / 2 + 1),
        };
        let mut a = alt(vec![huge, huge]);
        assert!(h.match_alternative(&a).is_none());
        a.accelerators.pop();
        a.cpu.memory = MemSize::from_bytes(u64::MAX / 2);
        a.accelerators[0].memory = MemSize::from_bytes(GIB);
        assert!(h.match_alternative(&a).is_some());
    }

    #[test]
    fn large_hosts_use_hopcroft_karp() {
        // 100 devices: 50 big ones that only take big requests, 50 small.
        let mut devices = vec![device(Cuda, 80, 40); 50];
        devices.extend(vec![device(Cuda, 24, 0); 50]);
        let h = PreparedHost::new(&host(devices));
        let m = h
            .match_alternative(&alt(vec![request(Cuda, 16); 50]))
            .unwrap();
        let got = m.assignment.to_vec();
        assert!(got.iter().all(|&j| j >= 50), "{got:?}");
        assert!(!m.assignment.is_greedy());
        assert!(
            h.match_alternative(&alt(vec![request(Cuda, 16); 51]))
                .is_none()
        );
    }

    #[test]
    fn generic_devices_only_serve_gpu_requests() {
        let h = PreparedHost::new(&host(vec![device(Generic, 16, 0)]));
        assert!(h.match_alternative(&alt(vec![request(Cuda, 8)])).is_none());
        assert!(
            h.match_alternative(&alt(vec![request(Generic, 8)]))
                .is_some()
        );
    }

    #[test]
    fn priorities_order() {
        let mut v = [1.0, f64::NAN, 3.0, -0.0, 0.0, 3.0];
        v.sort_by(|a, b| best_first(*a, *b));
        assert_eq!(v[..5], [3.0, 3.0, 1.0, -0.0, 0.0]);
        assert!(v[5].is_nan());
    }
}
