//! `cargo xtask sshd up|down`: an sshd of the tests' own on 127.0.0.1, for
//! the SSH connector's tests and bench.
//!
//! Everything it uses is in [`DIR`]: `sshd_config`, the host key
//! (`host_ed25519`), a client key pair (`id_ed25519`, in
//! `authorized_keys`), a key the server does not know (`other_ed25519`),
//! `known_hosts` with the host key, the port (`port`), the pid file and the
//! server's log. It lets in the user running it and an unprivileged
//! account, `launch-ssh-test` (created when missing). It listens on a free
//! port of its own; `up` stops the sshd
//! of an earlier run first, so it can be run any number of times. sshd runs
//! as root (as CI does), from its own configuration (`-f`), and is
//! installed with apt-get when missing.
//!
//! The tests read [`ENV_DIR`] (the directory) and [`ENV_MODE`]
//! (`required`: fail when the server cannot be reached).
//!
//! `cargo xtask test` and `cargo xtask bench-ssh` start a server of their
//! own in `DIR-PID` (several runs on one machine do not stop each other's
//! server), stop it at the end, and first stop the servers of such runs
//! whose process is gone.

use std::fs;
use std::io::Write as _;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

/// The directory of the test server's files.
pub(crate) const DIR: &str = "/tmp/launch-sshd-test";
/// Names the directory for the tests.
pub(crate) const ENV_DIR: &str = "LAUNCH_TEST_SSH_DIR";
/// `required` makes the tests fail when the server is not there.
pub(crate) const ENV_MODE: &str = "LAUNCH_TEST_SSH";

const SSHD: &str = "/usr/sbin/sshd";
/// An unprivileged account the test server also lets in with the test key:
/// a user as on a cluster's login node, with the system's default shell
/// start-up files (the bench logs in as it too).
pub(crate) const TEST_USER: &str = "launch-ssh-test";

pub(crate) fn run(args: &[&str]) -> Result<()> {
    match args {
        ["up"] => {
            let port = up(Path::new(DIR))?;
            println!("sshd listens on 127.0.0.1:{port}; its files are in {DIR}");
            println!("export {ENV_MODE}=required {ENV_DIR}={DIR}");
            Ok(())
        }
        ["down"] => down(Path::new(DIR)),
        _ => bail!("usage: cargo xtask sshd up|down"),
    }
}

fn sh(program: &str, args: &[&str]) -> Result<()> {
    let status = Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("running {program}"))?;
    ensure!(
        status.success(),
        "{program} {} failed ({status})",
        args.join(" ")
    );
    Ok(())
}

/// Installs OpenSSH's server and client when sshd is missing.
fn install() -> Result<()> {
    if Path::new(SSHD).exists() && Path::new("/usr/bin/ssh-keygen").exists() {
        return Ok(());
    }
    eprintln!("xtask: installing openssh-server and openssh-client");
    sh("apt-get", &["update", "-qq"])?;
    let status = Command::new("apt-get")
        .args(["install", "-y", "-qq", "openssh-server", "openssh-client"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?;
    ensure!(status.success(), "apt-get install openssh-server failed");
    Ok(())
}

fn keygen(path: &Path) -> Result<()> {
    if path.exists() && path.with_extension("pub").exists() {
        return Ok(());
    }
    let _ = fs::remove_file(path);
    let _ = fs::remove_file(path.with_extension("pub"));
    let file = path.to_str().context("a UTF-8 path")?;
    sh(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "launch-test",
            "-f",
            file,
        ],
    )
}

/// The test server's configuration.
pub(crate) fn config(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "# The launch tests' own sshd (cargo xtask sshd up).\n\
         Port {port}\n\
         ListenAddress 127.0.0.1\n\
         HostKey {d}/host_ed25519\n\
         PidFile {d}/sshd.pid\n\
         AuthorizedKeysFile {d}/authorized_keys\n\
         StrictModes no\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         UsePAM no\n\
         PermitRootLogin prohibit-password\n\
         PrintMotd no\n\
         MaxStartups 100:30:200\n\
         Subsystem sftp internal-sftp\n\
         LogLevel VERBOSE\n"
    )
}

