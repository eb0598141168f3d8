//! The SSH [`Connector`]: processes and files on a remote machine (a
//! cluster's login node, a workstation), so that the direct and Slurm
//! launchers run jobs there unchanged.
//!
//! - **One session per host**, opened on first use and shared by every
//!   job, poll and thread (connectors built from equal settings share it);
//!   each process gets a channel of its own, multiplexed on it. A session
//!   that breaks is re-opened, with backoff, by the next operation; file
//!   operations and commands not yet sent are retried on the new one, and
//!   processes are followed to their end.
//! - **Host keys are always checked** against `known_hosts`: an unknown
//!   key is refused unless [`HostKeyPolicy::AcceptNew`] is set (it is then
//!   recorded), a changed or revoked key is always refused, and the
//!   message says which.
//! - **Commands cannot be re-parsed**: every word is single-quoted for the
//!   remote shell (bytes that are not UTF-8 are rebuilt by `printf`), and
//!   environment variables are exported by the command itself, so the
//!   server's `AcceptEnv` does not matter. The remote login shell must be a
//!   POSIX one (sh, bash, dash, ksh, zsh).
//! - **Files go through SFTP**; writes are atomic (a temporary file, then
//!   a rename).
//! - **Settings are [`ssh_settings`]'s** ([`SshConfig`], re-exported
//!   here): the launcher file builds them, and so can a program.
//! - **Secrets never show**: passphrases are [`Secret`]s that `Debug` does
//!   not print, and no message holds a key or a password.
//!
//! How processes run remotely: a process whose output the caller reads
//! (a [`StdioSpec::Pipe`] or [`StdioSpec::Inherit`] stream) replaces the
//! channel's shell, and its exit status comes back on the channel. Any
//! other (a job's supervisor, with its output in files) is started in a
//! session of its own by a small watcher shell that leaves the channel at
//! once, so a long job holds none of the server's few sessions per
//! connection (`MaxSessions`), and writes the exit status to a file in
//! the remote `$TMPDIR` when the process ends; waiting reads that file. A
//! detached process is started in a session of its own; waiting for it
//! follows its pid, and its exit status is unknown (`ProcessExit` with
//! neither a code nor a signal): launchers read their own exit-code files.
//! A process's standard input never comes from this process's own
//! (`Inherit` reads `/dev/null`). [`Connector::run`] (short commands:
//! `squeue`, `kill`, ...) goes, when it can, to one of two shells kept
//! running for the session, so that the login shell's start-up files
//! (`conda init` and the like) are not read again for every command.
//!
//! [`Process::wait`] keeps trying while the machine cannot be reached: the
//! process goes on there, and is followed to its end once the session is
//! back.
//!
//! ```
//! use connector_ssh::{SshAddress, SshConfig};
//!
//! let address: SshAddress = "ssh://me@login.example.org:2222/scratch/me".parse()?;
//! assert_eq!(address.user.as_deref(), Some("me"));
//! assert_eq!(address.port, Some(2222));
//!
//! let config = SshConfig::from_address("ssh://me@login.example.org:2222/scratch/me")?;
//! assert_eq!((config.host.as_str(), config.port), ("login.example.org", 2222));
//!
//! let err = SshConfig::from_address("ssh://me:hunter2@login.example.org").unwrap_err();
//! assert!(err.to_string().contains("me:***@") && !err.to_string().contains("hunter2"));
//! # Ok::<(), connector_ssh::SshError>(())
//! ```
//!
//! Running a job on a remote machine with the direct launcher:
//!
//! ```no_run
//! use std::sync::Arc;
//! use connector_ssh::{SshConfig, SshConnector};
//! use core_types::job::{Connector, Job, JobHandle, Launcher, ProcessSpec};
//!
//! let config = SshConfig::from_address("ssh://me@login.example.org")?
//!     .identity("~/.ssh/id_ed25519");
//! let ssh = Arc::new(SshConnector::new(config)?);
//! let out = ssh.run(&ProcessSpec::new("uname").args(["-n"]))?;
//! println!("{}", String::from_utf8_lossy(&out.stdout));
//!
//! let host = core_types::HostSpec { cores: 4, ..Default::default() };
//! let launcher = launcher_direct::DirectLauncher::new(ssh, host)?;
//! let job = launcher.submit(Job::new("/scratch/me/jobs/1", ["python3", "train.py"]))?;
//! println!("{}", job.wait()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod channel;
mod command;
mod error;
mod files;
mod helper;
pub mod known_hosts;
mod openssh;
mod process;
mod session;
mod start;
mod started;
mod util;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, Weak};

