//! Experiments, after the seed's `with experiment(launcher=...):
//! task.submit(launcher=...)`: an experiment has a work directory and a
//! default launcher; each submission may name another launcher; every job
//! gets a directory of its own under `WORKDIR/jobs/`; [`Experiment::wait_all`]
//! returns each job's final state.
//!
//! ```
//! use std::sync::Arc;
//! use core_types::job::{JobState, Launcher};
//! use core_types::HostSpec;
//! use experiment::{Experiment, Task};
//! use launcher_direct::DirectLauncher;
//!
//! let local = connector_local::LocalConnector::shared();
//! let host = HostSpec { cores: 2, ..HostSpec::default() };
//! let default: Arc<dyn Launcher> = Arc::new(DirectLauncher::new(local.clone(), host.clone())?);
//! let other: Arc<dyn Launcher> = Arc::new(DirectLauncher::new(local, host)?);
//! let work = tempfile::tempdir()?;
//!
//! let ((), outcomes) = Experiment::run(work.path(), default, |xp| {
//!     xp.submit(Task::new("hello", ["echo", "hello"]))?;
//!     xp.submit_with(Task::new("fails", ["sh", "-c", "exit 2"]), &other)?;
//!     Ok(())
//! })?;
//! let states: Vec<_> = outcomes.iter().map(|o| (o.name.as_str(), o.state.to_string())).collect();
//! assert_eq!(states, [("hello", "done".to_string()), ("fails", "failed (exit code 2)".to_string())]);
//! assert_eq!(std::fs::read(work.path().join("jobs/hello/stdout"))?, b"hello\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashSet;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use core_types::Alternative;
use core_types::job::{Job, JobError, JobHandle, JobState, Launcher};

/// Why an experiment failed.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The work directory is not absolute.
    #[error("the work directory `{}` must be an absolute path", .0.display())]
    RelativeWorkdir(PathBuf),
    /// A task name that cannot name a directory.
    #[error("invalid task name `{name}`: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// Two tasks of one experiment with one name.
    #[error("the experiment already has a task named `{0}`")]
    DuplicateName(String),
    /// Submitting or following a job failed.
    #[error("task `{name}`")]
    Job {
        /// The task's name.
        name: String,
        /// What went wrong.
        #[source]
        source: JobError,
    },
}

/// A task: a command to run as a job of an experiment. It is a [`Job`]
/// without a directory yet: the experiment gives it `WORKDIR/jobs/NAME`
/// when it is submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// Its name, which names its job directory (`WORKDIR/jobs/NAME`).
    pub name: String,
    /// The job: its command, environment, working directory and
    /// requirement (its `dir` is set at submission).
    pub job: Job,
}

impl Task {
    /// A task running `command` (program first).
    pub fn new(
        name: impl Into<String>,
        command: impl IntoIterator<Item = impl Into<OsString>>,
    ) -> Self {
        let job = Job::new(PathBuf::new(), command);
        Task {
            name: name.into(),
            job,
        }
    }

    /// Sets what it needs.
    #[must_use]
    pub fn alternative(self, alternative: Alternative) -> Self {
        self.with(|job| job.alternative(alternative))
    }

    /// Adds an environment variable.
    #[must_use]
    pub fn env(self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.with(|job| job.env(name, value))
    }

    /// Sets the working directory.
    #[must_use]
    pub fn cwd(self, dir: impl Into<PathBuf>) -> Self {
        self.with(|job| job.cwd(dir))
    }

    fn with(mut self, change: impl FnOnce(Job) -> Job) -> Self {
        self.job = change(self.job);
        self
    }
}

/// A job's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The task's name.
    pub name: String,
    /// Its job directory.
    pub dir: PathBuf,
    /// Its final state.
    pub state: JobState,
}

/// A work directory, a default launcher, and the jobs submitted so far.
pub struct Experiment {
    workdir: PathBuf,
    launcher: Arc<dyn Launcher>,
    jobs: Mutex<Vec<(String, Arc<dyn JobHandle>)>>,
    names: Mutex<HashSet<String>>,
}

