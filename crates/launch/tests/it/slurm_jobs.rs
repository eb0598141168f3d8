//! Arrays, `list`, `logs`, `wait`, `time-left` and `cancel` of jobs on the
//! Slurm test cluster, through the binary; the Slurm commands counted by
//! wrappers first in `PATH`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::jobs::{counting_task, most_at_once};
use crate::slurm::setup;
use crate::support::{assert_ok, json_lines, stderr, stdout};

/// Wrappers of the Slurm commands that log each call, in `work/bin`; they
/// name the test cluster's configuration (`SLURM_CONF`), so that they
/// reach it from a shell that knows nothing of it (over SSH).
pub(crate) fn counting_bin(work: &Path) -> PathBuf {
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let real = std::env::var("LAUNCH_TEST_SLURM_BIN").unwrap_or_else(|_| "/usr/bin".into());
    let conf = std::env::var("SLURM_CONF")
        .map(|c| format!("SLURM_CONF='{c}'\nexport SLURM_CONF\n"))
        .unwrap_or_default();
    for name in ["sbatch", "squeue", "sacct", "scancel", "scontrol", "sinfo"] {
        let path = bin.join(name);
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\n{conf}echo {name} >> '{}'\nexec '{real}/{name}' \"$@\"\n",
                work.join("calls").display()
            ),
        )
        .unwrap();
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms).unwrap();
    }
    bin
}

/// How many times `name` was called.
pub(crate) fn calls(work: &Path, name: &str) -> usize {
    std::fs::read_to_string(work.join("calls"))
        .unwrap_or_default()
        .lines()
        .filter(|l| *l == name)
        .count()
}

/// `launch ARGS...` with the counting wrappers first in `PATH` and a state
/// directory of the work directory.
fn launch(work: &Path, args: &[&str]) -> Output {
    let path = format!(
        "{}:{}",
        work.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new(env!("CARGO_BIN_EXE_launch"))
        .args(args)
        .env_remove("LAUNCH_CONFIG")
        .env("PATH", path)
        .env("XDG_STATE_HOME", work.join("state"))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn an_array_of_fifty_is_one_sbatch() {
    let Some((work, config)) = setup() else {
        return;
    };
    let work = work.path();
    counting_bin(work);
    let dir = work.join("fifty");
    let out = launch(
        work,
        &[
            "run",
            "--config",
            p(&config),
            "--array",
            "1-50",
            "--name",
            "fifty",
            "--job-dir",
            p(&dir),
            "duration=1m",
            "--",
            "sh",
            "-c",
            "echo \"$LAUNCH_ARRAY_INDEX $SLURM_ARRAY_TASK_ID\"; [ \"$LAUNCH_ARRAY_INDEX\" != 13 ]",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(calls(work, "sbatch"), 1, "one submission for the array");
    assert!(
        stderr(&out).contains(&format!(
            "launch: array {}: 49 done, 1 failed",
            dir.display()
        )),
        "{}",
        stderr(&out)
    );
    // Slurm's task id is the index, as `sbatch --array=1-50` gives.
    let logs = launch(work, &["logs", &format!("{}/13", dir.display())]);
    assert_eq!(stdout(&logs), "13 13\n");
    let logs = launch(work, &["logs", &format!("{}/50", dir.display())]);
    assert_eq!(stdout(&logs), "50 50\n");
    let status = launch(work, &["status", "--json", p(&dir)]);
    let line = &json_lines(&status)[0];
    assert_eq!(line["launcher"], "slurm");
    assert_eq!(line["state"], "failed");
    assert_eq!(line["tasks"]["done"], 49);
    let rows = launch(work, &["list", "--json"]);
    assert_ok(&rows);
    let rows = json_lines(&rows);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["name"], "fifty");
    assert_eq!(rows[0]["tasks"]["failed"], 1);
    let wait = launch(work, &["wait", p(&dir)]);
    assert_eq!(wait.status.code(), Some(1));
    assert_eq!(
        stderr(&wait),
        format!("launch: {}/13: failed (exit code 1)\n", dir.display())
    );
}

#[test]
fn an_array_keeps_to_its_throttle_on_slurm() {
    let Some((work, config)) = setup() else {
        return;
    };
    let work = work.path();
    counting_bin(work);
    std::fs::create_dir_all(work.join("running")).unwrap();
    let task = counting_task(&work.join("running"));
    let dir = work.join("throttled");
    let out = launch(
        work,
        &[
            "run",
            "--config",
            p(&config),
            "--array",
            "1-6%2",
            "--job-dir",
            p(&dir),
            "duration=1m",
            "--",
            "sh",
            "-c",
            &task,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(calls(work, "sbatch"), 1);
    assert!(most_at_once(work) <= 2, "%2 exceeded");
    let logs = launch(work, &["logs", &format!("{}/6", dir.display())]);
    assert_eq!(stdout(&logs), "task 6\n");
}

#[test]
fn time_left_list_and_cancel_of_an_array_on_slurm() {
    let Some((work, config)) = setup() else {
        return;
    };
    let work = work.path();
    counting_bin(work);
    let me = env!("CARGO_BIN_EXE_launch");
    let out = launch(
        work,
        &[
            "run",
            "--config",
            p(&config),
            "--name",
            "left",
            "duration=1m",
            "--",
            me,
            "time-left",
        ],
    );
    assert_ok(&out);
    let left: u64 = stdout(&out).trim().parse().unwrap();
    assert!((30..=60).contains(&left), "{left}");
    let dir = work.join("sleepers");
    let out = launch(
        work,
        &[
            "run",
            "--config",
            p(&config),
            "--detach",
            "--array",
            "1-3",
            "--job-dir",
            p(&dir),
            "duration=1m",
            "--",
            "sleep",
            "60",
        ],
    );
    assert_ok(&out);
    assert_eq!(stdout(&out), format!("{}\n", dir.display()));
    // Listing many Slurm jobs asks Slurm once.
    let before = calls(work, "squeue");
    let rows = launch(work, &["list", "--json"]);
    assert_ok(&rows);
    assert!(
        calls(work, "squeue") - before <= 1,
        "one squeue for the list"
    );
    let rows = json_lines(&rows);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1]["name"], "left");
    assert_eq!(rows[1]["launcher"], "slurm");
    assert_eq!(rows[1]["state"], "done");
    let cancel = launch(work, &["cancel", p(&dir)]);
    assert_ok(&cancel);
    assert_eq!(
        stdout(&cancel),
        format!("{}: failed (3 failed)\n", dir.display())
    );
    let tasks = launch(work, &["status", "--json", "--tasks", p(&dir)]);
    for line in &json_lines(&tasks)[1..] {
        assert_eq!(line["reason"], "cancelled", "{line}");
    }
}