#[cfg(doc)]
use core_types::job::StdioSpec;
use core_types::job::{
    Connector, ConnectorError, Process, ProcessOutput, ProcessSpec, Signal, SignalTarget,
};

pub use error::SshError;
pub use session::hops::HopReport;
pub use ssh_settings::{
    ConfigFiles, ConfigWarning, HostKeyPolicy, Origin, Resolved, Secret, SettingsError, SshAddress,
    SshConfig, Transport, expand_home,
};
pub use started::SshProcess;

use session::Shared;

/// How a connector reaches its machine.
#[derive(Clone)]
enum Inner {
    /// libssh2, in this process.
    Ssh2(Arc<Shared>),
    /// The system's `ssh`, through a control master.
    OpenSsh(Arc<openssh::Master>),
}

/// Processes and files on a machine reached over SSH.
#[derive(Clone)]
pub struct SshConnector {
    inner: Inner,
    resolved: Arc<Resolved>,
}

impl fmt::Debug for SshConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshConnector")
            .field("target", &self.resolved.config.name())
            .field("transport", &self.resolved.config.transport)
            .finish_non_exhaustive()
    }
}

/// What a pool holds for one settings' connectors.
#[derive(Clone)]
enum Pooled {
    Ssh2(Weak<Shared>, Arc<Resolved>),
    OpenSsh(Weak<openssh::Master>, Arc<Resolved>),
}

impl Pooled {
    fn upgrade(&self) -> Option<SshConnector> {
        match self {
            Pooled::Ssh2(w, r) => w.upgrade().map(|s| SshConnector {
                inner: Inner::Ssh2(s),
                resolved: Arc::clone(r),
            }),
            Pooled::OpenSsh(w, r) => w.upgrade().map(|m| SshConnector {
                inner: Inner::OpenSsh(m),
                resolved: Arc::clone(r),
            }),
        }
    }

    fn alive(&self) -> bool {
        match self {
            Pooled::Ssh2(w, _) => w.strong_count() > 0,
            Pooled::OpenSsh(w, _) => w.strong_count() > 0,
        }
    }
}

