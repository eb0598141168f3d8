//! A task of an array that its `launch` process has not submitted yet (it
//! keeps to `%N` itself): it waits while that process lives, and is
//! followed as the job it becomes once submitted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use core_types::job::{Connector, FailReason, JobError, JobHandle, JobState};

/// A task not submitted (yet).
#[derive(Debug)]
pub(crate) struct Unsubmitted {
    connector: Arc<dyn Connector>,
    dir: PathBuf,
    /// Whether the process that submits the array's tasks still runs.
    submitter_alive: bool,
    throttle: Option<u32>,
}

/// What that task is now.
enum Now {
    /// Submitted since: its state.
    Submitted(JobState),
    /// Still waiting.
    Waiting,
    /// It never will be.
    Never(JobState),
}

impl Unsubmitted {
    pub(crate) fn new(connector: Arc<dyn Connector>, dir: &Path, file: &jobset::ArrayFile) -> Self {
        Unsubmitted {
            connector,
            dir: dir.to_path_buf(),
            submitter_alive: file
                .submitter
                .as_ref()
                .and_then(jobdir::Identity::alive_here)
                .unwrap_or(false),
            throttle: file.throttle,
        }
    }

    /// Why it waits.
    pub(crate) fn waiting_reason(&self) -> String {
        match self.throttle {
            Some(n) => format!("waiting for its turn in the array (%{n})"),
            None => "waiting to be submitted".into(),
        }
    }

    fn now(&self) -> Result<Now, JobError> {
        let files = jobdir::JobDir::new(Arc::clone(&self.connector), &self.dir);
        if files.exists(jobdir::META).map_err(boxed)? {
            let found =
                crate::jobs::recover_in(Arc::clone(&self.connector), &self.dir).map_err(|e| {
                    JobError::NotAJobDir {
                        dir: self.dir.clone(),
                        reason: crate::report(&e),
                    }
                })?;
            return Ok(Now::Submitted(found.job.handle().state()?));
        }
        if let Some(state) = files.final_state().map_err(boxed)? {
            return Ok(Now::Never(state));
        }
        Ok(if self.submitter_alive {
            Now::Waiting
        } else {
            Now::Never(JobState::Failed(FailReason::Lost))
        })
    }
}

fn boxed(e: jobdir::JobDirError) -> JobError {
    JobError::Launcher {
        launcher: "array",
        source: Box::new(e),
    }
}

impl JobHandle for Unsubmitted {
    fn id(&self) -> String {
        self.dir.display().to_string()
    }

    fn dir(&self) -> &Path {
        &self.dir
    }

    fn state(&self) -> Result<JobState, JobError> {
        Ok(match self.now()? {
            Now::Submitted(state) | Now::Never(state) => state,
            Now::Waiting => JobState::Scheduled,
        })
    }

    fn wait(&self) -> Result<JobState, JobError> {
        loop {
            if let Some(state) = self.wait_timeout(Duration::from_secs(3600))? {
                return Ok(state);
            }
        }
    }

    fn wait_timeout(&self, timeout: Duration) -> Result<Option<JobState>, JobError> {
        let start = Instant::now();
        loop {
            let state = self.state()?;
            if state.is_final() {
                return Ok(Some(state));
            }
            if start.elapsed() >= timeout {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(100).min(timeout));
        }
    }

    /// Marks it cancelled: the process that submits the array's tasks
    /// skips it (and a job script that starts in its directory ends at
    /// once); one submitted since is cancelled as a job.
    fn cancel(&self) -> Result<(), JobError> {
        if let Now::Submitted(state) = self.now()? {
            if !state.is_final() {
                let found = crate::jobs::recover_in(Arc::clone(&self.connector), &self.dir)
                    .map_err(|e| JobError::NotAJobDir {
                        dir: self.dir.clone(),
                        reason: crate::report(&e),
                    })?;
                return found.job.handle().cancel();
            }
            return Ok(());
        }
        mark_cancelled(&self.connector, &self.dir)
    }
}

/// Marks a task that was not submitted cancelled, in its directory (made
/// for it): the `cancel` marker and the final state.
pub(crate) fn mark_cancelled(connector: &Arc<dyn Connector>, dir: &Path) -> Result<(), JobError> {
    let files = jobdir::JobDir::new(Arc::clone(connector), dir);
    connector.create_dir_all(dir)?;
    files.write(jobdir::CANCEL, b"").map_err(boxed)?;
    files
        .write_state(&JobState::Failed(FailReason::Cancelled))
        .map_err(boxed)
}
