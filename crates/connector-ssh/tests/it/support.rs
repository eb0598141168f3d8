//! The test server (`cargo xtask sshd up`), and sshd servers of a test's
//! own for the tests that stop them.

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_ssh::{SshConfig, SshConnector};
use core_types::job::Connector;

/// The variable naming the test server's directory.
const ENV_DIR: &str = "LAUNCH_TEST_SSH_DIR";
/// `required`: a missing server fails the tests instead of skipping them.
const ENV_MODE: &str = "LAUNCH_TEST_SSH";

/// The test server's files.
#[derive(Debug, Clone)]
pub struct Server {
    pub dir: PathBuf,
    pub port: u16,
}

/// The test server, or `None` (with a note) when the tests run without
/// one; when `LAUNCH_TEST_SSH=required`, a missing server is a failure.
pub fn server() -> Option<Server> {
    let required = std::env::var(ENV_MODE).is_ok_and(|v| v == "required");
    let missing = |why: String| {
        assert!(
            !required,
            "{ENV_MODE}=required, but {why}: start it with `cargo xtask sshd up`"
        );
        eprintln!(
            "note: skipped, {why}; `cargo xtask test` starts a test sshd (or: cargo xtask sshd up, then set {ENV_DIR}=/tmp/launch-sshd-test)"
        );
        None
    };
    let Some(dir) = std::env::var_os(ENV_DIR).map(PathBuf::from) else {
        return missing(format!("{ENV_DIR} is not set"));
    };
    let Ok(Ok(port)) = fs::read_to_string(dir.join("port")).map(|p| p.trim().parse::<u16>()) else {
        return missing(format!("{}/port names no port", dir.display()));
    };
    if TcpStream::connect(("127.0.0.1", port)).is_err() {
        return missing(format!("no sshd listens on 127.0.0.1:{port}"));
    }
    Some(Server { dir, port })
}

/// This process's user name (the test server lets it in with the test key).
pub fn user() -> String {
    let out = Command::new("id")
        .arg("-un")
        .output()
        .expect("running id -un");
    String::from_utf8(out.stdout)
        .expect("a UTF-8 user name")
        .trim()
        .to_owned()
}

impl Server {
    /// Settings that reach the server with the test key.
    pub fn config(&self) -> SshConfig {
        SshConfig::new("127.0.0.1")
            .port(self.port)
            .user(user())
            .identity(self.dir.join("id_ed25519"))
            .known_hosts(self.dir.join("known_hosts"))
    }

    /// A connector to the server (tests with equal settings share its
    /// session).
    pub fn connector(&self) -> SshConnector {
        SshConnector::new(self.config()).expect("valid settings")
    }

    pub fn shared(&self) -> Arc<dyn Connector> {
        Arc::new(self.connector())
    }

    /// The server's host key line (`ssh-ed25519 AAAA...`).
    pub fn host_key(&self) -> String {
        let text = fs::read_to_string(self.dir.join("host_ed25519.pub")).unwrap();
        text.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A connector to the test server and a temporary directory: what most
/// tests start with (`None`, as [`server`], without the server).
pub fn connector_and_dir() -> Option<(SshConnector, tempfile::TempDir)> {
    Some((server()?.connector(), tempdir()))
}

/// A temporary directory on the (local, so also remote) machine.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("connector-ssh-it-")
        .tempdir()
        .unwrap()
}

/// An sshd of a test's own, from the test server's keys and settings, on a
/// port of its own: stopping it disturbs no other test.
#[derive(Debug)]
pub struct OwnSshd {
    pub port: u16,
    dir: tempfile::TempDir,
    server: Server,
}

fn ppid(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split(' ').nth(1)?.parse().ok()
}

fn comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

impl OwnSshd {
    pub fn start(server: &Server) -> OwnSshd {
        let port = test_support::ports::free_port();
        let dir = tempdir();
        let base = fs::read_to_string(server.dir.join("sshd_config")).unwrap();
        let config: String = base
            .lines()
            .map(|line| {
                if line.starts_with("Port ") {
                    format!("Port {port}\n")
                } else if line.starts_with("PidFile ") {
                    format!("PidFile {}/sshd.pid\n", dir.path().display())
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        fs::write(dir.path().join("sshd_config"), config).unwrap();
        fs::write(
            dir.path().join("known_hosts"),
            format!("[127.0.0.1]:{port} {}\n", server.host_key()),
        )
        .unwrap();
        let own = OwnSshd {
            port,
            dir,
            server: server.clone(),
        };
        own.run();
        own
    }

    fn run(&self) {
        let status = Command::new("/usr/sbin/sshd")
            .arg("-f")
            .arg(self.dir.path().join("sshd_config"))
            .arg("-E")
            .arg(self.dir.path().join("sshd.log"))
            .status()
            .unwrap();
        assert!(status.success(), "sshd did not start ({status})");
        let since = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                since.elapsed() < Duration::from_secs(10),
                "sshd does not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Settings that reach this server.
    pub fn config(&self) -> SshConfig {
        self.server
            .config()
            .port(self.port)
            .known_hosts(self.dir.path().join("known_hosts"))
    }

    fn listener(&self) -> Option<u32> {
        let pid = fs::read_to_string(self.dir.path().join("sshd.pid")).ok()?;
        pid.trim()
            .parse()
            .ok()
            .filter(|&p| p > 1 && comm(p) == "sshd")
    }

    /// Stops the server and every connection it serves (the sshd
    /// processes only: what runs in the sessions goes on).
    pub fn kill(&self) {
        let Some(listener) = self.listener() else {
            return;
        };
        let mut doomed = vec![listener];
        let mut i = 0;
        while i < doomed.len() {
            let parent = doomed[i];
            let children: Vec<u32> = fs::read_dir("/proc")
                .unwrap()
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .filter(|&p| ppid(p) == Some(parent) && comm(p).starts_with("sshd"))
                .collect();
            doomed.extend(children);
            i += 1;
        }
        for pid in doomed.iter().rev() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(i32::try_from(*pid).unwrap()),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let since = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && since.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = fs::remove_file(self.dir.path().join("sshd.pid"));
    }

    /// Starts it again, on the same port with the same keys.
    pub fn restart(&self) {
        self.run();
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for OwnSshd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until `cond` holds (bounded; the tests never assert on time).
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let since = Instant::now();
    while !cond() {
        assert!(since.elapsed() < Duration::from_secs(30), "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Replaces what changes from run to run in a message: paths, port, user,
/// key fingerprints (the test keys are made anew on each machine).
pub fn redact(text: &str, server_dir: &Path, port: u16, temp: &Path) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("SHA256:") {
        out.push_str(&rest[..at]);
        out.push_str("SHA256:[FINGERPRINT]");
        rest = &rest[at + 7..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/'))
            .unwrap_or(rest.len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out.replace(&temp.display().to_string(), "[TMP]")
        .replace(&server_dir.display().to_string(), "[SSHD]")
        .replace(&port.to_string(), "[PORT]")
        .replace(&user(), "[USER]")
}

/// A key's fingerprint as `ssh-keygen -l` shows it.
pub fn fingerprint(public_key_file: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(public_key_file)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().nth(1).unwrap().to_owned()
}

pub use test_support::chain;
