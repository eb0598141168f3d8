//! The Slurm launcher over SSH, unchanged: a job submitted with `sbatch`
//! on the test cluster, and followed with `squeue`/`sacct`, all through
//! the SSH connector (`cargo xtask test` starts both the sshd and the
//! Slurm test cluster).

use std::path::PathBuf;
use std::time::Duration;

use core_types::job::{FailReason, Job, JobState, Launcher};
use launcher_slurm::SlurmLauncher;

use crate::support::{self, server};

/// The Slurm test cluster's client directory, when the test command
/// started the cluster (`LAUNCH_TEST_SLURM=required`); `None` with a note
/// otherwise.
fn slurm_bin() -> Option<PathBuf> {
    if std::env::var("LAUNCH_TEST_SLURM").as_deref() != Ok("required") {
        eprintln!(
            "note: skipped, LAUNCH_TEST_SLURM is not set; `cargo xtask test` starts the Slurm test cluster"
        );
        return None;
    }
    Some(
        std::env::var_os("LAUNCH_TEST_SLURM_BIN")
            .map_or_else(|| PathBuf::from("/usr/bin"), PathBuf::from),
    )
}

#[test]
fn a_slurm_job_submitted_and_followed_over_ssh() {
    let Some(server) = server() else { return };
    let Some(bin) = slurm_bin() else { return };
    let conf = std::env::var_os("SLURM_CONF").expect("SLURM_CONF names the test cluster");
    let ssh = server.shared();
    // The remote shell knows nothing of this process's environment: the
    // cluster's configuration goes with every Slurm command.
    let launcher = SlurmLauncher::new(ssh.clone())
        .bin(&bin)
        .env("SLURM_CONF", conf)
        .poll_interval(Duration::from_millis(200));
    // Kept when the test fails, for a look.
    let work = support::tempdir().keep();
    let dir = work.join("slurm job");
    let job = launcher
        .submit(
            Job::new(
                &dir,
                [
                    "sh",
                    "-c",
                    "echo \"$0\"; echo \"$GREETING\" >&2; exit 3",
                    "a 'b' $c",
                ],
            )
            .env("GREETING", "hello from slurm over ssh"),
        )
        .unwrap();
    let state = job
        .wait_timeout(Duration::from_secs(180))
        .unwrap()
        .expect("the job ends within three minutes");
    assert_eq!(
        state,
        JobState::Failed(FailReason::ExitCode(3)),
        "{}",
        dir.display()
    );
    let meta = std::fs::read_to_string(dir.join("job.json")).unwrap();
    assert!(
        meta.contains(&format!(
            "ssh://{}@127.0.0.1:{}",
            support::user(),
            server.port
        )),
        "{meta}"
    );
    let stdout = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| std::fs::read(e.unwrap().path()).ok())
        .any(|bytes| bytes == b"a 'b' $c\n");
    assert!(stdout, "the job's output is in its directory");

    // Followed again from its directory, over the same session.
    let recovered = launcher.recover(&dir).unwrap();
    assert_eq!(
        recovered.state().unwrap(),
        JobState::Failed(FailReason::ExitCode(3))
    );
    std::fs::remove_dir_all(&work).unwrap();
}
