//! Integration tests of core-types.

use std::path::Path;

/// Replays every input the `memsize` fuzz target found a crash with
/// (`tests/data/fuzz-failures/`).
#[test]
fn committed_fuzz_failures_replay_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-failures");
    assert!(dir.join("README.md").exists());
    for entry in std::fs::read_dir(&dir).expect("the fuzz-failures folder exists") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") {
            core_types::fuzz_check_units(&std::fs::read(&path).unwrap());
        }
    }
}

#[test]
fn fuzz_property_holds_on_edge_values() {
    let mut data = Vec::new();
    for (a, b, f) in [
        (u64::MAX, 1, 2.0f64),
        (0, 0, -0.0),
        (1, u64::MAX, f64::MIN_POSITIVE),
        (3600, 7, 1.1),
    ] {
        data.clear();
        data.extend_from_slice(&u64::to_le_bytes(a));
        data.extend_from_slice(&u64::to_le_bytes(b));
        data.extend_from_slice(&f.to_bits().to_le_bytes());
        data.extend_from_slice(b"1.5GiB");
        core_types::fuzz_check_units(&data);
    }
}
