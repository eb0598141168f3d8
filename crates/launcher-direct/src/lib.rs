//! The direct launcher: runs jobs as processes on its connector's machine,
//! never more at once than that machine (its [`HostSpec`]) can hold.
//!
//! Each job gets a job directory ([`jobdir`]) holding a POSIX `sh` script that runs the
//! command in a process group of its own (a session when detached), records
//! pids and start times, stops the group past its time limit (the
//! requirement's duration), and writes its exit
//! code atomically when it ends, whether or not anyone is watching. So a job
//! can be followed, and cancelled, from its directory alone by a process
//! that did not submit it ([`recover`]). Jobs that do not fit wait in a
//! queue, in submission order; each running job gets devices of its own
//! (`CUDA_VISIBLE_DEVICES`, `ROCR_VISIBLE_DEVICES`, `HIP_VISIBLE_DEVICES`,
//! each empty when it has no device of that kind, whatever the caller's
//! environment says, and `LAUNCH_ACCELERATORS`, a list such as
//! `cuda:0,cuda:1`).
//!
//! As POSIX `sh` does for every command it starts in the background, the
//! command starts with `SIGINT` and `SIGQUIT` ignored; cancelling sends
//! `SIGTERM` to the job's process group, then `SIGKILL` after a grace period.
//!
//! ```
//! use core_types::job::{FailReason, Job, JobHandle, JobState, Launcher};
//! use core_types::HostSpec;
//! use launcher_direct::DirectLauncher;
//!
//! let host = HostSpec { cores: 2, ..HostSpec::default() };
//! let launcher = DirectLauncher::new(connector_local::LocalConnector::shared(), host)?;
//! let work = std::env::temp_dir().join(format!("launcher-direct-doc-{}", std::process::id()));
//!
//! let ok = launcher.submit(Job::new(work.join("ok"), ["sh", "-c", "echo \"$0\"", "a b"]))?;
//! let bad = launcher.submit(Job::new(work.join("bad"), ["sh", "-c", "exit 3"]))?;
//! assert_eq!(ok.wait()?, JobState::Done);
//! assert_eq!(std::fs::read(work.join("ok/stdout"))?, b"a b\n");
//! assert_eq!(bad.wait()?, JobState::Failed(FailReason::ExitCode(3)));
//!
//! // From the job directory alone, as a new process would.
//! let again = launcher_direct::recover(connector_local::LocalConnector::shared(), &work.join("bad"))?;
//! assert_eq!(again.state()?, JobState::Failed(FailReason::ExitCode(3)));
//! # std::fs::remove_dir_all(&work)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod follow;
pub mod ledger;
mod lock;
mod probe;
mod sched;
mod take;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use std::time::{Duration, Instant};

use core_types::job::{
    Connector, ConnectorError, FailReason, Job, JobError, JobHandle, JobState, Launcher,
    ProcessSpec, StdioSpec,
};
use core_types::{AcceleratorKind, HostSpec};

use follow::JobDir;
use jobdir::{JobDirError, JobMeta, LauncherMeta, META, SCRIPT, STDERR};
use sched::{Capacity, Device, Need, Queue};

/// The environment variable listing a job's devices (`cuda:0,rocm:1`).
pub const ACCELERATORS_VAR: &str = "LAUNCH_ACCELERATORS";
pub use jobdir::JOB_DIR_VAR;

/// The variables the launcher sets itself (with the device variables of
/// each kind, [`ledger::DEVICE_VARS`]); a job's own values for them are
/// dropped, so that a job never sees devices it was not granted.
const OWN_VARS: [&str; 2] = [ACCELERATORS_VAR, JOB_DIR_VAR];

/// Whether the launcher sets `name` itself.
fn own_var(name: &std::ffi::OsStr) -> bool {
    OWN_VARS.iter().any(|own| name == *own)
        || ledger::DEVICE_VARS.iter().any(|(_, var, _)| name == *var)
}

