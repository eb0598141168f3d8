//! A Slurm controller of its own for one cluster layout: its own
//! directory under `/tmp`, munge key and socket, ports and state, with no
//! slurmd (nodes not responding, as a login node often sees them) or one
//! slurmd per node on this machine (`slurmd -N NODE`, each on a port of
//! its own). Stopped when dropped. Needs Debian's `slurm-wlm` and `munge`
//! and root; [`Layout::start`] answers `None` (with a note) unless
//! `LAUNCH_TEST_SLURM=required` (what `cargo xtask test` sets).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running controller (and its slurmds).
#[derive(Debug)]
pub struct Layout {
    dir: PathBuf,
    pids: Vec<(String, PathBuf)>,
}

fn sbin(program: &str) -> PathBuf {
    let dir = std::env::var_os("LAUNCH_TEST_SLURM_SBIN").unwrap_or_else(|| "/usr/sbin".into());
    Path::new(&dir).join(program)
}

/// Where the client commands are.
pub fn bin_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("LAUNCH_TEST_SLURM_BIN").unwrap_or_else(|| "/usr/bin".into()))
}

fn run(cmd: &mut Command) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("the command starts");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn hostname() -> String {
    let out = Command::new("hostname").output().expect("hostname runs");
    let name = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    name.split('.').next().unwrap_or_default().to_owned()
}

