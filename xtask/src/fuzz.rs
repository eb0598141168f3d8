//! `cargo xtask fuzz [TARGET] [--seconds N]`: runs the fuzz targets of
//! `fuzz/` the way `cargo fuzz run` does by default — an optimized build
//! with debug assertions and overflow checks ON (an overflow is a crash),
//! under `AddressSanitizer` — each for N seconds (default 30).
//!
//! It installs cargo-fuzz when it is missing, enables the nightly-only flags
//! cargo-fuzz needs on the stable toolchain through `RUSTC_BOOTSTRAP=1`,
//! builds every target once (and says how long that took), seeds each
//! target from the conformance data and the committed fuzz failures, fails
//! when a target crashes (naming the input libFuzzer saved) and prints each
//! target's exec count.
//!
//! The fuzz workspace builds in `fuzz/target` (gitignored), not in
//! `CARGO_TARGET_DIR`: its sanitizer flags would otherwise rebuild the main
//! workspace's dependencies back and forth.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

const USAGE: &str = "usage: cargo xtask fuzz [TARGET] [--seconds N]";

pub(crate) fn run(args: &[&str]) -> Result<()> {
    let (target, seconds) = parse_args(args)?;
    let root = crate::codegen::workspace_root();
    let fuzz_dir = root.join("fuzz");
    ensure_cargo_fuzz()?;

    let targets = list_targets(&fuzz_dir)?;
    let chosen: Vec<String> = match target {
        Some(name) if targets.iter().any(|t| t == name) => vec![name.to_owned()],
        Some(name) => bail!(
            "no fuzz target `{name}` (the targets are: {})",
            targets.join(", ")
        ),
        None => targets,
    };

    let started = Instant::now();
    let mut build = cargo_fuzz(&fuzz_dir, "build");
    if target.is_some() {
        build.args(&chosen);
    }
    let status = build.status().context("running cargo fuzz build")?;
    if !status.success() {
        bail!("cargo fuzz build failed ({status})");
    }
    eprintln!(
        "fuzz build (debug assertions on): {:.0?}",
        started.elapsed()
    );

    let mut report = Vec::new();
    for name in &chosen {
        let seeds = write_seeds(&root, &fuzz_dir, name)?;
        let execs = run_target(&fuzz_dir, name, &seeds, seconds)?;
        report.push((name, execs));
    }
    for (name, execs) in &report {
        println!("fuzz {name}: {execs} execs in {seconds} s, no crash");
    }
    Ok(())
}

fn parse_args<'a>(args: &[&'a str]) -> Result<(Option<&'a str>, u64)> {
    let (mut target, mut seconds) = (None, 30);
    let mut rest = args.iter();
    while let Some(&arg) = rest.next() {
        match arg {
            "--seconds" => {
                let value = rest.next().context(USAGE)?;
                seconds = value
                    .parse()
                    .with_context(|| format!("--seconds `{value}` is not a whole number"))?;
            }
            name if !name.starts_with('-') && target.is_none() => target = Some(name),
            _ => bail!(USAGE),
        }
    }
    if seconds == 0 {
        bail!("--seconds must be at least 1");
    }
    Ok((target, seconds))
}

/// `cargo fuzz SUBCOMMAND` in `fuzz/`, with the nightly features unlocked and
/// the fuzz workspace's own target dir.
fn cargo_fuzz(fuzz_dir: &Path, subcommand: &str) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["fuzz", subcommand])
        .current_dir(fuzz_dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .env_remove("CARGO_TARGET_DIR");
    if subcommand != "list" {
        // No `-O`/`--release`: cargo-fuzz's default build keeps debug
        // assertions and overflow checks on.
        command.arg("--target-dir").arg(fuzz_dir.join("target"));
    }
    command
}

fn ensure_cargo_fuzz() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let present = Command::new(&cargo)
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    eprintln!("cargo-fuzz is missing: cargo install cargo-fuzz --locked");
    let status = Command::new(&cargo)
        .args(["install", "cargo-fuzz", "--locked"])
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .context("running cargo install cargo-fuzz")?;
    if !status.success() {
        bail!("cargo install cargo-fuzz failed ({status})");
    }
    Ok(())
}

fn list_targets(fuzz_dir: &Path) -> Result<Vec<String>> {
    let output = cargo_fuzz(fuzz_dir, "list")
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo fuzz list")?;
    if !output.status.success() {
        bail!("cargo fuzz list failed ({})", output.status);
    }
    let targets: Vec<String> = String::from_utf8(output.stdout)
        .context("cargo fuzz list printed non-UTF-8")?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if targets.is_empty() {
        bail!("cargo fuzz list found no target in {}", fuzz_dir.display());
    }
    Ok(targets)
}

