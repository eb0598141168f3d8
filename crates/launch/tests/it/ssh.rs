//! `launch run|status|cancel` with a direct launcher on a machine reached
//! over SSH: the test sshd that `cargo xtask test` starts on 127.0.0.1
//! (`LAUNCH_TEST_SSH=required`, `LAUNCH_TEST_SSH_DIR`). Without it the test
//! says so and returns.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::cli_find::launch_in;

/// The test sshd's directory and port.
pub(crate) fn sshd() -> Option<(PathBuf, u16)> {
    let required = std::env::var("LAUNCH_TEST_SSH").is_ok_and(|v| v == "required");
    let found = std::env::var_os("LAUNCH_TEST_SSH_DIR").and_then(|dir| {
        let dir = PathBuf::from(dir);
        let port = std::fs::read_to_string(dir.join("port"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        Some((dir, port))
    });
    if found.is_none() {
        assert!(
            !required,
            "LAUNCH_TEST_SSH=required, but the test sshd is not there"
        );
        eprintln!("note: skipped, no test sshd (`cargo xtask test` starts one)");
    }
    found
}

pub(crate) fn user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `launch status --json` of one job until it has ended.
pub(crate) fn final_status(home: &Path, file: &str, address: &str) -> serde_json::Value {
    let since = Instant::now();
    loop {
        let out = launch_in(home, &["status", "--config", file, "--json", address], &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if status["state"] == "done" || status["state"] == "failed" {
            return status;
        }
        assert!(since.elapsed() < Duration::from_secs(60), "{status}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A launcher file with one direct launcher on the test sshd's machine,
/// with `entry` (its `host`, a `ledger`) as the entry's last lines.
fn launcher_file_with(home: &Path, sshd: &Path, port: u16, user: &str, entry: &str) -> String {
    let file = home.join("launchers.toml");
    std::fs::write(
        &file,
        format!(
            "{}\n[[launcher]]\nname = \"remote\"\ntype = \"direct\"\nconnector = \"box\"\n{entry}",
            connector_box(sshd, port, user)
        ),
    )
    .unwrap();
    file.display().to_string()
}

/// The launcher file's `[connector.box]`: the test sshd's machine.
pub(crate) fn connector_box(sshd: &Path, port: u16, user: &str) -> String {
    format!(
        "[connector.box]\ntype = \"ssh\"\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"{user}\"\n\
         identity = \"{}\"\nknown_hosts = \"{}\"\n",
        sshd.join("id_ed25519").display(),
        sshd.join("known_hosts").display()
    )
}

/// The launcher file of [`launcher_file_with`] with 2 cores and 1 GiB.
pub(crate) fn launcher_file(home: &Path, sshd: &Path, port: u16, user: &str) -> String {
    launcher_file_with(
        home,
        sshd,
        port,
        user,
        "host = { cores = 2, memory = \"1GiB\" }\n",
    )
}

/// A private home with the launcher file of [`launcher_file`], and the
/// address prefix of the test sshd's machine (`ssh://user@127.0.0.1:port`);
/// `None` without the test sshd.
pub(crate) fn ssh_home() -> Option<(tempfile::TempDir, String, String)> {
    let (sshd, port) = sshd()?;
    let home = tempfile::tempdir().unwrap();
    let user = user();
    let file = launcher_file(home.path(), &sshd, port, &user);
    Some((home, file, format!("ssh://{user}@127.0.0.1:{port}")))
}

/// `launch run OPTIONS... --job-dir DIR cpu(cores=1) -- COMMAND...`
/// (`OPTIONS`: `--config FILE` and any others).
pub(crate) fn run_one_core(home: &Path, options: &[&str], dir: &str, command: &[&str]) -> Output {
    let mut args = vec!["run"];
    args.extend_from_slice(options);
    args.extend(["--job-dir", dir, "cpu(cores=1)", "--"]);
    args.extend_from_slice(command);
    launch_in(home, &args, &[])
}

/// `launch run --detach` in `dir`: the address it prints.
pub(crate) fn detach(home: &Path, file: &str, dir: &str, command: &[&str]) -> String {
    let out = run_one_core(home, &["--config", file, "--detach"], dir, command);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

#[test]
fn jobs_over_ssh_run_and_are_followed_by_new_processes() {
    let Some((sshd, port)) = sshd() else { return };
    let home = tempfile::tempdir().unwrap();
    let user = user();
    let file = launcher_file(home.path(), &sshd, port, &user);
    let file = file.as_str();
    let jobs = home.path().join("jobs");
    let job = |name: &str| jobs.join(name).display().to_string();
    let prefix = format!("ssh://{user}@127.0.0.1:{port}");

    // Attached: the output and the exit status come back.
    let attached = job("attached");
    let out = run_one_core(
        home.path(),
        &["--config", file],
        &attached,
        &["sh", "-c", "echo \"$0\"; echo err >&2; exit 3", "a 'b' $c"],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(text(&out.stdout), "a 'b' $c\n");
    assert!(stderr.contains("err\n"), "{stderr}");
    assert!(
        stderr.contains(&format!("launch: job directory {prefix}{attached}")),
        "{stderr}"
    );

    // Detached: named by its address, followed by `launch status` in new
    // processes (each with a session of its own).
    let address = detach(
        home.path(),
        file,
        &job("detached"),
        &["sh", "-c", "sleep 1; exit 4"],
    );
    assert_eq!(address, format!("{prefix}{}", job("detached")));
    let status = final_status(home.path(), file, &address);
    assert_eq!(status["state"], "failed", "{status}");
    assert_eq!(status["exit_code"], 4, "{status}");
    assert_eq!(status["launcher"], "direct", "{status}");
    assert_eq!(status["dir"], address.as_str(), "{status}");

    // Cancelled from another process.
    let long = detach(home.path(), file, &job("long"), &["sleep", "300"]);
    let out = launch_in(home.path(), &["cancel", "--config", file, &long], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("cancelled"),
        "{}",
        text(&out.stdout)
    );
    let status = final_status(home.path(), file, &long);
    assert_eq!(status["reason"], "cancelled", "{status}");

    // An address whose host has no connector in the file is reached with
    // SSH's defaults: here, no key the server knows.
    let out = launch_in(
        home.path(),
        &[
            "status",
            &format!("ssh://nobody@127.0.0.1:{port}{}", job("detached")),
        ],
        &[],
    );
    crate::support::assert_fails(&out, 2, "127.0.0.1");
}

#[test]
fn launch_processes_share_the_remote_machines_ledger() {
    let Some((sshd, port)) = sshd() else { return };
    let home = tempfile::tempdir().unwrap();
    let user = user();
    // One core on the remote machine, a ledger of the test's own there.
    let entry = format!(
        "ledger = \"{}\"\nhost = {{ cores = 1, memory = \"1GiB\" }}\n",
        home.path().join("ledger").display()
    );
    let file = launcher_file_with(home.path(), &sshd, port, &user, &entry);
    let file = file.as_str();
    let jobs = home.path().join("jobs");
    let job = |name: &str| jobs.join(name).display().to_string();
    let gate = home.path().join("open");
    let log = home.path().join("log");
    let script = format!(
        "echo \"$0\" >> '{}'; while [ ! -e '{}' ]; do sleep 0.01; done",
        log.display(),
        gate.display()
    );
    // Two `launch` processes, one after the other.
    let first = detach(
        home.path(),
        file,
        &job("first"),
        &["sh", "-c", &script, "first"],
    );
    let second = detach(
        home.path(),
        file,
        &job("second"),
        &["sh", "-c", &script, "second"],
    );
    let out = launch_in(
        home.path(),
        &["status", "--config", file, "--json", &second],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (status["state"].as_str(), status["reason"].as_str()),
        (Some("scheduled"), Some("waiting for 1 core: 1 of 1 in use")),
        "{status}"
    );
    std::fs::write(&gate, "").unwrap();
    for address in [&first, &second] {
        assert_eq!(final_status(home.path(), file, address)["state"], "done");
    }
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "first\nsecond\n");
}
