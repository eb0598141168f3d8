//! The Slurm launcher: jobs submitted with `sbatch`, followed by one shared
//! watcher per cluster, recovered from their job directory by any process.
//!
//! A [`SlurmLauncher`] holds typed `sbatch` options ([`SlurmOptions`],
//! generated from a table by `cargo xtask codegen`, plus raw extra
//! arguments), a priority, a connector (every Slurm command and file goes
//! through it, so a remote cluster works the same), the directory of the
//! Slurm commands, an environment for them, and a poll interval.
//! [`SlurmLauncher::config`] derives a launcher with more options and
//! keeps everything else.
//!
//! Submitting writes an sbatch script into the job directory: `#SBATCH`
//! lines from the options and from the job's requirement (time, GPUs,
//! memory, cores: only where no option says it already), then the direct
//! launcher's wrapper, which runs the command with its arguments verbatim
//! and records its exit code. `sbatch --parsable` is retried with backoff
//! while Slurm is busy; a permanent failure carries Slurm's message. Many
//! jobs with the same options go out as one job array
//! ([`SlurmLauncher::submit_array`]).
//!
//! Every job of a cluster is followed by one watcher thread: one `squeue`
//! call per round for all of them, one `sacct` call for those that left
//! the queue when the cluster keeps accounting; without accounting the
//! job's state file (and `scontrol`) decide. Every Slurm state is mapped
//! ([`state::phase`]); a job pending for a reason that means never
//! ([`state::FATAL_REASONS`]) is cancelled and fails with that reason.
//!
//! ```no_run
//! use core_types::job::{Job, JobHandle, JobState, Launcher};
//! use launcher_slurm::{SlurmLauncher, SlurmOptions};
//!
//! let launcher = SlurmLauncher::new(connector_local::LocalConnector::shared())
//!     .options(SlurmOptions::default().partition("main"))
//!     .priority(10.0);
//! let gpu = launcher.config(&SlurmOptions::default().gpus_per_node("1"));
//! let job = gpu.submit(Job::new("/scratch/jobs/1", ["nvidia-smi"]))?;
//! assert_eq!(job.wait()?, JobState::Done);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Without a cluster, the pure parts run anywhere:
//!
//! ```
//! use launcher_slurm::{SlurmOptions, parse, state};
//!
//! let mut options = SlurmOptions::default().partition("gpu");
//! options.merge(&SlurmOptions::default().time("1:00:00"));
//! assert_eq!(options.to_args(), ["--partition=gpu", "--time=1:00:00"]);
//! assert!(options.set("gpu-per-node", "2").unwrap_err().to_string().contains("did you mean `gpus-per-node`"));
//!
//! let rows = parse::squeue("12|PENDING|PartitionTimeLimit\n13_0|RUNNING|None\n")?;
//! assert_eq!(rows[1].id, "13_0");
//! assert_eq!(state::fatal_reason(&rows[0].reason, true).as_deref(), Some("PartitionTimeLimit"));
//! assert_eq!(parse::slurm_time("1-00:00:00")?, Some(86_400));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cluster;
pub mod discover;
mod follow;
mod jobdir;
pub mod options;
#[rustfmt::skip]
mod options_gen;
pub mod parse;
pub mod script;
pub mod state;
mod watcher;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use core_types::job::{
    Connector, ConnectorError, FailReason, Job, JobError, JobHandle, JobState, Launcher,
};

use cluster::Cluster;
pub use cluster::{RetryPolicy, is_transient};
pub use jobdir::LAUNCHER;
use jobdir::{ArrayRef, JobDir, Meta};
pub use options::{OptionInfo, OptionKind, OptionValue, SlurmOptions};
use watcher::{Rules, Tracked, Watcher, lock};

/// The environment variable holding a job's directory (as for the direct
/// launcher).
pub const JOB_DIR_VAR: &str = launcher_direct::JOB_DIR_VAR;

