//! Matching requirements against hosts.
//!
//! An [`Alternative`] matches a [`HostSpec`] when the host has enough
//! accelerators, each requested accelerator can be given its own host
//! accelerator (same kind, or any kind for `gpu`; enough memory; not below
//! the device's `min_memory`), the request reaches the host's `min_gpu`, the
//! cores and CPU memory fit, the `mps` memory and CPU memory fit the host's
//! unified memory, and the duration fits `max_duration` (0: unlimited).
//! The score of a match is the host's priority.
//!
//! Accelerators are paired as experimaestro pairs them (largest memory with
//! largest memory); when that pairing fails, a bipartite matching finds an
//! assignment whenever one exists. [`PreparedHost`] and [`PreparedHosts`]
//! precompute what matching needs, so that matching allocates nothing.
//! This crate does no I/O.
//!
//! ```
//! use core_types::{AcceleratorKind, AcceleratorRequest, AcceleratorSpec, Alternative};
//! use core_types::{HostSpec, MemSize, Requirement};
//!
//! let gib = |n: u64| MemSize::from_bytes(n << 30);
//! let card = |memory, min_memory| AcceleratorSpec {
//!     kind: AcceleratorKind::Cuda, memory, min_memory, model: None, slurm_type: None,
//! };
//! // A host with one big card kept for big jobs, and a small one.
//! let host = HostSpec {
//!     cores: 16,
//!     memory: gib(64),
//!     accelerators: vec![card(gib(24), gib(0)), card(gib(80), gib(40))],
//!     priority: 2.0,
//!     ..HostSpec::default()
//! };
//! let small_job = Alternative {
//!     accelerators: vec![AcceleratorRequest { kind: AcceleratorKind::Cuda, memory: gib(16) }],
//!     ..Alternative::default()
//! };
//! // Greedy pairing would offer the 80GiB card and fail; the matcher finds card 0.
//! let found = matcher::match_alternative(&small_job, &host).unwrap();
//! assert_eq!(found.assignment.to_vec(), vec![0]);
//! assert_eq!(found.score, 2.0);
//!
//! let mut big_job = small_job.clone();
//! big_job.accelerators[0].memory = gib(100);
//! let why = matcher::explain_alternative(&big_job, &host).unwrap_err();
//! assert_eq!(
//!     why.to_string(),
//!     "asks for 1 cuda accelerator of 100GiB, the host has 1 cuda accelerator of 24GiB \
//!      and 1 cuda accelerator of 80GiB (min 40GiB), none of which can serve it"
//! );
//!
//! // Several alternatives, several hosts: the best host, then its first match.
//! let requirement = Requirement { alternatives: vec![big_job, small_job] };
//! let hosts = matcher::PreparedHosts::new(&[HostSpec::default(), host]);
//! let best = hosts.match_requirement(&requirement).unwrap();
//! assert_eq!((best.host, best.alternative), (1, 1));
//! ```

#[cfg(test)]
mod fixtures {
    //! Devices and requests for the unit tests.
    use core_types::{AcceleratorKind, AcceleratorRequest, AcceleratorSpec, MemSize};

    pub(crate) const GIB: u64 = 1 << 30;

    /// A device of `gib` GiB that serves requests of at least `min_gib`.
    pub(crate) fn device(kind: AcceleratorKind, gib: u64, min_gib: u64) -> AcceleratorSpec {
        AcceleratorSpec {
            kind,
            memory: MemSize::from_bytes(gib * GIB),
            min_memory: MemSize::from_bytes(min_gib * GIB),
            model: None,
            slurm_type: None,
        }
    }

    /// A request for `gib` GiB.
    pub(crate) fn request(kind: AcceleratorKind, gib: u64) -> AcceleratorRequest {
        AcceleratorRequest {
            kind,
            memory: MemSize::from_bytes(gib * GIB),
        }
    }
}

mod assignment;
mod bipartite;
mod explain;
mod prepared;

use std::cmp::Reverse;

