//! One watcher per cluster (connector, commands' directory, environment),
//! shared by every job of that cluster in the process: each round is one
//! `squeue` call for all the jobs it follows (plus `sacct` for those that
//! left the queue, when there is accounting). Its thread runs while it
//! follows jobs.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use parking_lot::{Condvar, Mutex};
use std::time::{Duration, Instant};

use core_types::job::{FailReason, JobState};

use crate::SlurmError;
use crate::cluster::{Cluster, ClusterKey};
use crate::follow::{self, Verdict};
use crate::slurm_dir::JobDir;

/// How a followed job stands.
#[derive(Debug)]
pub(crate) struct Status {
    /// Its state as last decided.
    pub state: JobState,
    /// Whether a round (or the submission) decided it at least once.
    pub known: bool,
    /// Preempted or node failure: the name, since when.
    pub interrupted: Option<(String, Instant)>,
    /// Pending on unavailable nodes: the reason, since when.
    pub unavailable: Option<(String, Instant)>,
    /// Rounds in a row that found neither the job nor its state file.
    pub vanished_rounds: u32,
    /// The fatal pending reason it was cancelled for.
    pub fatal: Option<String>,
    /// The last thing that went wrong following it.
    pub last_error: Option<String>,
    /// Slurm's reason while it is pending (`PartitionDown`, `Resources`).
    pub pending_reason: Option<String>,
}

/// A job this process follows.
#[derive(Debug)]
pub(crate) struct Tracked {
    pub id: String,
    pub dir: JobDir,
    pub status: Mutex<Status>,
    pub cond: Condvar,
}

impl Tracked {
    pub(crate) fn new(id: String, dir: JobDir, state: Option<JobState>) -> Self {
        Tracked {
            id,
            dir,
            status: Mutex::new(Status {
                known: state.is_some(),
                state: state.unwrap_or(JobState::Scheduled),
                interrupted: None,
                unavailable: None,
                vanished_rounds: 0,
                fatal: None,
                last_error: None,
                pending_reason: None,
            }),
            cond: Condvar::new(),
        }
    }

    /// Its final state, when it has one.
    pub(crate) fn final_state(&self) -> Option<JobState> {
        let status = self.status.lock();
        status.state.is_final().then(|| status.state.clone())
    }

    /// Sets the final state, records it in the job directory (best effort),
    /// wakes the waiters.
    pub(crate) fn finish(&self, state: &JobState) {
        {
            let mut status = self.status.lock();
            if status.state.is_final() {
                return;
            }
            status.state = state.clone();
            status.known = true;
        }
        if let Err(e) = self.dir.record(state) {
            self.status.lock().last_error = Some(format!("cannot record the final state: {e}"));
        }
        self.cond.notify_all();
    }

    /// Waits until the job has a final state, at most `timeout`.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> Option<JobState> {
        let start = Instant::now();
        let mut status = self.status.lock();
        loop {
            if status.state.is_final() {
                return Some(status.state.clone());
            }
            match timeout {
                None => {
                    self.cond.wait(&mut status);
                }
                Some(limit) => {
                    let left = limit.saturating_sub(start.elapsed());
                    if left.is_zero() {
                        return None;
                    }
                    self.cond.wait_for(&mut status, left);
                }
            }
        }
    }
}

/// How long a job stays preempted (or on a failed node) before that is
/// taken as its end, when Slurm does not requeue it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    pub unavailable_nodes_fatal: bool,
    pub settle: Duration,
    pub node_grace: Duration,
}

/// Applies one round's verdict to a job; `true` when it is final.
pub(crate) fn apply(
    cluster: &Cluster,
    tracked: &Tracked,
    verdict: Result<Verdict, SlurmError>,
    rules: Rules,
) -> bool {
    let verdict = match verdict {
        Ok(v) => v,
        Err(e) => {
            tracked.status.lock().last_error = Some(e.to_string());
            return false;
        }
    };
    let fatal = tracked.status.lock().fatal.clone();
    let to_finish = match verdict {
        Verdict::State(state) => {
            if let Some(reason) = fatal.filter(|_| state.is_final()) {
                // Cancelled because it could never start: say why.
                Some(follow::fatal_state(&reason))
            } else if state.is_final() {
                Some(state)
            } else {
                let mut status = tracked.status.lock();
                status.state = state;
                status.known = true;
                status.interrupted = None;
                status.unavailable = None;
                status.vanished_rounds = 0;
                None
            }
        }
        Verdict::Fatal(reason) => {
            cancel_fatal(cluster, tracked, reason);
            None
        }
        Verdict::Unavailable(reason) => {
            let since = {
                let mut status = tracked.status.lock();
                status.known = true;
                status.state = JobState::Scheduled;
                let since = match &status.unavailable {
                    Some((r, at)) if *r == reason => *at,
                    _ => Instant::now(),
                };
                status.unavailable = Some((reason.clone(), since));
                since
            };
            if since.elapsed() >= rules.node_grace {
                cancel_fatal(cluster, tracked, reason);
            }
            None
        }
        Verdict::Interrupted(name) => {
            let mut status = tracked.status.lock();
            status.known = true;
            let since = match &status.interrupted {
                Some((n, at)) if *n == name => *at,
                _ => Instant::now(),
            };
            status.interrupted = Some((name.clone(), since));
            if since.elapsed() >= rules.settle {
                drop(status);
                Some(JobState::Failed(FailReason::Other(name)))
            } else {
                status.state = JobState::Running;
                None
            }
        }
        Verdict::Vanished => {
            let mut status = tracked.status.lock();
            status.vanished_rounds += 1;
            if let Some((name, _)) = status.interrupted.clone() {
                drop(status);
                Some(JobState::Failed(FailReason::Other(name)))
            } else if let Some(reason) = status.fatal.clone() {
                drop(status);
                Some(follow::fatal_state(&reason))
            } else if status.vanished_rounds >= 2 {
                drop(status);
                Some(JobState::Failed(FailReason::Lost))
            } else {
                None
            }
        }
        Verdict::Nothing(message) => {
            tracked.status.lock().last_error = Some(message);
            None
        }
    };
    match to_finish {
        Some(state) => {
            tracked.finish(&state);
            true
        }
        None => false,
    }
}

