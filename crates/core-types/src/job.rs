//! Running jobs: what a job is, how a launcher reaches a machine
//! ([`Connector`]), how it runs jobs there ([`Launcher`]) and how a caller
//! follows one ([`JobHandle`]).
//!
//! Only the vocabulary lives here; the implementations (a local connector,
//! the direct and dynamic launchers) are crates of their own.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::Alternative;

/// Why a connector operation failed. Every variant names what it was working on.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// A file operation failed.
    #[error("cannot {op} `{}`: {source}", path.display())]
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
    #[error("cannot start `{program}`: {source}")]
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

    /// Starts a process.
    fn spawn(&self, spec: &ProcessSpec) -> Result<Box<dyn Process>, ConnectorError>;

    /// Runs a process to its end with its standard output and error
    /// captured; an error, carrying both and the status, when it does not
    /// exit with code 0.
    fn run(&self, spec: &ProcessSpec) -> Result<ProcessOutput, ConnectorError>;

    /// Writes a whole file atomically (a reader sees the old file or the
    /// new one, never a part): write to a temporary name, then rename.
    fn write_file(&self, path: &Path, contents: &[u8]) -> Result<(), ConnectorError>;

    /// Makes a file executable by its owner (and readable by all).
    fn set_executable(&self, path: &Path) -> Result<(), ConnectorError>;

    /// Reads a whole file.
    fn read_file(&self, path: &Path) -> Result<Vec<u8>, ConnectorError>;

    /// Reads at most `max` bytes of a file from byte `offset` (fewer at its
    /// end; none past it). For following a growing file.
    fn read_file_from(
        &self,
        path: &Path,
        offset: u64,
        max: usize,
    ) -> Result<Vec<u8>, ConnectorError> {
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

/// A job: a command to run somewhere, with what it was matched with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// A name for people (and job schedulers).
    pub name: String,
    /// The program and its arguments, verbatim (never joined into a shell
    /// string without quoting). Not empty.
    pub command: Vec<OsString>,
    /// Variables added to the environment the job inherits.
    pub env: Vec<(OsString, OsString)>,
    /// The working directory (the job directory when `None`).
    pub cwd: Option<PathBuf>,
    /// The requirement alternative the job was matched with: its cores,
    /// memory and accelerators, and its duration, which is a time limit.
    pub alternative: Alternative,
    /// The job directory, on the launcher's machine: it holds the job's
    /// script, stdout, stderr, exit code and state.
    pub dir: PathBuf,
    /// Whether the job must outlive the submitting process without it
    /// (a session of its own, nothing waits for it).
    pub detach: bool,
}

impl Job {
    /// A job running `command` (program first) in `dir`, with an empty
    /// requirement, named after the program.
    pub fn new<I, S>(dir: impl Into<PathBuf>, command: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let command: Vec<OsString> = command.into_iter().map(Into::into).collect();
        let name = command
            .first()
            .map(|p| {
                Path::new(p)
                    .file_name()
                    .map_or_else(|| p.to_string_lossy(), OsStr::to_string_lossy)
                    .into_owned()
            })
            .unwrap_or_default();
        Job {
            name,
            command,
            env: Vec::new(),
            cwd: None,
            alternative: Alternative::default(),
            dir: dir.into(),
            detach: false,
        }
    }

    /// Sets the name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the requirement alternative.
    #[must_use]
    pub fn alternative(mut self, alternative: Alternative) -> Self {
        self.alternative = alternative;
        self
    }

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

    /// Detaches (or attaches) the job.
    #[must_use]
    pub fn detach(mut self, detach: bool) -> Self {
        self.detach = detach;
        self
    }

    /// Checks what every launcher needs: a command, no NUL byte anywhere,
    /// environment names a shell can export.
    pub fn validate(&self) -> Result<(), JobError> {
        let bad = |reason: String| JobError::InvalidJob {
            name: self.name.clone(),
            reason,
        };
        if self.command.is_empty() {
            return Err(bad("the command is empty".into()));
        }
        for (i, word) in self.command.iter().enumerate() {
            if word.as_bytes().contains(&0) {
                return Err(bad(format!(
                    "command word {i} ({}) contains a NUL byte",
                    display_word(word)
                )));
            }
        }
        if self.command[0].is_empty() {
            return Err(bad("the program name is empty".into()));
        }
        for (name, value) in &self.env {
            let n = name.as_bytes();
            let valid = n
                .first()
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
                && n.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
            if !valid {
                return Err(bad(format!(
                    "environment variable name {} is not a valid name (letters, digits, `_`, not starting with a digit)",
                    display_word(name)
                )));
            }
            if value.as_bytes().contains(&0) {
                return Err(bad(format!(
                    "environment variable {} has a NUL byte in its value",
                    name.to_string_lossy()
                )));
            }
        }
        Ok(())
    }
}

/// Why a job failed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// The command exited with this non-zero code (a shell's `128 + N` when
    /// it was killed by signal N).
    ExitCode(i32),
    /// It ran past its time limit and was stopped.
    Timeout,
    /// It was cancelled.
    Cancelled,
    /// It vanished without an exit code (its supervisor was killed, the
    /// machine rebooted, ...).
    Lost,
    /// A reason given by a job scheduler (`PartitionTimeLimit`).
    Other(String),
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailReason::ExitCode(code) => write!(f, "exit code {code}"),
            FailReason::Timeout => f.write_str("timeout"),
            FailReason::Cancelled => f.write_str("cancelled"),
            FailReason::Lost => f.write_str("lost"),
            FailReason::Other(reason) => f.write_str(reason),
        }
    }
}

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting to start.
    Scheduled,
    /// Started, not ended.
    Running,
    /// Ended with exit code 0.
    Done,
    /// Ended otherwise.
    Failed(FailReason),
}

