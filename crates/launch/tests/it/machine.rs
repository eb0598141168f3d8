//! One machine, many `launch` processes: the machine's ledger shares its
//! cores, devices and tokens among every job, attached or detached. Gate
//! files, never sleeps, say when a job may end.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use test_support::OpenOnDrop;

fn launch(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_launch"));
    cmd.env_remove("LAUNCH_CONFIG")
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn run(home: &Path, args: &[&str]) -> Output {
    launch(home, args).output().expect("launch runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("never happened: {what}");
}

fn status(home: &Path, dir: &Path) -> serde_json::Value {
    let out = run(home, &["status", "--json", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

const FILE: &str = r#"
[token.license]
count = 1

[[launcher]]
name = "workstation"
type = "direct"
host = { cores = 2, memory = "8GiB", accelerators = [{ kind = "cuda", memory = "16GiB", count = 2 }] }
"#;

/// A job that takes a lock directory for what it was given (mkdir is
/// atomic: a share given twice makes it fail), says it started, holds until
/// `go` exists.
const JOB: &str = r#"set -e
mkdir "$1/$2-${CUDA_VISIBLE_DEVICES:-cpu}"
touch "$1/started-$3"
while [ ! -e "$1/go" ]; do [ -d "$1" ] || exit 9; sleep 0.01; done
rmdir "$1/$2-${CUDA_VISIBLE_DEVICES:-cpu}"
"#;

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("launchers.toml");
    std::fs::write(&file, FILE).unwrap();
    let locks = home.path().join("locks");
    std::fs::create_dir(&locks).unwrap();
    (home, file, locks)
}

fn started(locks: &Path) -> usize {
    std::fs::read_dir(locks)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("started-")
        })
        .count()
}

#[test]
fn runs_from_many_processes_never_share_a_device_nor_exceed_the_cores() {
    let (home, file, locks) = setup();
    let (home, file, locks) = (home.path(), file.to_str().unwrap(), locks.to_str().unwrap());
    let _open = OpenOnDrop(Path::new(locks).join("go"));
    let mut detached = Vec::new();
    for i in 0..4 {
        let tag = format!("d{i}");
        let out = run(home, &gpu_job(file, true, locks, &tag));
        assert!(out.status.success(), "{}", text(&out.stderr));
        detached.push(PathBuf::from(text(&out.stdout).trim()));
    }
    let attached: Vec<_> = (0..2)
        .map(|i| {
            let tag = format!("a{i}");
            launch(home, &gpu_job(file, false, locks, &tag))
                .spawn()
                .unwrap()
        })
        .collect();
    eventually("two jobs hold the two GPUs", || {
        started(Path::new(locks)) == 2
    });
    let waiting: Vec<String> = detached
        .iter()
        .map(|d| status(home, d))
        .filter(|s| s["state"] == "scheduled")
        .map(|s| s["reason"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(waiting.len() >= 2, "{waiting:?}");
    for reason in &waiting {
        // Each GPU job takes a core too: both are short, cores say it first.
        assert_eq!(reason, "waiting for 1 core: 2 of 2 in use");
    }
    std::fs::write(Path::new(locks).join("go"), "").unwrap();
    for child in attached {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    for dir in &detached {
        eventually("the detached job ends", || {
            status(home, dir)["state"] != "scheduled" && status(home, dir)["state"] != "running"
        });
        assert_eq!(
            status(home, dir)["state"],
            "done",
            "{}",
            text(&std::fs::read(dir.join("stderr")).unwrap())
        );
    }
    assert_eq!(started(Path::new(locks)), 6);
}

#[test]
fn cpu_jobs_from_many_processes_run_one_at_a_time_on_two_cores() {
    let (home, file, _) = setup();
    let (home, file) = (home.path(), file.to_str().unwrap());
    // `cpu(cores=2)` jobs on a 2-core machine run one at a time.
    let cpu_locks = Path::new(home).join("cpu");
    std::fs::create_dir(&cpu_locks).unwrap();
    let cpu = cpu_locks.to_str().unwrap();
    let _open = OpenOnDrop(cpu_locks.join("go"));
    let dirs: Vec<PathBuf> = (0..3)
        .map(|i| {
            let tag = format!("c{i}");
            let out = run(
                home,
                &[
                    "run",
                    "--config",
                    file,
                    "--detach",
                    "cpu(cores=2)",
                    "--",
                    "sh",
                    "-c",
                    JOB,
                    "sh",
                    cpu,
                    "core",
                    &tag,
                ],
            );
            assert!(out.status.success(), "{}", text(&out.stderr));
            PathBuf::from(text(&out.stdout).trim())
        })
        .collect();
    eventually("one runs", || started(&cpu_locks) == 1);
    let out = run(home, &["status", dirs[2].to_str().unwrap()]);
    assert_eq!(
        text(&out.stdout),
        format!(
            "{}: scheduled (waiting for 2 cores: 2 of 2 in use)\n",
            dirs[2].display()
        )
    );
    std::fs::write(cpu_locks.join("go"), "").unwrap();
    for dir in &dirs {
        eventually("it ends", || status(home, dir)["state"] == "done");
    }
}

#[test]
fn tokens_are_declared_taken_and_given_back() {
    let (home, file, locks) = setup();
    let (home, file, locks) = (home.path(), file.to_str().unwrap(), locks.to_str().unwrap());
    let _open = OpenOnDrop(Path::new(locks).join("go"));
    let out = run(
        home,
        &[
            "run", "--config", file, "--token", "licence", "cpu()", "--", "true",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(file) && err.contains("`licence`") && err.contains("did you mean `license`"),
        "{err}"
    );
    let out = run(
        home,
        &[
            "run",
            "--config",
            file,
            "--token",
            "license=0",
            "cpu()",
            "--",
            "true",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let submit = |tag: &str| {
        let out = run(
            home,
            &[
                "run", "--config", file, "--detach", "--token", "license", "cpu()", "--", "sh",
                "-c", JOB, "sh", locks, "tok", tag,
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        PathBuf::from(text(&out.stdout).trim())
    };
    let first = submit("1");
    let second = submit("2");
    let third = submit("3");
    eventually("the first holds the token", || {
        started(Path::new(locks)) == 1
    });
    let s = status(home, &second);
    assert_eq!(
        (s["state"].as_str(), s["reason"].as_str()),
        (
            Some("scheduled"),
            Some("waiting for 1 token `license`: 1 of 1 in use")
        )
    );
    // Cancelled while it waits, from another process: it never starts.
    let out = run(home, &["cancel", second.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(status(home, &second)["reason"], "cancelled");
    std::fs::write(Path::new(locks).join("go"), "").unwrap();
    for dir in [&first, &third] {
        eventually("it ends", || status(home, dir)["state"] == "done");
    }
    assert!(!Path::new(locks).join("started-2").exists());
    assert_eq!(status(home, &second)["reason"], "cancelled");
}

/// `launch run --config FILE [--detach] cuda(mem=1G) -- sh -c JOB sh LOCKS gpu TAG`.
fn gpu_job<'a>(file: &'a str, detach: bool, locks: &'a str, tag: &'a str) -> Vec<&'a str> {
    let mut args = vec!["run", "--config", file];
    if detach {
        args.push("--detach");
    }
    args.extend([
        "cuda(mem=1G)",
        "--",
        "sh",
        "-c",
        JOB,
        "sh",
        locks,
        "gpu",
        tag,
    ]);
    args
}