/// Why the direct launcher failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectError {
    /// The connector failed.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// The job is wrong (empty command, NUL byte, bad variable name, ...).
    #[error(transparent)]
    Job(#[from] JobError),
    /// The job directory cannot be read or written as it should.
    #[error(transparent)]
    JobDir(#[from] JobDirError),
    /// The job can never run on this launcher's host.
    #[error("job `{job}` cannot run on this host: {reason}")]
    DoesNotFit {
        /// The job's name.
        job: String,
        /// What it needs that the host does not have.
        reason: String,
    },
    /// The job takes a token its launcher does not declare.
    #[error("job `{job}` takes the token `{token}`, which is not declared ({known})")]
    UnknownToken {
        /// The job's name.
        job: String,
        /// The token.
        token: String,
        /// The tokens declared, in words.
        known: String,
    },
    /// The host description cannot run anything.
    #[error("invalid host for a direct launcher: {0}")]
    InvalidHost(String),
    /// The job directory is relative, or already holds a job.
    #[error("job directory `{}`: {reason}", dir.display())]
    BadJobDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
    /// A process the `pid` file names is not the job's: nothing was
    /// signalled.
    #[error(
        "`{}`: process {pid}, which its `pid` file names, is not this job's (its environment does not name this job directory), so it was not signalled",
        dir.display()
    )]
    NotTheJobs {
        /// The directory.
        dir: PathBuf,
        /// The process.
        pid: u32,
    },
    /// Not a job directory of the direct launcher.
    #[error("`{}` is not a job directory of the direct launcher: {reason}", dir.display())]
    NotAJobDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
}

impl From<DirectError> for JobError {
    fn from(e: DirectError) -> JobError {
        match e {
            DirectError::Connector(e) | DirectError::JobDir(JobDirError::Connector(e)) => {
                JobError::Connector(e)
            }
            DirectError::Job(e) => e,
            DirectError::NotAJobDir { dir, reason } => JobError::NotAJobDir { dir, reason },
            other => JobError::Launcher {
                launcher: "direct",
                source: Box::new(other),
            },
        }
    }
}

/// Settings of a direct launcher.
#[derive(Debug, Clone)]
pub struct DirectConfig {
    /// Its priority for a dynamic launcher (default 0).
    pub priority: f64,
    /// How long a cancelled or timed-out job has between TERM and KILL.
    pub grace: Duration,
    /// How many later jobs may start before a waiting one (see the queue).
    pub overtake_limit: u32,
    /// The directory of the machine's ledger, on the connector's machine
    /// (`None`: the per-user default there,
    /// `$XDG_STATE_HOME/launch/ledger`, else
    /// `$HOME/.local/state/launch/ledger`). Every launcher that runs jobs
    /// on one machine should name the same one.
    pub ledger: Option<PathBuf>,
    /// The tokens jobs may take, with their counts (`[token.NAME]` of the
    /// launcher file).
    pub tokens: BTreeMap<String, u32>,
}

impl Default for DirectConfig {
    fn default() -> Self {
        DirectConfig {
            priority: 0.0,
            grace: Duration::from_secs(5),
            overtake_limit: 16,
            ledger: None,
            tokens: BTreeMap::new(),
        }
    }
}

/// Runs jobs as processes on its connector's machine.
#[derive(Clone)]
pub struct DirectLauncher {
    inner: Arc<Inner>,
}

struct Inner {
    connector: Arc<dyn Connector>,
    config: DirectConfig,
    sched: Mutex<Sched>,
}

struct Sched {
    capacity: Capacity,
    queue: Queue<Arc<Tracked>>,
    running: usize,
}

/// A job followed by this process.
#[derive(Debug)]
struct Tracked {
    job: Job,
    /// The ledger's directory and the job's ask, when this process takes
    /// its place there ([`take`]).
    here: Option<(PathBuf, String)>,
    need: Need,
    /// Whether it counts in this process's queue (attached jobs; a detached
    /// job waits in the machine's ledger alone, and outlives the process).
    counted: bool,
    status: Mutex<Local>,
    cond: Condvar,
}

