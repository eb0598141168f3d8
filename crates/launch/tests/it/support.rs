//! Running the built `launch` binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

pub fn launch(args: &[&str]) -> Output {
    launch_with_stdin(args, b"")
}

pub fn launch_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_launch"))
        .args(args)
        .env_remove("LAUNCH_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("launch starts");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().expect("launch ends")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

/// A host file in a temporary directory.
pub fn host_file(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// Asserts that `out` ended with exit code 0 (showing its stderr if not).
#[track_caller]
pub fn assert_ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts that `out` ended with exit code `code` and that its stderr says
/// `needle`.
#[track_caller]
pub fn assert_fails(out: &Output, code: i32, needle: impl AsRef<str>) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(needle.as_ref()), "{err}");
}

/// Asserts that `out` ended with exit code 0 and that each of `lines` is
/// a whole line of its stdout.
#[track_caller]
pub fn assert_prints(out: &Output, lines: &[&str]) {
    assert_ok(out);
    let text = stdout(out);
    for line in lines {
        assert!(text.lines().any(|l| l == *line), "{line:?} not in:\n{text}");
    }
}

/// Asserts that `text` says each of `needles` (showing `text` if not).
#[track_caller]
pub fn assert_says(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{text}");
    }
}