/// Writes the seeds of `target` into `fuzz/corpus/TARGET-seeds` (rewritten
/// on each run; the corpus libFuzzer grows stays in `fuzz/corpus/TARGET`).
fn write_seeds(root: &Path, fuzz_dir: &Path, target: &str) -> Result<PathBuf> {
    let dir = fuzz_dir.join("corpus").join(format!("{target}-seeds"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    match target {
        "reqparse" => {
            // Every expression of the parser's conformance data.
            let path = root.join("crates/reqparse/tests/data/parse.jsonl");
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            for (n, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                let case: serde_json::Value = serde_json::from_str(line)
                    .with_context(|| format!("{}:{}", path.display(), n + 1))?;
                if let Some(expr) = case["expr"].as_str() {
                    seeds.push(expr.as_bytes().to_vec());
                }
            }
            seeds.extend(committed_failures(&root.join("crates/reqparse"))?);
        }
        "memsize" => {
            // The target reads two u64 and an f64 (24 bytes), then text: one
            // seed per unit, with a fraction.
            let units = core_types::SIZE_UNITS
                .iter()
                .chain(core_types::DURATION_UNITS)
                .map(|&(unit, _)| unit);
            for unit in units {
                let mut seed = vec![0u8; 8];
                seed.extend_from_slice(&3u64.to_le_bytes());
                seed.extend_from_slice(&1.5f64.to_bits().to_le_bytes());
                seed.extend_from_slice(format!("1.25{unit}").as_bytes());
                seeds.push(seed);
            }
            seeds.extend(committed_failures(&root.join("crates/core-types"))?);
        }
        _ => {}
    }
    for (n, seed) in seeds.iter().enumerate() {
        let path = dir.join(format!("seed-{n:04}"));
        std::fs::write(&path, seed).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(dir)
}

/// The inputs of `CRATE/tests/data/fuzz-failures/` (all but the README).
fn committed_failures(krate: &Path) -> Result<Vec<Vec<u8>>> {
    let dir = krate.join("tests/data/fuzz-failures");
    let mut inputs = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_none_or(|e| e != "md") {
            inputs
                .push(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?);
        }
    }
    Ok(inputs)
}

/// Runs one target for `seconds`; its exec count, or an error when it
/// crashed.
fn run_target(fuzz_dir: &Path, target: &str, seeds: &Path, seconds: u64) -> Result<u64> {
    let corpus = fuzz_dir.join("corpus").join(target);
    std::fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
    eprintln!("fuzz {target}: {seconds} s");
    let mut child = cargo_fuzz(fuzz_dir, "run")
        .arg(target)
        .arg(&corpus)
        .arg(seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running cargo fuzz run {target}"))?;
    let stderr = child.stderr.take().context("no stderr pipe")?;
    let mut counts = ExecCount::default();
    let mut crash_input = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.context("reading the fuzzer's output")?;
        eprintln!("{line}");
        counts.read(&line);
        if let Some(path) = line.split("Test unit written to ").nth(1) {
            crash_input = Some(path.trim().to_owned());
        }
    }
    let status = child.wait().context("waiting for cargo fuzz run")?;
    if !status.success() {
        let input = crash_input.map_or_else(
            || "libFuzzer saved no input".to_owned(),
            |path| format!("the input is {path}"),
        );
        bail!(
            "fuzz target {target} crashed after {} execs ({status}); {input}: \
             once fixed, commit it under crates/*/tests/data/fuzz-failures/",
            counts.execs()
        );
    }
    Ok(counts.execs())
}

/// The exec count, read off libFuzzer's output.
#[derive(Default)]
struct ExecCount {
    /// `stat::number_of_executed_units: N` (`-print_final_stats=1`).
    total: Option<u64>,
    /// The latest `#N` status line, in case the final stats are missing.
    latest: u64,
}

impl ExecCount {
    fn read(&mut self, line: &str) {
        if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
            self.total = n.trim().parse().ok();
        } else if let Some(rest) = line.strip_prefix('#') {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(n) = digits.parse() {
                self.latest = self.latest.max(n);
            }
        } else if let Some(rest) = line.strip_prefix("Done ")
            && let Some(Ok(n)) = rest.split_whitespace().next().map(str::parse)
        {
            self.latest = self.latest.max(n);
        }
    }

    fn execs(&self) -> u64 {
        self.total.unwrap_or(self.latest)
    }
}
