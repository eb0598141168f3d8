//! What the tests against the real test cluster share.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use core_types::job::{
    Connector, ConnectorError, Job, JobHandle, JobState, Process, ProcessOutput, ProcessSpec,
    Signal, SignalTarget,
};
use launcher_slurm::{RetryPolicy, SlurmLauncher};

/// The test cluster, as `cargo xtask test` describes it.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub bin: PathBuf,
    pub sbin: PathBuf,
}

/// The cluster when the test command started one, with the shared guard
/// held: `None` (with a note) when `LAUNCH_TEST_SLURM` is not set; a
/// failure when it is `required` and the cluster cannot be reached.
pub fn cluster() -> Option<(Cluster, RwLockReadGuard<'static, ()>)> {
    let settings = settings()?;
    let guard = shared();
    check(&settings);
    Some((settings, guard))
}

/// The cluster, for a test that stops its controller: no other test of
/// this binary uses it meanwhile.
pub fn cluster_exclusive() -> Option<(Cluster, RwLockWriteGuard<'static, ()>)> {
    let settings = settings()?;
    let guard = exclusive();
    check(&settings);
    Some((settings, guard))
}

fn settings() -> Option<Cluster> {
    let bin = test_support::slurm_test_bin()?;
    let sbin = PathBuf::from(
        std::env::var_os("LAUNCH_TEST_SLURM_SBIN").unwrap_or_else(|| "/usr/sbin".into()),
    );
    Some(Cluster { bin, sbin })
}

