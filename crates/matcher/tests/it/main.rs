//! Integration tests of `matcher`: the conformance cases, the cases where
//! experimaestro's greedy pairing misses an assignment, and property tests
//! against a reference written from the rules.

mod conformance;
mod greedy_misses;
mod properties;

use core_types::{AcceleratorRequest, AcceleratorSpec};

/// Checks that `assignment` gives each request a distinct device that may
/// serve it.
pub fn assert_valid(
    requests: &[AcceleratorRequest],
    devices: &[AcceleratorSpec],
    assignment: &[usize],
) {
    assert_eq!(assignment.len(), requests.len());
    let mut used = vec![false; devices.len()];
    for (request, &j) in requests.iter().zip(assignment) {
        assert!(j < devices.len(), "device {j} out of range");
        assert!(
            matcher::can_serve(&devices[j], request),
            "{request:?} cannot be served by {:?}",
            devices[j]
        );
        assert!(!used[j], "device {j} given twice");
        used[j] = true;
    }
}

/// Whether each request can get its own device, trying every injective map.
pub fn brute_force(requests: &[AcceleratorRequest], devices: &[AcceleratorSpec]) -> bool {
    fn go(
        i: usize,
        requests: &[AcceleratorRequest],
        devices: &[AcceleratorSpec],
        used: &mut [bool],
    ) -> bool {
        if i == requests.len() {
            return true;
        }
        for j in 0..devices.len() {
            if !used[j] && matcher::can_serve(&devices[j], &requests[i]) {
                used[j] = true;
                if go(i + 1, requests, devices, used) {
                    return true;
                }
                used[j] = false;
            }
        }
        false
    }
    go(0, requests, devices, &mut vec![false; devices.len()])
}
