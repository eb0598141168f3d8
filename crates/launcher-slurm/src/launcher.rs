//! The launcher: its settings, its builders, and the `Launcher` trait.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use core_types::job::{Connector, Job, JobError, JobHandle, Launcher, StartEstimate};

use crate::cluster::{Cluster, RetryPolicy};
use crate::options::SlurmOptions;
use crate::recover;
use crate::watcher::{self, Rules, Watcher};

/// Settings of a Slurm launcher.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) options: SlurmOptions,
    /// Whether `options` were derived already for the jobs this launcher
    /// takes (a launcher made for one match of a launcher file): then
    /// they are not derived again at submission.
    pub(crate) derived: bool,
    pub(crate) priority: f64,
    pub(crate) poll_interval: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) array_throttle: Option<u32>,
    pub(crate) unavailable_nodes_fatal: bool,
    pub(crate) node_grace: Duration,
    pub(crate) settle: Duration,
    pub(crate) grace: Duration,
    pub(crate) cancel_timeout: Duration,
}

/// Submits jobs to a Slurm cluster and follows them.
#[derive(Clone)]
pub struct SlurmLauncher {
    pub(crate) watcher: Arc<Watcher>,
    pub(crate) config: Config,
}

impl fmt::Debug for SlurmLauncher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlurmLauncher")
            .field("cluster", &self.watcher.cluster)
            .field("config", &self.config)
            .finish()
    }
}

impl SlurmLauncher {
    /// A launcher on the cluster `connector` reaches, with no option set,
    /// the commands found in `PATH`, a poll interval of 5 s.
    pub fn new(connector: Arc<dyn Connector>) -> Self {
        Self::with_cluster(
            &Cluster::new(connector, None, Vec::new()),
            Self::default_config(),
        )
    }

    pub(crate) fn default_config() -> Config {
        Config {
            options: SlurmOptions::default(),
            derived: false,
            priority: 0.0,
            poll_interval: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            array_throttle: None,
            unavailable_nodes_fatal: true,
            node_grace: Duration::from_secs(120),
            settle: Duration::from_secs(30),
            grace: Duration::from_secs(5),
            cancel_timeout: Duration::from_secs(300),
        }
    }

    fn with_cluster(cluster: &Cluster, config: Config) -> Self {
        SlurmLauncher {
            watcher: watcher::watcher_for(cluster),
            config,
        }
    }

    fn rebuild(&self, bin: Option<PathBuf>, env: Vec<(OsString, OsString)>) -> Self {
        let cluster = Cluster::new(Arc::clone(&self.watcher.cluster.connector), bin, env);
        Self::with_cluster(&cluster, self.config.clone())
    }

    /// Sets the options (replacing them).
    #[must_use]
    pub fn options(mut self, options: SlurmOptions) -> Self {
        self.config.options = options;
        self.config.derived = false;
        self
    }

    /// Sets options already derived from the requirement alternative of
    /// the jobs it will take ([`slurm_options::derive`], as a launcher
    /// file's finder does once per match): submission uses them as they
    /// are instead of deriving again.
    #[must_use]
    pub fn derived_options(mut self, options: SlurmOptions) -> Self {
        self.config.options = options;
        self.config.derived = true;
        self
    }

    /// Sets the priority a dynamic launcher prefers it by.
    #[must_use]
    pub fn priority(mut self, priority: f64) -> Self {
        self.config.priority = if priority.is_finite() { priority } else { 0.0 };
        self
    }

    /// Sets the directory of the Slurm commands (`sbatch`, `squeue`, ...).
    #[must_use]
    pub fn bin(self, dir: impl Into<PathBuf>) -> Self {
        let env = self.watcher.cluster.env.clone();
        self.rebuild(Some(dir.into()), env)
    }

    /// Adds a variable to the environment of the Slurm commands (and, as
    /// `sbatch` exports its environment, of the jobs): `SLURM_CONF`, ...
    #[must_use]
    pub fn env(self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        let bin = self.watcher.cluster.bin.clone();
        let mut env = self.watcher.cluster.env.clone();
        env.push((name.into(), value.into()));
        self.rebuild(bin, env)
    }

