//! A full disk: a job that fills its directory's filesystem keeps its exit
//! code and says why, and a submission that finds no space leaves nothing.

use std::path::PathBuf;

use connector_local::LocalConnector;
use core_types::job::{FailReason, JobHandle, JobState, Launcher, NO_SPACE, report};
use launcher_direct::recover;
use test_support::leftovers;
use test_support::tmpfs::Tmpfs;

use super::{launcher, sh};

/// `sh -c SCRIPT` submitted in `job` on a fresh tmpfs of 1 MiB: the
/// filesystem, the job's directory and its handle; `None` where no tmpfs
/// can be mounted.
fn on_a_small_disk(script: &str) -> Option<(Tmpfs, PathBuf, Box<dyn JobHandle>)> {
    let fs = Tmpfs::mount("1m")?;
    let dir = fs.path().join("job");
    let job = launcher(1, 0).submit(sh(&dir, script)).unwrap();
    Some((fs, dir, job))
}

#[test]
fn a_job_that_fills_its_disk_keeps_its_exit_code_and_says_why() {
    let Some((_fs, dir, job)) = on_a_small_disk("head -c 5000000 /dev/zero; exit 7") else {
        return;
    };
    let state = job.wait().unwrap();
    assert_eq!(state, JobState::Failed(FailReason::NoSpace(7)));
    assert_eq!(state.exit_code(), Some(7));
    assert!(state.to_string().contains(NO_SPACE), "{state}");
    assert_eq!(leftovers(&dir), Vec::<String>::new());
    // Read back by another process, before and after space is freed.
    let again = recover(LocalConnector::shared(), &dir).unwrap();
    assert_eq!(again.state().unwrap(), state);
    std::fs::remove_file(dir.join("stdout")).unwrap();
    assert_eq!(again.state().unwrap(), state);
}

#[test]
fn a_job_that_ends_with_space_left_is_done() {
    let Some((_fs, dir, job)) = on_a_small_disk("head -c 100000 /dev/zero") else {
        return;
    };
    assert_eq!(job.wait().unwrap(), JobState::Done);
    assert_eq!(
        std::fs::read_to_string(dir.join("state")).unwrap(),
        format!("{:<63}\n", "exited 0")
    );
    assert_eq!(leftovers(&dir), Vec::<String>::new());
}

#[test]
fn a_submission_without_space_fails_clearly_and_leaves_nothing() {
    let Some(mut fs) = Tmpfs::mount("1m") else {
        return;
    };
    let dir = fs.path().join("job");
    std::fs::create_dir(&dir).unwrap();
    fs.fill_leaving(0);
    // No page left, then one (the state's, not `job.json`'s), then two
    // (not the script's): each submission fails and takes its files back.
    for pages in 0..3 {
        let err = launcher(1, 0)
            .submit(sh(&dir, "exit 0"))
            .map(|_| ())
            .unwrap_err();
        let text = report(&err);
        assert!(text.contains(NO_SPACE), "{pages} pages: {text}");
        assert!(
            text.contains(dir.to_str().unwrap()),
            "{pages} pages: {text}"
        );
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert!(files.is_empty(), "{pages} pages: {files:?}");
        fs.free(1);
    }
}

#[test]
fn without_its_reservation_a_job_on_a_full_disk_leaves_no_temporary_file() {
    // The job takes its state's space back, then fills the disk: the
    // script's fallback cannot write the state, and cleans up.
    let Some((_fs, dir, job)) = on_a_small_disk(
        "rm -f \"$LAUNCH_JOB_DIR/state\"; head -c 5000000 /dev/zero > ../fill; exit 3",
    ) else {
        return;
    };
    assert!(job.wait().unwrap().is_final());
    assert_eq!(leftovers(&dir), Vec::<String>::new());
}
