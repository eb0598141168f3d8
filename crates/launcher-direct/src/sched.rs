//! Capacity: which queued jobs may start on a host now, and with which
//! devices. Pure bookkeeping, no I/O.

use std::collections::VecDeque;

use core_types::{AcceleratorKind, AcceleratorRequest, Alternative, HostSpec};

/// What one job takes while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Need {
    /// Cores: what the job asks, at least one (a process runs on a core).
    pub cores: u64,
    /// Bytes of memory: CPU memory plus the unified (`mps`) accelerator memory.
    pub memory: u64,
    /// The accelerators asked for.
    pub accelerators: Vec<AcceleratorRequest>,
}

impl Need {
    pub(crate) fn of(alt: &Alternative) -> Need {
        let unified = alt
            .unified_memory()
            .map_or(u64::MAX, core_types::MemSize::bytes);
        Need {
            cores: alt.cpu.cores.max(1),
            memory: alt.cpu.memory.bytes().saturating_add(unified),
            accelerators: alt.accelerators.clone(),
        }
    }
}

/// A device granted to a job: its index in the host's list and its index
/// among the host's devices of the same kind (what `CUDA_VISIBLE_DEVICES`
/// counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Device {
    pub host_index: usize,
    pub kind: AcceleratorKind,
    pub ordinal: usize,
}

/// The free part of a host.
#[derive(Debug, Clone)]
pub(crate) struct Capacity {
    host: HostSpec,
    free_cores: u64,
    free_memory: u64,
    device_free: Vec<bool>,
    ordinals: Vec<usize>,
}

impl Capacity {
    pub(crate) fn new(host: HostSpec) -> Capacity {
        let mut seen: Vec<(AcceleratorKind, usize)> = Vec::new();
        let ordinals = host
            .accelerators
            .iter()
            .map(|a| {
                if let Some(entry) = seen.iter_mut().find(|(k, _)| *k == a.kind) {
                    entry.1 += 1;
                    entry.1 - 1
                } else {
                    seen.push((a.kind, 1));
                    0
                }
            })
            .collect();
        Capacity {
            free_cores: host.cores,
            // Unknown memory (0) limits nothing.
            free_memory: if host.memory.is_zero() {
                u64::MAX
            } else {
                host.memory.bytes()
            },
            device_free: vec![true; host.accelerators.len()],
            ordinals,
            host,
        }
    }

    pub(crate) fn host(&self) -> &HostSpec {
        &self.host
    }

    pub(crate) fn free_cores(&self) -> u64 {
        self.free_cores
    }

    /// Why `need` can never run on this host, even when it is idle.
    pub(crate) fn never_fits(&self, need: &Need) -> Option<String> {
        let idle = Capacity::new(self.host.clone());
        if need.cores > idle.free_cores {
            return Some(format!(
                "it needs {} cores and the host has {}",
                need.cores, self.host.cores
            ));
        }
        if need.memory > idle.free_memory {
            return Some(format!(
                "it needs {} of memory and the host has {}",
                core_types::MemSize::from_bytes(need.memory).human(),
                self.host.memory.human()
            ));
        }
        if idle.assign(&need.accelerators).is_none() {
            return Some(format!(
                "no assignment of its {} accelerator(s) to the host's {} fits (kind, memory, min_memory)",
                need.accelerators.len(),
                self.host.accelerators.len()
            ));
        }
        None
    }

    /// Devices for `requests` among the free ones, when an assignment
    /// exists (bipartite matching, so one is found whenever one exists).
    fn assign(&self, requests: &[AcceleratorRequest]) -> Option<Vec<usize>> {
        if requests.is_empty() {
            return Some(Vec::new());
        }
        let devices = &self.host.accelerators;
        let accepts = |r: &AcceleratorRequest, d: usize| {
            let dev = &devices[d];
            self.device_free[d]
                && r.kind.accepts(dev.kind)
                && dev.memory >= r.memory
                && dev.min_memory <= r.memory
        };
        // owner[d] = the request holding device d.
        let mut owner: Vec<Option<usize>> = vec![None; devices.len()];
        for r in 0..requests.len() {
            let mut seen = vec![false; devices.len()];
            if !augment(r, requests, &accepts, &mut owner, &mut seen) {
                return None;
            }
        }
        let mut assignment = vec![0; requests.len()];
        for (d, o) in owner.iter().enumerate() {
            if let Some(r) = o {
                assignment[*r] = d;
            }
        }
        Some(assignment)
    }

