//! Dynamic entries choosing the earliest start, made from a launcher
//! file: a loop of finds and submissions in one process asks each member
//! once per refresh (counted with members that only answer), and, on a
//! Slurm controller of the test's own (`test_support::slurm_layout`), the
//! job goes where it starts first: not to a down partition, not to a
//! node busy with a long job, not to a full machine; when no member can
//! start it, priority decides, with a warning.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use core_types::job::{Job, JobState, Launcher, Start};
use launcher_factory::{Backend, LauncherFinder, Launchers, Made, SlurmRequest};
use parking_lot::Mutex;
use registry::Registry;
use test_support::queue::{Queue, Reply};
use test_support::slurm_layout::{Layout, bin_dir};

use crate::req;

/// Slurm entries made as [`Queue`]s answering what the test says,
/// counted by entry name.
struct Queues(HashMap<&'static str, (Reply, Arc<AtomicUsize>)>);

impl Backend for Queues {
    fn slurm(&self, request: SlurmRequest<'_>) -> Made<dyn Launcher> {
        let (reply, asked) = &self.0[request.entry.name.as_str()];
        Ok(Arc::new(Queue {
            asked: Arc::clone(asked),
            ..Queue::new(request.entry.priority, reply.clone())
        }))
    }
}

fn slurm_entry(name: &str, priority: u32, partition: &str) -> String {
    format!(
        "[[launcher]]\nname = \"{name}\"\ntype = \"slurm\"\npriority = {priority}\n\
         host = {{ cores = 2, memory = \"1GiB\", max_duration = \"1h\" }}\n\
         slurm = {{ partition = \"{partition}\" }}\n\n"
    )
}

fn dynamic_entry(members: &[&str], refresh: &str) -> String {
    let list: Vec<String> = members.iter().map(|m| format!("\"{m}\"")).collect();
    format!(
        "[[launcher]]\nname = \"queue-aware\"\ntype = \"dynamic\"\npriority = 100\nmembers = [{}]\n\
         choose = \"earliest-start\"\nrefresh = \"{refresh}\"\n",
        list.join(", ")
    )
}

/// The member a decision chose (`chose `NAME` ...` leads its text).
fn chosen_by(why: &str) -> &str {
    why.strip_prefix("chose `")
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("not a decision: {why}"))
}

fn job(dir: &Path, expr: &str) -> Job {
    Job::new(dir, ["true"]).alternative(req(expr).alternatives[0].clone())
}

/// What the dynamic entry found for `expr` would choose, and why.
fn decide<B: Backend>(launchers: &Launchers<B>, expr: &str, dir: &Path) -> String {
    let requirement = req(expr);
    let choice = launchers.find_launcher(&requirement, &[]).unwrap();
    assert_eq!(choice.name, "queue-aware");
    let estimate = choice
        .launcher
        .expected_start(&job(dir, expr))
        .expect("an earliest-start entry explains itself")
        .unwrap();
    estimate.why
}

#[test]
fn a_loop_of_finds_asks_each_member_once_per_refresh() {
    let short = Arc::new(AtomicUsize::new(0));
    let long = Arc::new(AtomicUsize::new(0));
    let backend = Queues(HashMap::from([
        (
            "gpu-short",
            (Reply::Start(Start::Now, "idle"), Arc::clone(&short)),
        ),
        (
            "gpu-long",
            (Reply::Start(Start::Later, "Resources"), Arc::clone(&long)),
        ),
    ]));
    let file = format!(
        "{}{}{}",
        slurm_entry("gpu-short", 1, "short"),
        slurm_entry("gpu-long", 5, "long"),
        dynamic_entry(&["gpu-short", "gpu-long"], "10m")
    );
    let launchers = Launchers::new(Registry::from_toml_str(&file, "q.toml").unwrap(), backend);
    for i in 0..20 {
        let why = decide(&launchers, "duration=10m", Path::new(&format!("/tmp/q{i}")));
        assert_eq!(chosen_by(&why), "gpu-short", "{why}");
    }
    assert_eq!((short.load(SeqCst), long.load(SeqCst)), (1, 1));
    assert_eq!(launchers.start_cache().len(), 2);
}

