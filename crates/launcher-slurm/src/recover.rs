//! A Slurm job recovered from its directory alone.

use std::path::Path;
use std::sync::Arc;

use core_types::job::{Connector, FailReason, JobState};

use crate::cluster::Cluster;
use crate::slurm_dir::{self, JobDir};
use crate::watcher::{self, Rules, Tracked};
use crate::{SlurmError, SlurmJob, SlurmLauncher};

/// A handle on the Slurm job in `dir`, on `connector`'s machine, from the
/// directory alone (any process, any time): its `job.json` names the job
/// id, the commands' directory and their environment.
pub fn recover(connector: Arc<dyn Connector>, dir: &Path) -> Result<SlurmJob, SlurmError> {
    let meta = slurm_dir::read_meta(connector.as_ref(), dir)?;
    let jobdir = JobDir::new(Arc::clone(&connector), dir);
    let cluster = Cluster::new(connector, meta.bin.clone(), meta.env.clone());
    let watcher = watcher::watcher_for(&cluster);
    let config = SlurmLauncher::default_config();
    let rules = Rules {
        unavailable_nodes_fatal: config.unavailable_nodes_fatal,
        settle: config.settle,
        node_grace: config.node_grace,
    };
    let id = match (&meta.job_id, &meta.array) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(array)) => match jobdir.array_task_id(array)? {
            Some(id) => Some(id),
            None => jobdir.started_id()?,
        },
        (None, None) => jobdir.started_id()?,
    };
    let tracked = if let Some(id) = id {
        watcher
            .get(&id)
            .unwrap_or_else(|| Arc::new(Tracked::new(id, jobdir, None)))
    } else {
        match unsaved(&meta, &jobdir, &cluster, dir)? {
            // `sbatch` took it, but its answer was not saved (the
            // submitter was killed): Slurm knows it by its directory.
            Unsaved::Found(id) => watcher
                .get(&id)
                .unwrap_or_else(|| Arc::new(Tracked::new(id, jobdir, None))),
            Unsaved::State(state) => Arc::new(Tracked::new(String::new(), jobdir, Some(state))),
        }
    };
    Ok(SlurmJob {
        tracked,
        watcher,
        interval: config.poll_interval,
        rules,
        retry: config.retry,
        cancel_timeout: config.cancel_timeout,
        followed: false,
    })
}

/// A job whose `job.json` has no Slurm id.
enum Unsaved {
    /// Slurm holds it under this id.
    Found(String),
    /// What can be said without an id.
    State(JobState),
}

/// A job without a saved id: what its directory says (it ran, it was
/// never submitted), else what Slurm says of a job in that directory, else
/// scheduled while its submitter lives and lost once it is gone.
fn unsaved(
    meta: &crate::slurm_dir::Meta,
    jobdir: &JobDir,
    cluster: &Cluster,
    dir: &Path,
) -> Result<Unsaved, SlurmError> {
    if let Some(state) = jobdir.decided()?.or(jobdir.wrapper_state()?) {
        return Ok(Unsaved::State(state));
    }
    if let Some(why) = &meta.submission_failed {
        return Ok(Unsaved::State(JobState::Failed(FailReason::Other(
            format!("submission failed: {why}"),
        ))));
    }
    let workdir = meta.array.as_ref().map_or(dir, |a| a.first.as_path());
    match cluster.submitted(&crate::cluster::Submission::new(
        meta.tag.as_deref(),
        workdir,
    )) {
        Ok(Some(base)) => {
            return Ok(Unsaved::Found(match &meta.array {
                Some(array) => format!("{base}_{}", array.index),
                None => base,
            }));
        }
        // Slurm cannot be asked now: not final either way.
        Err(_) => return Ok(Unsaved::State(JobState::Scheduled)),
        Ok(None) => {}
    }
    let gone = meta
        .submitter
        .as_ref()
        .and_then(jobdir::Identity::alive_here)
        == Some(false);
    Ok(Unsaved::State(if gone {
        JobState::Failed(FailReason::Lost)
    } else {
        JobState::Scheduled
    }))
}