impl fmt::Debug for Experiment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Experiment")
            .field("workdir", &self.workdir)
            .field("launcher", &self.launcher.describe())
            .field("jobs", &self.len())
            .finish_non_exhaustive()
    }
}

fn check_name(name: &str) -> Result<(), ExperimentError> {
    let bad = |reason| ExperimentError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(bad("it is empty"));
    }
    if name == "." || name == ".." {
        return Err(bad("`.` and `..` name no directory of their own"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.+=@,".contains(&b))
    {
        return Err(bad(
            "use letters, digits and `-_.+=@,` (it names a directory)",
        ));
    }
    Ok(())
}

impl Experiment {
    /// An experiment in `workdir` (absolute, on the launchers' machine)
    /// whose jobs go to `launcher` unless a submission names another.
    pub fn new(
        workdir: impl Into<PathBuf>,
        launcher: Arc<dyn Launcher>,
    ) -> Result<Self, ExperimentError> {
        let workdir = workdir.into();
        if !workdir.is_absolute() {
            return Err(ExperimentError::RelativeWorkdir(workdir));
        }
        Ok(Experiment {
            workdir,
            launcher,
            jobs: Mutex::new(Vec::new()),
            names: Mutex::new(HashSet::new()),
        })
    }

    /// Runs `body` in a new experiment, then waits for every job it
    /// submitted (as the seed's `with experiment(...)` block does on exit).
    pub fn run<T>(
        workdir: impl Into<PathBuf>,
        launcher: Arc<dyn Launcher>,
        body: impl FnOnce(&Experiment) -> Result<T, ExperimentError>,
    ) -> Result<(T, Vec<Outcome>), ExperimentError> {
        let xp = Experiment::new(workdir, launcher)?;
        let value = body(&xp);
        // Jobs already submitted are waited for even when the body failed.
        let outcomes = xp.wait_all()?;
        Ok((value?, outcomes))
    }

    /// The work directory.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// The default launcher.
    pub fn launcher(&self) -> &Arc<dyn Launcher> {
        &self.launcher
    }

    /// How many jobs were submitted.
    pub fn len(&self) -> usize {
        self.jobs.lock().len()
    }

    /// Whether no job was submitted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The job directory of a task.
    pub fn job_dir(&self, name: &str) -> PathBuf {
        self.workdir.join("jobs").join(name)
    }

    /// Submits a task to the default launcher.
    pub fn submit(&self, task: Task) -> Result<Arc<dyn JobHandle>, ExperimentError> {
        let launcher = Arc::clone(&self.launcher);
        self.submit_with(task, &launcher)
    }

    /// Submits a task to `launcher`.
    pub fn submit_with(
        &self,
        task: Task,
        launcher: &Arc<dyn Launcher>,
    ) -> Result<Arc<dyn JobHandle>, ExperimentError> {
        check_name(&task.name)?;
        if !self.names.lock().insert(task.name.clone()) {
            return Err(ExperimentError::DuplicateName(task.name));
        }
        let name = task.name.clone();
        let mut job = task.job.name(&name);
        job.dir = self.job_dir(&name);
        let handle: Arc<dyn JobHandle> = match launcher.submit(job) {
            Ok(handle) => Arc::from(handle),
            Err(source) => {
                // The name stays free for a corrected task.
                self.names.lock().remove(&name);
                return Err(ExperimentError::Job { name, source });
            }
        };
        self.jobs.lock().push((name, Arc::clone(&handle)));
        Ok(handle)
    }

    /// Waits for every job submitted so far; their final states, in
    /// submission order.
    pub fn wait_all(&self) -> Result<Vec<Outcome>, ExperimentError> {
        let jobs = self.jobs.lock().clone();
        jobs.into_iter()
            .map(|(name, handle)| match handle.wait() {
                Ok(state) => Ok(Outcome {
                    dir: handle.dir().to_path_buf(),
                    name,
                    state,
                }),
                Err(source) => Err(ExperimentError::Job { name, source }),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_name_a_directory() {
        for good in ["train", "eval-1", "lr=0.1,bs=32", "a.b"] {
            check_name(good).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "with space", "ü"] {
            let err = check_name(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
    }
}
