//! `launch` with the Slurm test cluster (`cargo xtask test` starts it and
//! sets `LAUNCH_TEST_SLURM=required`): `generate slurm`, then `find`,
//! `run`, `status` and `cancel` through the generated launcher file; the
//! submitting process killed, and `status` still finding the true result.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{json_lines, launch, stderr, stdout};

/// Whether the Slurm test cluster is there: `false` (with a note) when
/// the test command did not start it; a failure when it did and the
/// cluster does not answer.
fn cluster() -> bool {
    let Some(bin) = test_support::slurm_test_bin() else {
        return false;
    };
    let out = Command::new(bin.join("sinfo"))
        .arg("--noheader")
        .output()
        .expect("sinfo runs");
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        panic!("LAUNCH_TEST_SLURM=required, but the Slurm test cluster does not answer: {why}");
    }
    true
}

/// `launch generate slurm` into a fresh directory: the file's path.
/// A work directory and the launcher file `launch generate slurm` writes
/// into it, when the test cluster is there.
pub(crate) fn setup() -> Option<(tempfile::TempDir, PathBuf)> {
    if !cluster() {
        return None;
    }
    let work = tempfile::tempdir().unwrap();
    let config = generated(work.path());
    Some((work, config))
}

fn generated(work: &Path) -> PathBuf {
    let path = work.join("launchers.toml");
    let out = launch(&["generate", "slurm", "-o", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    path
}

fn found(config: &Path, expr: &str) -> serde_json::Value {
    let out = launch(&["find", "--json", "--config", config.to_str().unwrap(), expr]);
    assert!(out.status.success(), "{expr}: {}", stderr(&out));
    json_lines(&out).remove(0)
}

#[test]
fn generate_slurm_then_find_picks_the_right_partition() {
    let Some((_work, config)) = setup() else {
        return;
    };
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("name = \"main\"") && text.contains("name = \"short\""),
        "{text}"
    );
    let check = launch(&["check", "--config", config.to_str().unwrap()]);
    assert!(check.status.success(), "{}", stderr(&check));
    // Short jobs go to the short partition, longer ones to main.
    let short = found(&config, "duration=1m & cuda(mem=40G) * 2");
    assert_eq!(short["launcher"], "short");
    assert_eq!(short["options"]["partition"], "short");
    // Typed: Slurm gives only GPUs of the matched type (issue 12).
    assert_eq!(short["options"]["gpus-per-node"], "a100-sxm4-80gb:2");
    let long = found(&config, "duration=3h & cpu(cores=4)");
    assert_eq!(long["launcher"], "main");
    // Nothing has 100 GB GPUs.
    let none = launch(&[
        "find",
        "--json",
        "--config",
        path(&config),
        "cuda(mem=100G)",
    ]);
    assert_eq!(none.status.code(), Some(1), "{}", stderr(&none));
}

#[test]
fn run_through_the_generated_file() {
    let Some((work, config)) = setup() else {
        return;
    };
    let dir = work.path().join("job");
    let out = launch(&[
        "run",
        "--config",
        path(&config),
        "--job-dir",
        path(&dir),
        "duration=1m & cuda(mem=40G) * 2",
        "--",
        "sh",
        "-c",
        "echo \"$SLURM_JOB_PARTITION $CUDA_VISIBLE_DEVICES $1\"; echo oops >&2; exit 3",
        "sh",
        "two words",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "short 0,1 two words\n");
    assert!(stderr(&out).contains("oops\n"), "{}", stderr(&out));
    let status = launch(&["status", "--json", dir.to_str().unwrap()]);
    let line = &json_lines(&status)[0];
    assert_eq!(line["launcher"], "slurm");
    assert_eq!(line["state"], "failed");
    assert_eq!(line["exit_code"], 3);
}

#[test]
fn detached_then_cancelled() {
    let Some((work, config)) = setup() else {
        return;
    };
    let out = launch(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--detach",
        "--job-dir",
        work.path().join("job").to_str().unwrap(),
        "duration=10m",
        "--",
        "sleep",
        "600",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = stdout(&out).trim().to_owned();
    let status = launch(&["status", "--json", &dir]);
    let state = json_lines(&status)[0]["state"].clone();
    assert!(state == "scheduled" || state == "running", "{state}");
    let cancel = launch(&["cancel", &dir]);
    assert!(cancel.status.success(), "{}", stderr(&cancel));
    let status = launch(&["status", "--json", &dir]);
    let line = &json_lines(&status)[0];
    assert_eq!(line["state"], "failed");
    assert_eq!(line["reason"], "cancelled");
}

#[test]
fn the_submitter_killed_status_finds_the_true_result() {
    let Some((work, config)) = setup() else {
        return;
    };
    let dir = work.path().join("job");
    let mut child = Command::new(env!("CARGO_BIN_EXE_launch"))
        .args([
            "run",
            "--config",
            path(&config),
            "--job-dir",
            path(&dir),
            "duration=5m",
            "--",
            "sh",
            "-c",
            "sleep 3; echo done; exit 7",
        ])
        .env_remove("LAUNCH_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Once Slurm has the job (its id is in job.json), kill the submitter.
    let mut submitted = false;
    for _ in 0..300 {
        let meta = std::fs::read_to_string(dir.join("job.json")).unwrap_or_default();
        if meta.contains("\"job_id\":\"") {
            submitted = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(submitted, "the job was not submitted");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = child.wait();
    // A new process follows it from the directory to its true end.
    let mut last = serde_json::Value::Null;
    for _ in 0..600 {
        let status = launch(&["status", "--json", dir.to_str().unwrap()]);
        last = json_lines(&status).remove(0);
        if last["state"] == "failed" || last["state"] == "done" {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(last["state"], "failed", "{last}");
    assert_eq!(last["exit_code"], 7, "{last}");
    assert_eq!(std::fs::read(dir.join("stdout")).unwrap(), b"done\n");
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}