const LAYOUT: &str = "
NodeName=ea01 CPUs=2 RealMemory=2000
NodeName=eb01 CPUs=2 RealMemory=2000
PartitionName=pa Nodes=ea01 Default=YES MaxTime=1:00:00 State=UP
PartitionName=pb Nodes=eb01 MaxTime=1:00:00 State=UP
PartitionName=pdown Nodes=eb01 MaxTime=1:00:00 State=DOWN
";

/// Slurm launchers on the test's controller, their commands from `bin`
/// (a directory whose `sbatch` logs its calls).
struct OnLayout {
    conf: PathBuf,
    bin: PathBuf,
}

impl Backend for OnLayout {
    fn slurm(&self, request: SlurmRequest<'_>) -> Made<dyn Launcher> {
        Ok(Arc::new(
            launcher_slurm::SlurmLauncher::new(Arc::clone(&request.connector))
                .derived_options(request.options)
                .priority(request.entry.priority)
                .poll_interval(Duration::from_millis(300))
                .bin(&self.bin)
                .env("SLURM_CONF", &self.conf),
        ))
    }
}

/// A directory of Slurm's client commands whose `sbatch` appends its
/// arguments to `calls` before running the real one.
fn counting_bin(dir: &Path) -> (PathBuf, PathBuf) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = dir.join("sbatch-calls");
    for program in ["squeue", "sinfo", "scancel", "scontrol", "sacct"] {
        let real = bin_dir().join(program);
        if real.exists() {
            std::os::unix::fs::symlink(real, bin.join(program)).unwrap();
        }
    }
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
        calls.display(),
        bin_dir().join("sbatch").display()
    );
    let sbatch = bin.join("sbatch");
    std::fs::write(&sbatch, script).unwrap();
    std::fs::set_permissions(&sbatch, std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin, calls)
}

fn test_only_calls(calls: &Path) -> usize {
    std::fs::read_to_string(calls)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("--test-only"))
        .count()
}

/// Every bullet of the tests, on one controller (starting one
/// takes a while).
#[test]
fn the_job_goes_where_it_starts_first_on_a_cluster() {
    let Some(layout) = Layout::start("earliest", LAYOUT, "", &["ea01", "eb01"]) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (bin, calls) = counting_bin(work.path());
    let warnings = Arc::new(Mutex::new(Vec::<String>::new()));
    let make = |file: &str| {
        let sink = Arc::clone(&warnings);
        Launchers::new(
            Registry::from_toml_str(file, "earliest.toml").unwrap(),
            OnLayout {
                conf: layout.conf(),
                bin: bin.clone(),
            },
        )
        .on_warning(move |w| sink.lock().push(w.to_owned()))
    };
    let dir = |name: &str| work.path().join(name);
    let expr = "duration=10m & cpu(cores=1)";

    // A down partition: the job goes to the other, though it is preferred.
    let file = format!(
        "{}{}{}",
        slurm_entry("down", 10, "pdown"),
        slurm_entry("b", 1, "pb"),
        dynamic_entry(&["down", "b"], "10m")
    );
    let launchers = make(&file);
    let why = decide(&launchers, expr, &dir("d0"));
    assert_eq!(chosen_by(&why), "b", "{why}");
    assert!(why.contains("partition pdown is down"), "{why}");
    let requirement = req(expr);
    let choice = launchers.find_launcher(&requirement, &[]).unwrap();
    let handle = choice.launcher.submit(job(&dir("d1"), expr)).unwrap();
    assert_eq!(handle.wait().unwrap(), JobState::Done);

    // The cache: 20 submissions within the refresh time ask each member
    // once (the decision above asked them: no more now).
    let before = test_only_calls(&calls);
    assert_eq!(before, 2, "one question per member");
    let started = Instant::now();
    let mut handles = Vec::new();
    for i in 0..20 {
        let choice = launchers.find_launcher(&requirement, &[]).unwrap();
        handles.push(
            choice
                .launcher
                .submit(job(&dir(&format!("c{i}")), expr))
                .unwrap(),
        );
    }
    assert!(started.elapsed() < Duration::from_secs(600));
    assert_eq!(test_only_calls(&calls), before, "answers from the cache");
    for h in &handles {
        assert_eq!(h.wait().unwrap(), JobState::Done);
    }

    a_busy_node_loses(&layout, &make, &dir, expr);
    a_full_machine_loses(&make, &dir, expr);

    // No member can start the job: priority, with a warning.
    warnings.lock().clear();
    let file = format!(
        "{}{}{}",
        slurm_entry("down", 1, "pdown"),
        slurm_entry("nosuch", 5, "nosuch"),
        dynamic_entry(&["down", "nosuch"], "0s")
    );
    let launchers = make(&file);
    let why = decide(&launchers, expr, &dir("n0"));
    assert_eq!(chosen_by(&why), "nosuch", "{why}");
    let said = warnings.lock().join("\n");
    assert!(
        said.contains(
            "no member can start the job: the highest priority: `nosuch` is chosen by priority"
        ),
        "{said}"
    );
    let _ = layout.client("scancel").arg("--partition=pa").output();
}

