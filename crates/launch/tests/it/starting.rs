//! A direct job whose supervisor is slow to start (a busy machine) is never
//! taken for lost: the launcher records the supervisor's pid and start time
//! at once, when it starts it, so `launch status` tells "not started yet"
//! from "dead" without waiting for a timer.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Processes that keep every core busy while they live.
struct Hogs(Vec<Child>);

impl Hogs {
    fn start() -> Hogs {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Hogs(
            (0..cores)
                .map(|_| {
                    Command::new("/bin/sh")
                        .args(["-c", "while :; do :; done"])
                        .spawn()
                        .unwrap()
                })
                .collect(),
        )
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for hog in &mut self.0 {
            let _ = hog.kill();
            let _ = hog.wait();
        }
    }
}

fn status(home: &Path, dir: &Path) -> serde_json::Value {
    let out = crate::cli_find::launch_in(home, &["status", "--json", dir.to_str().unwrap()], &[]);
    crate::support::assert_ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_supervisor_slow_to_start_is_never_taken_for_lost() {
    let home = tempfile::tempdir().unwrap();
    let _hogs = Hogs::start();
    // `sh` as the launcher finds it: the supervisor waits at a gate (a
    // FIFO) before it runs, as one not yet scheduled would.
    let bin = home.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let gate = home.path().join("gate");
    assert!(
        Command::new("mkfifo")
            .arg(&gate)
            .status()
            .unwrap()
            .success()
    );
    let shim = bin.join("sh");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\ncase \"${{1-}}\" in */job.sh) read -r _ < '{}' ;; esac\nexec /bin/sh \"$@\"\n",
            gate.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let dir = home.path().join("job");
    let mut launch = Command::new(env!("CARGO_BIN_EXE_launch"))
        .args(["run", "--job-dir", dir.to_str().unwrap(), "cpu()", "--"])
        .args(["/bin/sh", "-c", "echo ran"])
        .env_remove("LAUNCH_CONFIG")
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_STATE_HOME", home.path().join("state"))
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The submitter goes once it has started the supervisor (a bounded
    // wait for its record: a launcher that keeps none never writes it).
    let since = Instant::now();
    while !dir.join("pid").exists() && since.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    kill(
        Pid::from_raw(i32::try_from(launch.id()).unwrap()),
        Signal::SIGKILL,
    )
    .unwrap();
    launch.wait().unwrap();
    let before = status(home.path(), &dir);
    // The gate opens: the supervisor runs, the job ends as it should.
    std::fs::write(&gate, "go\n").unwrap();
    test_support::eventually("the job ends", || {
        jobdir::state_written(&std::fs::read(dir.join("state")).unwrap_or_default())
    });
    let after = status(home.path(), &dir);
    assert_eq!(after["state"], "done", "{after}");
    assert_eq!(
        std::fs::read_to_string(dir.join("stdout")).unwrap(),
        "ran\n"
    );
    assert_eq!(
        before["state"], "running",
        "{before}: never lost, then done"
    );
}

#[test]
fn a_job_taken_for_lost_never_runs_after() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("job");
    let dir_s = dir.to_str().unwrap();
    let out = crate::cli_find::launch_in(
        home.path(),
        &[
            "run",
            "--job-dir",
            dir_s,
            "cpu()",
            "--",
            "/bin/sh",
            "-c",
            "echo ran",
        ],
        &[],
    );
    crate::support::assert_ok(&out);
    // As if its submitter had gone before it started any supervisor.
    for file in ["state", "pid", "stdout"] {
        std::fs::remove_file(dir.join(file)).unwrap();
    }
    let lost = status(home.path(), &dir);
    assert_eq!(
        (lost["state"].as_str(), lost["reason"].as_str()),
        (Some("failed"), Some("lost"))
    );
    // Its supervisor, started late after all, does not run the command.
    let late = Command::new("/bin/sh")
        .arg(dir.join("job.sh"))
        .arg("spawned")
        .status()
        .unwrap();
    assert!(late.success());
    assert!(!dir.join("stdout").exists(), "the command never ran");
    assert_eq!(
        status(home.path(), &dir),
        lost,
        "a final state never changes"
    );
}