impl JobState {
    /// `scheduled`, `running`, `done` or `failed`.
    pub const fn name(&self) -> &'static str {
        match self {
            JobState::Scheduled => "scheduled",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed(_) => "failed",
        }
    }

    /// Whether the job has ended (done or failed).
    pub const fn is_final(&self) -> bool {
        matches!(self, JobState::Done | JobState::Failed(_))
    }

    /// The exit code, when the job ended with one (0 when done).
    pub const fn exit_code(&self) -> Option<i32> {
        match self {
            JobState::Done => Some(0),
            JobState::Failed(FailReason::ExitCode(code)) => Some(*code),
            _ => None,
        }
    }

    /// Why it failed, when it did.
    pub const fn reason(&self) -> Option<&FailReason> {
        match self {
            JobState::Failed(reason) => Some(reason),
            _ => None,
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobState::Failed(reason) => write!(f, "failed ({reason})"),
            other => f.write_str(other.name()),
        }
    }
}

/// Why a launcher or a job handle failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The connector failed.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// The job itself is wrong.
    #[error("invalid job `{name}`: {reason}")]
    InvalidJob {
        /// The job's name.
        name: String,
        /// What is wrong, naming the input.
        reason: String,
    },
    /// A directory that does not hold a job this launcher can follow.
    #[error("`{}` is not a job directory: {reason}", dir.display())]
    NotAJobDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
    /// An error of a launcher of its own kind. Its message is part of this
    /// one (and not a `source`), so that a report of the error chain does not
    /// say it twice.
    #[error("{launcher} launcher: {error}")]
    Launcher {
        /// The launcher's kind (`direct`, `dynamic`, `slurm`).
        launcher: &'static str,
        /// The launcher's own error.
        error: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A submitted job, followed from the process that submitted it or
/// recovered from its job directory.
pub trait JobHandle: Send + Sync + fmt::Debug {
    /// An identifier (the job directory for the direct launcher).
    fn id(&self) -> String;
    /// The job directory.
    fn dir(&self) -> &Path;
    /// Where the job is now.
    fn state(&self) -> Result<JobState, JobError>;
    /// Blocks until the job ends; its final state.
    fn wait(&self) -> Result<JobState, JobError>;
    /// Blocks at most `timeout`; the final state when the job ended by then.
    fn wait_timeout(&self, timeout: Duration) -> Result<Option<JobState>, JobError>;
    /// Stops the job (a job that has ended stays as it is). When this
    /// returns, the job has ended.
    fn cancel(&self) -> Result<(), JobError>;
}

/// Runs jobs somewhere.
pub trait Launcher: Send + Sync + fmt::Debug {
    /// The launcher's kind (`direct`, `dynamic`).
    fn kind(&self) -> &'static str;
    /// A line for people: what it runs jobs on.
    fn describe(&self) -> String;
    /// Its preference when a dynamic launcher chooses (higher is preferred).
    fn priority(&self) -> f64 {
        0.0
    }
    /// Submits a job.
    fn submit(&self, job: Job) -> Result<Box<dyn JobHandle>, JobError>;
    /// A handle on a job this kind of launcher submitted earlier, from its
    /// job directory alone (the submitting process may be gone).
    fn recover(&self, dir: &Path) -> Result<Box<dyn JobHandle>, JobError>;
}

impl<L: Launcher + ?Sized> Launcher for Arc<L> {
    fn kind(&self) -> &'static str {
        (**self).kind()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn priority(&self) -> f64 {
        (**self).priority()
    }
    fn submit(&self, job: Job) -> Result<Box<dyn JobHandle>, JobError> {
        (**self).submit(job)
    }
    fn recover(&self, dir: &Path) -> Result<Box<dyn JobHandle>, JobError> {
        (**self).recover(dir)
    }
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
    fn job_validation_names_the_input() {
        let ok = Job::new("/tmp/j", ["/bin/echo", "hi"]);
        assert_eq!(ok.name, "echo");
        ok.validate().unwrap();
        let empty = Job::new("/tmp/j", Vec::<OsString>::new()).name("e");
        assert!(empty.validate().unwrap_err().to_string().contains("empty"));
        let env = Job::new("/tmp/j", ["true"]).env("1BAD", "x");
        let err = env.validate().unwrap_err().to_string();
        assert!(err.contains("1BAD"), "{err}");
        let nul = Job::new("/tmp/j", ["true", "a\0b"]);
        assert!(nul.validate().unwrap_err().to_string().contains("word 1"));
    }

    #[test]
    fn states_and_reasons() {
        assert_eq!(JobState::Done.exit_code(), Some(0));
        let failed = JobState::Failed(FailReason::ExitCode(3));
        assert_eq!(failed.exit_code(), Some(3));
        assert_eq!(failed.to_string(), "failed (exit code 3)");
        assert_eq!(JobState::Failed(FailReason::Timeout).exit_code(), None);
        assert!(!JobState::Running.is_final());
        assert_eq!(
            FailReason::Other("PartitionTimeLimit".into()).to_string(),
            "PartitionTimeLimit"
        );
    }

    #[test]
    fn display_command_quotes_what_needs_it() {
        let spec = ProcessSpec::new("echo").args(["a b", "plain", "it's"]);
        assert_eq!(spec.display_command(), "echo 'a b' plain 'it'\\''s'");
    }
}
