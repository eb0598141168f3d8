//! Bipartite matching of requests (left) to host devices (right).
//!
//! Two implementations: Kuhn's augmenting paths on 64-bit adjacency masks,
//! on the stack, for hosts of at most 64 devices (every real machine), and
//! Hopcroft–Karp with an explicit stack for anything larger. Both find a
//! matching that covers every request whenever one exists.

use std::collections::VecDeque;

/// No partner.
const NONE: u32 = u32::MAX;

/// The most devices [`kuhn_small`] handles.
pub(crate) const SMALL: usize = 64;

/// Kuhn's algorithm on adjacency masks: `adjacency[i]` has bit `j` set when
/// device `j` may serve request `i`. Needs `adjacency.len() <= 64` and
/// devices numbered below 64. Returns, for each request, its device.
pub(crate) fn kuhn_small(adjacency: &[u64]) -> Option<[u8; SMALL]> {
    if adjacency.len() > SMALL || adjacency.contains(&0) {
        return None;
    }
    // owner[j]: the request holding device j, or u8::MAX.
    let mut owner = [u8::MAX; SMALL];
    // The devices that have an owner (an augmenting path only ever adds one).
    let mut taken = 0u64;
    for i in 0..adjacency.len() {
        // A free device first: most requests need no augmenting path.
        let free = adjacency[i] & !taken;
        if free != 0 {
            let j = free.trailing_zeros();
            owner[j as usize] = i as u8;
            taken |= 1 << j;
            continue;
        }
        let mut visited = 0u64;
        if !augment(i, adjacency, &mut owner, &mut visited) {
            return None;
        }
        taken = owner
            .iter()
            .enumerate()
            .filter(|&(_, &o)| o != u8::MAX)
            .fold(0u64, |mask, (j, _)| mask | (1 << j));
    }
    let mut device_of = [u8::MAX; SMALL];
    for (j, &i) in owner.iter().enumerate() {
        if i != u8::MAX {
            device_of[usize::from(i)] = j as u8;
        }
    }
    Some(device_of)
}

/// Tries to give request `i` a device, moving other requests along an
/// augmenting path. Recursion depth is at most 64.
fn augment(i: usize, adjacency: &[u64], owner: &mut [u8; SMALL], visited: &mut u64) -> bool {
    let mut candidates = adjacency[i] & !*visited;
    while candidates != 0 {
        let j = candidates.trailing_zeros() as usize;
        candidates &= candidates - 1;
        *visited |= 1 << j;
        let holder = owner[j];
        if holder == u8::MAX || augment(usize::from(holder), adjacency, owner, visited) {
            owner[j] = i as u8;
            return true;
        }
        candidates &= !*visited;
    }
    false
}

/// A maximum matching found by Hopcroft–Karp.
#[derive(Debug)]
pub(crate) struct MaxMatching {
    /// The devices each request may use.
    pub(crate) adjacency: Vec<Vec<u32>>,
    /// The device of each request, or `NONE`.
    pub(crate) device_of: Vec<u32>,
    /// The request of each device, or `NONE`.
    pub(crate) request_of: Vec<u32>,
}

impl MaxMatching {
    /// The device of each request when every request has one.
    pub(crate) fn complete(&self) -> Option<Vec<u32>> {
        if self.device_of.contains(&NONE) {
            None
        } else {
            Some(self.device_of.clone())
        }
    }

    /// When some request has no device: a set of requests (Hall's witness:
    /// those reachable by alternating paths from the unserved requests) and
    /// the devices that could serve any of them, fewer than the requests.
    /// Both sorted.
    pub(crate) fn hall_witness(&self) -> Option<(Vec<usize>, Vec<usize>)> {
        let mut in_requests: Vec<bool> = self.device_of.iter().map(|&d| d == NONE).collect();
        if !in_requests.contains(&true) {
            return None;
        }
        let mut in_devices = vec![false; self.request_of.len()];
        let mut queue: VecDeque<usize> = positions(&in_requests).into();
        while let Some(i) = queue.pop_front() {
            for &j in &self.adjacency[i] {
                let j = j as usize;
                if in_devices[j] {
                    continue;
                }
                in_devices[j] = true;
                let holder = self.request_of[j];
                // In a maximum matching every reachable device is taken.
                if holder != NONE && !in_requests[holder as usize] {
                    in_requests[holder as usize] = true;
                    queue.push_back(holder as usize);
                }
            }
        }
        let requests = positions(&in_requests);
        let devices = positions(&in_devices);
        Some((requests, devices))
    }
}

