//! Reaching a machine: processes ([`ProcessSpec`], [`Process`]), files and
//! signals through a [`Connector`], and quoting words for its shell.
//!
//! The lower of the two layers of the job model: [`crate::job`] builds jobs
//! and launchers on it. The implementations (a local connector, SSH) are
//! crates of their own.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What a connector's operation gives.
pub type ConnectorResult<T> = Result<T, ConnectorError>;

/// The `env` and `cwd` setters of a builder with `env: Vec<(OsString,
/// OsString)>` and `cwd: Option<PathBuf>` fields (a process, a job).
macro_rules! env_and_cwd_setters {
    () => {
        /// Adds an environment variable.
        #[must_use]
        pub fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
            self.env.push((name.into(), value.into()));
            self
        }

        /// Sets the working directory.
        #[must_use]
        pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
            self.cwd = Some(dir.into());
            self
        }
    };
}
pub(crate) use env_and_cwd_setters;

/// Why a connector operation failed. Every variant names what it was working on.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// A file operation failed.
    #[error("cannot {op} `{}`", path.display())]
    Io {
        /// What was attempted (`read`, `write`, `create directory`, ...).
        op: &'static str,
        /// The path it was attempted on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A process could not be started.
    #[error("cannot start `{program}`")]
    Spawn {
        /// The program, as given.
        program: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A process ran and failed: its status and what it wrote.
    #[error("`{program}` failed ({status})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}")]
    Failed {
        /// The command line, for people.
        program: String,
        /// `exit code N` or `killed by signal N`.
        status: String,
        /// Its standard output (lossy UTF-8).
        stdout: String,
        /// Its standard error (lossy UTF-8).
        stderr: String,
    },
    /// A request the connector refuses (a NUL byte in an argument, ...).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Sending a signal failed.
    #[error("cannot send {signal} to {target}: {reason}")]
    Signal {
        /// The signal.
        signal: Signal,
        /// `process N` or `process group N`.
        target: String,
        /// Why.
        reason: String,
    },
}

impl ConnectorError {
    /// Whether this is a file operation on a path that does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ConnectorError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Where a started process's standard stream goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StdioSpec {
    /// The caller's own stream.
    Inherit,
    /// `/dev/null`.
    Null,
    /// A file on the connector's machine (created or truncated; read for stdin).
    File(PathBuf),
    /// A pipe to the caller ([`Process::take_stdin`] and friends).
    Pipe,
}

/// A process to start through a [`Connector`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    /// The program (looked up in `PATH` when it has no slash).
    pub program: OsString,
    /// Its arguments, passed verbatim (never through a shell).
    pub args: Vec<OsString>,
    /// Variables added to (or replacing in) the inherited environment.
    pub env: Vec<(OsString, OsString)>,
    /// The working directory (the connector's default when `None`).
    pub cwd: Option<PathBuf>,
    /// Standard input.
    pub stdin: StdioSpec,
    /// Standard output.
    pub stdout: StdioSpec,
    /// Standard error.
    pub stderr: StdioSpec,
    /// Attached (`false`): the process is in its own process group, the
    /// caller may wait for it. Detached (`true`): it is in a session of its
    /// own and outlives the caller.
    pub detached: bool,
}

impl ProcessSpec {
    /// `program` with no arguments, null standard streams, attached.
    pub fn new(program: impl Into<OsString>) -> Self {
        ProcessSpec {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            stdin: StdioSpec::Null,
            stdout: StdioSpec::Null,
            stderr: StdioSpec::Null,
            detached: false,
        }
    }

    /// Appends arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    env_and_cwd_setters!();

    /// Sets the three standard streams.
    #[must_use]
    pub fn stdio(mut self, stdin: StdioSpec, stdout: StdioSpec, stderr: StdioSpec) -> Self {
        self.stdin = stdin;
        self.stdout = stdout;
        self.stderr = stderr;
        self
    }

    /// Detaches (or attaches) the process.
    #[must_use]
    pub fn detached(mut self, detached: bool) -> Self {
        self.detached = detached;
        self
    }

