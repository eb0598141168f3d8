//! A user's jobs as a set, through the binary, on this machine: names and
//! default directories, `list`, `logs`, `wait`, `time-left`, `prune`, and
//! arrays (`run --array`, their `status`, `cancel`, `wait`, `logs`).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::cli_find::launch_in;
use crate::support::{assert_fails, assert_ok, json_lines, stderr, stdout};

fn run(home: &Path, args: &[&str]) -> Output {
    launch_in(home, args, &[])
}

/// `launch list --json`, each line's object.
fn list(home: &Path, filters: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["list", "--json"];
    args.extend_from_slice(filters);
    let out = run(home, &args);
    assert_ok(&out);
    json_lines(&out)
}

fn names(rows: &[serde_json::Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The directories under the state directory's `jobs`.
fn job_dirs(home: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(home.join("state/launch/jobs"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// `launch run OPTIONS... --job-dir DIR cpu() -- true` with `DIR` outside the
/// state directory (in the temporary directory returned with it), run to
/// its end.
fn ended_outside(home: &Path, options: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let elsewhere = tempfile::tempdir().unwrap();
    let dir = elsewhere.path().join("outside");
    let mut all = options.to_vec();
    all.extend(["--job-dir", path(&dir)]);
    ended(home, &all);
    (elsewhere, dir)
}

/// `launch run OPTIONS... cpu() -- true`, run to its end.
fn ended(home: &Path, options: &[&str]) {
    let mut args = vec!["run"];
    args.extend_from_slice(options);
    args.extend(["cpu()", "--", "true"]);
    assert_ok(&run(home, &args));
}

/// `launch run --detach ARGS...`: the job directory it prints.
fn detach(home: &Path, args: &[&str]) -> String {
    let mut all = vec!["run", "--detach"];
    all.extend_from_slice(args);
    let out = run(home, &all);
    assert_ok(&out);
    stdout(&out).trim().to_owned()
}

#[test]
fn names_make_directories_and_show_in_the_list() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    ended(home, &["--name", "train run"]);
    let failed = run(home, &["run", "cpu()", "--", "/bin/sh", "-c", "exit 4"]);
    assert_eq!(failed.status.code(), Some(4), "{}", stderr(&failed));
    let dirs = job_dirs(home);
    let base: Vec<String> = dirs
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(base.len(), 2, "{base:?}");
    // `NAME-XXXXXX`: the name made safe, six random characters.
    assert!(
        base.iter()
            .any(|b| b.starts_with("train_run-") && b.len() == 16),
        "{base:?}"
    );
    assert!(
        base.iter().any(|b| b.starts_with("sh-") && b.len() == 9),
        "{base:?}"
    );
    let rows = list(home, &[]);
    assert_eq!(rows.len(), 2);
    let train = rows.iter().find(|r| r["name"] == "train run").unwrap();
    for key in [
        "dir",
        "name",
        "state",
        "exit_code",
        "reason",
        "launcher",
        "submitted",
        "requirement",
    ] {
        assert!(train.get(key).is_some(), "{key}: {train}");
    }
    assert_eq!(train["state"], "done");
    assert_eq!(train["launcher"], "direct");
    // `status --json` of the job shows it with its name too.
    let status = run(home, &["status", "--json", train["dir"].as_str().unwrap()]);
    assert_ok(&status);
    let status = json_lines(&status).remove(0);
    assert_eq!(status["name"], "train run", "{status}");
    assert_eq!(status["state"], "done", "{status}");
    let submitted = train["submitted"].as_str().unwrap();
    assert!(
        submitted.len() == 20 && submitted.ends_with('Z') && submitted.as_bytes()[10] == b'T',
        "RFC 3339: {submitted}"
    );
    let sh = rows.iter().find(|r| r["name"] == "sh").unwrap();
    assert_eq!(sh["state"], "failed");
    assert_eq!(sh["exit_code"], 4);
    assert_eq!(sh["reason"], "exit code 4");
    // The text form: a table, no colours when stdout is not a terminal.
    let table = run(home, &["list"]);
    assert_ok(&table);
    let text = stdout(&table);
    assert!(text.starts_with("NAME "), "{text}");
    assert!(text.contains("failed (exit code 4)"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
}

#[test]
fn list_finds_jobs_elsewhere_and_filters_them() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let (_elsewhere, outside) = ended_outside(home, &["--name", "outside"]);
    assert_fails(
        &run(home, &["run", "--name", "broken", "cpu()", "--", "false"]),
        1,
        "exit code 1",
    );
    let running = detach(home, &["--name", "sleeper", "cpu()", "--", "sleep", "30"]);
    let rows = list(home, &[]);
    // Newest first.
    assert_eq!(names(&rows), ["sleeper", "broken", "outside"]);
    assert_eq!(rows[2]["dir"], path(&outside));
    assert_eq!(names(&list(home, &["--state", "failed"])), ["broken"]);
    assert_eq!(
        names(&list(home, &["--state", "done", "--state", "running"])),
        ["sleeper", "outside"]
    );
    assert_eq!(names(&list(home, &["--name", "*e*r"])), ["sleeper"]);
    assert_eq!(list(home, &["--since", "1h"]).len(), 3);
    let bad = run(home, &["list", "--name", "[x"]);
    assert_eq!(bad.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&bad), @"error: bad name pattern `[x`: Pattern syntax error near position 0: invalid range pattern");
    assert_ok(&run(home, &["cancel", &running]));
    assert_eq!(list(home, &["--state", "failed"])[0]["reason"], "cancelled");
}

#[test]
fn logs_print_tail_and_follow_a_job() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let dir = detach(
        home,
        &[
            "cpu()",
            "--",
            "sh",
            "-c",
            "echo one; echo two; echo warn >&2; sleep 1; echo three; exit 6",
        ],
    );
    // Following: everything, then the job's status.
    let follow = run(home, &["logs", "--follow", &dir]);
    assert_eq!(follow.status.code(), Some(6), "{}", stderr(&follow));
    assert_eq!(stdout(&follow), "one\ntwo\nthree\n");
    let tail = run(home, &["logs", "--tail", "2", &dir]);
    assert_ok(&tail);
    assert_eq!(stdout(&tail), "two\nthree\n");
    let err = run(home, &["logs", "--stderr", &dir]);
    assert_ok(&err);
    assert_eq!(stdout(&err), "warn\n");
    let none = run(home, &["logs", "/nonexistent/job"]);
    assert_fails(&none, 2, "is not a job directory");
}

#[test]
fn wait_until_every_job_ended() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let ok = detach(home, &["cpu()", "--", "sh", "-c", "sleep 0.5"]);
    let bad = detach(home, &["cpu()", "--", "sh", "-c", "sleep 0.5; exit 3"]);
    let out = run(home, &["wait", &ok]);
    assert_ok(&out);
    let out = run(home, &["wait", &ok, &bad]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!("launch: {bad}: failed (exit code 3)\n")
    );
    let slow = detach(home, &["cpu()", "--", "sleep", "30"]);
    let started = std::time::Instant::now();
    let out = run(home, &["wait", "--timeout", "1s", &slow]);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(
        stderr(&out),
        format!("launch: {slow}: not ended yet (timeout)\n")
    );
    assert_ok(&run(home, &["cancel", &slow]));
}

#[test]
fn time_left_inside_and_outside_a_job() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let me = env!("CARGO_BIN_EXE_launch");
    let out = run(home, &["run", "duration=1h", "--", me, "time-left"]);
    assert_ok(&out);
    let left: u64 = stdout(&out).trim().parse().unwrap();
    assert!((3590..=3600).contains(&left), "{left}");
    let out = run(
        home,
        &[
            "run",
            "duration=10s",
            "--",
            "sh",
            "-c",
            &format!("sleep 2; {me} time-left"),
        ],
    );
    assert_ok(&out);
    let left: u64 = stdout(&out).trim().parse().unwrap();
    assert!((6..=8).contains(&left), "{left}");
    let out = run(home, &["run", "cpu()", "--", me, "time-left"]);
    assert_ok(&out);
    assert_eq!(stdout(&out), "unlimited\n");
    let outside = std::process::Command::new(me)
        .arg("time-left")
        .env_remove("LAUNCH_JOB_DIR")
        .env_remove("SLURM_JOB_ID")
        .output()
        .unwrap();
    assert_eq!(outside.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&outside), @"launch time-left: not inside a job (neither LAUNCH_JOB_DIR nor SLURM_JOB_ID is set)");
}

