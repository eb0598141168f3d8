//! The job set's pieces together: an array's file and its counts, the
//! index, the rows of a listing.

use jobset::{ArrayFile, ArraySpec, Counts, Index, IndexEntry};

#[test]
fn an_array_file_round_trips() {
    let spec: ArraySpec = "1-3%2".parse().unwrap();
    let file = ArrayFile {
        format: 1,
        name: "sweep".into(),
        indices: spec.indices,
        throttle: spec.throttle,
        launcher: "direct".into(),
        submitted: 5,
        submitter: jobdir::this_process().cloned(),
    };
    let again = ArrayFile::parse(&file.to_bytes(), "/d/array.json").unwrap();
    assert_eq!(again, file);
    let err = ArrayFile::parse(b"{", "/d/array.json").unwrap_err();
    assert_eq!(err.to_string(), "`/d/array.json` is corrupt");
    let mut counts = Counts::default();
    for _ in &again.indices {
        counts.add(&core_types::job::JobState::Done);
    }
    assert_eq!(counts.summary(), "3 done");
}

#[test]
fn an_index_keeps_the_latest_line_of_each_job() {
    let mut text = String::new();
    for (i, dir) in ["/a", "ssh://h/b", "/a"].iter().enumerate() {
        text.push_str(&Index::line(&IndexEntry {
            submitted: i as u64,
            address: (*dir).into(),
        }));
    }
    let entries = Index::parse(&text);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].submitted, 2);
}