    /// The command line for messages: program and arguments, lossy, each
    /// quoted when it needs to be.
    pub fn display_command(&self) -> String {
        std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(display_word)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One word of a command line for people: as is when plain, else in single
/// quotes (lossy for non-UTF-8 bytes).
pub fn display_word(word: &OsStr) -> String {
    let text = word.to_string_lossy();
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Quotes bytes for a POSIX shell: the result, pasted in a `sh` script,
/// is one word whose value is exactly `word`, whatever its bytes.
///
/// A NUL byte cannot be part of a shell word (nor of any argument or
/// environment value), so it is refused.
pub fn shell_quote(word: &OsStr) -> Result<Vec<u8>, ConnectorError> {
    let bytes = word.as_bytes();
    if bytes.contains(&0) {
        return Err(ConnectorError::Invalid(format!(
            "{} contains a NUL byte, which no process argument can hold",
            display_word(word)
        )));
    }
    let mut out = Vec::with_capacity(bytes.len() + 2);
    out.push(b'\'');
    for &b in bytes {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    Ok(out)
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessExit {
    /// Its exit code, when it exited.
    pub code: Option<i32>,
    /// The signal that killed it, when one did.
    pub signal: Option<i32>,
}

impl ProcessExit {
    /// Whether it exited with code 0.
    pub fn success(self) -> bool {
        self.code == Some(0)
    }
}

impl fmt::Display for ProcessExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit code {code}"),
            (None, Some(signal)) => write!(f, "killed by signal {signal}"),
            (None, None) => f.write_str("unknown status"),
        }
    }
}

/// What a process wrote, once it ended ([`Connector::run`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessOutput {
    /// How it ended.
    pub exit: ProcessExit,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
}

/// A process started through a [`Connector`].
pub trait Process: Send + fmt::Debug {
    /// Its process id on the connector's machine, when known.
    fn id(&self) -> Option<u32>;
    /// Blocks until it ends.
    fn wait(&mut self) -> Result<ProcessExit, ConnectorError>;
    /// Whether it ended, without blocking.
    fn try_wait(&mut self) -> Result<Option<ProcessExit>, ConnectorError>;
    /// Its standard input, when [`StdioSpec::Pipe`] was asked (once).
    fn take_stdin(&mut self) -> Option<Box<dyn Write + Send>>;
    /// Its standard output, when [`StdioSpec::Pipe`] was asked (once).
    fn take_stdout(&mut self) -> Option<Box<dyn Read + Send>>;
    /// Its standard error, when [`StdioSpec::Pipe`] was asked (once).
    fn take_stderr(&mut self) -> Option<Box<dyn Read + Send>>;
}

/// A signal a connector can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `SIGTERM`: please stop.
    Term,
    /// `SIGKILL`: stop now.
    Kill,
    /// `SIGINT`: interrupted (Ctrl-C).
    Int,
    /// `SIGHUP`: hang up.
    Hup,
}

impl Signal {
    /// The name without `SIG` (`TERM`), as `kill -s` takes it.
    pub const fn name(self) -> &'static str {
        match self {
            Signal::Term => "TERM",
            Signal::Kill => "KILL",
            Signal::Int => "INT",
            Signal::Hup => "HUP",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIG{}", self.name())
    }
}

/// Who receives a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignalTarget {
    /// One process.
    Process(u32),
    /// Every process of a process group.
    Group(u32),
}

impl fmt::Display for SignalTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignalTarget::Process(pid) => write!(f, "process {pid}"),
            SignalTarget::Group(pgid) => write!(f, "process group {pgid}"),
        }
    }
}

/// How a launcher reaches a machine: processes and files there.
///
/// Paths are paths on the connector's machine, which need not be the
/// caller's: a launcher goes through its connector for every file and
/// process, never through `std::fs` directly.
pub trait Connector: Send + Sync + fmt::Debug {
    /// A short name (`local`, `ssh:login.example.org`).
    fn name(&self) -> String;

    /// Whether its files and processes are this process's own machine's,
    /// reached without a round trip (a launcher may then do there, in
    /// process, what it would otherwise ask a remote shell to do).
    fn is_local(&self) -> bool {
        false
    }

    /// Starts a process.
    fn spawn(&self, spec: &ProcessSpec) -> Result<Box<dyn Process>, ConnectorError>;