type Make<'a> = &'a dyn Fn(&str) -> Launchers<OnLayout>;
type Dir<'a> = &'a dyn Fn(&str) -> PathBuf;

fn a_busy_node_loses(layout: &Layout, make: Make<'_>, dir: Dir<'_>, expr: &str) {
    // A node busy with a long job: the idle one, though it is preferred.
    layout.occupy("pa");
    let file = format!(
        "{}{}{}",
        slurm_entry("a", 10, "pa"),
        slurm_entry("b", 1, "pb"),
        dynamic_entry(&["a", "b"], "0s")
    );
    let launchers = make(&file);
    let why = (0..100)
        .map(|i| {
            let why = decide(&launchers, expr, &dir(&format!("busy{i}")));
            if chosen_by(&why) == "a" {
                std::thread::sleep(Duration::from_millis(200));
            }
            why
        })
        .find(|why| chosen_by(why) == "b")
        .expect("a busy node loses");
    assert!(why.contains("a: starts at "), "{why}");
}

fn a_full_machine_loses(make: Make<'_>, dir: Dir<'_>, expr: &str) {
    // A full direct machine and an idle Slurm partition: Slurm.
    let file = format!(
        "[[launcher]]\nname = \"ws\"\ntype = \"direct\"\npriority = 10\n\
         ledger = \"{}\"\nhost = {{ cores = 1, memory = \"1GiB\" }}\n\n{}{}",
        dir("ledger").display(),
        slurm_entry("b", 1, "pb"),
        dynamic_entry(&["ws", "b"], "0s")
    );
    let launchers = make(&file);
    let why = decide(&launchers, expr, &dir("w0"));
    assert_eq!(chosen_by(&why), "ws", "an idle machine first: {why}");
    let ws = launchers
        .find_launcher(&req("duration=10m & cpu(cores=1)"), &[])
        .unwrap();
    let long = Job::new(dir("w1"), ["sleep", "600"])
        .alternative(req("duration=10m & cpu(cores=1)").alternatives[0].clone());
    let holder = ws.launcher.submit(long).unwrap();
    let why = (0..50)
        .map(|i| {
            std::thread::sleep(Duration::from_millis(100));
            decide(&launchers, expr, &dir(&format!("w{}", i + 2)))
        })
        .find(|why| chosen_by(why) == "b")
        .expect("a full machine loses");
    assert!(why.contains("ws: starts "), "{why}");
    holder.cancel().unwrap();
}
