//! The direct launcher over SSH, unchanged: jobs run on the remote machine
//! and are followed from their directory by a new process.

use std::process::Command;
use std::time::Duration;

use core_types::HostSpec;
use core_types::job::{FailReason, Job, JobHandle, JobState, Launcher};
use launcher_direct::DirectLauncher;

use crate::support::{self, Server, server};

/// Set for the test that runs in a new process: the job directory.
const RECOVER_VAR: &str = "CONNECTOR_SSH_IT_RECOVER";

/// The direct launcher on the test server, with `cores` cores.
fn direct(server: &Server, cores: u64) -> DirectLauncher {
    let host = HostSpec {
        cores,
        ..HostSpec::default()
    };
    DirectLauncher::new(server.shared(), host).unwrap()
}

#[test]
fn a_direct_job_over_ssh_is_recovered_from_a_new_process() {
    let Some(server) = server() else { return };
    let launcher = direct(&server, 2);
    let work = support::tempdir();
    let dir = work.path().join("job one");
    let job = Job::new(
        &dir,
        [
            "sh",
            "-c",
            "echo \"$0\"; echo \"$GREETING\" >&2; exit 3",
            "a 'b' $c",
        ],
    )
    .env("GREETING", "hello over ssh")
    .detach(true);
    let handle = launcher.submit(job).unwrap();
    assert_eq!(
        launcher.describe().split(" (").next().unwrap(),
        format!(
            "direct on ssh://{}@127.0.0.1:{}",
            support::user(),
            server.port
        )
    );

    // A new process, with a session of its own, follows it from its
    // directory alone.
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "launchers::recover_in_a_new_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(RECOVER_VAR, &dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("recovered: failed (exit code 3)"),
        "{stdout}"
    );

    assert_eq!(
        handle.wait().unwrap(),
        JobState::Failed(FailReason::ExitCode(3))
    );
    assert_eq!(std::fs::read(dir.join("stdout")).unwrap(), b"a 'b' $c\n");
    assert_eq!(
        std::fs::read(dir.join("stderr")).unwrap(),
        b"hello over ssh\n"
    );
}

#[test]
#[ignore = "run by a_direct_job_over_ssh_is_recovered_from_a_new_process, in a process of its own"]
fn recover_in_a_new_process() {
    let dir = std::env::var_os(RECOVER_VAR).expect("the job directory to recover");
    let server = server().expect("the test sshd");
    let job = launcher_direct::recover(server.shared(), dir.as_ref()).unwrap();
    let state = job
        .wait_timeout(Duration::from_secs(60))
        .unwrap()
        .expect("an end");
    println!("recovered: {state}");
}

#[test]
fn cancelling_a_job_over_ssh() {
    let Some(server) = server() else { return };
    let launcher = direct(&server, 1);
    let work = support::tempdir();
    let running = launcher
        .submit(Job::new(work.path().join("running"), ["sleep", "300"]))
        .unwrap();
    let queued = launcher
        .submit(Job::new(work.path().join("queued"), ["true"]))
        .unwrap();
    crate::support::eventually("the first job runs", || {
        work.path().join("running/pid").exists()
    });
    test_support::assert_cancels(running.as_ref());
    assert_eq!(queued.wait().unwrap(), JobState::Done);
    let recovered = launcher.recover(&work.path().join("running")).unwrap();
    assert_eq!(
        recovered.state().unwrap(),
        JobState::Failed(FailReason::Cancelled)
    );
}
