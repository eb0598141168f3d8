//! `launch run`, `launch status` and `launch cancel`: real jobs, real
//! processes, and a `launch` that is killed or interrupted mid-way.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A `launch` command with a private configuration and state home.
fn launch_cmd(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_launch"));
    cmd.env_remove("LAUNCH_CONFIG")
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn output<I, S>(home: &Path, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    launch_cmd(home)
        .args(args.into_iter().map(Into::into))
        .output()
        .expect("launch runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn status_json(home: &Path, dir: &Path) -> serde_json::Value {
    let out = output(
        home,
        [OsString::from("status"), "--json".into(), dir.into()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

use test_support::eventually;

fn spawn(home: &Path, args: &[&str]) -> Child {
    launch_cmd(home).args(args).spawn().expect("launch starts")
}

/// `launch run --job-dir DIR ARGS...` with a private home.
fn run_in(home: &Path, dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["run", "--job-dir", dir_str(dir)];
    all.extend_from_slice(args);
    output(home, all)
}

/// `launch run --job-dir DIR 'cpu(cores=1)' -- sh -c SCRIPT`.
fn sh_in(home: &Path, dir: &Path, script: &str) -> Output {
    run_in(home, dir, &["cpu(cores=1)", "--", "sh", "-c", script])
}

/// `launch run --job-dir DIR ARGS...`, started.
fn spawn_in(home: &Path, dir: &Path, args: &[&str]) -> Child {
    let mut all = vec!["run", "--job-dir", dir_str(dir)];
    all.extend_from_slice(args);
    spawn(home, &all)
}

fn dir_str(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

#[test]
fn run_copies_output_and_exits_with_the_jobs_status() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("job");
    let out = sh_in(home.path(), &dir, "printf out; printf err >&2; exit 5");
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("err") && stderr.contains(dir_str(&dir)),
        "{stderr}"
    );
    let status = status_json(home.path(), &dir);
    assert_eq!(status["state"], "failed");
    assert_eq!(status["exit_code"], 5);
    assert_eq!(status["reason"], "exit code 5");
    assert_eq!(status["launcher"], "direct");
    assert_eq!(status["dir"], dir_str(&dir));
    // The job directory holds script, output, exit code and state.
    for file in ["job.sh", "job.json", "stdout", "stderr", "state", "pid"] {
        assert!(dir.join(file).exists(), "{file}");
    }

    let ok = output(home.path(), ["run", "duration=1h", "--", "true"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    // Without --job-dir, a fresh directory under the state home, named on stderr.
    let jobs = home.path().join("state/launch/jobs");
    let named: Vec<PathBuf> = std::fs::read_dir(&jobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(named.len(), 1);
    assert!(
        text(&ok.stderr).contains(dir_str(&named[0])),
        "{}",
        text(&ok.stderr)
    );
    assert_eq!(status_json(home.path(), &named[0])["state"], "done");
}

#[test]
fn arguments_reach_the_command_verbatim_and_stdin_is_empty() {
    let home = tempfile::tempdir().unwrap();
    let weird: Vec<OsString> = vec![
        "two words".into(),
        "'quoted' \"twice\"".into(),
        "$(touch pwned) `touch pwned2`".into(),
        "a; exit 9".into(),
        "new\nline".into(),
        OsString::from_vec(b"\xff\xfe not UTF-8".to_vec()),
        "".into(),
    ];
    let mut args: Vec<OsString> = vec![
        "run".into(),
        "cpu()".into(),
        "--".into(),
        "printf".into(),
        "%s\\0".into(),
    ];
    args.extend(weird.iter().cloned());
    let out = launch_cmd(home.path())
        .current_dir(home.path())
        .args(&args)
        .output()
        .unwrap();
    crate::support::assert_ok(&out);
    let mut expected = Vec::new();
    for w in &weird {
        expected.extend_from_slice(w.as_encoded_bytes());
        expected.push(0);
    }
    assert_eq!(out.stdout, expected);
    assert!(!home.path().join("pwned").exists() && !home.path().join("pwned2").exists());

    // The job runs in the directory `launch run` was started in, with an
    // empty stdin even when launch's own has data.
    let mut child = launch_cmd(home.path())
        .current_dir(home.path())
        .args(["run", "cpu()", "--", "sh", "-c", "pwd; cat; echo end"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"secret input\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let expected = format!("{}\nend\n", home.path().canonicalize().unwrap().display());
    assert_eq!(text(&out.stdout), expected);
}

#[test]
fn the_duration_is_a_time_limit() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("slow");
    let out = run_in(home.path(), &dir, &["duration=1s", "--", "sleep", "300"]);
    crate::support::assert_fails(&out, 1, "timeout");
    let status = status_json(home.path(), &dir);
    assert_eq!(
        (status["state"].as_str(), status["reason"].as_str()),
        (Some("failed"), Some("timeout"))
    );
    assert!(status["exit_code"].is_null());
}

#[test]
fn detached_jobs_are_followed_and_cancelled_from_their_directory() {
    let home = tempfile::tempdir().unwrap();
    let out = output(
        home.path(),
        [
            "run",
            "--detach",
            "cpu()",
            "--",
            "sh",
            "-c",
            "sleep 300 & wait",
        ],
    );
    crate::support::assert_ok(&out);
    let dir = PathBuf::from(text(&out.stdout).trim());
    assert!(
        dir.is_absolute() && dir.join("job.json").exists(),
        "{dir:?}"
    );
    // Running as soon as `launch run --detach` has returned.
    assert_eq!(status_json(home.path(), &dir)["state"], "running");
    let out = output(home.path(), [OsString::from("cancel"), dir.clone().into()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("cancelled"),
        "{}",
        text(&out.stdout)
    );
    let status = status_json(home.path(), &dir);
    assert_eq!(
        (status["state"].as_str(), status["reason"].as_str()),
        (Some("failed"), Some("cancelled"))
    );
    // Cancelling again changes nothing.
    let out = output(home.path(), [OsString::from("cancel"), dir.clone().into()]);
    assert!(
        text(&out.stdout).contains("already ended"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_killed_launch_leaves_the_true_end_state_to_status() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("job");
    let gate = home.path().join("go");
    let script = format!(
        "while [ ! -e '{}' ]; do sleep 0.02; done; echo finished; exit 7",
        gate.display()
    );
    let mut launch = spawn_in(home.path(), &dir, &["cpu()", "--", "sh", "-c", &script]);
    eventually("the job runs", || dir.join("pid").exists());
    kill(
        Pid::from_raw(i32::try_from(launch.id()).unwrap()),
        Signal::SIGKILL,
    )
    .unwrap();
    assert_eq!(launch.wait().unwrap().code(), None, "killed");
    // A new process sees the job still running, then its real end.
    assert_eq!(status_json(home.path(), &dir)["state"], "running");
    std::fs::write(&gate, "").unwrap();
    eventually("the job ends", || {
        status_json(home.path(), &dir)["state"] != "running"
    });
    let status = status_json(home.path(), &dir);
    assert_eq!(status["state"], "failed");
    assert_eq!(status["exit_code"], 7);
    assert_eq!(status["reason"], "exit code 7");
    assert_eq!(
        std::fs::read_to_string(dir.join("stdout")).unwrap(),
        "finished\n"
    );
}

#[test]
fn ctrl_c_cancels_the_job_and_says_so() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("job");
    let launch = spawn_in(home.path(), &dir, &["cpu()", "--", "sleep", "300"]);
    eventually("the job runs", || dir.join("pid").exists());
    kill(
        Pid::from_raw(i32::try_from(launch.id()).unwrap()),
        Signal::SIGINT,
    )
    .unwrap();
    let out = launch.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cancelling") && stderr.contains("cancelled"),
        "{stderr}"
    );
    let status = status_json(home.path(), &dir);
    assert_eq!(
        (status["state"].as_str(), status["reason"].as_str()),
        (Some("failed"), Some("cancelled"))
    );
}

#[test]
fn bad_input_and_no_match() {
    let home = tempfile::tempdir().unwrap();
    let out = output(home.path(), ["run", "cuda(mem=1", "--", "true"]);
    crate::support::assert_fails(&out, 2, "cuda(mem=1");
    let out = output(home.path(), ["run", "cpu()"]);
    assert_eq!(out.status.code(), Some(2), "a command is required");
    // More cores than any machine has: no match, exit 1, and why.
    let out = output(home.path(), ["run", "cpu(cores=100000)", "--", "true"]);
    crate::support::assert_fails(&out, 1, "100000");
    let not_a_job = home.path().join("empty");
    std::fs::create_dir(&not_a_job).unwrap();
    let out = output(
        home.path(),
        [OsString::from("status"), not_a_job.clone().into()],
    );
    crate::support::assert_fails(&out, 2, dir_str(&not_a_job));
    let out = output(
        home.path(),
        [OsString::from("cancel"), home.path().join("missing").into()],
    );
    crate::support::assert_fails(&out, 2, "does not exist");
    // A job directory is never reused.
    let dir = home.path().join("once");
    let again = || run_in(home.path(), &dir, &["cpu()", "--", "true"]);
    assert!(again().status.success());
    let out = again();
    crate::support::assert_fails(&out, 2, "already holds a job");
    // A launcher file is not silently ignored.
    let out = output(
        home.path(),
        [
            "run",
            "--config",
            "/nonexistent/launchers.toml",
            "cpu()",
            "--",
            "true",
        ],
    );
    crate::support::assert_fails(&out, 2, "launchers.toml");
}

/// `status` and `cancel` follow the launcher `job.json` names: a Slurm job
/// whose submission never reached Slurm (no job id) and whose submitter is
/// gone is lost, said without a cluster; a kind this version does not know
/// is an error that names it.
#[test]
fn status_and_cancel_follow_the_recorded_launcher() {
    let home = tempfile::tempdir().unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let slurm = home.path().join("slurm");
    std::fs::create_dir(&slurm).unwrap();
    // The submitter: this process's pid, but a start time it never had.
    let meta = format!(
        r#"{{"format": 1, "launcher": "slurm", "slurm": {{"job_id": null}}, "submitter": {{"host": "{}", "pid": {}, "start": {}}}}}"#,
        host.trim(),
        std::process::id(),
        u64::MAX
    );
    std::fs::write(slurm.join("job.json"), meta).unwrap();
    let status = status_json(home.path(), &slurm);
    assert_eq!(status["launcher"], "slurm");
    assert_eq!(
        (status["state"].as_str(), status["reason"].as_str()),
        (Some("failed"), Some("lost"))
    );
    let out = output(home.path(), [OsString::from("cancel"), slurm.into()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("already ended: failed (lost)"),
        "{}",
        text(&out.stdout)
    );

    let unknown = home.path().join("pbs");
    std::fs::create_dir(&unknown).unwrap();
    std::fs::write(
        unknown.join("job.json"),
        r#"{"format": 1, "launcher": "pbs"}"#,
    )
    .unwrap();
    for command in ["status", "cancel"] {
        let out = output(
            home.path(),
            [OsString::from(command), unknown.clone().into()],
        );
        assert_eq!(out.status.code(), Some(2), "{command}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("`pbs` launcher") && stderr.contains(dir_str(&unknown)),
            "{command}: {stderr}"
        );
    }
}

/// A time limit no launcher can enforce is refused before anything runs,
/// naming the bound (it once reached the script, which ran the job with no
/// limit at all).
#[test]
fn an_unenforceable_duration_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("forever");
    let out = run_in(
        home.path(),
        &dir,
        &["duration=18446744073709551615s", "--", "true"],
    );
    crate::support::assert_fails(&out, 2, "at most 2147483647 seconds");
    assert!(!dir.join("job.json").exists(), "nothing was submitted");
    // The longest enforceable limit is taken.
    let ok = run_in(
        home.path(),
        &home.path().join("long"),
        &["duration=2147483647s", "--", "true"],
    );
    crate::support::assert_ok(&ok);
}

#[test]
fn a_job_that_fills_its_disk_keeps_its_exit_code_and_says_why() {
    let Some(mut fs) = test_support::tmpfs::Tmpfs::mount("1m") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let dir = fs.path().join("job");
    let out = sh_in(home.path(), &dir, "head -c 5000000 /dev/zero; exit 7");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    let reason = "exit code 7, No space left on device in the job directory";
    let status = status_json(home.path(), &dir);
    assert_eq!(status["state"], "failed");
    assert_eq!(status["exit_code"], 7);
    assert_eq!(status["reason"], reason);
    assert_eq!(test_support::leftovers(&dir), Vec::<String>::new());
    // Space freed, the end stays what it was.
    std::fs::remove_file(dir.join("stdout")).unwrap();
    assert_eq!(status_json(home.path(), &dir)["reason"], reason);

    // A submission that cannot write `job.json` says so and leaves nothing.
    let dir = fs.path().join("no-room");
    std::fs::create_dir(&dir).unwrap();
    fs.fill_leaving(1);
    let out = run_in(home.path(), &dir, &["cpu(cores=1)", "--", "true"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let says = format!(
        "cannot write `{}`: No space left on device",
        dir.join("job.json").display()
    );
    assert!(stderr.contains(&says), "{stderr}");
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(files.is_empty(), "{files:?}");
}
