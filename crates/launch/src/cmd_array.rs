//! `launch run --array RANGE[%N] ... EXPR -- COMMAND...`: many tasks of one
//! command, each a job of its own in `DIR/INDEX` with `LAUNCH_ARRAY_INDEX`
//! set; `DIR/array.json` makes `DIR` one job with tasks for `status`,
//! `cancel`, `wait` and `list`.
//!
//! A launcher with arrays of its own (Slurm) takes them in one submission
//! (`%N` is Slurm's); on another one (direct, over SSH) the tasks queue for
//! their share of the machine like any job, and this process keeps to
//! `%N`, submitting a task as another ends.

use std::collections::VecDeque;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use core_types::Alternative;
use core_types::job::{Connector, Job, JobHandle, JobState, Launcher};
use jobset::{ARRAY_FILE, ArrayFile, ArraySpec, Counts};

use crate::run::Args;

/// Where the array goes.
pub(crate) struct Place<'a> {
    pub(crate) launcher: &'a Arc<dyn Launcher>,
    pub(crate) connector: &'a Arc<dyn Connector>,
    /// The array's directory on the launcher's machine.
    pub(crate) dir: &'a Path,
    /// That directory as `launch` names it.
    pub(crate) shown: &'a str,
    pub(crate) remote: bool,
    pub(crate) alternative: &'a Alternative,
}

/// The environment variable holding a task's index.
pub(crate) const INDEX_VAR: &str = "LAUNCH_ARRAY_INDEX";

