//! Running jobs: what a job is ([`Job`]), how a launcher runs jobs
//! ([`Launcher`]) and how a caller follows one ([`JobHandle`]).
//!
//! The upper of the two layers of the job model: launchers reach machines
//! through the [`connector`](crate::connector) layer, whose items are
//! re-exported here (`core_types::job::Connector` and friends). Only the
//! vocabulary lives here; the implementations (the direct, Slurm and
//! dynamic launchers) are crates of their own.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::Alternative;
pub use crate::connector::{
    Connector, ConnectorError, ConnectorResult, Process, ProcessExit, ProcessOutput, ProcessSpec,
    Signal, SignalTarget, StdioSpec, display_word, shell_quote,
};
pub use crate::start::{Choose, DEFAULT_REFRESH, Start, StartEstimate};

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
    /// Tokens the job holds for its life, as `(name, count)`: named
    /// counters of the launcher file (`[token.NAME]`), counted on the job's
    /// machine by the direct launcher.
    pub tokens: Vec<(String, u32)>,
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
            tokens: Vec::new(),
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

    crate::connector::env_and_cwd_setters!();

    /// Detaches (or attaches) the job.
    #[must_use]
    pub fn detach(mut self, detach: bool) -> Self {
        self.detach = detach;
        self
    }

    /// Takes `count` of the token `name` for the job's life.
    #[must_use]
    pub fn token(mut self, name: impl Into<String>, count: u32) -> Self {
        self.tokens.push((name.into(), count));
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
        if self.alternative.duration.seconds() > MAX_TIME_LIMIT_SECONDS {
            return Err(bad(format!(
                "its duration ({}) is longer than any launcher can enforce (at most {} seconds, \
                 about 68 years)",
                self.alternative.duration, MAX_TIME_LIMIT_SECONDS
            )));
        }
        Ok(())
    }
}

/// The longest time limit a job may have, in seconds (2³¹ − 1, about 68
/// years): what every launcher can enforce (a POSIX shell's arithmetic,
/// `sleep`, Slurm's time limit); a longer one is refused rather than
/// dropped.
pub const MAX_TIME_LIMIT_SECONDS: u64 = i32::MAX as u64;

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
    /// It ended with this exit code (0 included) while its job directory's
    /// filesystem had no space left (full, or over quota), so its output
    /// may be cut short.
    NoSpace(i32),
}

/// The operating system's words for `ENOSPC`, which the reason of a job
/// that filled its disk names.
pub const NO_SPACE: &str = "No space left on device";

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailReason::ExitCode(code) => write!(f, "exit code {code}"),
            FailReason::Timeout => f.write_str("timeout"),
            FailReason::Cancelled => f.write_str("cancelled"),
            FailReason::Lost => f.write_str("lost"),
            FailReason::Other(reason) => f.write_str(reason),
            FailReason::NoSpace(code) => {
                write!(f, "exit code {code}, {NO_SPACE} in the job directory")
            }
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
            JobState::Failed(FailReason::ExitCode(code) | FailReason::NoSpace(code)) => Some(*code),
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
    /// An error of a launcher of its own kind, its cause (the message
    /// names only the launcher; [`report`] says the whole chain).
    #[error("{launcher} launcher")]
    Launcher {
        /// The launcher's kind (`direct`, `dynamic`, `slurm`).
        launcher: &'static str,
        /// The launcher's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// An error and its causes for people, `: `-joined (no error of the
/// workspace repeats its cause's text, so each is said once).
///
/// ```
/// use core_types::job::{JobError, report};
///
/// let cause = std::io::Error::other("disk on fire");
/// let err = JobError::Launcher { launcher: "direct", source: Box::new(cause) };
/// assert_eq!(err.to_string(), "direct launcher");
/// assert_eq!(report(&err), "direct launcher: disk on fire");
/// ```
pub fn report(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    let mut cause = Some(err);
    while let Some(e) = cause {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
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
    /// Why a scheduled job waits, as its scheduler says it (Slurm's pending
    /// reason: `PartitionDown`, `Resources`, `Priority` ...), as of the
    /// last [`state`](Self::state) or poll; `None` when it says nothing
    /// (or the job is not waiting).
    fn pending_reason(&self) -> Option<String> {
        None
    }
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
    /// Submits `jobs`, `(index, job)` pairs with unique indices, as one
    /// array of the launcher's own (a Slurm job array: one submission, each
    /// index its task id), at most `throttle` of them running at once; the
    /// handles in the order of `jobs`. `None` when the launcher has no
    /// arrays of its own: the caller then submits each job, and keeps to
    /// the throttle itself.
    fn submit_array(
        &self,
        jobs: Vec<(u64, Job)>,
        throttle: Option<u32>,
    ) -> Option<ArraySubmission> {
        let _ = (jobs, throttle);
        None
    }
    /// When `job` would start here, asked without submitting anything
    /// (`sbatch --test-only`, the machine's ledger): what a dynamic
    /// launcher choosing the earliest start asks each member. `None` when
    /// this launcher cannot tell; `Some(Err)` when asking failed.
    fn expected_start(&self, job: &Job) -> Option<Result<StartEstimate, JobError>> {
        let _ = job;
        None
    }
}

/// The handles of an array's tasks, in the order of its jobs.
pub type ArraySubmission = Result<Vec<Box<dyn JobHandle>>, JobError>;

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
    fn submit_array(
        &self,
        jobs: Vec<(u64, Job)>,
        throttle: Option<u32>,
    ) -> Option<ArraySubmission> {
        (**self).submit_array(jobs, throttle)
    }
    fn expected_start(&self, job: &Job) -> Option<Result<StartEstimate, JobError>> {
        (**self).expected_start(job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