#[test]
fn prune_removes_ended_jobs_and_leaves_running_ones() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    ended(home, &["--name", "ended"]);
    let (_elsewhere, outside) = ended_outside(home, &[]);
    let running = detach(home, &["--name", "running", "cpu()", "--", "sleep", "30"]);
    let ended = job_dirs(home)
        .into_iter()
        .find(|d| {
            d.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("ended-")
        })
        .unwrap();
    // Too young.
    let out = run(home, &["prune", "--older-than", "1h"]);
    assert_ok(&out);
    assert_eq!(stdout(&out), "");
    let dry = run(home, &["prune", "--dry-run"]);
    assert_ok(&dry);
    assert_eq!(stdout(&dry), format!("{}\n", ended.display()));
    assert!(ended.exists());
    let out = run(home, &["prune"]);
    assert_ok(&out);
    assert_eq!(stdout(&out), format!("{}\n", ended.display()));
    assert!(!ended.exists());
    assert!(Path::new(&running).exists(), "a running job stays");
    assert!(outside.exists(), "one outside the state directory stays");
    // Named, it goes too; a running one named stays.
    let out = run(home, &["prune", path(&outside), &running]);
    assert_ok(&out);
    assert_eq!(stdout(&out), format!("{}\n", outside.display()));
    assert!(stderr(&out).contains("not ended, kept"), "{}", stderr(&out));
    assert!(!outside.exists());
    assert_eq!(names(&list(home, &[])), ["running"]);
    assert_ok(&run(home, &["cancel", &running]));
}

