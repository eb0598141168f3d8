//! Jobs as `launch` finds them again: a job directory argument located on
//! its machine, a handle recovered from the launcher its `job.json` names,
//! arrays (`array.json` and a directory per task), the index of jobs kept
//! outside the state directory, and the states of many jobs at once (one
//! Slurm query per cluster).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, Result};
use connector_local::LocalConnector;
use core_types::job::{Connector, JobHandle, JobState};
use jobdir::LauncherKind;
use jobset::{ARRAY_FILE, ArrayFile, Counts};

/// Finds the machine of job directory arguments: `ssh://[user@]host[:port]/path`
/// is `path` on that machine, reached with the settings of the launcher
/// file's SSH connector for that host (and port and user, when the address
/// names them), else with SSH's defaults; anything else is a local path.
/// One connector per machine, however many directories.
pub(crate) struct Locator<'a> {
    config: Option<&'a Path>,
    connectors: HashMap<String, Arc<dyn Connector>>,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(config: Option<&'a Path>) -> Self {
        Locator {
            config,
            connectors: HashMap::new(),
        }
    }

    pub(crate) fn locate(&mut self, arg: &Path) -> Result<(Arc<dyn Connector>, PathBuf)> {
        let Some(text) = arg.to_str().filter(|t| t.starts_with("ssh://")) else {
            return Ok((LocalConnector::shared(), arg.to_path_buf()));
        };
        let address = connector_ssh::SshAddress::parse(text)?;
        let dir = address
            .path
            .clone()
            .filter(|p| p.is_absolute())
            .with_context(|| format!("`{text}` names no absolute job directory"))?;
        let key = format!("{:?}@{}:{:?}", address.user, address.host, address.port);
        if let Some(connector) = self.connectors.get(&key) {
            return Ok((Arc::clone(connector), dir));
        }
        let (_, file) = registry::load_discovered(self.config)?;
        let from_file = file.connectors().values().find_map(|c| match c {
            registry::ConnectorConfig::Ssh(ssh)
                if ssh.host == address.host
                    && address.port.is_none_or(|p| p == ssh.port)
                    && (address.user.is_none() || address.user == ssh.user) =>
            {
                Some(ssh.clone())
            }
            _ => None,
        });
        let mut settings =
            from_file.unwrap_or_else(|| connector_ssh::SshConfig::new(&address.host));
        if let Some(port) = address.port {
            settings = settings.port(port);
        }
        if address.user.is_some() {
            settings.user.clone_from(&address.user);
        }
        let connector: Arc<dyn Connector> = Arc::new(connector_ssh::SshConnector::new(settings)?);
        self.connectors.insert(key, Arc::clone(&connector));
        Ok((connector, dir))
    }
}

/// A handle on a job, from the launcher its `job.json` names.
pub(crate) enum Recovered {
    Slurm(launcher_slurm::SlurmJob),
    Direct(launcher_direct::RecoveredJob),
    /// A task of an array not submitted yet.
    Unsubmitted(crate::unsubmitted::Unsubmitted),
}

impl Recovered {
    pub(crate) fn handle(&self) -> &dyn JobHandle {
        match self {
            Recovered::Slurm(job) => job,
            Recovered::Direct(job) => job,
            Recovered::Unsubmitted(task) => task,
        }
    }

    /// Why a scheduled job waits, when its launcher says.
    pub(crate) fn waiting_reason(&self) -> Result<Option<String>> {
        Ok(match self {
            Recovered::Direct(job) => job.waiting_reason()?,
            Recovered::Slurm(job) => job.pending_reason(),
            Recovered::Unsubmitted(task) => Some(task.waiting_reason()),
        })
    }
}

/// A job found again: its handle and what its `job.json` says.
pub(crate) struct Found {
    pub(crate) job: Recovered,
    pub(crate) meta: jobdir::JobMeta,
    pub(crate) connector: Arc<dyn Connector>,
    pub(crate) dir: PathBuf,
}

