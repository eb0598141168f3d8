//! `cargo xtask bench-slurm`: submission and polling speed on the Slurm test
//! cluster (the running one, else one started here and torn down after).
//!
//! - 200 jobs submitted as one job array versus 200 single submissions
//!   (target: the array at least 20 times faster);
//! - one status round for 1,000 tracked jobs: one `squeue` call and its
//!   parse (target: the parse under 5 ms).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use core_types::job::{Job, JobHandle, JobState};
use launcher_slurm::{SlurmLauncher, SlurmOptions, parse};

fn jobs(dir: &Path, prefix: &str, n: usize) -> Vec<Job> {
    (0..n)
        .map(|i| Job::new(dir.join(format!("{prefix}-{i}")), ["true"]).name(prefix))
        .collect()
}

fn wait_all(handles: &[launcher_slurm::SlurmJob]) -> Result<()> {
    for h in handles {
        let state = h
            .wait_timeout(Duration::from_mins(10))?
            .context("a job did not end within ten minutes")?;
        if state != JobState::Done {
            bail!("job {} ended {state}", h.id());
        }
    }
    Ok(())
}

pub(crate) fn run() -> Result<()> {
    let cluster = crate::slurm::TestCluster::reuse_or_start()?;
    let env = cluster.env();
    let get = |name: &str| {
        env.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let launcher = SlurmLauncher::new(connector_local::LocalConnector::shared())
        .bin(get("LAUNCH_TEST_SLURM_BIN"))
        .env("SLURM_CONF", get("SLURM_CONF"))
        .poll_interval(Duration::from_millis(500));
    let work = tempfile_dir()?;

    // 200 jobs: one array, then 200 single submissions.
    let array_jobs = jobs(&work, "array", 200);
    let start = Instant::now();
    let array = launcher.submit_array(&array_jobs)?;
    let array_time = start.elapsed();
    wait_all(&array)?;
    let single_jobs = jobs(&work, "single", 200);
    let start = Instant::now();
    let mut singles = Vec::with_capacity(200);
    for job in &single_jobs {
        singles.push(launcher.submit_job(job)?);
    }
    let single_time = start.elapsed();
    wait_all(&singles)?;
    let speedup = single_time.as_secs_f64() / array_time.as_secs_f64();
    println!(
        "200 jobs: one array {:.1} ms, 200 single submissions {:.1} ms: the array is {speedup:.1}x faster",
        ms(array_time),
        ms(single_time)
    );

    // 1,000 tracked jobs (held, so they stay in the queue): one squeue call.
    let mut held = SlurmOptions::default();
    held.set("hold", "true")?;
    let tracked = launcher
        .config(&held)
        .submit_array(&jobs(&work, "held", 1000))?;
    let base = tracked[0]
        .slurm_id()
        .split('_')
        .next()
        .unwrap_or("")
        .to_owned();
    let squeue = Path::new(&get("LAUNCH_TEST_SLURM_BIN")).join("squeue");
    let (mut calls, mut parses) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let start = Instant::now();
        let out = std::process::Command::new(&squeue)
            .env("SLURM_CONF", get("SLURM_CONF"))
            .args([
                "--noheader",
                "--array",
                "--states=all",
                &format!("--jobs={base}"),
                &format!("--format={}", parse::SQUEUE_FORMAT),
            ])
            .output()?;
        calls.push(start.elapsed());
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let start = Instant::now();
        let rows = parse::squeue(&text)?;
        parses.push(start.elapsed());
        if rows.len() != 1000 {
            bail!("squeue showed {} of the 1,000 jobs", rows.len());
        }
    }
    let scancel = Path::new(&get("LAUNCH_TEST_SLURM_BIN")).join("scancel");
    let status = std::process::Command::new(scancel)
        .env("SLURM_CONF", get("SLURM_CONF"))
        .arg(&base)
        .status()?;
    if !status.success() {
        bail!("scancel {base} failed ({status})");
    }
    calls.sort();
    parses.sort();
    println!(
        "1,000 tracked jobs: one squeue call {:.1} ms (median of 10), its parse {:.3} ms",
        ms(calls[5]),
        ms(parses[5])
    );
    let _ = std::fs::remove_dir_all(&work);
    drop(cluster);
    if speedup < 20.0 {
        bail!("the array is only {speedup:.1}x faster than single submissions (target: 20x)");
    }
    if parses[5] > Duration::from_millis(5) {
        bail!(
            "parsing squeue for 1,000 jobs took {:?} (target: 5 ms)",
            parses[5]
        );
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("launch-bench-slurm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}
