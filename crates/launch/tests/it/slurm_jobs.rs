//! Arrays, `list`, `logs`, `wait`, `time-left` and `cancel` of jobs on the
//! Slurm test cluster, through the binary; the Slurm commands counted by
//! wrappers first in `PATH`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::jobs::{
    cancel_three, counting_task, listed_with_a_failed_task, most_at_once, tasks_cancelled,
};
use crate::slurm;
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

/// The test cluster's work directory and launcher file (of
/// [`slurm::setup`]), with the counting wrappers in `work/bin`.
fn setup() -> Option<(tempfile::TempDir, PathBuf)> {
    let (work, config) = slurm::setup()?;
    counting_bin(work.path());
    Some((work, config))
}

/// `launch run --config CONFIG OPTIONS... duration=1m -- COMMAND...`.
fn run(work: &Path, config: &Path, options: &[&str], command: &[&str]) -> Output {
    let mut args = vec!["run", "--config", p(config)];
    args.extend_from_slice(options);
    args.extend(["duration=1m", "--"]);
    args.extend_from_slice(command);
    launch(work, &args)
}

#[test]
fn an_array_of_fifty_is_one_sbatch() {
    let Some((work, config)) = setup() else {
        return;
    };
    let work = work.path();
    let dir = work.join("fifty");
    let out = run(
        work,
        &config,
        &["--array", "1-50", "--name", "fifty", "--job-dir", p(&dir)],
        &[
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
    listed_with_a_failed_task(|args| launch(work, args), &dir, "fifty", 13);
}

#[test]
fn an_array_keeps_to_its_throttle_on_slurm() {
    let Some((work, config)) = setup() else {
        return;
    };
    let work = work.path();
    let task = counting_task(work);
    let dir = work.join("throttled");
    let out = run(
        work,
        &config,
        &["--array", "1-6%2", "--job-dir", p(&dir)],
        &["sh", "-c", &task],
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
    let me = env!("CARGO_BIN_EXE_launch");
    let out = run(work, &config, &["--name", "left"], &[me, "time-left"]);
    assert_ok(&out);
    let left: u64 = stdout(&out).trim().parse().unwrap();
    assert!((30..=60).contains(&left), "{left}");
    let dir = work.join("sleepers");
    let out = run(
        work,
        &config,
        &["--detach", "--array", "1-3", "--job-dir", p(&dir)],
        &["sleep", "60"],
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
    cancel_three(|args| launch(work, args), &dir);
    tasks_cancelled(|args| launch(work, args), &dir);
}