/// Why the Slurm launcher failed.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    /// The connector failed.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// The job is wrong (empty command, NUL byte, bad variable name, ...).
    #[error(transparent)]
    Job(#[from] JobError),
    /// The direct launcher's wrapper could not be written.
    #[error(transparent)]
    Wrapper(#[from] launcher_direct::DirectError),
    /// An option name that is not an `sbatch` option.
    #[error("unknown Slurm option `{name}`{hint}")]
    UnknownOption {
        /// The name, as given (canonical form).
        name: String,
        /// ` (did you mean ...?)`, or nothing.
        hint: String,
    },
    /// An option the launcher sets itself.
    #[error(
        "Slurm option `{name}` is set by the launcher itself (the job's directory, files and submission)"
    )]
    ReservedOption {
        /// The name.
        name: String,
    },
    /// An option value that does not fit the option.
    #[error("invalid value `{value}` for Slurm option `{name}`: {reason}")]
    InvalidOption {
        /// The option.
        name: String,
        /// The value.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// `sbatch` refused the job (or kept failing while Slurm was busy).
    #[error(
        "sbatch refused the job: {message}\n(`{command}` failed with {status} after {attempts} attempt(s))"
    )]
    Submit {
        /// What Slurm said (its stderr).
        message: String,
        /// The command line.
        command: String,
        /// How it ended.
        status: String,
        /// How many times it was tried.
        attempts: u32,
    },
    /// A query (`squeue`, `sacct`, `scontrol`) failed.
    #[error("cannot ask Slurm about jobs: {message}")]
    Query {
        /// What failed, with Slurm's message.
        message: String,
        /// Whether it may pass (the controller busy or restarting).
        transient: bool,
    },
    /// `scancel` failed.
    #[error("cannot cancel Slurm job {job}: {message}")]
    Cancel {
        /// The job id.
        job: String,
        /// What failed.
        message: String,
    },
    /// A Slurm command printed something unexpected.
    #[error(transparent)]
    Parse(parse::ParseError),
    /// The job directory is unusable.
    #[error("job directory `{}`: {reason}", dir.display())]
    BadJobDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
    /// Not a job directory of the Slurm launcher.
    #[error("`{}` is not a job directory of the Slurm launcher: {reason}", dir.display())]
    NotAJobDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file of a job directory that cannot be read as it should.
    #[error("`{}` is corrupt: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A job array that cannot be submitted as asked.
    #[error("invalid job array: {0}")]
    InvalidArray(String),
    /// Slurm did not confirm a cancellation in time.
    #[error(
        "scancel was sent for Slurm job {job}, but Slurm did not confirm its end within {waited:?}"
    )]
    CancelNotConfirmed {
        /// The job id.
        job: String,
        /// How long it waited.
        waited: Duration,
    },
}

impl From<SlurmError> for JobError {
    fn from(e: SlurmError) -> JobError {
        match e {
            SlurmError::Connector(e) => JobError::Connector(e),
            SlurmError::Job(e) => e,
            SlurmError::NotAJobDir { dir, reason } => JobError::NotAJobDir { dir, reason },
            other => JobError::Launcher {
                launcher: "slurm",
                source: Box::new(other),
            },
        }
    }
}

/// Settings of a Slurm launcher.
#[derive(Debug, Clone)]
struct Config {
    options: SlurmOptions,
    priority: f64,
    poll_interval: Duration,
    retry: RetryPolicy,
    array_throttle: Option<u32>,
    unavailable_nodes_fatal: bool,
    node_grace: Duration,
    settle: Duration,
    grace: Duration,
    cancel_timeout: Duration,
}

/// Submits jobs to a Slurm cluster and follows them.
#[derive(Clone)]
pub struct SlurmLauncher {
    watcher: Arc<Watcher>,
    config: Config,
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