    /// Sets how often the watcher polls (the shortest of its launchers').
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.config.poll_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Sets how `sbatch` is retried while Slurm is busy.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.config.retry = retry;
        self
    }

    /// Sets how many tasks of an array may run at once (`--array=...%N`).
    #[must_use]
    pub fn array_throttle(mut self, throttle: Option<u32>) -> Self {
        self.config.array_throttle = throttle.filter(|&t| t > 0);
        self
    }

    /// Whether a job pending on `ReqNodeNotAvail` with unavailable nodes
    /// named is cancelled and failed once that lasted `grace` (default:
    /// yes, after two minutes; such nodes usually need an administrator,
    /// but a node also looks unavailable for a moment when it stops
    /// answering or the controller restarts).
    #[must_use]
    pub fn fail_on_unavailable_nodes(mut self, fatal: bool, grace: Duration) -> Self {
        self.config.unavailable_nodes_fatal = fatal;
        self.config.node_grace = grace;
        self
    }

    /// How long a job may stay preempted (or on a failed node) before that
    /// is its end, when Slurm does not requeue it (default 30 s).
    #[must_use]
    pub fn settle(mut self, settle: Duration) -> Self {
        self.config.settle = settle;
        self
    }

    /// A launcher with `options` merged over this one's (what `options`
    /// sets wins, nothing else is reset), and the same priority,
    /// connector, commands, environment and settings.
    #[must_use]
    pub fn config(&self, options: &SlurmOptions) -> SlurmLauncher {
        let mut derived = self.clone();
        derived.config.options.merge(options);
        derived
    }

    /// The options.
    pub fn slurm_options(&self) -> &SlurmOptions {
        &self.config.options
    }

    /// The connector.
    pub fn connector(&self) -> &Arc<dyn Connector> {
        &self.watcher.cluster.connector
    }

    /// The directory of the Slurm commands (`None`: `PATH`).
    pub fn bin_dir(&self) -> Option<&Path> {
        self.watcher.cluster.bin.as_deref()
    }

    /// The environment of the Slurm commands.
    pub fn command_env(&self) -> &[(OsString, OsString)] {
        &self.watcher.cluster.env
    }

    /// How many rounds the watcher of this launcher's cluster has run.
    pub fn watcher_rounds(&self) -> u64 {
        self.watcher.rounds()
    }

    pub(crate) fn rules(&self) -> Rules {
        Rules {
            unavailable_nodes_fatal: self.config.unavailable_nodes_fatal,
            settle: self.config.settle,
            node_grace: self.config.node_grace,
        }
    }

    pub(crate) fn cluster(&self) -> &Cluster {
        &self.watcher.cluster
    }

    /// The options for `job`: this launcher's, the job's name when none is
    /// set, then what its requirement asks where nothing says it already.
    pub fn options_for(&self, job: &Job) -> SlurmOptions {
        named(self.derived_for(&job.alternative), job)
    }

    /// This launcher's options with what `alternative` derives (computed
    /// here once per submission, or not at all when they were derived
    /// already: see [`derived_options`](Self::derived_options)).
    pub(crate) fn derived_for(&self, alternative: &core_types::Alternative) -> SlurmOptions {
        if self.config.derived {
            self.config.options.clone()
        } else {
            slurm_options::derive(&self.config.options, alternative)
        }
    }
}

impl Launcher for SlurmLauncher {
    fn kind(&self) -> &'static str {
        "slurm"
    }

    fn describe(&self) -> String {
        let args = self.config.options.to_args();
        format!(
            "slurm on {}{}",
            self.connector().name(),
            if args.is_empty() {
                String::new()
            } else {
                format!(" ({})", args.join(" "))
            }
        )
    }

    fn priority(&self) -> f64 {
        self.config.priority
    }

    fn submit(&self, job: Job) -> Result<Box<dyn JobHandle>, JobError> {
        Ok(Box::new(self.submit_job(&job)?))
    }

    fn recover(&self, dir: &Path) -> Result<Box<dyn JobHandle>, JobError> {
        let mut job = recover(Arc::clone(self.connector()), dir)?;
        job.interval = self.config.poll_interval;
        job.rules = self.rules();
        Ok(Box::new(job))
    }

    /// `sbatch --test-only` with the options `job` would get, and the
    /// state of the partition ([`SlurmLauncher::start_estimate`]).
    fn expected_start(&self, job: &Job) -> Option<Result<StartEstimate, JobError>> {
        Some(self.start_estimate(job).map_err(JobError::from))
    }

    /// One `sbatch --array` submission per set of jobs whose options are
    /// the same ([`submit_indexed_array`](SlurmLauncher::submit_indexed_array):
    /// each index a task id), with `throttle` as Slurm's `%N` (else this
    /// launcher's own).
    fn submit_array(
        &self,
        jobs: Vec<(u64, Job)>,
        throttle: Option<u32>,
    ) -> Option<core_types::job::ArraySubmission> {
        let launcher = match throttle {
            Some(n) => self.clone().array_throttle(Some(n)),
            None => self.clone(),
        };
        Some(match launcher.submit_indexed_array(&jobs) {
            Ok(handles) => Ok(handles
                .into_iter()
                .map(|h| Box::new(h) as Box<dyn JobHandle>)
                .collect()),
            Err(e) => Err(e.into()),
        })
    }
}

/// `options` with the job's name when none is set.
pub(crate) fn named(mut options: SlurmOptions, job: &Job) -> SlurmOptions {
    if !options.contains("job-name") && !job.name.is_empty() {
        options.insert("job-name", job.name.replace(['\n', '\r'], " "));
    }
    options
}
