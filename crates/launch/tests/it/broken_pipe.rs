//! A reader that goes away (`launch check | head -1`) ends every command
//! quietly, as Unix tools do: no panic, no message, exit code 0.

use std::process::{Command, Stdio};

/// Runs `launch ARGS` with its stdout a pipe whose reading end is already
/// closed: the first write fails with a broken pipe.
fn closed_stdout(args: &[&str]) -> std::process::Output {
    let (reader, writer) = nix::unistd::pipe().expect("a pipe");
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_launch"))
        .args(args)
        .env_remove("LAUNCH_CONFIG")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("launch runs")
}

#[test]
fn every_command_ends_quietly_on_a_broken_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("launchers.toml");
    std::fs::write(
        &file,
        "[[launcher]]\nname = \"a\"\ntype = \"direct\"\nhost = { cores = 2, memory = \"1GiB\" }\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let job = dir.path().join("job");
    let done = crate::support::launch(&[
        "run",
        "--job-dir",
        job.to_str().unwrap(),
        "cpu()",
        "--",
        "true",
    ]);
    crate::support::assert_ok(&done);
    let job = job.to_str().unwrap();
    for args in [
        &["check", "--config", file][..],
        &["find", "--explain", "--config", file, "cpu(cores=1)"],
        &["find", "--json", "--config", file, "cpu(cores=1)"],
        &["status", "--json", job, job],
        &["status", job],
        &["parse", "--json", "cpu(cores=1)"],
        &["host"],
    ] {
        let out = closed_stdout(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}