use core_types::{AcceleratorRequest, AcceleratorSpec, Alternative, HostSpec, Requirement};

pub use assignment::{Assignment, INLINE_ASSIGNMENT};
pub use explain::{Mismatch, explain_alternative, mismatches};
pub use prepared::{PreparedHost, PreparedHosts};

use bipartite::hopcroft_karp;
use prepared::best_first;

/// One alternative matched on one host.
#[derive(Debug, Clone, PartialEq)]
pub struct AltMatch {
    /// The host's priority.
    pub score: f64,
    /// The host accelerator serving each requested accelerator.
    pub assignment: Assignment,
}

/// A requirement matched on one host.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// The index of the chosen alternative.
    pub alternative: usize,
    /// The host's priority.
    pub score: f64,
    /// The host accelerator serving each requested accelerator.
    pub assignment: Assignment,
}

/// A requirement matched on the best of several hosts.
#[derive(Debug, Clone, PartialEq)]
pub struct HostMatch {
    /// The index of the chosen host.
    pub host: usize,
    /// The index of the chosen alternative.
    pub alternative: usize,
    /// The host's priority.
    pub score: f64,
    /// The host accelerator serving each requested accelerator.
    pub assignment: Assignment,
}

/// Matches one alternative against one host (rules 1 to 6).
///
/// To match many alternatives against the same host, prepare it once with
/// [`PreparedHost::new`].
pub fn match_alternative(alt: &Alternative, host: &HostSpec) -> Option<AltMatch> {
    PreparedHost::new(host).match_alternative(alt)
}

/// The best alternative of `requirement` on `host`: the highest score, the
/// earliest alternative on ties; on one host every match scores the host's
/// priority, so this is the first alternative that matches.
pub fn match_requirement(requirement: &Requirement, host: &HostSpec) -> Option<Match> {
    PreparedHost::new(host).match_requirement(requirement)
}

/// The best host for `requirement` (the highest score, the earliest host on
/// ties; a NaN priority ranks below every number) and its best alternative.
///
/// To match many requirements against the same hosts, prepare them once with
/// [`PreparedHosts::new`].
pub fn match_hosts(requirement: &Requirement, hosts: &[HostSpec]) -> Option<HostMatch> {
    let mut best: Option<HostMatch> = None;
    for (index, host) in hosts.iter().enumerate() {
        if let Some(found) = match_requirement(requirement, host) {
            let better = best
                .as_ref()
                .is_none_or(|b| best_first(found.score, b.score) == std::cmp::Ordering::Less);
            if better {
                best = Some(HostMatch {
                    host: index,
                    alternative: found.alternative,
                    score: found.score,
                    assignment: found.assignment,
                });
            }
        }
    }
    best
}

/// Whether host accelerator `device` may serve `request`: a typed request
/// needs the same kind (a `gpu` request takes any), the device has at least
/// the requested memory, and its `min_memory` is at most the requested
/// memory.
#[inline]
pub fn can_serve(device: &AcceleratorSpec, request: &AcceleratorRequest) -> bool {
    request.kind.accepts(device.kind)
        && device.memory >= request.memory
        && device.min_memory <= request.memory
}

/// experimaestro's pairing: requests and devices both sorted by memory,
/// largest first (stable); request `i` gets device `i`. Returns, for each
/// request in the order given, the index of its device in `devices`, or
/// `None` when there are too few devices or a pair does not fit.
pub fn greedy_assignment(
    requests: &[AcceleratorRequest],
    devices: &[AcceleratorSpec],
) -> Option<Vec<usize>> {
    if requests.len() > devices.len() {
        return None;
    }
    let mut request_order: Vec<usize> = (0..requests.len()).collect();
    request_order.sort_by_key(|&i| Reverse(requests[i].memory));
    let mut device_order: Vec<usize> = (0..devices.len()).collect();
    device_order.sort_by_key(|&j| Reverse(devices[j].memory));
    let mut device_of = vec![0; requests.len()];
    for (&i, &j) in request_order.iter().zip(&device_order) {
        if !can_serve(&devices[j], &requests[i]) {
            return None;
        }
        device_of[i] = j;
    }
    Some(device_of)
}

