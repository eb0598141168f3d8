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
mod process;
mod session;
mod util;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, Weak};

#[cfg(doc)]
use core_types::job::StdioSpec;
use core_types::job::{
    Connector, ConnectorError, ConnectorResult, Process, ProcessOutput, ProcessSpec, Signal,
    SignalTarget,
};

pub use error::SshError;
pub use process::SshProcess;
pub use ssh_settings::{HostKeyPolicy, Secret, SettingsError, SshAddress, SshConfig, expand_home};

use session::Shared;

/// Processes and files on a machine reached over SSH.
#[derive(Clone)]
pub struct SshConnector {
    shared: Arc<Shared>,
}

impl fmt::Debug for SshConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshConnector")
            .field("target", &self.shared.target)
            .finish_non_exhaustive()
    }
}

/// The sessions of this process, by settings.
fn pool() -> &'static Mutex<HashMap<SshConfig, Weak<Shared>>> {
    static POOL: OnceLock<Mutex<HashMap<SshConfig, Weak<Shared>>>> = OnceLock::new();
    POOL.get_or_init(|| Mutex::new(HashMap::new()))
}

impl SshConnector {
    /// A connector with these settings (a launcher file's
    /// `[connector.NAME]` table, an address's, or a program's). Nothing is
    /// connected yet (see [`SshConnector::connect`]); a connector built
    /// with equal settings while this one lives shares its session.
    pub fn new(config: SshConfig) -> Result<Self, SshError> {
        config.validate()?;
        let mut pool = util::unpoisoned(pool().lock());
        pool.retain(|_, shared| shared.strong_count() > 0);
        if let Some(shared) = pool.get(&config).and_then(Weak::upgrade) {
            return Ok(SshConnector { shared });
        }
        let shared = Shared::new(config.clone());
        pool.insert(config, Arc::downgrade(&shared));
        Ok(SshConnector { shared })
    }

    /// A connector for an `ssh://[user@]host[:port][/path]` address, with
    /// the other settings' defaults.
    pub fn from_address(address: &str) -> Result<Self, SshError> {
        Self::new(SshConfig::from_address(address)?)
    }

    /// Its settings.
    pub fn config(&self) -> &SshConfig {
        &self.shared.config
    }

    /// Opens the session now (it is otherwise opened on first use): checks
    /// the host key and logs in.
    pub fn connect(&self) -> Result<(), SshError> {
        let mut st = self.shared.lock();
        self.shared.conn(&mut st).map(|_| ())
    }

    /// How many sessions this connector has opened: 1 while the first one
    /// lasts, one more each time a broken one was re-opened.
    pub fn sessions_opened(&self) -> u64 {
        self.shared.sessions_opened()
    }

    /// Starts a process; the concrete type of [`Connector::spawn`]'s.
    pub fn spawn_process(&self, spec: &ProcessSpec) -> Result<SshProcess, ConnectorError> {
        process::spawn(&self.shared, spec)
    }
}

impl Connector for SshConnector {
    /// `ssh://user@host:port`.
    fn name(&self) -> String {
        format!("ssh://{}", self.shared.target)
    }

    fn spawn(&self, spec: &ProcessSpec) -> Result<Box<dyn Process>, ConnectorError> {
        Ok(Box::new(self.spawn_process(spec)?))
    }

    fn run(&self, spec: &ProcessSpec) -> Result<ProcessOutput, ConnectorError> {
        process::run(&self.shared, spec)
    }

    fn write_file(&self, path: &Path, contents: &[u8]) -> Result<(), ConnectorError> {
        files::write_file(&self.shared, path, contents)
    }

    fn set_executable(&self, path: &Path) -> Result<(), ConnectorError> {
        files::set_executable(&self.shared, path)
    }

    fn read_file(&self, path: &Path) -> Result<Vec<u8>, ConnectorError> {
        files::read_file(&self.shared, path)
    }

    fn read_file_from(&self, path: &Path, offset: u64, max: usize) -> ConnectorResult<Vec<u8>> {
        files::read_file_from(&self.shared, path, offset, max)
    }

    fn create_dir_all(&self, path: &Path) -> Result<(), ConnectorError> {
        files::create_dir_all(&self.shared, path)
    }

    fn create_file(&self, path: &Path, contents: &[u8]) -> ConnectorResult<bool> {
        files::create_file(&self.shared, path, contents)
    }

    fn create_private_dir(&self, path: &Path) -> ConnectorResult<Vec<std::ffi::OsString>> {
        files::create_private_dir(&self.shared, path)
    }

    fn exists(&self, path: &Path) -> Result<bool, ConnectorError> {
        files::exists(&self.shared, path)
    }

    fn remove(&self, path: &Path) -> Result<(), ConnectorError> {
        files::remove(&self.shared, path)
    }

    fn signal(&self, target: SignalTarget, signal: Signal) -> Result<bool, ConnectorError> {
        files::signal(&self.shared, target, signal)
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
        assert!(Arc::ptr_eq(&a.shared, &b.shared));
        let c = SshConnector::from_address("ssh://u@pool-test.invalid:2223").unwrap();
        assert!(!Arc::ptr_eq(&a.shared, &c.shared));
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