fn positions(flags: &[bool]) -> Vec<usize> {
    flags
        .iter()
        .enumerate()
        .filter_map(|(i, &f)| f.then_some(i))
        .collect()
}

/// Hopcroft–Karp: a maximum matching of `requests` left vertices to
/// `devices` right vertices, with an edge where `edge(i, j)`.
pub(crate) fn hopcroft_karp(
    requests: usize,
    devices: usize,
    mut edge: impl FnMut(usize, usize) -> bool,
) -> MaxMatching {
    let adjacency: Vec<Vec<u32>> = (0..requests)
        .map(|i| {
            (0..devices.min(NONE as usize))
                .filter(|&j| edge(i, j))
                .map(|j| j as u32)
                .collect()
        })
        .collect();
    let mut device_of = vec![NONE; requests];
    let mut request_of = vec![NONE; devices];
    let mut dist = vec![u32::MAX; requests];
    let mut next_edge = vec![0usize; requests];
    let mut queue = VecDeque::new();
    let mut stack: Vec<usize> = Vec::new();
    loop {
        // Breadth-first layers from the free requests.
        queue.clear();
        for (i, d) in dist.iter_mut().enumerate() {
            if device_of[i] == NONE {
                *d = 0;
                queue.push_back(i);
            } else {
                *d = u32::MAX;
            }
        }
        let mut found = false;
        while let Some(i) = queue.pop_front() {
            for &j in &adjacency[i] {
                let holder = request_of[j as usize];
                if holder == NONE {
                    found = true;
                } else if dist[holder as usize] == u32::MAX {
                    dist[holder as usize] = dist[i] + 1;
                    queue.push_back(holder as usize);
                }
            }
        }
        if !found {
            break;
        }
        // Depth-first augmenting paths along the layers, iteratively.
        next_edge.fill(0);
        for root in 0..requests {
            if device_of[root] != NONE {
                continue;
            }
            stack.clear();
            stack.push(root);
            while let Some(&i) = stack.last() {
                let Some(&j) = adjacency[i].get(next_edge[i]) else {
                    // Dead end: never try this request again in this phase.
                    dist[i] = u32::MAX;
                    stack.pop();
                    continue;
                };
                next_edge[i] += 1;
                let holder = request_of[j as usize];
                if holder == NONE {
                    // Augment along the stack: each request on it takes the
                    // device it went through.
                    for &k in stack.iter().rev() {
                        let through = adjacency[k][next_edge[k] - 1];
                        device_of[k] = through;
                        request_of[through as usize] = k as u32;
                    }
                    break;
                }
                if dist[holder as usize] == dist[i].saturating_add(1) {
                    stack.push(holder as usize);
                }
            }
        }
    }
    MaxMatching {
        adjacency,
        device_of,
        request_of,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Whether every request can get a distinct device, by trying them all.
    fn brute_force(adjacency: &[Vec<bool>], devices: usize) -> bool {
        fn go(i: usize, adjacency: &[Vec<bool>], used: &mut Vec<bool>) -> bool {
            if i == adjacency.len() {
                return true;
            }
            for j in 0..used.len() {
                if adjacency[i][j] && !used[j] {
                    used[j] = true;
                    if go(i + 1, adjacency, used) {
                        return true;
                    }
                    used[j] = false;
                }
            }
            false
        }
        go(0, adjacency, &mut vec![false; devices])
    }

    fn check(adjacency: &[Vec<bool>], devices: usize, got: &[u32]) {
        let mut used = vec![false; devices];
        for (i, &j) in got.iter().enumerate() {
            assert!(
                adjacency[i][j as usize],
                "request {i} got device {j} it cannot use"
            );
            assert!(!used[j as usize], "device {j} given twice");
            used[j as usize] = true;
        }
    }

    #[test]
    fn kuhn_needs_augmenting_paths() {
        // Request 0 may use devices 0 and 1, request 1 only device 0.
        let got = kuhn_small(&[0b11, 0b01]).unwrap();
        assert_eq!(&got[..2], &[1, 0]);
        assert!(kuhn_small(&[0b1, 0b1]).is_none());
        assert!(kuhn_small(&[0b1, 0]).is_none());
        assert!(kuhn_small(&[]).is_some());
    }

    #[test]
    fn hopcroft_karp_witness() {
        // Requests 0, 1, 2 all want devices 0 or 1; request 3 has its own.
        let adjacency = [vec![0, 1], vec![0, 1], vec![1, 0], vec![2]];
        let m = hopcroft_karp(4, 3, |i, j| adjacency[i].contains(&j));
        assert!(m.complete().is_none());
        let (requests, devices) = m.hall_witness().unwrap();
        assert_eq!(requests, vec![0, 1, 2]);
        assert_eq!(devices, vec![0, 1]);
        let m = hopcroft_karp(2, 3, |i, j| i == j);
        assert_eq!(m.complete(), Some(vec![0, 1]));
        assert!(m.hall_witness().is_none());
    }

    #[test]
    fn long_chains_do_not_recurse() {
        // Request i may use devices i and i + 1; processed so that each new
        // request shifts a long chain.
        let n = 5000;
        let m = hopcroft_karp(n, n, |i, j| j == i || j == i + 1);
        assert!(m.complete().is_some());
    }

    fn instance(max: usize) -> impl Strategy<Value = (usize, Vec<Vec<bool>>)> {
        (1..=max).prop_flat_map(move |devices| {
            (
                Just(devices),
                proptest::collection::vec(
                    proptest::collection::vec(proptest::bool::weighted(0.4), devices),
                    0..=devices,
                ),
            )
        })
    }

    proptest! {
        #[test]
        fn all_agree_with_brute_force((devices, adjacency) in instance(7)) {
            let exists = brute_force(&adjacency, devices);
            let masks: Vec<u64> = adjacency
                .iter()
                .map(|row| row.iter().enumerate().filter(|&(_, &e)| e).fold(0, |m, (j, _)| m | 1 << j))
                .collect();
            let kuhn = kuhn_small(&masks);
            prop_assert_eq!(kuhn.is_some(), exists);
            if let Some(got) = kuhn {
                let got: Vec<u32> = got[..adjacency.len()].iter().map(|&j| u32::from(j)).collect();
                check(&adjacency, devices, &got);
            }
            let hk = hopcroft_karp(adjacency.len(), devices, |i, j| adjacency[i][j]);
            let complete = hk.complete();
            prop_assert_eq!(complete.is_some(), exists);
            if let Some(got) = complete {
                check(&adjacency, devices, &got);
            } else {
                let (requests, usable) = hk.hall_witness().unwrap();
                prop_assert!(usable.len() < requests.len());
                for &i in &requests {
                    for (j, &edge) in adjacency[i].iter().enumerate() {
                        prop_assert!(!edge || usable.contains(&j));
                    }
                }
            }
        }

        #[test]
        fn large_kuhn_and_hopcroft_karp_agree((devices, adjacency) in instance(64)) {
            let masks: Vec<u64> = adjacency
                .iter()
                .map(|row| row.iter().enumerate().filter(|&(_, &e)| e).fold(0, |m, (j, _)| m | 1 << j))
                .collect();
            let hk = hopcroft_karp(adjacency.len(), devices, |i, j| adjacency[i][j]);
            prop_assert_eq!(kuhn_small(&masks).is_some(), hk.complete().is_some());
        }
    }
}
