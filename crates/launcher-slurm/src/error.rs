//! The Slurm launcher's error.

use std::path::PathBuf;
use std::time::Duration;

use core_types::job::{ConnectorError, JobError};
use jobdir::JobDirError;

use crate::parse;

/// Why the Slurm launcher failed.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    /// A Slurm command, or a file of the job directory, could not be
    /// reached through the connector.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// The job directory (its `job.json`, state or script) is not as it
    /// should be.
    #[error(transparent)]
    JobDir(#[from] JobDirError),
    /// The job itself is wrong (an empty command, a NUL byte, a bad
    /// variable name).
    #[error(transparent)]
    Job(#[from] JobError),
    /// An option that cannot be set, or a value that does not fit it.
    #[error(transparent)]
    Options(#[from] slurm_options::OptionError),
    /// `sbatch` refused the job (or kept failing while Slurm was busy).
    #[error(
        "sbatch refused the job: {message}\n(`{command}` failed with {status} after {attempts} attempt(s))"
    )]
    Submit {
        /// What Slurm said (its stderr).
        message: String,
        /// The command line.
        command: String,
        /// How it ended.
        status: String,
        /// How many times it was tried.
        attempts: u32,
    },
    /// A query (`squeue`, `sacct`, `scontrol`) failed.
    #[error("cannot ask Slurm about jobs: {message}")]
    Query {
        /// What failed, with Slurm's message.
        message: String,
        /// Whether it may pass (the controller busy or restarting).
        transient: bool,
    },
    /// `scancel` failed.
    #[error("cannot cancel Slurm job {job}: {message}")]
    Cancel {
        /// The job id.
        job: String,
        /// What failed.
        message: String,
    },
    /// A Slurm command printed something unexpected.
    #[error(transparent)]
    Parse(parse::ParseError),
    /// The job directory is unusable.
    #[error("job directory `{}`: {reason}", dir.display())]
    BadJobDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
    /// Not a job directory of the Slurm launcher.
    #[error("`{}` is not a job directory of the Slurm launcher: {reason}", dir.display())]
    NotAJobDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file of a job directory that cannot be read as it should.
    #[error("`{}` is corrupt: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A job array that cannot be submitted as asked.
    #[error("invalid job array: {0}")]
    InvalidArray(String),
    /// Slurm did not confirm a cancellation in time.
    #[error(
        "scancel was sent for Slurm job {job}, but Slurm did not confirm its end within {waited:?}"
    )]
    CancelNotConfirmed {
        /// The job id.
        job: String,
        /// How long it waited.
        waited: Duration,
    },
}

impl From<SlurmError> for JobError {
    fn from(e: SlurmError) -> JobError {
        // What every launcher's errors share goes to JobError's own
        // variants; the rest is this launcher's, kept as the cause.
        let other = match e {
            SlurmError::Job(e) => return e,
            SlurmError::NotAJobDir { dir, reason } => return JobError::NotAJobDir { dir, reason },
            SlurmError::Connector(e) | SlurmError::JobDir(JobDirError::Connector(e)) => {
                return JobError::Connector(e);
            }
            other => other,
        };
        JobError::Launcher {
            launcher: "slurm",
            source: Box::new(other),
        }
    }
}