/// Creates the unprivileged test account when it is missing (as root;
/// elsewhere it is skipped with a note). Its password is `*`: none, but
/// not locked, which sshd would refuse even with a key.
fn test_user() {
    let exists = Command::new("id")
        .arg(TEST_USER)
        .output()
        .is_ok_and(|o| o.status.success());
    if exists {
        return;
    }
    let made = Command::new("useradd")
        .args([
            "--create-home",
            "--shell",
            "/bin/bash",
            "--password",
            "*",
            TEST_USER,
        ])
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("xtask: cannot create the user {TEST_USER} (not root?); the bench skips it");
    }
}

/// Starts the test server with its files in `dir`; its port.
pub(crate) fn up(dir: &Path) -> Result<u16> {
    install()?;
    down(dir)?;
    test_user();
    let dir = dir.to_path_buf();
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // Other users' sshd sessions read authorized_keys (the keys stay 0600).
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o711))?;
    for key in ["host_ed25519", "id_ed25519", "other_ed25519"] {
        keygen(&dir.join(key))?;
    }
    fs::copy(dir.join("id_ed25519.pub"), dir.join("authorized_keys"))?;
    fs::set_permissions(
        dir.join("authorized_keys"),
        fs::Permissions::from_mode(0o644),
    )?;
    let port = test_ports::free_port();
    let bastion_port = test_ports::free_port();
    let host_key = fs::read_to_string(dir.join("host_ed25519.pub"))?;
    let mut fields = host_key.split_whitespace();
    let (Some(kind), Some(key)) = (fields.next(), fields.next()) else {
        bail!("{}/host_ed25519.pub is not a public key", dir.display());
    };
    fs::write(
        dir.join("known_hosts"),
        format!("[127.0.0.1]:{port} {kind} {key}\n[127.0.0.1]:{bastion_port} {kind} {key}\n"),
    )?;
    fs::write(dir.join("port"), format!("{port}\n"))?;
    fs::write(dir.join("bastion_port"), format!("{bastion_port}\n"))?;
    let config_path = dir.join("sshd_config");
    fs::write(&config_path, config(&dir, port))?;
    fs::create_dir_all("/run/sshd").context("creating /run/sshd")?;
    let config_arg = config_path.to_str().context("a UTF-8 path")?;
    sh(SSHD, &["-t", "-f", config_arg]).context("checking sshd_config")?;
    let log = dir.join("sshd.log");
    run_sshd(&config_path, &log)?;
    if !listens(port) {
        bail!(
            "sshd did not listen on 127.0.0.1:{port} (see {})",
            log.display()
        );
    }
    bastion(&dir, port, bastion_port)?;
    Ok(port)
}