/// The sessions of this process, by settings.
fn pool() -> &'static Mutex<HashMap<SshConfig, Pooled>> {
    static POOL: OnceLock<Mutex<HashMap<SshConfig, Pooled>>> = OnceLock::new();
    POOL.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Stops every OpenSSH control master this process started (their
/// connectors may live on: the next command starts a master again). A
/// program calls it before it exits, so that no master outlives it for
/// `ControlPersist`'s minutes; a connector dropped stops its own.
pub fn stop_masters() {
    let masters: Vec<Arc<openssh::Master>> = util::unpoisoned(pool().lock())
        .values()
        .filter_map(|pooled| match pooled {
            Pooled::OpenSsh(master, _) => master.upgrade(),
            Pooled::Ssh2(..) => None,
        })
        .collect();
    for master in masters {
        master.stop();
    }
}

impl SshConnector {
    /// A connector with these settings (a launcher file's
    /// `[connector.NAME]` table, an address's, or a program's), resolved
    /// through the OpenSSH configuration files ([`SshConfig::resolve`]:
    /// what is given wins, then `~/.ssh/config`, then the defaults).
    /// Nothing is connected yet (see [`SshConnector::connect`]); a
    /// connector built with equal settings while this one lives shares its
    /// session.
    pub fn new(config: SshConfig) -> Result<Self, SshError> {
        config.validate()?;
        let mut pool = util::unpoisoned(pool().lock());
        pool.retain(|_, pooled| pooled.alive());
        if let Some(connector) = pool.get(&config).and_then(Pooled::upgrade) {
            return Ok(connector);
        }
        let resolved = Arc::new(config.resolve());
        resolved.config.validate()?;
        let (inner, pooled) = match resolved.config.transport {
            Transport::Ssh2 => {
                let hops = resolved.hops.iter().map(|h| h.config.clone()).collect();
                let shared = Shared::new(resolved.config.clone(), hops);
                let weak = Arc::downgrade(&shared);
                (
                    Inner::Ssh2(shared),
                    Pooled::Ssh2(weak, Arc::clone(&resolved)),
                )
            }
            Transport::OpenSsh => {
                let master = Arc::new(openssh::Master::new(&config, &resolved.config)?);
                let weak = Arc::downgrade(&master);
                (
                    Inner::OpenSsh(master),
                    Pooled::OpenSsh(weak, Arc::clone(&resolved)),
                )
            }
        };
        pool.insert(config, pooled);
        Ok(SshConnector { inner, resolved })
    }

    /// A connector for an `ssh://[user@]host[:port][/path]` address, with
    /// the other settings from `~/.ssh/config` and the defaults.
    pub fn from_address(address: &str) -> Result<Self, SshError> {
        Self::new(SshConfig::from_address(address)?)
    }

    /// Its settings, resolved through the OpenSSH configuration files.
    pub fn config(&self) -> &SshConfig {
        &self.resolved.config
    }

    /// Its settings with where each value came from, its jump hosts, and
    /// what the configuration files ask for that it does not do.
    pub fn resolved(&self) -> &Resolved {
        &self.resolved
    }

    /// What the configuration files ask for that this connector does not
    /// do (`ProxyCommand` on the ssh2 transport, ...), with their places.
    pub fn warnings(&self) -> &[ConfigWarning] {
        &self.resolved.warnings
    }

    /// Opens the session now (it is otherwise opened on first use): checks
    /// the host keys and logs in, at each jump host and at the target.
    pub fn connect(&self) -> Result<(), SshError> {
        match &self.inner {
            Inner::Ssh2(shared) => {
                let mut st = shared.lock();
                shared.conn(&mut st).map(|_| ())
            }
            Inner::OpenSsh(master) => master.ensure(),
        }
    }

    /// Connects now, saying what happened at each jump host and at the
    /// target (the session is kept when it opens).
    pub fn probe(&self) -> Vec<HopReport> {
        match &self.inner {
            Inner::Ssh2(shared) => shared.probe(),
            Inner::OpenSsh(master) => vec![HopReport {
                name: self.resolved.config.name(),
                outcome: master
                    .ensure()
                    .map(|()| "the control master is up (OpenSSH followed its own configuration, jump hosts included)".into())
                    .map_err(|e| core_types::text::error_chain(&e)),
            }],
        }
    }

    /// How many sessions this connector has opened: 1 while the first one
    /// lasts, one more each time a broken one was re-opened (0 on the
    /// OpenSSH transport, whose master OpenSSH keeps).
    pub fn sessions_opened(&self) -> u64 {
        match &self.inner {
            Inner::Ssh2(shared) => shared.sessions_opened(),
            Inner::OpenSsh(_) => 0,
        }
    }

    /// How many jump host sessions are open now (ssh2 transport).
    pub fn hops_open(&self) -> usize {
        match &self.inner {
            Inner::Ssh2(shared) => shared.hops_open(),
            Inner::OpenSsh(_) => 0,
        }
    }

    /// Starts a process on the ssh2 transport; the concrete type of
    /// [`Connector::spawn`]'s there (`None` on the OpenSSH transport: use
    /// [`Connector::spawn`]).
    pub fn spawn_process(&self, spec: &ProcessSpec) -> Option<Result<SshProcess, ConnectorError>> {
        match &self.inner {
            Inner::Ssh2(shared) => Some(process::spawn(shared, spec)),
            Inner::OpenSsh(_) => None,
        }
    }
}

impl Connector for SshConnector {
    /// `ssh://user@host:port`, the host as given (an alias of
    /// `~/.ssh/config` stays an alias, so that another process resolves
    /// it the same way).
    fn name(&self) -> String {
        format!("ssh://{}", self.resolved.config.name())
    }

    fn spawn(&self, spec: &ProcessSpec) -> Result<Box<dyn Process>, ConnectorError> {
        match &self.inner {
            Inner::Ssh2(shared) => Ok(Box::new(process::spawn(shared, spec)?)),
            Inner::OpenSsh(m) => Ok(Box::new(openssh::spawn(m, spec)?)),
        }
    }

    fn run(&self, spec: &ProcessSpec) -> Result<ProcessOutput, ConnectorError> {
        match &self.inner {
            Inner::Ssh2(shared) => process::run(shared, spec),
            Inner::OpenSsh(m) => openssh::run(m, spec),
        }
    }

    fn write_file(&self, path: &Path, contents: &[u8]) -> Result<(), ConnectorError> {
        match &self.inner {
            Inner::Ssh2(shared) => files::write_file(shared, path, contents),
            Inner::OpenSsh(m) => m.write_file(path, contents),
        }
    }

    fn set_executable(&self, path: &Path) -> Result<(), ConnectorError> {
        match &self.inner {
            Inner::Ssh2(shared) => files::set_executable(shared, path),
            Inner::OpenSsh(m) => m.set_executable(path),
        }
    }

    fn read_file(&self, path: &Path) -> Result<Vec<u8>, ConnectorError> {
        match &self.inner {
            Inner::Ssh2(shared) => files::read_file(shared, path),
            Inner::OpenSsh(m) => m.read_file(path, 0, None),
        }
    }

    fn read_file_from(
        &self,
        path: &Path,
        offset: u64,
        max: usize,
    ) -> Result<Vec<u8>, ConnectorError> {
        match &self.inner {
            Inner::Ssh2(shared) => files::read_file_from(shared, path, offset, max),
            Inner::OpenSsh(m) => m.read_file(path, offset, Some(max)),
        }
    }

    fn create_dir_all(&self, path: &Path) -> Result<(), ConnectorError> {
        match &self.inner {
            Inner::Ssh2(shared) => files::create_dir_all(shared, path),
            Inner::OpenSsh(m) => m.create_dir_all(path),
        }
    }

    fn create_file(&self, path: &Path, contents: &[u8]) -> Result<bool, ConnectorError> {
        match &self.inner {
            Inner::Ssh2(shared) => files::create_file(shared, path, contents),
            Inner::OpenSsh(m) => m.create_file(path, contents),
        }
    }

    fn create_private_dir(&self, path: &Path) -> Result<Vec<std::ffi::OsString>, ConnectorError> {
        match &self.inner {
            Inner::Ssh2(shared) => files::create_private_dir(shared, path),
            Inner::OpenSsh(m) => m.create_private_dir(path),
        }
    }

    fn exists(&self, path: &Path) -> Result<bool, ConnectorError> {
        match &self.inner {
            Inner::Ssh2(shared) => files::exists(shared, path),
            Inner::OpenSsh(m) => m.exists(path),
        }
    }

    fn remove(&self, path: &Path) -> Result<(), ConnectorError> {
        match &self.inner {
            Inner::Ssh2(shared) => files::remove(shared, path),
            Inner::OpenSsh(m) => m.remove(path),
        }
    }

    fn signal(&self, target: SignalTarget, signal: Signal) -> Result<bool, ConnectorError> {
        match &self.inner {
            Inner::Ssh2(shared) => files::signal(shared, target, signal),
            Inner::OpenSsh(m) => m.signal(target, signal),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_settings_share_a_session() {
        let a = SshConnector::from_address("ssh://u@pool-test.invalid:2222").unwrap();
        let b =
            SshConnector::new(SshConfig::new("pool-test.invalid").port(2222).user("u")).unwrap();
        let same = |x: &SshConnector, y: &SshConnector| match (&x.inner, &y.inner) {
            (Inner::Ssh2(p), Inner::Ssh2(q)) => Arc::ptr_eq(p, q),
            _ => false,
        };
        assert!(same(&a, &b));
        let c = SshConnector::from_address("ssh://u@pool-test.invalid:2223").unwrap();
        assert!(!same(&a, &c));
        assert_eq!(a.name(), "ssh://u@pool-test.invalid:2222");
        assert_eq!(a.sessions_opened(), 0, "nothing is connected before use");
        let err = SshConnector::new(SshConfig::new("")).unwrap_err();
        assert!(err.to_string().contains("host"), "{err}");
    }

    #[test]
    fn debug_shows_no_secret() {
        let c = SshConnector::new(
            SshConfig::new("debug-test.invalid")
                .user("u")
                .passphrase(Secret::new("hunter2")),
        )
        .unwrap();
        let shown = format!("{c:?} {:?}", c.config());
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
