//! The handle on a Slurm job.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use core_types::job::{FailReason, JobError, JobHandle, JobState};

use crate::cluster::{RetryPolicy, is_transient};
use crate::watcher::{self, Rules, Tracked, Watcher};
use crate::{SlurmError, follow};

/// A Slurm job: submitted by this process, or recovered from its job
/// directory.
#[derive(Debug)]
pub struct SlurmJob {
    pub(crate) tracked: Arc<Tracked>,
    pub(crate) watcher: Arc<Watcher>,
    pub(crate) interval: Duration,
    pub(crate) rules: Rules,
    pub(crate) retry: RetryPolicy,
    pub(crate) cancel_timeout: Duration,
    pub(crate) followed: bool,
}

impl SlurmJob {
    /// The Slurm job id (`123`, or `13_2` for an array task; empty when
    /// the submission never got one).
    pub fn slurm_id(&self) -> &str {
        &self.tracked.id
    }

    /// Sets how often it is polled while waited for.
    #[must_use]
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Sets how long [`cancel`](JobHandle::cancel) waits for Slurm to
    /// confirm.
    #[must_use]
    pub fn with_cancel_timeout(mut self, timeout: Duration) -> Self {
        self.cancel_timeout = timeout;
        self
    }

    /// The last thing that went wrong following the job (Slurm
    /// unreachable, ...), when something did.
    pub fn last_error(&self) -> Option<String> {
        self.tracked.status.lock().last_error.clone()
    }

    /// Makes sure the shared watcher follows the job.
    fn ensure_followed(&self) -> Arc<Tracked> {
        if self.tracked.id.is_empty() || self.tracked.final_state().is_some() {
            return Arc::clone(&self.tracked);
        }
        self.watcher
            .track(Arc::clone(&self.tracked), self.interval, self.rules)
    }

    /// One round for this job alone: what Slurm and the directory say now.
    fn look_now(&self) -> Result<JobState, SlurmError> {
        if let Some(state) = self.tracked.final_state() {
            return Ok(state);
        }
        if self.tracked.id.is_empty() {
            return Ok(self.tracked.status.lock().state.clone());
        }
        let seen = follow::observe(
            &self.watcher.cluster,
            std::slice::from_ref(&self.tracked.id),
        );
        self.look_with(seen.get(&self.tracked.id))
    }

    /// What `seen` (one round's answer for this job, `None`: Slurm did
    /// not name it) and the directory make of its state now.
    fn look_with(&self, seen: Option<&follow::Seen>) -> Result<JobState, SlurmError> {
        let cluster = &self.watcher.cluster;
        let seen = seen.cloned().unwrap_or(follow::Seen::Forgotten);
        watcher::note_reason(&self.tracked, &seen);
        if let follow::Seen::Unreachable(message) = &seen {
            // Only the files can say something: a final state, or nothing.
            if let Some(state) = self
                .tracked
                .dir
                .decided()?
                .or(self.tracked.dir.wrapper_state()?)
            {
                return Ok(state);
            }
            return Err(SlurmError::Query {
                message: message.clone(),
                transient: true,
            });
        }
        let latest = || follow::latest_run(cluster, &self.tracked.id);
        let verdict = follow::decide(
            &seen,
            &self.tracked.dir,
            self.rules.unavailable_nodes_fatal,
            &latest,
        )?;
        let verdict = match verdict {
            // A single look cannot wait for Slurm to requeue: still running.
            follow::Verdict::Interrupted(_) => follow::Verdict::State(JobState::Running),
            // Nor tell a lasting unavailability from a passing one.
            follow::Verdict::Unavailable(_) => follow::Verdict::State(JobState::Scheduled),
            // A single look: the files were read just now.
            follow::Verdict::Vanished => follow::Verdict::State(JobState::Failed(FailReason::Lost)),
            other => other,
        };
        watcher::apply(cluster, &self.tracked, Ok(verdict), self.rules);
        Ok(self.tracked.status.lock().state.clone())
    }
}