    /// Takes what `need` needs when it fits now.
    pub(crate) fn try_take(&mut self, need: &Need) -> Option<Vec<Device>> {
        if need.cores > self.free_cores || need.memory > self.free_memory {
            return None;
        }
        let assignment = self.assign(&need.accelerators)?;
        self.free_cores -= need.cores;
        self.free_memory -= need.memory;
        Some(
            assignment
                .into_iter()
                .map(|d| {
                    self.device_free[d] = false;
                    Device {
                        host_index: d,
                        kind: self.host.accelerators[d].kind,
                        ordinal: self.ordinals[d],
                    }
                })
                .collect(),
        )
    }

    /// Gives back what a job took.
    pub(crate) fn give_back(&mut self, need: &Need, devices: &[Device]) {
        self.free_cores += need.cores;
        self.free_memory = self.free_memory.saturating_add(need.memory);
        for d in devices {
            self.device_free[d.host_index] = true;
        }
    }
}

fn augment(
    r: usize,
    requests: &[AcceleratorRequest],
    accepts: &impl Fn(&AcceleratorRequest, usize) -> bool,
    owner: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    for d in 0..owner.len() {
        if seen[d] || !accepts(&requests[r], d) {
            continue;
        }
        seen[d] = true;
        if owner[d].is_none_or(|other| augment(other, requests, accepts, owner, seen)) {
            owner[d] = Some(r);
            return true;
        }
    }
    false
}

/// A job waiting for capacity.
#[derive(Debug)]
pub(crate) struct Waiting<T> {
    pub need: Need,
    /// How many later jobs started before it.
    pub overtaken: u32,
    pub item: T,
}

/// The queue, in submission order. A job that does not fit lets later jobs
/// that fit start before it, until `overtake_limit` of them have: from then
/// on nothing starts before it, so a large job waits for room, never
/// forever.
#[derive(Debug)]
pub(crate) struct Queue<T> {
    pub waiting: VecDeque<Waiting<T>>,
    pub overtake_limit: u32,
}

impl<T> Queue<T> {
    pub(crate) fn new(overtake_limit: u32) -> Self {
        Queue {
            waiting: VecDeque::new(),
            overtake_limit,
        }
    }

    pub(crate) fn push(&mut self, need: Need, item: T) {
        self.waiting.push_back(Waiting {
            need,
            overtaken: 0,
            item,
        });
    }

    /// Removes and returns the jobs that start now, with their devices.
    pub(crate) fn dispatch(&mut self, capacity: &mut Capacity) -> Vec<(Waiting<T>, Vec<Device>)> {
        let mut started = Vec::new();
        let mut i = 0;
        while i < self.waiting.len() && capacity.free_cores() > 0 {
            if let Some(devices) = capacity.try_take(&self.waiting[i].need) {
                for earlier in self.waiting.range_mut(..i) {
                    earlier.overtaken += 1;
                }
                let job = self.waiting.remove(i).expect("index in range");
                started.push((job, devices));
            } else if self.waiting[i].overtaken >= self.overtake_limit {
                break;
            } else {
                i += 1;
            }
        }
        started
    }