/// `gres.conf` lines for the GPUs the `NodeName=` lines give (counts, no
/// device files), so that each slurmd reports what `slurm.conf` says.
fn gres_lines(conf: &str, dir: &Path) -> String {
    let mut out = String::new();
    for line in conf.lines().map(str::trim) {
        let mut name = None;
        let mut gres = None;
        for field in line.split_whitespace() {
            match field.split_once('=') {
                Some(("NodeName", v)) => name = Some(v),
                Some(("Gres", v)) => gres = Some(v),
                _ => {}
            }
        }
        let (Some(name), Some(gres)) = (name, gres) else {
            continue;
        };
        // Device files of the GPUs (the character device of /dev/null, as
        // the test cluster's), one directory a node.
        let devices = dir
            .join("dev")
            .join(name.replace(['[', ']', ',', '-'], "_"));
        std::fs::create_dir_all(&devices).expect("create the device directory");
        let mut next = 0u32;
        for item in gres.split(',') {
            let (kind, ty, count) = match item.split(':').collect::<Vec<_>>().as_slice() {
                [kind, count] => (*kind, None, *count),
                [kind, ty, count] => (*kind, Some(*ty), *count),
                _ => continue,
            };
            let count: u32 = count.parse().expect("a GRES count");
            for i in next..next + count {
                run(Command::new("mknod")
                    .arg(devices.join(format!("gpu{i}")))
                    .args(["c", "1", "3"]));
            }
            let ty = ty.map(|t| format!(" Type={t}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "NodeName={name} Name={kind}{ty} File={}/gpu[{next}-{}]",
                devices.display(),
                next + count - 1
            );
            next += count;
        }
    }
    out
}

impl Layout {
    /// Starts a controller for `nodes_and_partitions` (the `NodeName=` and
    /// `PartitionName=` lines of a `slurm.conf`), with `slurmds` (node
    /// names) each running a slurmd, whose `gres.conf` lines are `gres`.
    /// `None` when the Slurm tests are not asked for.
    #[allow(clippy::too_many_lines)] // the configuration, written out
    pub fn start(
        name: &str,
        nodes_and_partitions: &str,
        gres: &str,
        slurmds: &[&str],
    ) -> Option<Layout> {
        if std::env::var("LAUNCH_TEST_SLURM").as_deref() != Ok("required") {
            eprintln!("note: LAUNCH_TEST_SLURM is not set: layout `{name}` is not started");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("launch-layout-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in "etc state spool log run munge/run munge/etc munge/lib munge/log".split(' ') {
            std::fs::create_dir_all(dir.join(sub)).expect("create the layout's directories");
        }
        for (sub, mode) in [
            ("", 0o755),
            ("etc", 0o755),
            ("munge", 0o755),
            ("munge/run", 0o755),
            ("munge/etc", 0o700),
            ("munge/lib", 0o700),
            ("munge/log", 0o700),
        ] {
            chmod(&dir.join(sub), mode);
        }
        let mut layout = Layout {
            dir: dir.clone(),
            pids: Vec::new(),
        };
        let d = dir.display();
        run(Command::new(sbin("mungekey"))
            .arg("--create")
            .arg("--bits=1024")
            .arg(format!("--keyfile={d}/munge/etc/munge.key")));
        run(Command::new(sbin("munged"))
            .arg(format!("--key-file={d}/munge/etc/munge.key"))
            .arg(format!("--socket={d}/munge/run/munge.socket"))
            .arg(format!("--pid-file={d}/munge/run/munged.pid"))
            .arg(format!("--log-file={d}/munge/log/munged.log"))
            .arg(format!("--seed-file={d}/munge/lib/munged.seed")));
        layout
            .pids
            .push(("munged".into(), dir.join("munge/run/munged.pid")));
        let host = hostname();
        let ctld_port = crate::ports::free_port();
        let mut nodes = String::new();
        for line in nodes_and_partitions.lines() {
            let line = line.trim();
            if line.starts_with("NodeName=") {
                // Every node on this machine, a port of its own.
                let _ = writeln!(
                    nodes,
                    "{line} NodeHostname={host} NodeAddr=127.0.0.1 Port={}",
                    crate::ports::free_port()
                );
            } else if !line.is_empty() {
                nodes.push_str(line);
                nodes.push('\n');
            }
        }
        // The controller's settings are data (data/layout-slurm.conf); the
        // layout gives its nodes and partitions.
        let conf = include_str!("../data/layout-slurm.conf")
            .replace("@CTLD_PORT@", &ctld_port.to_string())
            .replace("@HOST@", &host)
            .replace("@DIR@", &d.to_string())
            .replace("@NODES@", &nodes);
        std::fs::write(dir.join("etc/slurm.conf"), conf).expect("write slurm.conf");
        let gres = if gres.is_empty() {
            gres_lines(nodes_and_partitions, &dir)
        } else {
            gres.to_owned()
        };
        std::fs::write(dir.join("etc/gres.conf"), format!("AutoDetect=off\n{gres}"))
            .expect("write gres.conf");
        let conf = dir.join("etc/slurm.conf");
        run(Command::new(sbin("slurmctld"))
            .arg("-f")
            .arg(&conf)
            .env("SLURM_CONF", &conf));
        layout
            .pids
            .push(("slurmctld".into(), dir.join("run/slurmctld.pid")));
        layout.wait(
            |out| out.status.success() && !out.stdout.is_empty(),
            &["--noheader", "--format=%t"],
            "sinfo to answer",
        );
        layout.start_slurmds(slurmds);
        Some(layout)
    }

    /// Every node of the layout.
    pub fn nodes(&self) -> Vec<String> {
        let out = self
            .client("sinfo")
            .args(["--noheader", "--all", "-N", "--format=%N"])
            .output()
            .expect("sinfo runs");
        let mut nodes: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        nodes.sort();
        nodes.dedup();
        nodes
    }

    /// Starts a slurmd for each of `nodes` (`slurmd -N NODE`) and waits
    /// until they are idle.
    pub fn start_slurmds<S: AsRef<str>>(&mut self, nodes: &[S]) {
        if nodes.is_empty() {
            return;
        }
        let conf = self.conf();
        for node in nodes {
            let node = node.as_ref();
            std::fs::create_dir_all(self.dir.join(format!("spool/{node}"))).expect("spool");
            run(Command::new(sbin("slurmd"))
                .arg("-f")
                .arg(&conf)
                .args(["-N", node])
                .env("SLURM_CONF", &conf));
            self.pids.push((
                "slurmd".into(),
                self.dir.join(format!("run/slurmd-{node}.pid")),
            ));
        }
        let want: Vec<String> = nodes.iter().map(|s| s.as_ref().to_owned()).collect();
        self.wait(
            |out| {
                let text = String::from_utf8_lossy(&out.stdout);
                want.iter().all(|n| {
                    text.lines()
                        .any(|l| l.starts_with(&format!("{n} ")) && l.ends_with(" idle"))
                })
            },
            &["--noheader", "-N", "--format=%N %t"],
            "the slurmd nodes to be idle",
        );
    }

    fn wait(&self, done: impl Fn(&Output) -> bool, args: &[&str], what: &str) {
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < Duration::from_secs(60) {
            if let Ok(out) = self.client("sinfo").args(args).output() {
                if done(&out) {
                    return;
                }
                last = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let mut log = String::new();
        for entry in std::fs::read_dir(self.dir.join("log"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let _ = write!(
                log,
                "\n--- {} ---\n{}",
                entry.path().display(),
                lines[lines.len().saturating_sub(12)..].join("\n")
            );
        }
        panic!("waiting for {what}: {last}{log}");
    }

    /// The controller's `slurm.conf`.
    pub fn conf(&self) -> PathBuf {
        self.dir.join("etc/slurm.conf")
    }

    /// The layout's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A client command of this controller.
    pub fn client(&self, program: &str) -> Command {
        let mut cmd = Command::new(bin_dir().join(program));
        cmd.env("SLURM_CONF", self.conf());
        cmd
    }

    /// Submits a job of 2 cores and 50 minutes (`sleep 600`) to
    /// `partition`, so that its node is busy for a long time.
    pub fn occupy(&self, partition: &str) {
        let out = self
            .client("sbatch")
            .args([
                &format!("--partition={partition}"),
                "-c",
                "2",
                "--time=50:00",
                "--output=/dev/null",
                "--wrap=sleep 600",
            ])
            .current_dir("/tmp")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }

    /// `sbatch --test-only` of `args` as the unprivileged user `nobody`:
    /// what sbatch printed, `Ok` when it accepted.
    pub fn test_only_as_nobody(&self, args: &[String]) -> Result<String, String> {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(bin_dir().join("sbatch"))
            .arg("--test-only")
            .args(args)
            .args(["--output=/dev/null", "--wrap=true"])
            .env("SLURM_CONF", self.conf())
            .current_dir("/tmp")
            .output()
            .expect("sbatch runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            Ok(text)
        } else {
            Err(text)
        }
    }
}

impl Drop for Layout {
    fn drop(&mut self) {
        for (name, pid_file) in self.pids.iter().rev() {
            let Some(pid) = std::fs::read_to_string(pid_file)
                .ok()
                .and_then(|p| p.trim().parse::<u32>().ok())
            else {
                continue;
            };
            let alive = || {
                std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name)
            };
            if !alive() {
                continue;
            }
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            let start = Instant::now();
            while alive() && start.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(50));
            }
            if alive() {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