    fn default_config() -> Config {
        Config {
            options: SlurmOptions::default(),
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

    fn rules(&self) -> Rules {
        Rules {
            unavailable_nodes_fatal: self.config.unavailable_nodes_fatal,
            settle: self.config.settle,
            node_grace: self.config.node_grace,
        }
    }

    fn cluster(&self) -> &Cluster {
        &self.watcher.cluster
    }

    /// The options for `job`: this launcher's, the job's name when none is
    /// set, then what its requirement asks where nothing says it already.
    pub fn options_for(&self, job: &Job) -> SlurmOptions {
        let mut options = self.config.options.clone();
        if options.job_name.is_none() && !job.name.is_empty() {
            options.job_name = Some(job.name.replace(['\n', '\r'], " "));
        }
        options.fill_from(&job.alternative);
        options
    }

    /// Checks a job and prepares its directory: absolute, no job in it yet.
    fn prepare(&self, job: &Job) -> Result<JobDir, SlurmError> {
        job.validate()?;
        if !job.dir.is_absolute() {
            return Err(SlurmError::BadJobDir {
                dir: job.dir.clone(),
                reason: "it must be an absolute path".into(),
            });
        }
        let connector = self.connector();
        connector.create_dir_all(&job.dir)?;
        if connector.exists(&job.dir.join(launcher_direct::script::META))? {
            return Err(SlurmError::BadJobDir {
                dir: job.dir.clone(),
                reason: format!(
                    "it already holds a job (`{}` exists)",
                    launcher_direct::script::META
                ),
            });
        }
        Ok(JobDir {
            connector: Arc::clone(connector),
            dir: job.dir.clone(),
        })
    }

    /// Writes a job's script (and its description, with no id yet).
    fn write_job(
        &self,
        job: &Job,
        options: &SlurmOptions,
        array: Option<ArrayRef>,
    ) -> Result<Meta, SlurmError> {
        let connector = self.connector();
        let mut env = job.env.clone();
        env.push((JOB_DIR_VAR.into(), job.dir.clone().into_os_string()));
        let wrapper = launcher_direct::script::job_script(&launcher_direct::script::ScriptSpec {
            dir: &job.dir,
            cwd: job.cwd.as_deref().unwrap_or(&job.dir),
            command: &job.command,
            env: &env,
            time_limit: job.alternative.duration.seconds(),
            grace: self.config.grace.as_secs().max(1),
        })?;
        let script = script::job_script(&job.dir, options, &wrapper)?;
        let path = job.dir.join(launcher_direct::script::SCRIPT);
        connector.write_file(&path, &script)?;
        if array.is_none() {
            // An array task's script is run by the array's (`sh job.sh`).
            connector.set_executable(&path)?;
        }
        let meta = Meta {
            job_id: None,
            bin: self.cluster().bin.clone(),
            env: self.cluster().env.clone(),
            submitter: jobdir::this_process(),
            array,
        };
        self.write_meta(job, &meta, options)?;
        Ok(meta)
    }

    fn write_meta(&self, job: &Job, meta: &Meta, options: &SlurmOptions) -> Result<(), SlurmError> {
        let json = jobdir::meta_json(job, meta, self.connector().as_ref(), &options.to_args());
        self.connector().write_file(
            &job.dir.join(launcher_direct::script::META),
            json.to_string().as_bytes(),
        )?;
        Ok(())
    }

    fn follow(&self, id: String, dir: JobDir) -> SlurmJob {
        let tracked = Arc::new(Tracked::new(id, dir, Some(JobState::Scheduled)));
        let tracked = self
            .watcher
            .track(tracked, self.config.poll_interval, self.rules());
        SlurmJob {
            tracked,
            watcher: Arc::clone(&self.watcher),
            interval: self.config.poll_interval,
            rules: self.rules(),
            retry: self.config.retry,
            cancel_timeout: self.config.cancel_timeout,
            followed: true,
        }
    }

    /// Submits one job: writes its script and description to its
    /// directory, runs `sbatch`, follows it.
    pub fn submit_job(&self, job: &Job) -> Result<SlurmJob, SlurmError> {
        let dir = self.prepare(job)?;
        let options = self.options_for(job);
        let mut meta = self.write_job(job, &options, None)?;
        let script = job.dir.join(launcher_direct::script::SCRIPT);
        let id = self
            .cluster()
            .sbatch(&script, &job.dir, &self.config.retry)?;
        meta.job_id = Some(id.clone());
        self.write_meta(job, &meta, &options)?;
        Ok(self.follow(id, dir))
    }

    /// Submits jobs as job arrays: jobs whose options are the same (this
    /// launcher's, and those their requirements derive) go out as one
    /// `sbatch --array` submission, each task with its own job directory
    /// and handle; the throttle ([`array_throttle`](Self::array_throttle))
    /// applies to each array. The handles come in the order of `jobs`.
    pub fn submit_array(&self, jobs: &[Job]) -> Result<Vec<SlurmJob>, SlurmError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut seen_dirs = std::collections::HashSet::new();
        for job in jobs {
            if !seen_dirs.insert(job.dir.clone()) {
                return Err(SlurmError::InvalidArray(format!(
                    "two jobs share the directory `{}`",
                    job.dir.display()
                )));
            }
        }
        // Group by the options the jobs share (their names aside).
        let mut groups: Vec<(SlurmOptions, Vec<usize>)> = Vec::new();
        for (i, job) in jobs.iter().enumerate() {
            let mut shared = self.config.options.clone();
            shared.fill_from(&job.alternative);
            match groups.iter_mut().find(|(o, _)| *o == shared) {
                Some((_, members)) => members.push(i),
                None => groups.push((shared, vec![i])),
            }
        }
        let mut handles: Vec<Option<SlurmJob>> = jobs.iter().map(|_| None).collect();
        for (shared, members) in groups {
            let group: Vec<&Job> = members.iter().map(|&i| &jobs[i]).collect();
            for (handle_index, handle) in members.iter().zip(self.submit_group(&shared, &group)?) {
                handles[*handle_index] = Some(handle);
            }
        }
        Ok(handles.into_iter().flatten().collect())
    }

    fn submit_group(
        &self,
        shared: &SlurmOptions,
        jobs: &[&Job],
    ) -> Result<Vec<SlurmJob>, SlurmError> {
        let size = jobs.len();
        let first = jobs[0].dir.clone();
        // Each task's directory, script and description, written by a few
        // threads at once (each write is a round trip on a remote machine).
        let prepare = |index: usize| -> Result<JobDir, SlurmError> {
            let job = jobs[index];
            let dir = self.prepare(job)?;
            let options = self.options_for(job);
            let array = ArrayRef {
                index,
                size,
                first: first.clone(),
            };
            self.write_job(job, &options, Some(array))?;
            Ok(dir)
        };
        let workers = size.div_ceil(16).clamp(1, 8);
        let mut prepared: Vec<Option<Result<JobDir, SlurmError>>> =
            (0..size).map(|_| None).collect();
        std::thread::scope(|scope| {
            let prepare = &prepare;
            let chunks: Vec<_> = prepared
                .chunks_mut(size.div_ceil(workers))
                .enumerate()
                .map(|(chunk, slots)| {
                    scope.spawn(move || {
                        let start = chunk * size.div_ceil(workers);
                        for (offset, slot) in slots.iter_mut().enumerate() {
                            *slot = Some(prepare(start + offset));
                        }
                    })
                })
                .collect();
            for handle in chunks {
                let _ = handle.join();
            }
        });
        let mut dirs = Vec::with_capacity(size);
        for slot in prepared {
            match slot {
                Some(result) => dirs.push(result?),
                None => {
                    return Err(SlurmError::InvalidArray(
                        "a thread preparing the job directories failed".into(),
                    ));
                }
            }
        }
        let mut array_options = shared.clone();
        if array_options.job_name.is_none() {
            array_options.job_name = Some(jobs[0].name.replace(['\n', '\r'], " "));
        }
        let paths: Vec<PathBuf> = jobs.iter().map(|j| j.dir.clone()).collect();
        let text = script::array_script(&paths, &array_options, self.config.array_throttle)?;
        let path = first.join(script::ARRAY_SCRIPT);
        self.connector().write_file(&path, &text)?;
        let base = self.cluster().sbatch(&path, &first, &self.config.retry)?;
        // One file says every task's id (`BASE_INDEX`).
        self.connector().write_file(
            &first.join(jobdir::ARRAY_ID_FILE),
            format!("{base}\n").as_bytes(),
        )?;
        Ok(dirs
            .into_iter()
            .enumerate()
            .map(|(index, dir)| self.follow(format!("{base}_{index}"), dir))
            .collect())
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
}

/// A Slurm job: submitted by this process, or recovered from its job
/// directory.
#[derive(Debug)]
pub struct SlurmJob {
    tracked: Arc<Tracked>,
    watcher: Arc<Watcher>,
    interval: Duration,
    rules: Rules,
    retry: RetryPolicy,
    cancel_timeout: Duration,
    followed: bool,
}

/// A handle on the Slurm job in `dir`, on `connector`'s machine, from the
/// directory alone (any process, any time): its `job.json` names the job
/// id, the commands' directory and their environment.
pub fn recover(connector: Arc<dyn Connector>, dir: &Path) -> Result<SlurmJob, SlurmError> {
    let meta = jobdir::read_meta(connector.as_ref(), dir)?;
    let jobdir = JobDir {
        connector: Arc::clone(&connector),
        dir: dir.to_path_buf(),
    };
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
                None if meta.submitter.as_ref().and_then(jobdir::submitter_alive)
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
        lock(&self.tracked.status).last_error.clone()
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
            return Ok(lock(&self.tracked.status).state.clone());
        }
        let cluster = &self.watcher.cluster;
        let seen = follow::observe(cluster, std::slice::from_ref(&self.tracked.id));
        let seen = seen
            .get(&self.tracked.id)
            .cloned()
            .unwrap_or(follow::Seen::Forgotten);
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
        let verdict = follow::decide(&seen, &self.tracked.dir, self.rules.unavailable_nodes_fatal)?;
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
        Ok(lock(&self.tracked.status).state.clone())
    }
}

impl JobHandle for SlurmJob {
    fn id(&self) -> String {
        self.tracked.id.clone()
    }

    fn dir(&self) -> &Path {
        &self.tracked.dir.dir
    }

    fn state(&self) -> Result<JobState, JobError> {
        let (known, state) = {
            let status = lock(&self.tracked.status);
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