/// A second sshd, the jump host of the `ProxyJump` tests: the same keys,
/// `LogLevel DEBUG1` (its log names each forwarded connection), its own
/// port (`bastion_port`), pid file and log.
fn bastion(dir: &Path, port: u16, bastion_port: u16) -> Result<()> {
    let config: String = config(dir, port)
        .lines()
        .map(|line| {
            if line.starts_with("Port ") {
                format!("Port {bastion_port}\n")
            } else if line.starts_with("PidFile ") {
                format!("PidFile {}/bastion.pid\n", dir.display())
            } else if line.starts_with("LogLevel ") {
                "LogLevel DEBUG1\n".to_owned()
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    let path = dir.join("bastion_config");
    fs::write(&path, config)?;
    run_sshd(&path, &dir.join("bastion.log"))?;
    if !listens(bastion_port) {
        bail!("the bastion sshd did not listen on 127.0.0.1:{bastion_port}");
    }
    Ok(())
}

/// Starts an sshd of the configuration file `config`, logging to `log`
/// (it puts itself in the background).
fn run_sshd(config: &Path, log: &Path) -> Result<()> {
    let utf8 = |path: &Path| path.to_str().context("a UTF-8 path").map(str::to_owned);
    sh(SSHD, &["-f", &utf8(config)?, "-E", &utf8(log)?])
}

/// Whether something listens on `127.0.0.1:port` within 10 s.
fn listens(port: u16) -> bool {
    let since = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if since.elapsed() > Duration::from_secs(10) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// The parent pid of a process, from `/proc`.
fn ppid(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split(' ').nth(1)?.parse().ok()
}

/// Stops the test server of an earlier `up` in `dir`, and its connections.
#[allow(
    clippy::unnecessary_wraps,
    reason = "callers treat stopping like starting"
)]
pub(crate) fn down(dir: &Path) -> Result<()> {
    stop(&dir.join("bastion.pid"));
    stop(&dir.join("sshd.pid"));
    let mut out = std::io::stderr();
    let _ = writeln!(out, "xtask: the test sshd is stopped");
    Ok(())
}

/// Stops the sshd of a pid file, and its connections.
fn stop(pid_file: &Path) {
    let Ok(text) = fs::read_to_string(pid_file) else {
        return;
    };
    let Ok(pid) = text.trim().parse::<u32>() else {
        let _ = fs::remove_file(pid_file);
        return;
    };
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if pid > 1 && comm.trim() == "sshd" {
        // Its connections first: they outlive the listener otherwise.
        let children: Vec<u32> = fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&child| ppid(child) == Some(pid))
            .collect();
        for child in children.iter().chain(std::iter::once(&pid)) {
            let _ = Command::new("kill")
                .args(["-TERM", &child.to_string()])
                .status();
        }
        let since = Instant::now();
        while Path::new(&format!("/proc/{pid}")).exists()
            && since.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = fs::remove_file(pid_file);
}

/// The test server for `cargo xtask test`: started now, stopped (and its
/// directory removed) when dropped; [`TestSshd::env`] is what the tests
/// read.
#[derive(Debug)]
pub(crate) struct TestSshd {
    dir: PathBuf,
    port: u16,
}

impl TestSshd {
    /// The variables that point the tests at the server (and make them
    /// fail when it cannot be reached); the port is also in `DIR/port`.
    pub(crate) fn env(&self) -> [(&'static str, String); 3] {
        [
            (ENV_MODE, "required".into()),
            (ENV_DIR, self.dir.display().to_string()),
            ("LAUNCH_TEST_SSH_PORT", self.port.to_string()),
        ]
    }
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        let _ = down(&self.dir);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Stops the servers of earlier runs whose process is gone (`DIR-PID`).
fn stop_orphans() {
    let Ok(entries) = fs::read_dir("/tmp") else {
        return;
    };
    let prefix = format!(
        "{}-",
        Path::new(DIR)
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    );
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(&prefix)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = down(&entry.path());
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Starts a test server of this run's own for the tests.
pub(crate) fn for_tests() -> Result<TestSshd> {
    stop_orphans();
    let dir = PathBuf::from(format!("{DIR}-{}", std::process::id()));
    let port = up(&dir).context("starting the test sshd")?;
    Ok(TestSshd { dir, port })
}

/// `cargo xtask bench-ssh`: starts the test server, runs the SSH bench
/// (`benches/benches/ssh.rs`, release build) against it, stops it.
pub(crate) fn bench() -> Result<()> {
    let sshd = for_tests()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(["bench", "-p", "benches", "--bench", "ssh"])
        .envs(sshd.env())
        .current_dir(crate::codegen::workspace_root())
        .status()
        .with_context(|| format!("running {cargo} bench"))?;
    ensure!(status.success(), "the SSH bench failed ({status})");
    Ok(())
}