/// The job in `dir` on `connector`'s machine.
pub(crate) fn recover_in(connector: Arc<dyn Connector>, dir: &Path) -> Result<Found> {
    let meta = jobdir::read_meta(connector.as_ref(), dir)?;
    let job = match meta.kind() {
        LauncherKind::Slurm => Recovered::Slurm(
            launcher_slurm::recover(Arc::clone(&connector), dir)?
                .with_poll_interval(std::time::Duration::from_secs(1)),
        ),
        LauncherKind::Direct => {
            Recovered::Direct(launcher_direct::recover(Arc::clone(&connector), dir)?)
        }
    };
    Ok(Found {
        job,
        meta,
        connector,
        dir: dir.to_path_buf(),
    })
}

/// What a directory argument names: one job, or an array of them.
pub(crate) enum Target {
    Job(Box<Found>),
    Array {
        file: ArrayFile,
        /// Each task's index and the task, or why it cannot be followed.
        tasks: Vec<(u64, Result<Found>)>,
    },
}

/// The array in `dir`, when `dir` holds one.
pub(crate) fn array_in(connector: &dyn Connector, dir: &Path) -> Result<Option<ArrayFile>> {
    let path = dir.join(ARRAY_FILE);
    match connector.read_file(&path) {
        Ok(bytes) => Ok(Some(ArrayFile::parse(&bytes, &path.display().to_string())?)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The tasks of the array `file` in `dir`: each task's index and the task
/// (one its `launch` process has not submitted yet, too), or why it cannot
/// be followed.
pub(crate) fn array_tasks(
    connector: &Arc<dyn Connector>,
    dir: &Path,
    file: &ArrayFile,
) -> Vec<(u64, Result<Found>)> {
    file.indices
        .iter()
        .map(|&i| {
            let task = dir.join(i.to_string());
            let found = match jobdir::read_meta(connector.as_ref(), &task) {
                Err(jobdir::JobDirError::NotAJobDir { .. }) => {
                    Ok(unsubmitted(connector, &task, file))
                }
                _ => recover_in(Arc::clone(connector), &task),
            };
            (i, found)
        })
        .collect()
}

/// A task of `file` that has no `job.json`.
fn unsubmitted(connector: &Arc<dyn Connector>, dir: &Path, file: &ArrayFile) -> Found {
    let job = core_types::job::Job::new(dir, ["-"]).name(file.name.clone());
    let launcher = match file.launcher.as_str() {
        "slurm" => jobdir::LauncherMeta::Slurm {
            slurm: jobdir::SlurmMeta::default(),
        },
        _ => jobdir::LauncherMeta::Direct { detach: false },
    };
    let mut meta = jobdir::JobMeta::of(&job, launcher, connector.name());
    meta.command.clear();
    meta.submitter.clone_from(&file.submitter);
    Found {
        job: Recovered::Unsubmitted(crate::unsubmitted::Unsubmitted::new(
            Arc::clone(connector),
            dir,
            file,
        )),
        meta,
        connector: Arc::clone(connector),
        dir: dir.to_path_buf(),
    }
}

/// The job or array a directory argument names.
pub(crate) fn target(locator: &mut Locator<'_>, arg: &Path) -> Result<Target> {
    let (connector, dir) = locator.locate(arg)?;
    if let Some(file) = array_in(connector.as_ref(), &dir)? {
        let tasks = array_tasks(&connector, &dir, &file);
        return Ok(Target::Array { file, tasks });
    }
    Ok(Target::Job(Box::new(recover_in(connector, &dir)?)))
}

/// A state and what a scheduled job waits for.
pub(crate) type Observed = (JobState, Option<String>);

/// The state of each job now (and what a scheduled one waits for): one
/// Slurm query per cluster for all the Slurm jobs.
pub(crate) fn observe_all(jobs: &[&Recovered]) -> Vec<Result<Observed>> {
    let slurm: Vec<&launcher_slurm::SlurmJob> = jobs
        .iter()
        .filter_map(|j| match j {
            Recovered::Slurm(job) => Some(job),
            Recovered::Direct(_) | Recovered::Unsubmitted(_) => None,
        })
        .collect();
    let mut slurm_states = launcher_slurm::states(&slurm).into_iter();
    jobs.iter()
        .map(|job| {
            let state = match job {
                Recovered::Slurm(_) => slurm_states
                    .next()
                    .expect("one state per Slurm job")
                    .map_err(anyhow::Error::from)?,
                Recovered::Direct(direct) => direct.state()?,
                Recovered::Unsubmitted(task) => task.state()?,
            };
            let waiting = if state == JobState::Scheduled {
                job.waiting_reason()?
            } else {
                None
            };
            Ok((state, waiting))
        })
        .collect()
}

/// An array's tasks counted by state, and the failures (index, state).
pub(crate) fn count(tasks: &[(u64, Result<Found>)]) -> (Counts, Vec<(u64, Result<Observed>)>) {
    let found: Vec<(u64, &Recovered)> = tasks
        .iter()
        .filter_map(|(i, t)| t.as_ref().ok().map(|f| (*i, &f.job)))
        .collect();
    let states = observe_all(&found.iter().map(|(_, j)| *j).collect::<Vec<_>>());
    let mut counts = Counts::default();
    let mut each = Vec::new();
    let mut states = found.iter().map(|(i, _)| *i).zip(states);
    for (index, task) in tasks {
        let observed = match task {
            Ok(_) => states.next().map(|(_, s)| s).expect("one state per task"),
            Err(e) => Err(anyhow::anyhow!("{}", crate::report(e))),
        };
        match &observed {
            Ok((state, _)) => counts.add(state),
            Err(_) => counts.add(&JobState::Failed(core_types::job::FailReason::Lost)),
        }
        each.push((*index, observed));
    }
    (counts, each)
}

/// Seconds since the Unix epoch.
pub(crate) fn epoch_seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Records a job (or array) whose directory is not under the state
/// directory in the index, so that `launch list` finds it. Best effort:
/// a job runs whether or not it is listed; a failure is said on stderr.
pub(crate) fn index(address: &str) {
    if Path::new(address).starts_with(jobset::jobs_home()) {
        return;
    }
    let line = jobset::Index::line(&jobset::IndexEntry {
        submitted: epoch_seconds(SystemTime::now()),
        address: address.to_owned(),
    });
    let path = jobset::index_path();
    let written = (|| -> std::io::Result<()> {
        use std::io::Write as _;
        // Opened once the lock is held: a rewrite may have replaced it.
        let _lock = lock_index()?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        // One write, so that lines of processes writing at once never mix.
        file.write_all(line.as_bytes())
    })();
    if let Err(e) = written {
        eprintln!(
            "launch: warning: cannot add the job to the index `{}` (`launch list` will not show it): {e}",
            path.display()
        );
    }
}

/// The index's lock ([`jobset::INDEX_LOCK_FILE`]), held until the guard
/// is dropped: every append to the index and every rewrite of it holds
/// it, so that no line is lost to a rewrite. Makes the state directory
/// when it is not there.
pub(crate) fn lock_index() -> std::io::Result<nix::fcntl::Flock<std::fs::File>> {
    let path = jobset::index_lock_path();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, errno)| std::io::Error::from(errno))
}

/// The directories under the state directory's `jobs`, in name order.
pub(crate) fn state_dirs() -> Result<Vec<PathBuf>> {
    let home = jobset::jobs_home();
    let mut dirs = Vec::new();
    match std::fs::read_dir(&home) {
        Ok(entries) => {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push(entry.path());
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!(
                "cannot read the jobs directory `{}`",
                home.display()
            )));
        }
    }
    dirs.sort();
    Ok(dirs)
}
