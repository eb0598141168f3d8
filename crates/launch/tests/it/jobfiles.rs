//! Job directories are the job's alone: made 0700 (files 0600, `job.sh`
//! 0700) whatever the umask, and a directory that holds anything (planted
//! links, a `cancel` marker) is refused, so that nothing in it is ever
//! followed; locally and over SSH.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::ssh::ssh_home;

/// `launch ARGS...` run by `sh` under `umask MASK`, with a private home.
pub(crate) fn launch_umask(home: &Path, mask: &str, args: &[&str]) -> Output {
    launch_umask_env(home, mask, &[], args)
}

/// [`launch_umask`] with the variables `env` set too.
pub(crate) fn launch_umask_env(
    home: &Path,
    mask: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("umask {mask} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_launch"))
        .args(args)
        .env_remove("LAUNCH_CONFIG")
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("HOME", home)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("launch runs")
}

pub(crate) fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// The files of a direct job's directory.
const DIRECT_FILES: &[&str] = &[
    "job.json", "job.sh", "pid", "state", "stderr", "stdout", "timeout",
];

/// The job (run in `dir` under `umask MASK`, `config` its launcher file
/// when given) writes to stdout and stderr, makes a file of its own beside
/// its directory and outlives its time limit: every file of its directory
/// is its owner's alone; the command's own file follows the umask.
fn modes_hold(home: &Path, config: Option<&str>, mask: &str, dir: &Path, own: u32) {
    let job = Private {
        home,
        config,
        env: &[],
        files: DIRECT_FILES,
    };
    job.modes_hold(mask, dir, own);
}

/// How a test runs jobs whose files must be private: a home, a launcher
/// file (when not the default), variables, the files a job's directory
/// holds once the job ran.
pub(crate) struct Private<'a> {
    pub home: &'a Path,
    pub config: Option<&'a str>,
    pub env: &'a [(&'a str, &'a str)],
    pub files: &'a [&'a str],
}

impl Private<'_> {
    /// `launch run [--config FILE] ARGS...` under `umask MASK`.
    pub(crate) fn run(&self, mask: &str, args: &[&str]) -> Output {
        let mut all = vec!["run"];
        if let Some(file) = self.config {
            all.extend(["--config", file]);
        }
        all.extend(args);
        launch_umask_env(self.home, mask, self.env, &all)
    }

    /// [`modes_hold`] for these jobs.
    pub(crate) fn modes_hold(&self, mask: &str, dir: &Path, own: u32) {
        let dir_s = dir.to_str().unwrap();
        let script = "echo out; echo err >&2; : > \"$LAUNCH_JOB_DIR.own\"; exec sleep 30";
        let out = self.run(
            mask,
            &["--job-dir", dir_s, "duration=1s", "--", "sh", "-c", script],
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("time limit")
                || out.status.code() != Some(0),
            "{out:?}"
        );
        let names = private_tree(dir, &|name| if name == "job.sh" { 0o700 } else { 0o600 });
        for name in self.files {
            assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
        }
        let own_file = format!("{dir_s}.own");
        assert_eq!(mode(Path::new(&own_file)), own, "the command's umask");
    }

    /// [`planted_is_refused`] for these jobs, with links named `names`
    /// (or a `cancel` marker) planted.
    pub(crate) fn planted_is_refused(&self, dir: &Path, names: &[&str]) {
        for name in names {
            let dir = dir.join(name);
            let target = plant(&dir, name);
            let dir_s = dir.to_str().unwrap();
            let out = self.run(
                "022",
                &["--job-dir", dir_s, "cpu()", "--", "sh", "-c", "echo ran"],
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
            assert!(
                stderr.contains(&format!("job directory `{dir_s}`"))
                    && stderr.contains("not empty")
                    && stderr.contains(&format!("`{name}`")),
                "{name}: {stderr}"
            );
            untouched(&target);
            assert!(
                !dir.join("job.json").exists(),
                "{name}: nothing was written"
            );
            assert!(!dir.join("job.sh").exists(), "{name}: nothing was written");
        }
    }
}

/// Every file under `dir` (itself 0700, and each directory in it) has the
/// mode `want` gives its name; their names.
pub(crate) fn private_tree(dir: &Path, want: &dyn Fn(&str) -> u32) -> Vec<String> {
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().unwrap().is_dir() {
            private_tree(&entry.path(), want);
        } else {
            assert_eq!(
                mode(&entry.path()),
                want(&name),
                "{}",
                entry.path().display()
            );
        }
        names.push(name);
    }
    names.sort();
    names
}

/// What [`plant`] linked to is as it was.
pub(crate) fn untouched(target: &Path) {
    assert_eq!(std::fs::read_to_string(target).unwrap(), "precious\n");
    assert_eq!(mode(target), 0o600);
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
pub(crate) fn plant(dir: &Path, name: &str) -> std::path::PathBuf {
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
    let job = Private {
        home,
        config,
        env: &[],
        files: DIRECT_FILES,
    };
    job.planted_is_refused(dir, &["stdout", "stderr", "pid", "state", "cancel"]);
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