/// Keeps Slurm's pending reason of a job that waits (`None` once it does
/// not, or when Slurm gives none).
pub(crate) fn note_reason(tracked: &Tracked, seen: &follow::Seen) {
    let reason = match seen {
        follow::Seen::Slurm { state, reason, .. }
            if crate::state::phase(state) == crate::state::Phase::Waiting =>
        {
            crate::state::pending_reason(reason)
        }
        follow::Seen::Unreachable(_) => return,
        _ => None,
    };
    tracked.status.lock().pending_reason = reason;
}

/// Cancels a job that can never start, to fail it with `reason` once Slurm
/// confirms (`scancel` again each round until then).
fn cancel_fatal(cluster: &Cluster, tracked: &Tracked, reason: String) {
    {
        let mut status = tracked.status.lock();
        status.known = true;
        status.fatal.get_or_insert(reason);
    }
    if let Err(e) = cluster.scancel(&tracked.id) {
        tracked.status.lock().last_error = Some(e.to_string());
    }
}

/// The watcher of one cluster.
#[derive(Debug)]
pub(crate) struct Watcher {
    pub cluster: Arc<Cluster>,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    jobs: HashMap<String, Arc<Tracked>>,
    running: bool,
    interval: Duration,
    rules: Rules,
    rounds: u64,
}

/// The watcher of `cluster`, shared by every launcher of the same cluster.
pub(crate) fn watcher_for(cluster: &Cluster) -> Arc<Watcher> {
    static WATCHERS: OnceLock<Mutex<HashMap<ClusterKey, Arc<Watcher>>>> = OnceLock::new();
    let mut all = WATCHERS.get_or_init(|| Mutex::new(HashMap::new())).lock();
    Arc::clone(all.entry(cluster.key()).or_insert_with(|| {
        Arc::new(Watcher {
            cluster: Arc::new(Cluster::new(
                Arc::clone(&cluster.connector),
                cluster.bin.clone(),
                cluster.env.clone(),
            )),
            inner: Mutex::new(Inner {
                jobs: HashMap::new(),
                running: false,
                interval: Duration::from_secs(5),
                rules: Rules {
                    unavailable_nodes_fatal: true,
                    settle: Duration::from_secs(30),
                    node_grace: Duration::from_secs(120),
                },
                rounds: 0,
            }),
        })
    }))
}

impl Watcher {
    /// Follows a job (the handle already followed under this id when there
    /// is one), polling at most every `interval`.
    pub(crate) fn track(
        self: &Arc<Self>,
        tracked: Arc<Tracked>,
        interval: Duration,
        rules: Rules,
    ) -> Arc<Tracked> {
        let mut inner = self.inner.lock();
        if inner.jobs.is_empty() || interval < inner.interval {
            inner.interval = interval;
        }
        inner.rules = rules;
        let tracked = Arc::clone(inner.jobs.entry(tracked.id.clone()).or_insert(tracked));
        if !inner.running {
            inner.running = true;
            let this = Arc::clone(self);
            let spawned = std::thread::Builder::new()
                .name("launch-slurm-watcher".into())
                .spawn(move || this.run());
            if spawned.is_err() {
                inner.running = false;
                tracked.status.lock().last_error = Some("cannot start the watcher thread".into());
            }
        }
        tracked
    }

    /// The job followed under `id`, when there is one.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Tracked>> {
        self.inner.lock().jobs.get(id).cloned()
    }

    /// How many rounds ran since the process started.
    pub(crate) fn rounds(&self) -> u64 {
        self.inner.lock().rounds
    }

    /// The thread: rounds until no job is left.
    fn run(self: Arc<Self>) {
        let mut pause = self.inner.lock().interval;
        loop {
            std::thread::sleep(pause);
            let (jobs, interval, rules) = {
                let mut inner = self.inner.lock();
                inner.jobs.retain(|_, t| t.final_state().is_none());
                if inner.jobs.is_empty() {
                    inner.running = false;
                    return;
                }
                inner.rounds += 1;
                let jobs: Vec<Arc<Tracked>> = inner.jobs.values().cloned().collect();
                (jobs, inner.interval, inner.rules)
            };
            let ok = self.round(&jobs, rules);
            // Slurm did not answer: back off, up to a few seconds.
            pause = if ok {
                interval
            } else {
                (pause * 2).min(interval.max(Duration::from_secs(5)))
            };
        }
    }

    /// One round for `jobs`; `false` when Slurm could not be asked.
    fn round(&self, jobs: &[Arc<Tracked>], rules: Rules) -> bool {
        let ids: Vec<String> = jobs.iter().map(|t| t.id.clone()).collect();
        let seen = follow::observe(&self.cluster, &ids);
        let mut reachable = true;
        for tracked in jobs {
            let Some(seen) = seen.get(&tracked.id) else {
                continue;
            };
            if matches!(seen, follow::Seen::Unreachable(_)) {
                reachable = false;
            }
            note_reason(tracked, seen);
            let latest = || follow::latest_run(&self.cluster, &tracked.id);
            let verdict =
                follow::decide(seen, &tracked.dir, rules.unavailable_nodes_fatal, &latest);
            apply(&self.cluster, tracked, verdict, rules);
        }
        reachable
    }
}
