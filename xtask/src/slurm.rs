//! `cargo xtask slurm up|down|status|env`: a real, hermetic, one-node Slurm
//! cluster for the tests of `launcher-slurm` and `launch`.
//!
//! Everything lives in one directory (`$LAUNCH_SLURM_TEST_DIR`, default
//! `/tmp/launch-slurm-test`): its own `slurm.conf` and `gres.conf` (the
//! clients find them through `SLURM_CONF`), state and spool directories,
//! logs, pid files, its own munge key and socket, and ports of its own. It
//! never reads nor writes `/etc/slurm` and never talks to a Slurm or a
//! munged already running on the machine.
//!
//! The cluster: Slurm 22.05 as Debian ships it (`slurm-wlm`, `munge`,
//! installed with apt-get when `slurmctld` is missing), running as root,
//! one node `launchtest1` (32 CPUs and 32000 MB declared, whatever the
//! machine has, through `SlurmdParameters=config_overrides`), four fake
//! GPUs of type `a100-sxm4-80gb` (character devices made with `mknod PATH
//! c 1 3`, so jobs get `CUDA_VISIBLE_DEVICES`), node features `a100` and
//! `nvlink`, no accounting, and two partitions: `main` (default, one day)
//! and `short` (at most [`SHORT_MAX_MINUTES`] minutes).
//!
//! `up` is idempotent: it stops the daemons a previous run left (found by
//! their pid files and checked by name), starts afresh, and waits until
//! `sinfo` shows the node idle. `down` cancels what is left in the queue
//! and stops the three daemons.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The node's name.
pub(crate) const NODE: &str = "launchtest1";
/// The `short` partition's time limit, in minutes.
pub(crate) const SHORT_MAX_MINUTES: u32 = 2;
/// How many fake GPUs the node has.
const GPUS: u32 = 4;
/// Their type.
const GPU_TYPE: &str = "a100-sxm4-80gb";