/// Runs add their index lines while `launch prune` rewrites the index
/// (each prune removes a copy of an ended job, so each rewrites it): no
/// line is lost.
#[test]
fn prune_loses_no_line_that_runs_add_meanwhile() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let elsewhere = tempfile::tempdir().unwrap();
    let elsewhere = elsewhere.path();
    let template = elsewhere.join("template");
    assert_ok(&run(
        home,
        &["run", "--job-dir", path(&template), "cpu()", "--", "true"],
    ));
    let done = std::sync::atomic::AtomicBool::new(false);
    let (writers, runs) = (4, 12);
    std::thread::scope(|scope| {
        let (done, template) = (&done, &template);
        scope.spawn(move || {
            let mut n = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let copy = elsewhere.join(format!("copy-{n}"));
                std::fs::create_dir(&copy).unwrap();
                for entry in std::fs::read_dir(template).unwrap() {
                    let entry = entry.unwrap();
                    std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
                }
                let out = run(home, &["prune", path(&copy)]);
                assert_ok(&out);
                assert_eq!(stdout(&out), format!("{}\n", copy.display()));
                n += 1;
            }
            assert!(n > 0);
        });
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                scope.spawn(move || {
                    for i in 0..runs {
                        let dir = elsewhere.join(format!("w{w}-{i}"));
                        detach(home, &["--job-dir", path(&dir), "cpu()", "--", "true"]);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let index = std::fs::read_to_string(home.join("state/launch/index")).unwrap();
    let listed: Vec<String> = jobset::Index::parse(&index)
        .into_iter()
        .map(|e| e.address)
        .collect();
    for w in 0..writers {
        for i in 0..runs {
            let dir = elsewhere.join(format!("w{w}-{i}")).display().to_string();
            assert!(listed.contains(&dir), "{dir} lost from the index:\n{index}");
        }
    }
    assert!(listed.contains(&template.display().to_string()), "{index}");
}

/// A task script that records how many tasks ran at once (see
/// [`most_at_once`]): each makes a file in `work/running` (made here),
/// counts them, then removes its own; task 4 fails.
pub(crate) fn counting_task(work: &Path) -> String {
    let running = work.join("running");
    std::fs::create_dir_all(&running).unwrap();
    format!(
        "r='{r}'; i=$LAUNCH_ARRAY_INDEX; : > \"$r/$i\"; ls \"$r\" | wc -l > \"$r/../seen-$i\"; \
         sleep 0.3; rm \"$r/$i\"; echo \"task $i\"; [ \"$i\" != 4 ]",
        r = running.display()
    )
}

/// The array in `dir`, named `name`, whose task `task` failed, through
/// `launch` (the test's way of running the binary): `list` shows it as
/// one job with one failed task, `wait` fails naming the task.
pub(crate) fn listed_with_a_failed_task(
    launch: impl Fn(&[&str]) -> Output,
    dir: &Path,
    name: &str,
    task: u32,
) {
    let rows = launch(&["list", "--json"]);
    assert_ok(&rows);
    let rows = json_lines(&rows);
    assert_eq!(rows.len(), 1, "an array is one job: {rows:?}");
    assert_eq!(rows[0]["name"], name);
    assert_eq!(rows[0]["tasks"]["failed"], 1);
    let wait = launch(&["wait", path(dir)]);
    assert_eq!(wait.status.code(), Some(1));
    assert_eq!(
        stderr(&wait),
        format!("launch: {}/{task}: failed (exit code 1)\n", dir.display())
    );
}

/// `launch cancel DIR` (through `launch`, the test's way of running the
/// binary) of an array of three unfinished tasks: all three fail.
pub(crate) fn cancel_three(launch: impl Fn(&[&str]) -> Output, dir: &Path) {
    let cancel = launch(&["cancel", path(dir)]);
    assert_ok(&cancel);
    assert_eq!(
        stdout(&cancel),
        format!("{}: failed (3 failed)\n", dir.display())
    );
}

/// `launch status --json --tasks DIR` (through `launch`): every task of the
/// array was cancelled.
pub(crate) fn tasks_cancelled(launch: impl Fn(&[&str]) -> Output, dir: &Path) {
    let tasks = launch(&["status", "--json", "--tasks", path(dir)]);
    assert_ok(&tasks);
    for line in &json_lines(&tasks)[1..] {
        assert_eq!(line["reason"], "cancelled", "{line}");
    }
}

/// The largest number of tasks that ran at once.
pub(crate) fn most_at_once(work: &Path) -> usize {
    std::fs::read_dir(work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("seen-")
        })
        .map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .trim()
                .parse::<usize>()
                .unwrap()
        })
        .max()
        .unwrap()
}

