//! The Slurm launcher: jobs submitted with `sbatch`, followed by one shared
//! watcher per cluster, recovered from their job directory by any process.
//!
//! A [`SlurmLauncher`] holds typed `sbatch` options ([`SlurmOptions`], the
//! `slurm-options` crate's one model), a priority, a connector (every Slurm command and file goes
//! through it, so a remote cluster works the same), the directory of the
//! Slurm commands, an environment for them, and a poll interval.
//! [`SlurmLauncher::config`] derives a launcher with more options and
//! keeps everything else.
//!
//! Submitting writes an sbatch script into the job directory: `#SBATCH`
//! lines from the options and from the job's requirement (time, GPUs,
//! memory, cores: only where no option says it already), then the job
//! script every launcher runs ([`jobdir::job_script`]), which runs the
//! command with its arguments verbatim and records its exit code. `sbatch --parsable` is retried with backoff
//! while Slurm is busy; a permanent failure carries Slurm's message. Many
//! jobs with the same options go out as one job array
//! ([`SlurmLauncher::submit_array`]).
//!
//! Every job of a cluster is followed by one watcher thread: one `squeue`
//! call per round for all of them, one `sacct` call for those that left
//! the queue when the cluster keeps accounting; without accounting the
//! job's state file (and `scontrol`) decide. Every Slurm state is mapped
//! ([`state::phase`]); a job pending for a reason that means never
//! ([`state::FATAL_REASONS`]) is cancelled and fails with that reason.
//!
//! ```no_run
//! use core_types::job::{Job, JobHandle, JobState, Launcher};
//! use launcher_slurm::{SlurmLauncher, SlurmOptions};
//!
//! let launcher = SlurmLauncher::new(connector_local::LocalConnector::shared())
//!     .options(SlurmOptions::default().partition("main"))
//!     .priority(10.0);
//! let gpu = launcher.config(&SlurmOptions::default().gpus_per_node("1"));
//! let job = gpu.submit(Job::new("/scratch/jobs/1", ["nvidia-smi"]))?;
//! assert_eq!(job.wait()?, JobState::Done);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Without a cluster, the pure parts run anywhere:
//!
//! ```
//! use launcher_slurm::{SlurmOptions, parse, state};
//!
//! let mut options = SlurmOptions::default().partition("gpu");
//! options.merge(&SlurmOptions::default().time("1:00:00"));
//! assert_eq!(options.to_args(), ["--partition=gpu", "--time=1:00:00"]);
//! assert!(options.set("gpu-per-node", "2").unwrap_err().to_string().contains("did you mean `gpus-per-node`"));
//!
//! let rows = parse::squeue("12|PENDING|PartitionTimeLimit\n13_0|RUNNING|None\n")?;
//! assert_eq!(rows[1].id, "13_0");
//! assert_eq!(state::fatal_reason(&rows[0].reason, true).as_deref(), Some("PartitionTimeLimit"));
//! assert_eq!(parse::slurm_time("1-00:00:00")?, Some(86_400));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod access;
mod array;
mod cluster;
pub mod discover;
mod error;
mod follow;
mod gpu_models;
mod handle;
mod kinds;
mod launcher;
pub mod options;
pub mod parse;
pub mod probe;
mod recover;
mod remaining;
pub mod script;
mod slurm_dir;
pub mod state;
mod submit;
mod watcher;

pub use cluster::{RetryPolicy, is_transient};
pub use error::SlurmError;
pub use handle::{SlurmJob, states};
pub use launcher::SlurmLauncher;
pub use recover::recover;
pub use remaining::{remaining_time, time_left};
pub use slurm_dir::LAUNCHER;
pub use slurm_options::{OptionError, SlurmOptions, SlurmValue};

/// The environment variable holding a job's directory (as for every
/// launcher).
pub use jobdir::JOB_DIR_VAR;