    /// Removes the first waiting job `pred` selects.
    pub(crate) fn remove_where(&mut self, pred: impl Fn(&T) -> bool) -> Option<Waiting<T>> {
        let pos = self.waiting.iter().position(|w| pred(&w.item))?;
        self.waiting.remove(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_types::{AcceleratorSpec, CpuRequest, MemSize};

    fn gpus(kind: AcceleratorKind, mems: &[u64]) -> Vec<AcceleratorSpec> {
        mems.iter()
            .map(|&g| AcceleratorSpec {
                kind,
                memory: MemSize::from_bytes(g << 30),
                min_memory: MemSize::ZERO,
                model: None,
                slurm_type: None,
            })
            .collect()
    }

    fn host(cores: u64, accelerators: Vec<AcceleratorSpec>) -> HostSpec {
        HostSpec {
            cores,
            memory: MemSize::from_bytes(64 << 30),
            accelerators,
            ..HostSpec::default()
        }
    }

    fn need(cores: u64, accel: &[(AcceleratorKind, u64)]) -> Need {
        Need::of(&Alternative {
            cpu: CpuRequest {
                cores,
                memory: MemSize::ZERO,
            },
            accelerators: accel
                .iter()
                .map(|&(kind, g)| AcceleratorRequest {
                    kind,
                    memory: MemSize::from_bytes(g << 30),
                })
                .collect(),
            ..Alternative::default()
        })
    }

    #[test]
    fn devices_are_never_shared_and_ordinals_count_per_kind() {
        let mut accel = gpus(AcceleratorKind::Rocm, &[16]);
        accel.extend(gpus(AcceleratorKind::Cuda, &[16, 16]));
        let mut cap = Capacity::new(host(16, accel));
        let one = need(1, &[(AcceleratorKind::Cuda, 1)]);
        let a = cap.try_take(&one).unwrap();
        let b = cap.try_take(&one).unwrap();
        assert_eq!(cap.try_take(&one), None);
        let mut ordinals = vec![a[0].ordinal, b[0].ordinal];
        ordinals.sort_unstable();
        assert_eq!(ordinals, vec![0, 1]);
        assert!(a.iter().chain(&b).all(|d| d.kind == AcceleratorKind::Cuda));
        // A generic request may take the ROCm card.
        let any = cap
            .try_take(&need(1, &[(AcceleratorKind::Generic, 1)]))
            .unwrap();
        assert_eq!((any[0].kind, any[0].ordinal), (AcceleratorKind::Rocm, 0));
        cap.give_back(&one, &a);
        assert_eq!(cap.try_take(&one).unwrap(), a);
    }

    #[test]
    fn matching_finds_assignments_greedy_pairing_misses() {
        // A big request must take the card with min_memory; a greedy pairing
        // that gives the small request the first card that fits fails.
        let mut accel = gpus(AcceleratorKind::Cuda, &[80, 24]);
        accel[0].min_memory = MemSize::from_bytes(40 << 30);
        let cap = Capacity::new(host(4, accel));
        let alt = need(
            1,
            &[(AcceleratorKind::Cuda, 48), (AcceleratorKind::Cuda, 8)],
        );
        assert_eq!(cap.never_fits(&alt), None);
        let too_many = need(1, &[(AcceleratorKind::Cuda, 8); 3]);
        assert!(cap.never_fits(&too_many).unwrap().contains("accelerator"));
        assert!(cap.never_fits(&need(5, &[])).unwrap().contains("5 cores"));
    }

    #[test]
    fn at_least_one_core_per_job() {
        let mut cap = Capacity::new(host(2, Vec::new()));
        let none = need(0, &[]);
        assert!(cap.try_take(&none).is_some());
        assert!(cap.try_take(&none).is_some());
        assert!(cap.try_take(&none).is_none());
    }

    /// The items the queue starts now.
    fn dispatched(q: &mut Queue<i32>, cap: &mut Capacity) -> Vec<i32> {
        q.dispatch(cap).into_iter().map(|(w, _)| w.item).collect()
    }

    #[test]
    fn queue_is_fifo_with_bounded_overtaking() {
        let mut cap = Capacity::new(host(4, Vec::new()));
        let mut q = Queue::new(2);
        // 3 small jobs running take 3 cores; a 4-core job waits.
        for i in 0..3 {
            q.push(need(1, &[]), i);
        }
        q.push(need(4, &[]), 100);
        for i in 3..8 {
            q.push(need(1, &[]), i);
        }
        let started = dispatched(&mut q, &mut cap);
        // 0, 1, 2 fit; the big one does not; 3 overtakes it (overtaken = 1).
        assert_eq!(started, vec![0, 1, 2, 3]);
        let small = need(1, &[]);
        cap.give_back(&small, &[]);
        let started = dispatched(&mut q, &mut cap);
        assert_eq!(started, vec![4], "second overtaking");
        // The big job has been overtaken twice: from now on it is first.
        cap.give_back(&small, &[]);
        assert!(q.dispatch(&mut cap).is_empty());
        for _ in 0..3 {
            cap.give_back(&small, &[]);
        }
        let started = dispatched(&mut q, &mut cap);
        assert_eq!(started, vec![100]);
        cap.give_back(&need(4, &[]), &[]);
        let started = dispatched(&mut q, &mut cap);
        assert_eq!(started, vec![5, 6, 7]);
    }
}