#[test]
fn an_array_on_this_machine() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let work = home.join("work");
    let dir = home.join("sweep");
    let task = counting_task(&work);
    let out = run(
        home,
        &[
            "run",
            "--array",
            "1-6%2",
            "--name",
            "sweep",
            "--job-dir",
            path(&dir),
            "cpu()",
            "--",
            "sh",
            "-c",
            &task,
        ],
    );
    // Task 4 failed: the array did.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "an array streams nothing");
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "launch: task 4 failed (exit code 1) ({}/4)",
            dir.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "launch: array {}: 5 done, 1 failed",
            dir.display()
        )),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(work.join("running")).unwrap().count(), 0);
    assert!(most_at_once(&work) <= 2, "%2 exceeded");
    for i in 1..=6 {
        assert!(work.join(format!("seen-{i}")).exists(), "task {i} ran");
    }
    // One job with tasks.
    let status = run(home, &["status", "--json", path(&dir)]);
    assert_ok(&status);
    let line = &json_lines(&status)[0];
    assert_eq!(line["state"], "failed");
    assert_eq!(line["reason"], "1 of 6 tasks failed");
    assert_eq!(line["tasks"]["done"], 5);
    assert_eq!(line["tasks"]["failed"], 1);
    let tasks = run(home, &["status", "--json", "--tasks", path(&dir)]);
    let lines = json_lines(&tasks);
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[4]["index"], 4);
    assert_eq!(lines[4]["exit_code"], 1);
    let text = run(home, &["status", path(&dir)]);
    assert_eq!(
        stdout(&text),
        format!("{}: array of 6: failed (5 done, 1 failed)\n", dir.display())
    );
    let logs = run(home, &["logs", &format!("{}/3", dir.display())]);
    assert_eq!(stdout(&logs), "task 3\n");
    let whole = run(home, &["logs", path(&dir)]);
    assert_eq!(whole.status.code(), Some(2));
    insta::assert_snapshot!(
        stderr(&whole).replace(path(&dir), "DIR"),
        @"error: `DIR` is an array of 6 tasks: name one of them (`DIR/INDEX`, INDEX one of 1, 2, 3 ... 6)"
    );
    listed_with_a_failed_task(|args| run(home, args), &dir, "sweep", 4);
    // Every task, its own index.
    let ok = run(
        home,
        &[
            "run",
            "--array",
            "0-30:10,7",
            "--job-dir",
            path(&home.join("b")),
            "cpu()",
            "--",
            "sh",
            "-c",
            "echo $LAUNCH_ARRAY_INDEX",
        ],
    );
    assert_ok(&ok);
    for i in [0, 10, 20, 30, 7] {
        let logs = run(home, &["logs", path(&home.join(format!("b/{i}")))]);
        assert_eq!(stdout(&logs), format!("{i}\n"));
    }
}

