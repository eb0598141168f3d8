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
        {
            // sbatch was running when the submitter stopped: the job may
            // never have reached Slurm.
            let state = match jobdir.decided()?.or(jobdir.wrapper_state()?) {
                Some(state) => state,
                None if meta
                    .submitter
                    .as_ref()
                    .and_then(jobdir::Identity::alive_here)
                    == Some(false) =>
                {
                    JobState::Failed(FailReason::Lost)
                }
                None => JobState::Scheduled,
            };
            Arc::new(Tracked::new(String::new(), jobdir, Some(state)))
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
