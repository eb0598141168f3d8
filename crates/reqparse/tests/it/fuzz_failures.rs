//! Replays every input the fuzzers ever found a crash with
//! (`tests/data/fuzz-failures/`): each must now parse or fail cleanly, and
//! round-trip when it parses.

use std::path::Path;

#[test]
fn committed_fuzz_failures_replay_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-failures");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("the fuzz-failures folder exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        reqparse::fuzz_check(&bytes);
        count += 1;
    }
    // The folder's README says what goes there; inputs may be few.
    assert!(dir.join("README.md").exists());
    eprintln!("replayed {count} fuzz inputs");
}
