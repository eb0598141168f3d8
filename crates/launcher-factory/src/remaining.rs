//! The time left of the job this code runs in, whatever its launcher: the
//! one helper for code that wants to stop in time (checkpoint, then exit).

use std::path::Path;
use std::time::{Duration, SystemTime};

use jobdir::LauncherKind;

use crate::BuildError;

/// What is left of a job's time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeLeft {
    /// This long (zero once it passed).
    Left(Duration),
    /// The job has no time limit.
    Unlimited,
}

/// What is left of a time limit of `limit_s` seconds (0: none) started at
/// `start`, at `now`.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use launcher_factory::{TimeLeft, time_left_of};
///
/// let start = SystemTime::UNIX_EPOCH;
/// let now = start + Duration::from_secs(30);
/// assert_eq!(time_left_of(60, start, now), TimeLeft::Left(Duration::from_secs(30)));
/// assert_eq!(time_left_of(10, start, now), TimeLeft::Left(Duration::ZERO));
/// assert_eq!(time_left_of(0, start, now), TimeLeft::Unlimited);
/// ```
pub fn time_left_of(limit_s: u64, start: SystemTime, now: SystemTime) -> TimeLeft {
    if limit_s == 0 {
        return TimeLeft::Unlimited;
    }
    let spent = now.duration_since(start).unwrap_or_default();
    TimeLeft::Left(Duration::from_secs(limit_s).saturating_sub(spent))
}

fn failed(e: impl std::error::Error + Send + Sync + 'static) -> BuildError {
    BuildError::TimeLeft(Box::new(e))
}

/// The time left of the job this process runs in: `Ok(None)` outside a
/// job. The job is the one of `$LAUNCH_JOB_DIR` (set by every launcher):
/// a direct job's limit is its duration (`job.json`) from when its command
/// started (when the job script recorded its pid); a Slurm job's is
/// Slurm's end time ([`launcher_slurm::remaining_time`]). Without
/// `$LAUNCH_JOB_DIR`, a Slurm job of `$SLURM_JOB_ID`.
pub fn time_left() -> Result<Option<TimeLeft>, BuildError> {
    if let Some(dir) = std::env::var_os(jobdir::JOB_DIR_VAR).filter(|d| !d.is_empty()) {
        let dir = Path::new(&dir);
        let meta = jobdir::read_meta(connector_local::LocalConnector::shared().as_ref(), dir)
            .map_err(failed)?;
        return match meta.kind() {
            LauncherKind::Direct => {
                // The job script appends the command's part to `pid` when
                // it starts it: the file's time is the limit's start.
                let start = std::fs::metadata(dir.join(jobdir::PID))
                    .and_then(|m| m.modified())
                    .map_err(failed)?;
                Ok(Some(time_left_of(
                    meta.time_limit_s,
                    start,
                    SystemTime::now(),
                )))
            }
            LauncherKind::Slurm => slurm(),
        };
    }
    if std::env::var_os("SLURM_JOB_ID").is_some() {
        return slurm();
    }
    Ok(None)
}

#[cfg(feature = "slurm")]
fn slurm() -> Result<Option<TimeLeft>, BuildError> {
    Ok(Some(
        launcher_slurm::remaining_time()
            .map_err(failed)?
            .map_or(TimeLeft::Unlimited, TimeLeft::Left),
    ))
}

#[cfg(not(feature = "slurm"))]
fn slurm() -> Result<Option<TimeLeft>, BuildError> {
    Err(BuildError::NotAvailable(
        "this build has no Slurm launcher (feature `slurm`) to tell a Slurm job's time left".into(),
    ))
}