/// The cluster's directory.
pub(crate) fn default_dir() -> PathBuf {
    std::env::var_os("LAUNCH_SLURM_TEST_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("/tmp/launch-slurm-test"), PathBuf::from)
}

/// A test cluster's files.
#[derive(Debug, Clone)]
pub(crate) struct Cluster {
    dir: PathBuf,
}

/// The three daemons, in the order they start.
const DAEMONS: [(&str, &str); 3] = [
    ("munged", "munge/run/munged.pid"),
    ("slurmctld", "run/slurmctld.pid"),
    ("slurmd", "run/slurmd.pid"),
];

impl Cluster {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Cluster { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    fn conf(&self) -> PathBuf {
        self.path("etc/slurm.conf")
    }

    /// The variables the tests read: `SLURM_CONF`, `LAUNCH_TEST_SLURM`
    /// (`required`: a Slurm test fails when it cannot reach the cluster),
    /// `LAUNCH_TEST_SLURM_BIN` (where the client commands are) and
    /// `LAUNCH_TEST_SLURM_SBIN` (the daemons, to restart `slurmctld`).
    pub(crate) fn env(&self) -> Vec<(String, String)> {
        vec![
            ("SLURM_CONF".into(), self.conf().display().to_string()),
            ("LAUNCH_TEST_SLURM".into(), "required".into()),
            (
                "LAUNCH_TEST_SLURM_BIN".into(),
                bin_dir(&["sbatch"]).display().to_string(),
            ),
            (
                "LAUNCH_TEST_SLURM_SBIN".into(),
                bin_dir(&["slurmctld"]).display().to_string(),
            ),
            (
                "LAUNCH_TEST_SLURM_DIR".into(),
                self.dir.display().to_string(),
            ),
        ]
    }

    /// A client command with this cluster's configuration.
    fn client(&self, program: &str) -> Command {
        let mut cmd = Command::new(bin_dir(&[program]).join(program));
        cmd.env("SLURM_CONF", self.conf());
        cmd
    }

    /// Installs what is missing, stops what a previous run left, writes the
    /// configuration, starts the daemons, waits until the node is idle.
    pub(crate) fn up(&self) -> Result<()> {
        ensure_installed()?;
        if self.dir.exists() {
            self.stop_all()?;
        }
        self.write_files()?;
        self.start_daemons()?;
        self.wait_idle(Duration::from_secs(90))
    }

    /// Cancels the jobs left in the queue, then stops the daemons.
    pub(crate) fn down(&self) -> Result<()> {
        if !self.dir.exists() {
            eprintln!(
                "slurm: nothing to stop ({} does not exist)",
                self.dir.display()
            );
            return Ok(());
        }
        self.stop_all()
    }

    /// Which daemons run, and what `sinfo` says.
    pub(crate) fn status(&self) -> Result<bool> {
        let mut all = true;
        for (name, pid_file) in DAEMONS {
            if let Some(pid) = running_pid(&self.path(pid_file), name) {
                println!("{name}: running (pid {pid})");
            } else {
                all = false;
                println!("{name}: not running");
            }
        }
        if all {
            let out = self.client("sinfo").output().context("cannot run sinfo")?;
            print!("{}", String::from_utf8_lossy(&out.stdout));
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(all)
    }

    fn stop_all(&self) -> Result<()> {
        let ctld = running_pid(&self.path(DAEMONS[1].1), "slurmctld");
        if ctld.is_some() {
            self.cancel_everything();
        }
        for (name, pid_file) in DAEMONS.iter().rev() {
            if let Some(pid) = running_pid(&self.path(pid_file), name) {
                stop_process(pid, name)?;
            }
        }
        Ok(())
    }

    /// Cancels every job of this cluster (best effort: the daemons are
    /// stopped next anyway) and waits a little for them to go.
    fn cancel_everything(&self) {
        let _ = self
            .client("scancel")
            .args(["--user", &current_user()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let out = self
                .client("squeue")
                .args(["-h", "-o", "%i", "-t", "PD,R,CG,S,CF"])
                .output();
            match out {
                Ok(out) if out.status.success() && out.stdout.trim_ascii().is_empty() => {
                    return;
                }
                Ok(out) if out.status.success() => {}
                _ => return,
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn write_files(&self) -> Result<()> {
        // A clean slate: no job of a previous run comes back.
        for sub in ["state", "spool", "log", "run", "dev", "etc"] {
            let path = self.path(sub);
            if path.exists() {
                std::fs::remove_dir_all(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            }
        }
        for sub in [
            "etc",
            "state",
            "spool",
            "log",
            "run",
            "dev",
            "munge/run",
            "munge/etc",
            "munge/lib",
            "munge/log",
        ] {
            let path = self.path(sub);
            std::fs::create_dir_all(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
        }
        // munged checks its directories: the socket's must be searchable by
        // all, the key's and the log's private.
        for (sub, mode) in [
            ("", 0o755),
            ("munge", 0o755),
            ("munge/run", 0o755),
            ("munge/etc", 0o700),
            ("munge/lib", 0o700),
            ("munge/log", 0o700),
        ] {
            set_mode(&self.path(sub), mode)?;
        }
        let key = self.path("munge/etc/munge.key");
        if !key.exists() {
            run(Command::new(sbin("mungekey"))
                .arg("--create")
                .arg("--bits=1024")
                .arg(format!("--keyfile={}", key.display())))?;
        }
        set_mode(&key, 0o600)?;
        for i in 0..GPUS {
            let dev = self.path(&format!("dev/nvidia{i}"));
            // The character device of /dev/null: jobs may open it.
            run(Command::new("mknod").arg(&dev).args(["c", "1", "3"]))?;
        }
        let (ctld_port, slurmd_port) = (test_ports::free_port(), test_ports::free_port());
        let conf = slurm_conf(&self.dir, &hostname()?, ctld_port, slurmd_port);
        write(&self.conf(), &conf)?;
        let gres = format!(
            "# Written by `cargo xtask slurm up`.\nAutoDetect=off\nNodeName={NODE} Name=gpu Type={GPU_TYPE} File={}/dev/nvidia[0-{}]\n",
            self.dir.display(),
            GPUS - 1
        );
        write(&self.path("etc/gres.conf"), &gres)?;
        Ok(())
    }

    fn start_daemons(&self) -> Result<()> {
        let mut munged = Command::new(sbin("munged"));
        for (option, file) in [
            ("key-file", "munge/etc/munge.key"),
            ("socket", "munge/run/munge.socket"),
            ("pid-file", "munge/run/munged.pid"),
            ("log-file", "munge/log/munged.log"),
            ("seed-file", "munge/lib/munged.seed"),
        ] {
            munged.arg(format!("--{option}={}", self.path(file).display()));
        }
        run(&mut munged).context("starting munged")?;
        run(Command::new(sbin("slurmctld"))
            .arg("-f")
            .arg(self.conf())
            .env("SLURM_CONF", self.conf()))
        .with_context(|| self.logs("starting slurmctld"))?;
        run(Command::new(sbin("slurmd"))
            .arg("-f")
            .arg(self.conf())
            .args(["-N", NODE])
            .env("SLURM_CONF", self.conf()))
        .with_context(|| self.logs("starting slurmd"))?;
        Ok(())
    }

    fn wait_idle(&self, limit: Duration) -> Result<()> {
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < limit {
            let out = self.client("sinfo").args(["-h", "-N", "-o", "%t"]).output();
            if let Ok(out) = out {
                last = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                let states: Vec<&str> = last.split_whitespace().collect();
                if out.status.success() && !states.is_empty() && states.iter().all(|s| *s == "idle")
                {
                    eprintln!(
                        "slurm: cluster up in {:.1}s (SLURM_CONF={})",
                        start.elapsed().as_secs_f64(),
                        self.conf().display()
                    );
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        bail!(
            "{}",
            self.logs(&format!(
                "the node is not idle after {}s (sinfo: {})",
                limit.as_secs(),
                last.trim()
            ))
        )
    }

    /// `what`, followed by the tail of each log, for errors.
    fn logs(&self, what: &str) -> String {
        let mut out = what.to_owned();
        for log in [
            "log/slurmctld.log",
            "log/slurmd.log",
            "munge/log/munged.log",
        ] {
            let text = std::fs::read_to_string(self.path(log)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(15)..];
            let _ = write!(out, "\n--- {log} ---\n{}", tail.join("\n"));
        }
        out
    }
}

fn slurm_conf(dir: &Path, host: &str, ctld_port: u16, slurmd_port: u16) -> String {
    let d = dir.display();
    format!(
        "# Written by `cargo xtask slurm up`: a hermetic one-node test cluster.
ClusterName=launchtest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={d}/munge/run/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/run/slurmctld.pid
SlurmdPidFile={d}/run/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_min_interval=0,default_queue_depth=1000
MinJobAge=30
KillWait=2
InactiveLimit=0
ReturnToService=2
SlurmdParameters=config_overrides
GresTypes=gpu
DefMemPerCPU=100
MaxJobCount=100000
MaxArraySize=10001
NodeName={NODE} NodeHostname={host} NodeAddr=127.0.0.1 CPUs=32 RealMemory=32000 Gres=gpu:{GPU_TYPE}:{GPUS} Feature=a100,nvlink State=UNKNOWN
PartitionName=main Nodes={NODE} Default=YES MaxTime=1-00:00:00 State=UP
PartitionName=short Nodes={NODE} MaxTime=00:{SHORT_MAX_MINUTES:02}:00 State=UP
"
    )
}

/// The directory holding the first of `programs` found in `PATH` (or in
/// the usual system directories, which a non-login `PATH` may lack).
fn bin_dir(programs: &[&str]) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from));
    for dir in dirs {
        if programs.iter().all(|p| dir.join(p).is_file()) {
            return dir;
        }
    }
    PathBuf::from("/usr/bin")
}

fn sbin(program: &str) -> PathBuf {
    bin_dir(&[program]).join(program)
}

fn installed() -> bool {
    [
        "slurmctld",
        "slurmd",
        "munged",
        "mungekey",
        "sbatch",
        "squeue",
    ]
    .iter()
    .all(|p| bin_dir(&[p]).join(p).is_file())
}

/// Installs Debian's `slurm-wlm` and `munge` when they are missing.
fn ensure_installed() -> Result<()> {
    if installed() {
        return Ok(());
    }
    if current_user() != "root" {
        bail!(
            "Slurm is not installed and installing it needs root: run `apt-get install slurm-wlm munge` first"
        );
    }
    eprintln!("slurm: installing slurm-wlm and munge with apt-get");
    run(Command::new("apt-get").arg("update"))?;
    run(Command::new("apt-get")
        .args([
            "install",
            "-y",
            "--no-install-recommends",
            "slurm-wlm",
            "munge",
        ])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    if !installed() {
        bail!(
            "apt-get installed slurm-wlm and munge, yet slurmctld, slurmd or munged is still missing"
        );
    }
    Ok(())
}

fn current_user() -> String {
    Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn hostname() -> Result<String> {
    let out = Command::new("hostname")
        .output()
        .context("cannot run hostname")?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    // slurmctld compares SlurmctldHost with the short name.
    let short = name.split('.').next().unwrap_or_default().to_owned();
    if short.is_empty() {
        bail!("hostname printed nothing");
    }
    Ok(short)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", path.display()))
}

/// Runs a command; its output, or an error with its status and output when
/// it fails.
pub(crate) fn run(cmd: &mut Command) -> Result<std::process::Output> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

/// The pid in `pid_file` when that process runs and is `name`.
fn running_pid(pid_file: &Path, name: &str) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pid_file)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let zombie = stat
        .rfind(')')
        .and_then(|at| stat[at + 1..].split_whitespace().next())
        == Some("Z");
    (comm.trim() == name && !zombie).then_some(pid)
}

/// TERM, then KILL after ten seconds; returns once the process is gone.
fn stop_process(pid: u32, name: &str) -> Result<()> {
    let alive =
        || std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name);
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let start = Instant::now();
    while alive() {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        if start.elapsed() > Duration::from_secs(20) {
            bail!("{name} (pid {pid}) does not stop");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("slurm: stopped {name} (pid {pid})");
    Ok(())
}

/// The test cluster of `cargo xtask test`: up while the guard lives, torn
/// down when it drops (whether the tests passed or not).
#[derive(Debug)]
pub(crate) struct TestCluster {
    cluster: Cluster,
    env: Vec<(String, String)>,
    /// Whether it was started here (and so is stopped when dropped).
    owned: bool,
}

impl TestCluster {
    /// Starts the cluster (installing Slurm when needed).
    pub(crate) fn start() -> Result<Self> {
        let cluster = Cluster::new(default_dir());
        cluster
            .up()
            .context("cannot start the Slurm test cluster (`cargo xtask slurm up`)")?;
        let env = cluster.env();
        Ok(TestCluster {
            cluster,
            env,
            owned: true,
        })
    }

    /// The cluster already running (left as it is afterwards), else a
    /// fresh one as [`start`](Self::start) makes.
    pub(crate) fn reuse_or_start() -> Result<Self> {
        let cluster = Cluster::new(default_dir());
        let running = DAEMONS
            .iter()
            .all(|(name, pid_file)| running_pid(&cluster.path(pid_file), name).is_some());
        if running && cluster.wait_idle(Duration::from_secs(10)).is_ok() {
            let env = cluster.env();
            return Ok(TestCluster {
                cluster,
                env,
                owned: false,
            });
        }
        Self::start()
    }

    /// The variables the tests read.
    pub(crate) fn env(&self) -> Vec<(String, String)> {
        self.env.clone()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        if let Err(e) = self.cluster.down() {
            eprintln!("slurm: cannot stop the test cluster: {e:#}");
        }
    }
}

/// `cargo xtask slurm ...`.
pub(crate) fn main(args: &[&str]) -> Result<()> {
    let cluster = Cluster::new(default_dir());
    match args {
        ["up"] => cluster.up(),
        ["down"] => cluster.down(),
        ["status"] => {
            if cluster.status()? {
                Ok(())
            } else {
                bail!("the test cluster is not running")
            }
        }
        ["env"] => {
            for (name, value) in cluster.env() {
                println!("export {name}='{}'", value.replace('\'', "'\\''"));
            }
            Ok(())
        }
        _ => bail!("usage: cargo xtask slurm up|down|status|env"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_stays_in_its_directory() {
        let conf = slurm_conf(Path::new("/x/y"), "host", 1234, 1235);
        for line in conf.lines() {
            if let Some((_, value)) = line.split_once('=')
                && value.starts_with('/')
                && !value.starts_with("/bin/")
            {
                assert!(value.starts_with("/x/y/"), "{line}");
            }
        }
        assert!(conf.contains("SlurmctldPort=1234\nSlurmdPort=1235\n"));
        assert!(conf.contains("AuthInfo=socket=/x/y/munge/run/munge.socket"));
        assert!(!conf.contains("/etc/slurm"));
    }
}
