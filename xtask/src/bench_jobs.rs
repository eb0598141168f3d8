//! `cargo xtask bench-jobs [--debug]`: a user's jobs at scale, through the
//! `launch` binary (release build; `--debug`: the debug one, for a quick
//! look), best of a few runs each.
//!
//! Run it on a quiet file system: on ext4 without a journal (this
//! project's test machines), each file made in the five minutes after many
//! were removed nearby scans past them (about 0.5 ms a file after a
//! `rm -rf` of 10,000 job directories), which no change here can avoid;
//! the benchmark removes its own files last.
//!
//! - `launch run "cpu(cores=1)" -- true` end to end (target: under 100 ms);
//! - `launch list --json` (and the table) over 10,000 jobs that ended
//!   (target: under 1 s);
//! - an array of 300 short tasks on this machine against `seq 300 | xargs
//!   -P2 -I{} sh -c ...` in the same run (target: at most 3 times as long);
//! - with the Slurm test cluster (`LAUNCH_TEST_SLURM=required` and its
//!   environment, as `cargo xtask slurm env` prints it): an array of 1,000
//!   tasks submitted (`--detach`: the job directories and the one `sbatch`;
//!   target: under 1 s), then cancelled with one `scancel`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

const LISTED: usize = 10_000;
const TASKS: usize = 300;
const SLURM_TASKS: usize = 1_000;

fn launch_bin(debug: bool) -> Result<PathBuf> {
    let root = crate::codegen::workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(&cargo);
    build.args(["build", "-p", "launch"]).current_dir(&root);
    if !debug {
        build.arg("--release");
    }
    ensure!(build.status()?.success(), "building launch failed");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    Ok(target
        .join(if debug { "debug" } else { "release" })
        .join("launch"))
}

