//! The remaining time of the Slurm job this code runs in.

use std::time::Duration;

use crate::cluster::Cluster;
use crate::{SlurmError, parse};

/// The remaining time of the Slurm job this code runs in: `Ok(None)` when
/// it does not run in one, or its time is unlimited. From
/// `SLURM_JOB_END_TIME` when Slurm sets it (23.02 and later), else from
/// `squeue --format=%L` for `SLURM_JOB_ID`.
pub fn remaining_time() -> Result<Option<Duration>, SlurmError> {
    if let Some(end) = std::env::var("SLURM_JOB_END_TIME")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        return Ok(Some(Duration::from_secs(end.saturating_sub(now))));
    }
    let Ok(id) = std::env::var("SLURM_JOB_ID") else {
        return Ok(None);
    };
    let cluster = Cluster::new(connector_local::LocalConnector::shared(), None, Vec::new());
    let out = cluster
        .run(
            "squeue",
            ["--noheader", "--format=%L", &format!("--jobs={id}")],
            None,
        )
        .map_err(|e| SlurmError::Query {
            message: e.to_string(),
            transient: false,
        })?;
    time_left(&String::from_utf8_lossy(&out.stdout))
}

/// Reads `squeue --format=%L` (time left): `Ok(None)` when unlimited.
pub fn time_left(text: &str) -> Result<Option<Duration>, SlurmError> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if matches!(line, "NOT_SET" | "INVALID" | "") {
        return Err(SlurmError::Parse(parse::ParseError {
            what: "squeue %L",
            reason: "no time left known".into(),
            line: line.to_owned(),
        }));
    }
    Ok(parse::slurm_time(line)
        .map_err(SlurmError::Parse)?
        .map(Duration::from_secs))
}