/// Submits the array, then (unless detached) follows it to its end.
pub(crate) fn run(args: &Args, spec: &ArraySpec, place: &Place<'_>) -> Result<ExitCode> {
    let own_arrays = place.launcher.kind() == "slurm";
    if args.detach && spec.throttle.is_some() && !own_arrays {
        bail!(
            "`%N` with `--detach` needs a launcher with arrays of its own (Slurm); on a {} \
             launcher, `launch run --array` keeps to it while it waits (leave out `--detach`)",
            place.launcher.kind()
        );
    }
    let name = args.job_name();
    let cwd = if place.remote {
        None
    } else {
        Some(std::env::current_dir().context("cannot read the current directory")?)
    };
    let jobs: Vec<Job> = spec
        .indices
        .iter()
        .map(|index| {
            let mut job = Job::new(
                place.dir.join(index.to_string()),
                args.command.iter().cloned(),
            )
            .name(name.clone())
            .alternative(place.alternative.clone())
            .detach(args.detach)
            .env(INDEX_VAR, index.to_string());
            job.tokens.clone_from(&args.tokens);
            if let Some(cwd) = &cwd {
                job = job.cwd(cwd);
            }
            job
        })
        .collect();
    // The array's directory is a job directory too: new or empty, then
    // the caller's alone (its tasks' directories are made in it alike).
    jobdir::JobDir::create(Arc::clone(place.connector), place.dir)?;
    let file = ArrayFile {
        format: 1,
        name,
        indices: spec.indices.clone(),
        throttle: spec.throttle,
        launcher: place.launcher.kind().to_owned(),
        submitted: crate::jobs::epoch_seconds(SystemTime::now()),
        // This process submits the tasks as others end: they wait while it
        // lives.
        submitter: if own_arrays || args.detach {
            None
        } else {
            jobdir::this_process().cloned()
        },
    };
    place
        .connector
        .write_file(&place.dir.join(ARRAY_FILE), &file.to_bytes())?;
    let interrupted = Arc::new(AtomicBool::new(false));
    if !args.detach {
        let flag = Arc::clone(&interrupted);
        ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
            .context("cannot catch Ctrl-C")?;
    }
    let mut tasks = Tasks::new(jobs.clone(), spec.throttle, Arc::clone(place.connector));
    let indexed = spec.indices.iter().copied().zip(jobs).collect();
    if let Some(submitted) = place.launcher.submit_array(indexed, spec.throttle) {
        tasks.pending.clear();
        tasks.handles = submitted?.into_iter().map(Some).collect();
        tasks.limit = usize::MAX;
    } else if args.detach {
        tasks.fill(place.launcher.as_ref())?;
    }
    crate::jobs::index(place.shown);
    if args.detach {
        outln!("{}", place.shown)?;
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "launch: array of {} tasks in {}",
        spec.indices.len(),
        place.shown
    );
    tasks.follow(place.launcher.as_ref(), &interrupted)?;
    let counts = tasks.counts();
    for (index, state) in spec.indices.iter().zip(&tasks.states) {
        if let Some(state @ JobState::Failed(_)) = state {
            eprintln!(
                "launch: task {index} {state} ({})",
                place.dir.join(index.to_string()).display()
            );
        }
    }
    eprintln!("launch: array {}: {}", place.shown, counts.summary());
    Ok(if counts.done == counts.total() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The tasks: those not submitted yet, the handles of the others, the
/// states of those that ended.
struct Tasks {
    pending: VecDeque<Job>,
    handles: Vec<Option<Box<dyn JobHandle>>>,
    states: Vec<Option<JobState>>,
    /// At most this many submitted and not ended.
    limit: usize,
    /// The connector to the tasks' machine.
    connector: Arc<dyn Connector>,
}

impl Tasks {
    fn new(jobs: Vec<Job>, throttle: Option<u32>, connector: Arc<dyn Connector>) -> Self {
        let size = jobs.len();
        Tasks {
            pending: jobs.into(),
            handles: Vec::with_capacity(size),
            states: vec![None; size],
            limit: throttle.map_or(usize::MAX, |n| n as usize),
            connector,
        }
    }

    /// Submits tasks while fewer than the limit are under way; one
    /// cancelled before its turn (`launch cancel DIR` from another
    /// process) is not.
    fn fill(&mut self, launcher: &dyn Launcher) -> Result<()> {
        let mut under_way = self.handles.len() - self.states.iter().filter(|s| s.is_some()).count();
        while under_way < self.limit {
            let Some(job) = self.pending.pop_front() else {
                break;
            };
            if self.connector.exists(&job.dir.join(jobdir::CANCEL))? {
                self.states[self.handles.len()] =
                    Some(JobState::Failed(core_types::job::FailReason::Cancelled));
                self.handles.push(None);
                continue;
            }
            self.handles.push(Some(launcher.submit(job)?));
            under_way += 1;
        }
        Ok(())
    }

    fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for (i, state) in self.states.iter().enumerate() {
            match state {
                Some(state) => counts.add(state),
                None if i < self.handles.len() => counts.add(&JobState::Running),
                None => counts.add(&JobState::Scheduled),
            }
        }
        counts
    }

    /// Until every task ended: submits as tasks end, shows the counts,
    /// cancels everything on Ctrl-C.
    fn follow(&mut self, launcher: &dyn Launcher, interrupted: &AtomicBool) -> Result<()> {
        let bar = progress(self.states.len());
        let mut cancelled = false;
        loop {
            if interrupted.load(Ordering::SeqCst) && !cancelled {
                cancelled = true;
                bar.suspend(|| eprintln!("launch: interrupted, cancelling the array"));
                for job in self.pending.drain(..) {
                    crate::unsubmitted::mark_cancelled(&self.connector, &job.dir)?;
                }
                let live: Vec<&dyn JobHandle> = self
                    .handles
                    .iter()
                    .zip(&self.states)
                    .filter_map(|(h, s)| h.as_deref().filter(|_| s.is_none()))
                    .collect();
                cancel_all(&live)?;
            }
            if !cancelled {
                self.fill(launcher)?;
            }
            let mut running = 0;
            for (i, handle) in self.handles.iter_mut().enumerate() {
                let Some(live) = handle else { continue };
                let state = live.state()?;
                if state.is_final() {
                    self.states[i] = Some(state);
                    // Its resources go with it.
                    *handle = None;
                } else if state == JobState::Running {
                    running += 1;
                }
            }
            let counts = self.counts();
            let waiting = counts.total() - counts.ended() - running;
            bar.set_position(counts.ended() as u64);
            bar.set_message(format!(
                "{} done, {} failed, {running} running, {waiting} waiting",
                counts.done, counts.failed
            ));
            if counts.ended() == counts.total() || (cancelled && self.unfinished() == 0) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bar.finish_and_clear();
        // Tasks never submitted (cancelled first) count as cancelled.
        for state in &mut self.states {
            if state.is_none() {
                *state = Some(JobState::Failed(core_types::job::FailReason::Cancelled));
            }
        }
        Ok(())
    }

    fn unfinished(&self) -> usize {
        self.handles.iter().filter(|h| h.is_some()).count()
    }
}

/// Cancels the tasks, a few at once (a Slurm task's cancellation waits
/// for Slurm to confirm).
fn cancel_all(live: &[&dyn JobHandle]) -> Result<()> {
    let workers = live.len().clamp(1, 8);
    std::thread::scope(|scope| {
        let cancelling: Vec<_> = live
            .chunks(live.len().div_ceil(workers).max(1))
            .map(|chunk| {
                scope.spawn(move || -> Result<()> {
                    for task in chunk {
                        task.cancel()?;
                    }
                    Ok(())
                })
            })
            .collect();
        for thread in cancelling {
            thread
                .join()
                .map_err(|_| anyhow::anyhow!("a thread cancelling tasks failed"))??;
        }
        Ok(())
    })
}

fn progress(total: usize) -> indicatif::ProgressBar {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