/// `launch ARGS...` with its state under `state`: how long it took.
fn timed(bin: &Path, state: &Path, args: &[&str]) -> Result<(Duration, Vec<u8>)> {
    let start = Instant::now();
    let out = Command::new(bin)
        .args(args)
        .env("XDG_STATE_HOME", state)
        .env_remove("LAUNCH_CONFIG")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    let took = start.elapsed();
    if !out.status.success() && !args.contains(&"--array") {
        bail!(
            "launch {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok((took, out.stdout))
}

fn best<T>(runs: usize, mut f: impl FnMut() -> Result<(Duration, T)>) -> Result<(Duration, T)> {
    let mut best: Option<(Duration, T)> = None;
    for _ in 0..runs {
        let (took, value) = f()?;
        if best.as_ref().is_none_or(|(b, _)| took < *b) {
            best = Some((took, value));
        }
    }
    best.context("no run")
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        std::fs::copy(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}

/// `launch run "cpu(cores=1)" -- true`, end to end: the best and the
/// median of 20 runs.
fn one(bin: &Path, work: &Path) -> Result<()> {
    let state = work.join("one-state");
    let mut took = Vec::new();
    for _ in 0..20 {
        took.push(timed(bin, &state, &["run", "cpu(cores=1)", "--", "true"])?.0);
    }
    took.sort();
    println!(
        "launch run \"cpu(cores=1)\" -- true: best {:.1} ms, median {:.1} ms (target < 100 ms)",
        took[0].as_secs_f64() * 1000.0,
        took[took.len() / 2].as_secs_f64() * 1000.0
    );
    Ok(())
}

/// 10,000 ended jobs: one real one, copied.
fn list(bin: &Path, work: &Path) -> Result<()> {
    let state = work.join("list-state");
    let first = state.join("launch/jobs/first");
    timed(
        bin,
        &state,
        &[
            "run",
            "--name",
            "bench",
            "--job-dir",
            first.to_str().context("UTF-8")?,
            "cpu(cores=1)",
            "--",
            "true",
        ],
    )?;
    // The first one is in the index (`--job-dir`); the copies are under
    // the state directory like default ones.
    for i in 0..LISTED - 1 {
        copy_dir(&first, &state.join(format!("launch/jobs/bench-{i:06}")))?;
    }
    let (took, out) = best(5, || timed(bin, &state, &["list", "--json"]))?;
    let lines = out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
    ensure!(lines == LISTED, "listed {lines} jobs, not {LISTED}");
    println!(
        "launch list --json, {LISTED} ended jobs: {:.3} s (target < 1 s)",
        took.as_secs_f64()
    );
    let (took, _) = best(5, || timed(bin, &state, &["list"]))?;
    println!(
        "launch list (table), {LISTED} ended jobs: {:.3} s",
        took.as_secs_f64()
    );
    let (took, _) = best(5, || {
        timed(bin, &state, &["list", "--json", "--state", "failed"])
    })?;
    println!(
        "launch list --state failed, {LISTED} ended jobs: {:.3} s",
        took.as_secs_f64()
    );
    Ok(())
}

/// 300 short tasks: `launch run --array` against `xargs -P2`.
fn array(bin: &Path, work: &Path) -> Result<()> {
    let state = work.join("array-state");
    let script = "echo \"$LAUNCH_ARRAY_INDEX\" > /dev/null";
    let mut round = 0;
    let (launch, _) = best(3, || {
        round += 1;
        let dir = work.join(format!("array-{round}"));
        let range = format!("1-{TASKS}");
        timed(
            bin,
            &state,
            &[
                "run",
                "--array",
                &range,
                "--job-dir",
                dir.to_str().context("UTF-8")?,
                "cpu(cores=1)",
                "--",
                "sh",
                "-c",
                script,
            ],
        )
    })?;
    let (xargs, ()) = best(3, || {
        let start = Instant::now();
        let status = Command::new("sh")
            .args([
                "-c",
                &format!("seq {TASKS} | xargs -P2 -I{{}} sh -c 'echo {{}} > /dev/null'"),
            ])
            .status()?;
        ensure!(status.success(), "xargs failed");
        Ok((start.elapsed(), ()))
    })?;
    println!(
        "an array of {TASKS} short tasks: launch {:.3} s, xargs -P2 {:.3} s: {:.1} times (target <= 3)",
        launch.as_secs_f64(),
        xargs.as_secs_f64(),
        launch.as_secs_f64() / xargs.as_secs_f64()
    );
    Ok(())
}

/// 1,000 tasks submitted to the Slurm test cluster.
fn slurm(bin: &Path, work: &Path) -> Result<()> {
    if std::env::var("LAUNCH_TEST_SLURM").as_deref() != Ok("required") {
        println!(
            "Slurm: skipped (LAUNCH_TEST_SLURM is not `required`; see `cargo xtask slurm env`)"
        );
        return Ok(());
    }
    let state = work.join("slurm-state");
    let config = work.join("launchers.toml");
    timed(
        bin,
        &state,
        &["generate", "slurm", "-o", config.to_str().context("UTF-8")?],
    )?;
    let range = format!("1-{SLURM_TASKS}");
    let bin_dir = std::env::var("LAUNCH_TEST_SLURM_BIN").unwrap_or_else(|_| "/usr/bin".into());
    let mut round = 0;
    let (took, ()) = best(3, || {
        round += 1;
        let dir = work.join(format!("slurm-array-{round}"));
        let (took, _) = timed(
            bin,
            &state,
            &[
                "run",
                "--config",
                config.to_str().context("UTF-8")?,
                "--detach",
                "--array",
                &range,
                "--job-dir",
                dir.to_str().context("UTF-8")?,
                "duration=1m",
                "--",
                "true",
            ],
        )?;
        // The array's Slurm id is in its first task's directory: submitted.
        let id = std::fs::read_to_string(dir.join("1/array-id"))
            .with_context(|| format!("the array in {} was not submitted", dir.display()))?;
        let _ = Command::new(Path::new(&bin_dir).join("scancel"))
            .arg(id.trim())
            .status();
        Ok((took, ()))
    })?;
    println!(
        "an array of {SLURM_TASKS} tasks submitted to Slurm (directories and sbatch): {:.3} s (target < 1 s)",
        took.as_secs_f64()
    );
    Ok(())
}

pub(crate) fn run(args: &[&str]) -> Result<()> {
    let debug = args.contains(&"--debug");
    let bin = launch_bin(debug)?;
    let work = std::env::temp_dir().join(format!("launch-bench-jobs-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let result = one(&bin, &work)
        .and_then(|()| list(&bin, &work))
        .and_then(|()| array(&bin, &work))
        .and_then(|()| slurm(&bin, &work));
    let _ = std::fs::remove_dir_all(&work);
    result
}