/// A bipartite matching (Hopcroft–Karp) of requests to distinct devices:
/// for each request, the index of its device in `devices`, whenever such an
/// assignment exists.
pub fn bipartite_assignment(
    requests: &[AcceleratorRequest],
    devices: &[AcceleratorSpec],
) -> Option<Vec<usize>> {
    if requests.len() > devices.len() {
        return None;
    }
    let matching = hopcroft_karp(requests.len(), devices.len(), |i, j| {
        can_serve(&devices[j], &requests[i])
    });
    matching
        .complete()
        .map(|v| v.into_iter().map(|j| j as usize).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_types::{AcceleratorKind, MemSize};

    fn host(priority: f64, cores: u64) -> HostSpec {
        HostSpec {
            cores,
            memory: MemSize::from_bytes(1 << 30),
            priority,
            ..HostSpec::default()
        }
    }

    fn cores(n: u64) -> Alternative {
        let mut alt = Alternative::default();
        alt.cpu.cores = n;
        alt
    }

    #[test]
    fn best_host_highest_priority_earliest_on_ties() {
        let hosts = [host(1.0, 4), host(3.0, 2), host(3.0, 8), host(f64::NAN, 8)];
        let req = Requirement {
            alternatives: vec![cores(4), cores(2)],
        };
        let m = match_hosts(&req, &hosts).unwrap();
        assert_eq!((m.host, m.alternative), (1, 1));
        let prepared = PreparedHosts::new(&hosts);
        assert_eq!(prepared.match_requirement(&req), Some(m));
        // The finder's order: the first alternative some host matches.
        let m = prepared.match_alternatives_in_order(&req).unwrap();
        assert_eq!((m.host, m.alternative), (2, 0));
        let only_nan = Requirement {
            alternatives: vec![cores(8)],
        };
        let hosts = [host(f64::NAN, 8), host(0.0, 8)];
        assert_eq!(match_hosts(&only_nan, &hosts).unwrap().host, 1);
        assert_eq!(
            PreparedHosts::new(&hosts)
                .match_requirement(&only_nan)
                .unwrap()
                .host,
            1
        );
        assert_eq!(
            match_hosts(&only_nan, &[host(f64::NAN, 8)]).unwrap().host,
            0
        );
        assert!(match_hosts(&only_nan, &[]).is_none());
        assert!(PreparedHosts::new(&[]).is_empty());
    }

    #[test]
    fn first_alternative_on_one_host() {
        let req = Requirement {
            alternatives: vec![cores(99), cores(3), cores(1)],
        };
        let m = match_requirement(&req, &host(0.0, 4)).unwrap();
        assert_eq!(m.alternative, 1);
        assert!(match_requirement(&Requirement::default(), &host(0.0, 4)).is_none());
    }

    #[test]
    fn greedy_and_bipartite_helpers() {
        let gib = |n: u64| MemSize::from_bytes(n << 30);
        let devices = [
            AcceleratorSpec {
                kind: AcceleratorKind::Cuda,
                memory: gib(80),
                min_memory: gib(40),
                model: None,
                slurm_type: None,
            },
            AcceleratorSpec {
                kind: AcceleratorKind::Cuda,
                memory: gib(24),
                min_memory: gib(0),
                model: None,
                slurm_type: None,
            },
        ];
        let small = AcceleratorRequest {
            kind: AcceleratorKind::Cuda,
            memory: gib(16),
        };
        assert_eq!(greedy_assignment(&[small], &devices), None);
        assert_eq!(bipartite_assignment(&[small], &devices), Some(vec![1]));
        assert_eq!(bipartite_assignment(&[small, small], &devices), None);
        assert_eq!(greedy_assignment(&[small; 3], &devices), None);
        assert_eq!(greedy_assignment(&[], &devices), Some(vec![]));
    }
}
