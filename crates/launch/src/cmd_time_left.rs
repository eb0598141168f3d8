//! `launch time-left`: inside a job, the seconds left before its time
//! limit, or `unlimited`; outside a job, exit 2.
//!
//! A job of the direct launcher: its duration from `job.json`, from the
//! time its command started (when the job script recorded its pid). A Slurm
//! job: Slurm's end time (`SLURM_JOB_END_TIME`, else `squeue`).

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use jobdir::LauncherKind;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// What is left of a time limit of `limit` seconds (0: none) started at
/// `start`, at `now`.
fn left(limit: u64, start: SystemTime, now: SystemTime) -> Option<Duration> {
    if limit == 0 {
        return None;
    }
    let spent = now.duration_since(start).unwrap_or_default();
    Some(Duration::from_secs(limit).saturating_sub(spent))
}

/// A direct job's time left: `Ok(None)` when unlimited.
fn direct(dir: &Path, limit: u64) -> Result<Option<Duration>> {
    let pid = dir.join(jobdir::PID);
    // The job script appends the command's part when it starts it, so the
    // file's time is the command's start (the limit's).
    let start = std::fs::metadata(&pid)
        .and_then(|m| m.modified())
        .with_context(|| format!("cannot read `{}`", pid.display()))?;
    Ok(left(limit, start, SystemTime::now()))
}

fn print(left: Option<Duration>) -> Result<ExitCode> {
    match left {
        Some(left) => outln!("{}", left.as_secs())?,
        None => outln!("unlimited")?,
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run(_: &Args) -> Result<ExitCode> {
    if let Some(dir) = std::env::var_os(jobdir::JOB_DIR_VAR).filter(|d| !d.is_empty()) {
        let dir = Path::new(&dir);
        let meta = jobdir::read_meta(connector_local::LocalConnector::shared().as_ref(), dir)?;
        return print(match meta.kind() {
            LauncherKind::Direct => direct(dir, meta.time_limit_s)?,
            LauncherKind::Slurm => launcher_slurm::remaining_time()?,
        });
    }
    if std::env::var_os("SLURM_JOB_ID").is_some() {
        return print(launcher_slurm::remaining_time()?);
    }
    eprintln!(
        "launch time-left: not inside a job (neither {} nor SLURM_JOB_ID is set)",
        jobdir::JOB_DIR_VAR
    );
    Ok(ExitCode::from(crate::EXIT_BAD_INPUT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_of_a_limit() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let at = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(left(60, start, at(130)), Some(Duration::from_secs(30)));
        assert_eq!(left(60, start, at(200)), Some(Duration::ZERO));
        assert_eq!(left(0, start, at(130)), None);
        assert_eq!(left(60, start, at(50)), Some(Duration::from_secs(60)));
    }
}