/// Fails unless `sinfo` answers (within half a minute: a controller a
/// previous test restarted may still be starting).
fn check(cluster: &Cluster) {
    let mut last = String::new();
    for _ in 0..60 {
        match Command::new(cluster.bin.join("sinfo"))
            .args(["--noheader", "--format=%t"])
            .output()
        {
            Ok(out) if out.status.success() && !out.stdout.is_empty() => return,
            Ok(out) => {
                last = format!(
                    "sinfo {}: {}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Err(e) => last = format!("sinfo cannot run from {}: {e}", cluster.bin.display()),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!(
        "LAUNCH_TEST_SLURM=required, but the Slurm test cluster does not answer (SLURM_CONF={:?}): {last}",
        std::env::var_os("SLURM_CONF")
    );
}

static CONTROLLER: RwLock<()> = RwLock::new(());

/// Held by every test while it uses the cluster.
fn shared() -> RwLockReadGuard<'static, ()> {
    CONTROLLER
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Held by the tests that stop the controller.
fn exclusive() -> RwLockWriteGuard<'static, ()> {
    CONTROLLER
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Short waits: the tests want quick answers.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 8,
        first_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(3),
    }
}

/// A launcher on the test cluster through `connector`, polling every
/// 200 ms.
pub fn launcher_with(cluster: &Cluster, connector: Arc<dyn Connector>) -> SlurmLauncher {
    SlurmLauncher::new(connector)
        .bin(&cluster.bin)
        .poll_interval(Duration::from_millis(200))
        .retry(fast_retry())
}

/// A launcher on the test cluster through the local connector.
pub fn launcher(cluster: &Cluster) -> SlurmLauncher {
    launcher_with(cluster, connector_local::LocalConnector::shared())
}

/// What most tests start with: the cluster (as [`cluster`], with the
/// shared guard), a launcher on it ([`launcher`]) and a fresh directory
/// for its jobs ([`workdir`] of `name`).
pub fn started(
    name: &str,
) -> Option<(
    Cluster,
    SlurmLauncher,
    PathBuf,
    RwLockReadGuard<'static, ()>,
)> {
    let (cluster, guard) = cluster()?;
    let launcher = launcher(&cluster);
    Some((cluster, launcher, workdir(name), guard))
}

/// A fresh directory for jobs (kept when the test fails, for a look).
pub fn workdir(name: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(&format!("launch-slurm-{name}-"))
        .tempdir()
        .expect("a temporary directory")
        .keep()
}

/// A job in `dir` that runs `script` with `sh -c`.
pub fn sh_job(dir: impl Into<PathBuf>, script: &str) -> Job {
    Job::new(dir, ["sh", "-c", script])
}

/// Waits for a job's end, at most three minutes (the guard against a hang,
/// not a timing assertion).
pub fn wait(job: &dyn JobHandle) -> JobState {
    job.wait_timeout(Duration::from_secs(180))
        .expect("following the job")
        .unwrap_or_else(|| panic!("job {} did not end within three minutes", job.id()))
}

/// Waits until the job runs.
pub fn wait_running(job: &dyn JobHandle) {
    for _ in 0..600 {
        match job.state().expect("the job's state") {
            JobState::Running => return,
            JobState::Scheduled => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("job {} ended before running: {other}", job.id()),
        }
    }
    panic!("job {} did not start within a minute", job.id());
}

/// A Slurm command's stdout (panics with its stderr when it fails).
pub fn slurm(cluster: &Cluster, program: &str, args: &[&str]) -> String {
    let out = Command::new(cluster.bin.join(program))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A file of a job directory.
pub fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

/// A connector that counts the commands it runs, by program name.
#[derive(Debug)]
pub struct Counting {
    inner: Arc<dyn Connector>,
    name: String,
    counts: Mutex<HashMap<String, usize>>,
}

impl Counting {
    /// The local connector, counted, under a name of its own (so that it
    /// gets a watcher of its own).
    pub fn local(name: &str) -> Arc<Counting> {
        Arc::new(Counting {
            inner: connector_local::LocalConnector::shared(),
            name: format!("counting-{name}"),
            counts: Mutex::new(HashMap::new()),
        })
    }

    /// How many times `program` ran.
    pub fn count(&self, program: &str) -> usize {
        self.counts
            .lock()
            .unwrap()
            .get(program)
            .copied()
            .unwrap_or(0)
    }
}

impl Connector for Counting {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn spawn(&self, spec: &ProcessSpec) -> Result<Box<dyn Process>, ConnectorError> {
        self.inner.spawn(spec)
    }
    fn run(&self, spec: &ProcessSpec) -> Result<ProcessOutput, ConnectorError> {
        let program = Path::new(&spec.program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        *self.counts.lock().unwrap().entry(program).or_default() += 1;
        self.inner.run(spec)
    }
    fn write_file(&self, path: &Path, contents: &[u8]) -> Result<(), ConnectorError> {
        self.inner.write_file(path, contents)
    }
    fn set_executable(&self, path: &Path) -> Result<(), ConnectorError> {
        self.inner.set_executable(path)
    }
    fn read_file(&self, path: &Path) -> Result<Vec<u8>, ConnectorError> {
        self.inner.read_file(path)
    }
    fn create_dir_all(&self, path: &Path) -> Result<(), ConnectorError> {
        self.inner.create_dir_all(path)
    }
    fn create_private_dir(&self, path: &Path) -> Result<Vec<std::ffi::OsString>, ConnectorError> {
        self.inner.create_private_dir(path)
    }
    fn exists(&self, path: &Path) -> Result<bool, ConnectorError> {
        self.inner.exists(path)
    }
    fn remove(&self, path: &Path) -> Result<(), ConnectorError> {
        self.inner.remove(path)
    }
    fn signal(&self, target: SignalTarget, signal: Signal) -> Result<bool, ConnectorError> {
        self.inner.signal(target, signal)
    }
}

/// `squeue --noheader --format=FORMAT --jobs=ID [--states=STATES]`: what
/// Slurm's queue says of one job, trimmed.
pub fn squeue(cluster: &Cluster, id: &str, format: &str, states: Option<&str>) -> String {
    let mut args = vec![
        "--noheader".to_owned(),
        format!("--format={format}"),
        format!("--jobs={id}"),
    ];
    args.extend(states.map(|s| format!("--states={s}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    slurm(cluster, "squeue", &args).trim().to_owned()
}