#[derive(Debug, Clone)]
enum Local {
    Queued,
    Running,
    Ended(JobState),
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectLauncher")
            .field("connector", &self.connector.name())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for DirectLauncher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl DirectLauncher {
    /// A launcher on `connector`'s machine, whose capacity is `host`.
    pub fn new(connector: Arc<dyn Connector>, host: HostSpec) -> Result<Self, DirectError> {
        Self::with_config(connector, host, DirectConfig::default())
    }

    /// A launcher with settings.
    pub fn with_config(
        connector: Arc<dyn Connector>,
        host: HostSpec,
        config: DirectConfig,
    ) -> Result<Self, DirectError> {
        if host.cores == 0 {
            return Err(DirectError::InvalidHost(
                "it has 0 cores, so no job could ever start".into(),
            ));
        }
        if !config.priority.is_finite() {
            return Err(DirectError::InvalidHost(format!(
                "priority {} is not a finite number",
                config.priority
            )));
        }
        Ok(DirectLauncher {
            inner: Arc::new(Inner {
                connector,
                sched: Mutex::new(Sched {
                    capacity: Capacity::new(host),
                    queue: Queue::new(config.overtake_limit),
                    running: 0,
                }),
                config,
            }),
        })
    }

    /// A launcher on this machine, as detected (cores, memory, NVIDIA GPUs).
    pub fn local() -> Result<Self, DirectError> {
        Self::new(
            connector_local::LocalConnector::shared(),
            hostspec::detect(),
        )
    }

    /// The host whose capacity bounds the jobs.
    pub fn host(&self) -> HostSpec {
        self.inner.sched.lock().capacity.host().clone()
    }

    /// The connector.
    pub fn connector(&self) -> &Arc<dyn Connector> {
        &self.inner.connector
    }

    /// How many jobs run now, and how many wait.
    pub fn load(&self) -> (usize, usize) {
        let sched = self.inner.sched.lock();
        (sched.running, sched.queue.waiting.len())
    }

    /// Submits a job: writes its description to its directory and starts it
    /// as soon as the host has room.
    pub fn submit_job(&self, job: Job) -> Result<DirectJob, DirectError> {
        job.validate()?;
        if !job.dir.is_absolute() {
            return Err(DirectError::BadJobDir {
                dir: job.dir.clone(),
                reason: "it must be an absolute path".into(),
            });
        }
        let need = Need::of(&job.alternative);
        if let Some(reason) = self.inner.sched.lock().capacity.never_fits(&need) {
            return Err(DirectError::DoesNotFit {
                job: job.name.clone(),
                reason,
            });
        }
        let tokens = self.tokens_of(&job)?;
        let connector = &self.inner.connector;
        // New or empty, and then no one else's: nothing in it but what the
        // job puts there.
        let files = JobDir(jobdir::JobDir::create(Arc::clone(connector), &job.dir)?);
        let meta = JobMeta::of(
            &job,
            LauncherMeta::Direct { detach: job.detach },
            connector.name(),
        );
        // The state's space first: a disk too full for it refuses the job
        // before it is one. A submission that fails leaves nothing behind.
        files.reserve_state()?;
        if let Err(e) = files.write_meta(&meta) {
            files.unreserve_state();
            return Err(e.into());
        }
        let mut env: Vec<_> = job
            .env
            .iter()
            .filter(|(name, _)| !own_var(name))
            .cloned()
            .collect();
        env.push((JOB_DIR_VAR.into(), job.dir.clone().into_os_string()));
        let host = self.host();
        let ask = ledger::Ask {
            host: &host,
            need: &need,
            tokens: &tokens,
            overtake_limit: self.inner.config.overtake_limit,
            ledger: self.inner.config.ledger.as_deref(),
        };
        let before = ledger::snippet(&ask)?;
        // On this machine, this process takes the job's place in the
        // ledger itself, at once (its script would start a process to).
        let here = if connector.is_local() {
            take::ledger_dir(ask.ledger, &job.env).map(|dir| (dir, ledger::need_field(&ask)))
        } else {
            None
        };
        let body = jobdir::job_script(&jobdir::ScriptSpec::of(
            &job,
            &env,
            self.inner.config.grace,
            &before,
        ))?;
        let script_path = job.dir.join(SCRIPT);
        if let Err(e) = connector
            // Run once this submission is done, never read before.
            .write_unread(&script_path, &body)
            .and_then(|()| connector.set_executable(&script_path))
        {
            for name in [SCRIPT, META] {
                let _ = connector.remove(&job.dir.join(name));
            }
            files.unreserve_state();
            return Err(e.into());
        }
        let counted = !job.detach;
        let tracked = Arc::new(Tracked {
            job,
            here,
            need: need.clone(),
            counted,
            status: Mutex::new(Local::Queued),
            cond: Condvar::new(),
        });
        if counted {
            self.inner
                .sched
                .lock()
                .queue
                .push(need, Arc::clone(&tracked));
            Inner::dispatch(&self.inner);
        } else {
            // Its supervisor waits in the machine's ledger, whether or not
            // this process is still there.
            *tracked.status.lock() = Local::Running;
            if let Err(e) = Inner::start(&self.inner, &tracked, &[]) {
                let state = JobState::Failed(FailReason::Other(format!("cannot start: {e}")));
                let _ = tracked_dir(&self.inner, &tracked).write_state(&state);
                *tracked.status.lock() = Local::Ended(state);
                tracked.cond.notify_all();
            }
        }
        Ok(DirectJob {
            tracked,
            inner: Arc::clone(&self.inner),
        })
    }
}

fn tracked_dir(inner: &Inner, tracked: &Tracked) -> JobDir {
    JobDir::new(Arc::clone(&inner.connector), &tracked.job.dir)
}

impl DirectLauncher {
    /// The job's tokens, `(name, taken, declared count)`: each declared,
    /// and no more taken than declared.
    fn tokens_of(&self, job: &Job) -> Result<Vec<(String, u32, u32)>, DirectError> {
        let declared = &self.inner.config.tokens;
        let mut out: Vec<(String, u32, u32)> = Vec::new();
        for (name, k) in &job.tokens {
            let Some(&count) = declared.get(name) else {
                let known = if declared.is_empty() {
                    "this launcher declares none".to_owned()
                } else {
                    let names: Vec<&str> = declared.keys().map(String::as_str).collect();
                    format!("declared: {}", names.join(", "))
                };
                return Err(DirectError::UnknownToken {
                    job: job.name.clone(),
                    token: name.clone(),
                    known,
                });
            };
            match out.iter_mut().find(|(n, _, _)| n == name) {
                Some(entry) => entry.1 = entry.1.saturating_add(*k),
                None => out.push((name.clone(), *k, count)),
            }
        }
        out.retain(|(_, k, _)| *k > 0);
        if let Some((name, k, count)) = out.iter().find(|(_, k, count)| k > count) {
            return Err(DirectError::DoesNotFit {
                job: job.name.clone(),
                reason: format!("it takes {k} of the token `{name}`, which counts {count}"),
            });
        }
        Ok(out)
    }
}

impl Inner {
    /// Starts what fits. Called after each submission and each job's end.
    fn dispatch(this: &Arc<Inner>) {
        let started = {
            let mut sched = this.sched.lock();
            let Sched {
                capacity, queue, ..
            } = &mut *sched;
            let started = queue.dispatch(capacity);
            sched.running += started.len();
            started
        };
        for (waiting, devices) in started {
            let tracked = waiting.item;
            *tracked.status.lock() = Local::Running;
            if let Err(e) = Inner::start(this, &tracked, &devices) {
                let state = JobState::Failed(FailReason::Other(format!("cannot start: {e}")));
                let dir = JobDir::new(Arc::clone(&this.connector), &tracked.job.dir);
                let _ = dir.write_state(&state);
                Inner::finished(this, &tracked, &devices, state);
            }
        }
    }

