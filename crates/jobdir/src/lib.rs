//! The job directory, shared by every launcher: a job's truth, from which
//! any process can recover its state.
//!
//! | file | written by | holds |
//! |---|---|---|
//! | [`META`] `job.json` | launcher | [`JobMeta`]: the launcher's kind, name, command, requirement, submitter, and what the launcher needs to follow it |
//! | [`SCRIPT`] `job.sh` | launcher | the POSIX `sh` script that runs the job ([`job_script`]; a launcher may put lines of its own in front) |
//! | [`PID`] `pid` | script, or the launcher that started it | first thing: supervisor pid (the job's process group), boot id, its `/proc` stat line (the launcher writes it at once when it can); then the command's pid and stat line (the script, or, when the script says its command's pid to the launcher that started it, that launcher) ([`PidFile`]) |
//! | [`STDOUT`], [`STDERR`] | command | its output (`stderr` also the supervisor's own complaints) |
//! | [`CANCEL`], [`TIMEOUT`] | canceller, watchdog | markers |
//! | [`STATE`] `state` | launcher at submission (blanks: the state's space, reserved), then the script (its line over them, in one write), or the launcher | `exited N`, `exited N nospace`, `timeout N`, `cancelled N`, `lost`, `error TEXT` ([`parse_state`]); blanks until the job ended ([`state_written`]) |
//!
//! A launcher may add files of its own (the Slurm launcher's job id, ...).
//! Every file goes through a [`Connector`](core_types::job::Connector), so
//! a job directory on another machine reads the same; the connector writes
//! each file whole (write, then rename), but for the files no one reads
//! before the job starts (`job.sh`, the blank `state`, the empty `stderr`),
//! written in place.
//!
//! ```
//! use core_types::job::{FailReason, Job, JobState};
//! use jobdir::{JobMeta, LauncherKind, LauncherMeta, parse_state, state_line};
//!
//! let job = Job::new("/jobs/1", ["echo", "hi"]);
//! let meta = JobMeta::of(&job, LauncherMeta::Direct { detach: false }, "local");
//! let bytes = serde_json::to_vec(&meta)?;
//! let again = JobMeta::parse(&bytes, std::path::Path::new("/jobs/1"))?;
//! assert_eq!(again.kind(), LauncherKind::Direct);
//! assert_eq!(again, meta);
//!
//! let failed = JobState::Failed(FailReason::ExitCode(3));
//! assert_eq!(state_line(&failed), "exited 3\n");
//! assert_eq!(parse_state(b"exited 3\n", std::path::Path::new("state"))?, failed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod dir;
mod meta;
mod process;
mod script;
mod state;

use std::path::PathBuf;

use core_types::job::ConnectorError;

pub use dir::{JobDir, read_meta};
pub use meta::{ArrayMeta, FORMAT, JobMeta, LauncherKind, LauncherMeta, SlurmMeta};
pub use process::{
    BOOT_ID, GIVEN_UP, Identity, PidFile, ProcStat, is_alive, local_host, parse_pid_file,
    parse_stat, spawned_pid_file, this_process,
};
pub use script::{ScriptSpec, job_script};
pub use state::{parse_state, state_line, state_written};

/// The environment variable holding a job's directory, set for its
/// command by every launcher.
pub const JOB_DIR_VAR: &str = "LAUNCH_JOB_DIR";

/// The job script's name.
pub const SCRIPT: &str = "job.sh";
/// The job description's name.
pub const META: &str = "job.json";
/// The supervisor's identity, written first thing, then the command's.
pub const PID: &str = "pid";
/// The final state. Made at submission as [`STATE_RESERVED_LEN`] blanks
/// (the state's space, reserved: a job that fills its disk still records
/// its end over them, in place, with no block to allocate); the job ended
/// once it holds a line ([`state_written`]).
pub const STATE: &str = "state";
/// The size of the blank [`STATE`] a launcher makes at submission, and of
/// the state the script writes (its line, padded with blanks, then a
/// newline), in one write.
pub const STATE_RESERVED_LEN: usize = 64;
/// The command's standard output.
pub const STDOUT: &str = "stdout";
/// The command's standard error.
pub const STDERR: &str = "stderr";
/// Written to ask for cancellation.
pub const CANCEL: &str = "cancel";
/// Written by the watchdog when the time limit fired.
pub const TIMEOUT: &str = "timeout";

/// A file name as it may be printed: control characters escaped.
fn printable(name: &std::ffi::OsStr) -> String {
    core_types::text::printable(&name.to_string_lossy()).into_owned()
}

/// Why a job directory cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JobDirError {
    /// The connector failed.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// A directory that holds no job.
    #[error("`{}` is not a job directory: {reason}", dir.display())]
    NotAJobDir {
        /// The directory.
        dir: PathBuf,
        /// Why (`it does not exist`, ...).
        reason: String,
    },
    /// A directory a new job cannot have.
    #[error("job directory `{}`: {reason}", dir.display())]
    InUse {
        /// The directory.
        dir: PathBuf,
        /// Why (`it already holds a job`, ...).
        reason: String,
    },
    /// A job of a launcher this version does not know.
    #[error("`{}` holds a job of the `{kind}` launcher, which this version does not know", dir.display())]
    UnknownLauncher {
        /// The directory.
        dir: PathBuf,
        /// The launcher's kind, as `job.json` names it.
        kind: String,
    },
    /// A `job.json` of a newer format.
    #[error("`{}` is of format {found}, newer than this version reads ({FORMAT})", path.display())]
    NewerFormat {
        /// The file.
        path: PathBuf,
        /// Its format.
        found: u64,
    },
    /// A `job.json` that is not what it should be.
    #[error("`{}` is corrupt", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// A file of a job directory that cannot be read as it should.
    #[error("`{}` is corrupt: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}