/// The state of each job now, as [`JobHandle::state`] says it, with one
/// round of queries per cluster for all of them (one `squeue`, one `sacct`)
/// instead of one per job; in the order of `jobs`.
pub fn states(jobs: &[&SlurmJob]) -> Vec<Result<JobState, SlurmError>> {
    let mut out: Vec<Option<Result<JobState, SlurmError>>> = jobs.iter().map(|_| None).collect();
    // The jobs Slurm must be asked about, by cluster (one watcher each).
    let mut clusters: Vec<(Arc<Watcher>, Vec<usize>)> = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let known = {
            let status = job.tracked.status.lock();
            (status.state.is_final() || (status.known && job.followed))
                .then(|| status.state.clone())
        };
        // A state the launcher recorded is final: Slurm need not be asked.
        let recorded = || -> Option<JobState> { job.tracked.dir.decided().unwrap_or_default() };
        if let Some(state) = known.or_else(recorded).or_else(|| {
            job.tracked
                .id
                .is_empty()
                .then(|| job.tracked.status.lock().state.clone())
        }) {
            out[i] = Some(Ok(state));
            continue;
        }
        match clusters
            .iter_mut()
            .find(|(w, _)| Arc::ptr_eq(w, &job.watcher))
        {
            Some((_, members)) => members.push(i),
            None => clusters.push((Arc::clone(&job.watcher), vec![i])),
        }
    }
    for (watcher, members) in clusters {
        let ids: Vec<String> = members
            .iter()
            .map(|&i| jobs[i].tracked.id.clone())
            .collect();
        let seen = follow::observe(&watcher.cluster, &ids);
        for &i in &members {
            out[i] = Some(jobs[i].look_with(seen.get(&jobs[i].tracked.id)));
        }
    }
    out.into_iter()
        .map(|state| state.expect("every job was looked at"))
        .collect()
}

impl JobHandle for SlurmJob {
    fn id(&self) -> String {
        self.tracked.id.clone()
    }

    fn dir(&self) -> &Path {
        self.tracked.dir.dir()
    }

    fn state(&self) -> Result<JobState, JobError> {
        let (known, state) = {
            let status = self.tracked.status.lock();
            (status.known, status.state.clone())
        };
        if state.is_final() || (known && self.followed) {
            return Ok(state);
        }
        Ok(self.look_now()?)
    }

    fn wait(&self) -> Result<JobState, JobError> {
        let tracked = self.ensure_followed();
        Ok(tracked
            .wait(None)
            .expect("waiting without a timeout ends with a state"))
    }

    fn wait_timeout(&self, timeout: Duration) -> Result<Option<JobState>, JobError> {
        let tracked = self.ensure_followed();
        Ok(tracked.wait(Some(timeout)))
    }

    fn pending_reason(&self) -> Option<String> {
        let status = self.tracked.status.lock();
        (status.state == JobState::Scheduled)
            .then(|| status.pending_reason.clone())
            .flatten()
    }

    fn cancel(&self) -> Result<(), JobError> {
        if self.tracked.final_state().is_some() || self.tracked.id.is_empty() {
            return Ok(());
        }
        self.tracked.dir.mark_cancelled().map_err(JobError::from)?;
        let cluster = &self.watcher.cluster;
        let mut attempt = 1;
        loop {
            std::thread::sleep(self.retry.delay(attempt));
            match cluster.scancel(&self.tracked.id) {
                Ok(()) => break,
                Err(SlurmError::Cancel { message, .. })
                    if is_transient(&message) && attempt < self.retry.attempts =>
                {
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let tracked = self.ensure_followed();
        let start = Instant::now();
        match tracked.wait(Some(self.cancel_timeout)) {
            Some(_) => Ok(()),
            None => Err(SlurmError::CancelNotConfirmed {
                job: self.tracked.id.clone(),
                waited: start.elapsed(),
            }
            .into()),
        }
    }
}
