//! The machine's ledger under a queue: with 200 detached jobs waiting for
//! the one core of a machine, how long a freed share stays free before the
//! next job takes it. Each job's end (its `state` file's time) and the next
//! one's start (its `pid` file's time, written as its command starts) are
//! read from the job directories; the figures are the gaps between them.
//!
//! A bench command, not a criterion loop (one run is 200 hand-offs): `cargo
//! bench -p benches --bench handoff`.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use core_types::job::{Job, JobHandle, JobState, Launcher};
use core_types::{HostSpec, MemSize};
use launcher_direct::{DirectConfig, DirectLauncher};

const WAITERS: usize = 200;

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn main() {
    let work = tempfile::tempdir().expect("a temporary directory");
    let root = work.path();
    let launcher = DirectLauncher::with_config(
        connector_local::LocalConnector::shared(),
        HostSpec {
            cores: 1,
            memory: MemSize::from_bytes(1 << 30),
            ..HostSpec::default()
        },
        DirectConfig {
            ledger: Some(root.join("ledger")),
            ..DirectConfig::default()
        },
    )
    .expect("a launcher");
    // The first job holds the core until the gate opens.
    let gate = root.join("gate");
    let holder = launcher
        .submit(
            Job::new(
                root.join("holder"),
                ["sh", "-c", r#"while [ ! -e "$GATE" ]; do sleep 0.01; done"#],
            )
            .env("GATE", &gate)
            .detach(true),
        )
        .expect("the holder");
    let dirs: Vec<_> = (0..WAITERS)
        .map(|i| root.join(format!("w{i:03}")))
        .collect();
    let handles: Vec<Box<dyn JobHandle>> = dirs
        .iter()
        .map(|d| {
            launcher
                .submit(Job::new(d, ["true"]).detach(true))
                .expect("a waiter")
        })
        .collect();
    let since = Instant::now();
    while !dirs
        .iter()
        .all(|d| d.join(launcher_direct::ledger::JOB_FILE).exists())
    {
        assert!(since.elapsed() < Duration::from_mins(1), "waiters in line");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::fs::write(&gate, b"").expect("the gate");
    let since = Instant::now();
    assert_eq!(holder.wait().expect("wait"), JobState::Done);
    for h in &handles {
        assert_eq!(h.wait().expect("wait"), JobState::Done);
    }
    let drained = since.elapsed();
    // One core: the jobs ran one after the other, in order of submission.
    let mut runs: Vec<(SystemTime, SystemTime)> = std::iter::once(root.join("holder"))
        .chain(dirs)
        .map(|d| (modified(&d.join("pid")), modified(&d.join("state"))))
        .collect();
    runs.sort();
    let mut gaps: Vec<Duration> = runs
        .windows(2)
        .map(|w| {
            w[1].0
                .duration_since(w[0].1)
                .expect("one core: a job starts after the one before ended")
        })
        .collect();
    gaps.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "hand-off with {WAITERS} waiting (one core): median {:.1} ms, p95 {:.1} ms, max {:.1} ms \
         (target: within 100 ms); {WAITERS} jobs drained in {:.2} s",
        ms(gaps[gaps.len() / 2]),
        ms(gaps[gaps.len() * 95 / 100]),
        ms(*gaps.last().expect("gaps")),
        drained.as_secs_f64()
    );
}