#[test]
fn an_array_detached_then_cancelled() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let dir = home.join("sleepers");
    let out = run(
        home,
        &[
            "run",
            "--detach",
            "--array",
            "1-3",
            "--job-dir",
            path(&dir),
            "cpu(cores=1)",
            "--",
            "sleep",
            "60",
        ],
    );
    assert_ok(&out);
    assert_eq!(stdout(&out), format!("{}\n", dir.display()));
    let status = run(home, &["status", "--json", path(&dir)]);
    let state = json_lines(&status)[0]["state"].clone();
    assert!(state == "running" || state == "scheduled", "{state}");
    cancel_three(|args| run(home, args), &dir);
    tasks_cancelled(|args| run(home, args), &dir);
    // `%N` needs this process, so not with --detach on this machine.
    let refused = run(
        home,
        &[
            "run",
            "--detach",
            "--array",
            "1-3%1",
            "--job-dir",
            path(&home.join("x")),
            "cpu()",
            "--",
            "true",
        ],
    );
    assert_eq!(refused.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&refused).lines().last().unwrap(), @"error: `%N` with `--detach` needs a launcher with arrays of its own (Slurm); on a direct launcher, `launch run --array` keeps to it while it waits (leave out `--detach`)");
    let bad = run(home, &["run", "--array", "5-1", "cpu()", "--", "true"]);
    assert_eq!(bad.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&bad), @r"
    error: invalid value '5-1' for '--array <RANGE[%N]>': bad array range `5-1`: `5-1` ends before it starts

    For more information, try '--help'.
    ");
}

/// `launch status --json --tasks DIR`: the array's line, then each task's.
fn task_states(home: &Path, dir: &Path) -> Vec<serde_json::Value> {
    let out = run(home, &["status", "--json", "--tasks", path(dir)]);
    assert_ok(&out);
    json_lines(&out)
}

/// `launch run --array 1-3%1 ... sleep 30` in `dir`, started, once its
/// first task runs.
fn queue(home: &Path, dir: &Path) -> std::process::Child {
    let child = crate::cli_find::launch_cmd(home)
        .args([
            "run",
            "--array",
            "1-3%1",
            "--job-dir",
            path(dir),
            "cpu()",
            "--",
            "sleep",
            "30",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    test_support::eventually("task 1 runs", || {
        let out = run(home, &["status", "--json", "--tasks", path(dir)]);
        out.status.success()
            && json_lines(&out)
                .get(1)
                .is_some_and(|t| t["state"] == "running")
    });
    child
}

#[test]
fn tasks_waiting_for_their_turn_and_an_array_interrupted() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let dir = home.join("queue");
    let mut child = queue(home, &dir);
    // From another process: the others wait for their turn.
    let lines = task_states(home, &dir);
    assert_eq!(lines[0]["state"], "running", "{lines:?}");
    assert_eq!(lines[2]["state"], "scheduled");
    assert_eq!(lines[2]["reason"], "waiting for its turn in the array (%1)");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    let lines = task_states(home, &dir);
    assert_eq!(lines[0]["state"], "failed", "{lines:?}");
    for task in &lines[1..] {
        assert_eq!(task["reason"], "cancelled", "{task}");
    }
}

#[test]
fn an_array_cancelled_from_another_process() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let dir = home.join("queue");
    let child = queue(home, &dir);
    cancel_three(|args| run(home, args), &dir);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3 failed"), "{err}");
    tasks_cancelled(|args| run(home, args), &dir);
}