    /// Writes the script and starts its supervising shell; a thread waits
    /// for it to end.
    fn start(
        this: &Arc<Inner>,
        tracked: &Arc<Tracked>,
        devices: &[Device],
    ) -> Result<(), DirectError> {
        let job = &tracked.job;
        let script_path = job.dir.join(SCRIPT);
        // The job's devices are the ledger's to give: its script exports
        // them once it holds its share.
        let mut args = vec![script_path.into_os_string(), "spawned".into()];
        if tracked.here.is_some() {
            args.push("stdin".into());
        }
        // Told its place on its standard input, it says its command's pid
        // on its standard output to a submitter that stays
        // (`record_command`).
        let pipe_if = |pipe: bool| {
            if pipe {
                StdioSpec::Pipe
            } else {
                StdioSpec::Null
            }
        };
        let spec = ProcessSpec::new("sh")
            .args(args)
            .cwd(&job.dir)
            .stdio(
                pipe_if(tracked.here.is_some()),
                pipe_if(tracked.here.is_some() && !job.detach),
                // The supervisor's own complaints, before the command's.
                StdioSpec::File(job.dir.join(STDERR)),
            )
            // The job's marker, by which a canceller knows its processes.
            .env(JOB_DIR_VAR, &job.dir)
            .detached(job.detach);
        // Made here, its owner's alone (the spawn only truncates it).
        this.connector.write_unread(&job.dir.join(STDERR), b"")?;
        let mut process = this.connector.spawn(&spec)?;
        // Who runs it, known at once: whoever looks before the supervisor
        // is scheduled finds it there, alive (or gone).
        let files = JobDir::new(Arc::clone(&this.connector), &job.dir);
        // Read once, for its `pid` file and its place.
        let stat = process.id().map(|pid| proc_stat(&files, pid));
        let mut recorded = record_supervisor(&files, process.id(), stat.as_deref(), job.detach);
        // Its place, said on its standard input (nothing said: its script
        // makes the round itself), which then stays open for
        // `record_command` alone.
        let mut stdin = process.take_stdin();
        let placed = match (&mut stdin, &tracked.here) {
            (Some(stdin), Some((ledger, need))) => process
                .id()
                .zip(stat.as_deref())
                .and_then(|(pid, stat)| place(ledger, need, &job.dir, pid, stat))
                .is_some_and(|place| {
                    stdin.write_all(place.line().as_bytes()).is_ok()
                        && match place {
                            take::Place::Holds { .. } => true,
                            // Said at once (its script says it again):
                            // whoever looks now sees it wait.
                            take::Place::Waits { seq } => {
                                let mut text = b"ledger ".to_vec();
                                text.extend_from_slice(ledger.as_os_str().as_encoded_bytes());
                                text.extend_from_slice(format!("\nseq {seq}\n").as_bytes());
                                files.write(ledger::JOB_FILE, &text).is_ok()
                            }
                        }
                }),
            _ => false,
        };
        // Else its standard input closes here, whatever happens.
        let told = match stdin {
            Some(stdin) if placed && !job.detach => process.take_stdout().map(|out| (stdin, out)),
            _ => None,
        };
        if job.detach && !(placed && recorded) {
            // A detached job outlives its submitter: return once its
            // directory says who runs it and it waits in the machine's
            // ledger or has started, so that no one ever takes it for a job
            // whose submitter vanished before it started, and jobs
            // submitted one after the other wait in that order.
            let in_line = job.dir.join(ledger::JOB_FILE);
            let since = Instant::now();
            // (Its place taken here, its `pid` file is all it lacks.)
            while since.elapsed() < Duration::from_secs(10)
                && process.try_wait()?.is_none()
                && files.final_state()?.is_none()
            {
                if let Some(pid) = files.pid_file()? {
                    if placed || pid.command.is_some() || this.connector.exists(&in_line)? {
                        break;
                    }
                }
                // Recorded once it leads its session (`setsid` made it).
                recorded = recorded || record_supervisor(&files, process.id(), None, true);
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let this = Arc::clone(this);
        let tracked = Arc::clone(tracked);
        let devices = devices.to_vec();
        std::thread::Builder::new()
            .name("launch-direct-job".into())
            .spawn(move || {
                let dir = JobDir::new(Arc::clone(&this.connector), &tracked.job.dir);
                if let (Some((stdin, stdout)), Some(pid)) = (told, process.id()) {
                    record_command(&dir, pid, stdin, stdout);
                }
                let exit = process.wait();
                let state = match exit
                    .map_err(DirectError::from)
                    .and_then(|_| dir.after_supervisor())
                {
                    Ok(state) => state,
                    Err(e) => {
                        JobState::Failed(FailReason::Other(format!("cannot follow the job: {e}")))
                    }
                };
                Inner::finished(&this, &tracked, &devices, state);
            })
            .map_err(|e| {
                DirectError::Connector(ConnectorError::Spawn {
                    program: "a thread to follow the job".into(),
                    source: e,
                })
            })?;
        Ok(())
    }

    /// Records a job's end, gives back what it held and starts what now fits.
    fn finished(this: &Arc<Inner>, tracked: &Tracked, devices: &[Device], state: JobState) {
        if tracked.counted {
            let mut sched = this.sched.lock();
            sched.capacity.give_back(&tracked.need, devices);
            sched.running -= 1;
        }
        *tracked.status.lock() = Local::Ended(state);
        tracked.cond.notify_all();
        Inner::dispatch(this);
    }
}

/// Takes the place in the ledger `dir` of the job in `job_dir` that the
/// supervisor `pid` runs (its `/proc/PID/stat` line `line`), or `None`
/// (its script then makes the round itself).
fn place(dir: &Path, need: &str, job_dir: &Path, pid: u32, line: &str) -> Option<take::Place> {
    let start = jobdir::parse_stat(line)?.start;
    let newcomer = take::Newcomer {
        dir: job_dir,
        pid,
        start,
        need,
    };
    take::take(dir, &newcomer).ok()
}

/// The supervisor `pid` of the job in `dir`, told its place on `stdin`,
/// says its command's pid on `stdout` once it started it (`cmd PID`): the
/// command's part of the `pid` file is written here, its start read at
/// once (where the shell reads a byte at a time), and `ok PID` said back.
/// Anything amiss (not its child, gone, a write that fails): nothing is
/// said, and the supervisor writes that part itself.
fn record_command(
    files: &JobDir,
    pid: u32,
    mut stdin: Box<dyn std::io::Write + Send>,
    stdout: Box<dyn std::io::Read + Send>,
) {
    use std::io::{BufRead as _, Write as _};
    let mut line = String::new();
    if std::io::BufReader::new(std::io::Read::take(stdout, 64))
        .read_line(&mut line)
        .is_err()
    {
        return;
    }
    let Some(command) = line
        .strip_prefix("cmd ")
        .and_then(|p| p.trim_end().parse::<u32>().ok())
    else {
        return;
    };
    let stat = proc_stat(files, command);
    // Its own child: never another process's identity. A command that
    // ended at once may be reaped and gone already: then its script reads
    // nothing either, and its start stays unknown, as it always did.
    if jobdir::parse_stat(&stat).is_none_or(|s| s.parent != pid) {
        return;
    }
    let part = format!("cmd {command}\ncstat {stat}\ncend\n");
    let appended = std::fs::OpenOptions::new()
        .append(true)
        .open(files.path(jobdir::PID))
        .and_then(|mut file| file.write_all(part.as_bytes()));
    if appended.is_ok() {
        let _ = stdin.write_all(format!("ok {command}\n").as_bytes());
    }
}

/// A file of the job's machine, trimmed (empty: none).
fn text_of(files: &JobDir, path: &str) -> String {
    let bytes = files.read_abs(Path::new(path)).ok().flatten();
    String::from_utf8_lossy(&bytes.unwrap_or_default())
        .trim()
        .to_owned()
}

/// The `/proc/PID/stat` line of `pid` on the job's machine (empty: none).
fn proc_stat(files: &JobDir, pid: u32) -> String {
    text_of(files, &format!("/proc/{pid}/stat"))
}

/// Writes the first part of the `pid` file for the supervisor `pid` just
/// started (its `/proc/PID/stat` line `stat`, when just read), once
/// `/proc` shows it leading its process group (its session, when
/// `detached`): whether that is done (or cannot be: no pid, a file already
/// there). Best effort: the supervisor, which runs whatever happens here,
/// writes it too when it finds none.
fn record_supervisor(files: &JobDir, pid: Option<u32>, stat: Option<&str>, detached: bool) -> bool {
    let Some(pid) = pid else { return true };
    let stat = stat.map_or_else(|| proc_stat(files, pid), str::to_owned);
    // Fields after the name: state, ppid, process group, session.
    let leader = stat
        .rfind(')')
        .and_then(|at| {
            stat[at + 1..]
                .split_ascii_whitespace()
                .nth(if detached { 3 } else { 2 })
        })
        .and_then(|id| id.parse::<u32>().ok());
    // Without its start time it would read as gone.
    if leader != Some(pid) || jobdir::parse_stat(&stat).is_none() {
        return false;
    }
    // The machine's boot id, which this process read once.
    let boot = jobdir::this_process()
        .map_or_else(|| text_of(files, jobdir::BOOT_ID), |me| me.boot.clone());
    let record = jobdir::spawned_pid_file(pid, &boot, &stat);
    let _ = files
        .connector
        .create_file(&files.path(jobdir::PID), &record);
    true
}

impl Launcher for DirectLauncher {
    fn kind(&self) -> &'static str {
        "direct"
    }

    fn describe(&self) -> String {
        let host = self.host();
        let accel = if host.accelerators.is_empty() {
            "no accelerators".to_owned()
        } else {
            let mut counts: Vec<(AcceleratorKind, usize)> = Vec::new();
            for a in &host.accelerators {
                match counts.iter_mut().find(|(k, _)| *k == a.kind) {
                    Some(c) => c.1 += 1,
                    None => counts.push((a.kind, 1)),
                }
            }
            counts
                .iter()
                .map(|(k, n)| format!("{n} {}", k.host_name()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "direct on {} ({} cores, {} memory, {accel})",
            self.inner.connector.name(),
            host.cores,
            if host.memory.is_zero() {
                "unknown".to_owned()
            } else {
                host.memory.human()
            },
        )
    }

    fn priority(&self) -> f64 {
        self.inner.config.priority
    }

    fn submit(&self, job: Job) -> Result<Box<dyn JobHandle>, JobError> {
        Ok(Box::new(self.submit_job(job)?))
    }

    fn recover(&self, dir: &Path) -> Result<Box<dyn JobHandle>, JobError> {
        let mut job = recover(Arc::clone(&self.inner.connector), dir)?;
        job.grace = self.inner.config.grace;
        Ok(Box::new(job))
    }

    /// From the machine's ledger, read without taking anything
    /// ([`DirectLauncher::start_estimate`]).
    fn expected_start(
        &self,
        job: &Job,
    ) -> Option<Result<core_types::job::StartEstimate, JobError>> {
        Some(self.start_estimate(job).map_err(JobError::from))
    }
}

/// A job submitted by this process: its state is known without reading
/// its directory, and waiting for it blocks without polling.
#[derive(Debug)]
pub struct DirectJob {
    tracked: Arc<Tracked>,
    inner: Arc<Inner>,
}

impl DirectJob {
    fn jobdir(&self) -> JobDir {
        JobDir::new(Arc::clone(&self.inner.connector), &self.tracked.job.dir)
    }

    fn wait_for(&self, timeout: Option<Duration>) -> Option<JobState> {
        let start = Instant::now();
        let mut status = self.tracked.status.lock();
        loop {
            if let Local::Ended(state) = &*status {
                return Some(state.clone());
            }
            match timeout {
                None => {
                    self.tracked.cond.wait(&mut status);
                }
                Some(limit) => {
                    let left = limit.saturating_sub(start.elapsed());
                    if left.is_zero() {
                        return None;
                    }
                    self.tracked.cond.wait_for(&mut status, left);
                }
            }
        }
    }
}

impl JobHandle for DirectJob {
    fn id(&self) -> String {
        self.tracked.job.dir.display().to_string()
    }

    fn dir(&self) -> &Path {
        &self.tracked.job.dir
    }

    fn state(&self) -> Result<JobState, JobError> {
        let local = self.tracked.status.lock().clone();
        Ok(match local {
            Local::Queued => JobState::Scheduled,
            // Started here; it may still wait for its share of the machine.
            Local::Running => match self.jobdir().waiting() {
                Ok(true) => JobState::Scheduled,
                _ => JobState::Running,
            },
            Local::Ended(state) => state,
        })
    }

    fn wait(&self) -> Result<JobState, JobError> {
        Ok(self
            .wait_for(None)
            .expect("waiting without a timeout ends with a state"))
    }

    fn wait_timeout(&self, timeout: Duration) -> Result<Option<JobState>, JobError> {
        Ok(self.wait_for(Some(timeout)))
    }

    fn cancel(&self) -> Result<(), JobError> {
        // Still queued: it never starts.
        let removed = self
            .inner
            .sched
            .lock()
            .queue
            .remove_where(|t| Arc::ptr_eq(t, &self.tracked));
        if removed.is_some() {
            let state = JobState::Failed(FailReason::Cancelled);
            self.jobdir()
                .write_state(&state)
                .map_err(DirectError::from)?;
            *self.tracked.status.lock() = Local::Ended(state);
            self.tracked.cond.notify_all();
            return Ok(());
        }
        self.jobdir().cancel(self.inner.config.grace, &|d| {
            Ok(self.wait_for(Some(d)).is_some())
        })?;
        // The supervisor's end is what frees the capacity: wait for it.
        self.wait_for(None);
        Ok(())
    }
}

/// A job followed from its directory alone (any process, any time).
#[derive(Debug)]
pub struct RecoveredJob {
    dir: JobDir,
    grace: Duration,
}

/// A handle on the direct launcher's job in `dir`, on `connector`'s machine.
pub fn recover(connector: Arc<dyn Connector>, dir: &Path) -> Result<RecoveredJob, DirectError> {
    let dir = JobDir::new(connector, dir);
    dir.meta()?;
    Ok(RecoveredJob {
        dir,
        grace: DirectConfig::default().grace,
    })
}

impl RecoveredJob {
    /// Why the job waits, when it waits for its share of its machine
    /// (`waiting for 2 cores: 2 of 2 in use`), or in the queue of the
    /// process that submitted it.
    pub fn waiting_reason(&self) -> Result<Option<String>, DirectError> {
        self.dir.waiting_reason()
    }

    /// Sets the grace period between TERM and KILL when cancelling.
    #[must_use]
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }
}

impl JobHandle for RecoveredJob {
    fn id(&self) -> String {
        self.dir.dir.display().to_string()
    }

    fn dir(&self) -> &Path {
        &self.dir.dir
    }

    fn state(&self) -> Result<JobState, JobError> {
        Ok(self.dir.observed_state()?)
    }

    fn wait(&self) -> Result<JobState, JobError> {
        Ok(self
            .dir
            .poll_until_final(None)?
            .expect("waiting without a timeout ends with a state"))
    }

    fn wait_timeout(&self, timeout: Duration) -> Result<Option<JobState>, JobError> {
        Ok(self.dir.poll_until_final(Some(timeout))?)
    }

    fn cancel(&self) -> Result<(), JobError> {
        self.dir.cancel(self.grace, &|d| {
            Ok(self.dir.poll_until_final(Some(d))?.is_some())
        })?;
        Ok(())
    }
}
