//! Job directories are the job's alone: made 0700 (files 0600, `job.sh`
//! 0700) whatever the umask, and a directory that holds anything (planted
//! links, a `cancel` marker) is refused, so that nothing in it is ever
//! followed; locally and over SSH.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::ssh::ssh_home;

/// `launch ARGS...` run by `sh` under `umask MASK`, with a private home.
fn launch_umask(home: &Path, mask: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("umask {mask} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_launch"))
        .args(args)
        .env_remove("LAUNCH_CONFIG")
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("HOME", home)
        .stdin(Stdio::null())
        .output()
        .expect("launch runs")
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// The job (run in `dir` under `umask MASK`, `config` its launcher file
/// when given) writes to stdout and stderr, makes a file of its own beside
/// its directory and outlives its time limit: every file of its directory
/// is its owner's alone; the command's own file follows the umask.
fn modes_hold(home: &Path, config: Option<&str>, mask: &str, dir: &Path, own: u32) {
    let mut args = vec!["run"];
    if let Some(file) = config {
        args.extend(["--config", file]);
    }
    let dir_s = dir.to_str().unwrap();
    let script = "echo out; echo err >&2; : > \"$LAUNCH_JOB_DIR.own\"; exec sleep 30";
    args.extend(["--job-dir", dir_s, "duration=1s", "--", "sh", "-c", script]);
    let out = launch_umask(home, mask, &args);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("time limit") || out.status.code() != Some(0),
        "{out:?}"
    );
    assert_eq!(mode(dir), 0o700, "{dir_s} under umask {mask}");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let want = if name == "job.sh" { 0o700 } else { 0o600 };
        assert_eq!(mode(&entry.path()), want, "{name} under umask {mask}");
        names.push(name);
    }
    names.sort();
    for name in [
        "job.json", "job.sh", "pid", "state", "stderr", "stdout", "timeout",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    let own_file = format!("{dir_s}.own");
    assert_eq!(mode(Path::new(&own_file)), own, "the command's umask");
}

#[test]
fn job_files_are_private_whatever_the_umask() {
    let home = tempfile::tempdir().unwrap();
    modes_hold(home.path(), None, "022", &home.path().join("jobs/a"), 0o644);
    modes_hold(home.path(), None, "000", &home.path().join("jobs/b"), 0o666);
    // An empty directory of one's own is taken, and made private.
    let empty = home.path().join("jobs/empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o777)).unwrap();
    modes_hold(home.path(), None, "000", &empty, 0o666);
}

/// Plants in `dir` what a hostile user would: a link named `name` to a
/// file elsewhere (or a `cancel` marker); what the link points to.
fn plant(dir: &Path, name: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let target = dir.with_extension("target");
    std::fs::write(&target, "precious\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    if name == "cancel" {
        std::fs::write(dir.join(name), "").unwrap();
    } else {
        symlink(&target, dir.join(name)).unwrap();
    }
    target
}

/// `launch run` in a directory with something planted in it is refused,
/// naming the directory, and runs nothing; the link's target is untouched.
fn planted_is_refused(home: &Path, config: Option<&str>, dir: &Path) {
    for name in ["stdout", "stderr", "pid", "state", "cancel"] {
        let dir = dir.join(name);
        let target = plant(&dir, name);
        let dir_s = dir.to_str().unwrap();
        let mut args = vec!["run"];
        if let Some(file) = config {
            args.extend(["--config", file]);
        }
        args.extend(["--job-dir", dir_s, "cpu()", "--", "sh", "-c", "echo ran"]);
        let out = launch_umask(home, "022", &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("job directory `{dir_s}`"))
                && stderr.contains("not empty")
                && stderr.contains(&format!("`{name}`")),
            "{name}: {stderr}"
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
        assert_eq!(mode(&target), 0o600);
        assert!(
            !dir.join("job.json").exists(),
            "{name}: nothing was written"
        );
        assert!(!dir.join("job.sh").exists(), "{name}: nothing was written");
    }
}

#[test]
fn a_directory_that_holds_anything_is_refused() {
    let home = tempfile::tempdir().unwrap();
    planted_is_refused(home.path(), None, &home.path().join("planted"));
    // A directory of another user's, even empty, is not taken.
    let theirs = home.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), None).unwrap();
    let out = launch_umask(
        home.path(),
        "022",
        &[
            "run",
            "--job-dir",
            theirs.to_str().unwrap(),
            "cpu()",
            "--",
            "true",
        ],
    );
    crate::support::assert_fails(&out, 2, "belongs to user 65534");
    assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 0);
}

#[test]
fn over_ssh_too() {
    let Some((home, file, _)) = ssh_home() else {
        return;
    };
    modes_hold(
        home.path(),
        Some(&file),
        "000",
        &home.path().join("jobs/ssh"),
        0o644,
    );
    planted_is_refused(home.path(), Some(&file), &home.path().join("planted"));
}