    /// Runs a process to its end with its standard output and error
    /// captured; an error, carrying both and the status, when it does not
    /// exit with code 0.
    fn run(&self, spec: &ProcessSpec) -> Result<ProcessOutput, ConnectorError>;

    /// Writes a whole file atomically (a reader sees the old file or the
    /// new one, never a part): write to a temporary name, then rename. The
    /// file is its owner's alone (mode 0600), and a link at `path` is
    /// replaced, never followed.
    fn write_file(&self, path: &Path, contents: &[u8]) -> Result<(), ConnectorError>;

    /// Writes a file no one reads before the caller is done with it (a
    /// job's script, its blank state, its empty error file, written before
    /// the job starts): its owner's alone (mode 0600), a link at `path`
    /// replaced, never followed, as [`Connector::write_file`]; but a reader
    /// may see it partly written, and a write that fails removes it. Where
    /// nothing is at `path` yet, it may skip the temporary name and the
    /// rename (the local connector does); by default it is `write_file`.
    fn write_unread(&self, path: &Path, contents: &[u8]) -> ConnectorResult<()> {
        self.write_file(path, contents)
    }

    /// Creates a file with `contents`, whole at once (a reader sees no file
    /// or all of it), mode 0600, unless something is at `path` already (a
    /// link too: it is never followed): whether it made it. Two callers
    /// that race for one path: exactly one makes it.
    fn create_file(&self, path: &Path, contents: &[u8]) -> ConnectorResult<bool> {
        let _ = contents;
        Err(ConnectorError::Invalid(format!(
            "the connector {} cannot create `{}` exclusively",
            self.name(),
            path.display()
        )))
    }

    /// Makes a file readable, writable and executable by its owner alone
    /// (mode 0700).
    fn set_executable(&self, path: &Path) -> Result<(), ConnectorError>;

    /// Creates a directory only its owner may use (mode 0700, whatever the
    /// umask), with its missing parents (as [`Connector::create_dir_all`]
    /// makes them). A directory already there is taken when it belongs to
    /// the caller (its mode is then set to 0700), refused otherwise. Gives
    /// the names of what it holds, read once no one else can add to it
    /// (none when it was just made).
    fn create_private_dir(&self, path: &Path) -> ConnectorResult<Vec<OsString>> {
        Err(ConnectorError::Invalid(format!(
            "the connector {} cannot create `{}` as a private directory",
            self.name(),
            path.display()
        )))
    }

    /// Reads a whole file.
    fn read_file(&self, path: &Path) -> Result<Vec<u8>, ConnectorError>;

    /// Reads at most `max` bytes of a file from byte `offset` (fewer at its
    /// end; none past it). For following a growing file.
    fn read_file_from(&self, path: &Path, offset: u64, max: usize) -> ConnectorResult<Vec<u8>> {
        let all = self.read_file(path)?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(all.len());
        let end = start.saturating_add(max).min(all.len());
        Ok(all[start..end].to_vec())
    }

    /// Creates a directory and its missing parents.
    fn create_dir_all(&self, path: &Path) -> Result<(), ConnectorError>;

    /// Whether a path exists.
    fn exists(&self, path: &Path) -> Result<bool, ConnectorError>;

    /// Removes a file, or a directory with all it holds. Removing a path
    /// that does not exist is not an error.
    fn remove(&self, path: &Path) -> Result<(), ConnectorError>;

    /// Sends a signal; `Ok(false)` when there is no such process (or group).
    fn signal(&self, target: SignalTarget, signal: Signal) -> Result<bool, ConnectorError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn quoting_keeps_every_byte() {
        let word = OsString::from_vec(b"a 'b' $(c) `d`; \n\xff".to_vec());
        let quoted = shell_quote(&word).unwrap();
        assert_eq!(quoted, b"'a '\\''b'\\'' $(c) `d`; \n\xff'".to_vec());
        let err = shell_quote(OsStr::new("a\0b")).unwrap_err();
        assert!(err.to_string().contains("NUL"), "{err}");
    }

    #[test]
    fn display_command_quotes_what_needs_it() {
        let spec = ProcessSpec::new("echo").args(["a b", "plain", "it's"]);
        assert_eq!(spec.display_command(), "echo 'a b' plain 'it'\\''s'");
    }
}
