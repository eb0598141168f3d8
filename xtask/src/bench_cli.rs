//! `cargo xtask bench-cli`: the batch modes on 100,000 lines, release build.
//! Target: under one second each. Prints the best of five runs.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

const LINES: usize = 100_000;

pub(crate) fn run() -> Result<()> {
    let root = crate::codegen::workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "--release", "-p", "launch"])
        .current_dir(&root)
        .status()?;
    ensure!(status.success(), "building launch failed");
    let bin = root.join("target/release/launch");

    // The conformance expressions, valid and not, cycled to 100,000 lines.
    let exprs: Vec<String> = include_str!("../../crates/reqparse/tests/data/parse.jsonl")
        .lines()
        .filter_map(|l| {
            let case: serde_json::Value = serde_json::from_str(l).ok()?;
            Some(case["expr"].as_str()?.to_owned())
        })
        .filter(|e| !e.contains('\n'))
        .collect();
    ensure!(exprs.len() > 300, "conformance expressions not found");
    let mut input = String::new();
    for k in 0..LINES {
        input.push_str(&exprs[k % exprs.len()]);
        input.push('\n');
    }
    let dir = std::env::temp_dir().join(format!("launch-bench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let host = dir.join("host.toml");
    std::fs::write(
        &host,
        "cores = 64\nmemory = \"1TiB\"\naccelerators = [{ kind = \"cuda\", memory = \"80GiB\", count = 8 }]\n",
    )?;

    let host_arg = host.to_str().context("temp path is UTF-8")?;
    for (name, args) in [
        ("launch parse --json -", vec!["parse", "--json", "-"]),
        (
            "launch match --json --host F -",
            vec!["match", "--json", "--host", host_arg, "-"],
        ),
    ] {
        let mut best = Duration::MAX;
        let mut lines_out = 0;
        for _ in 0..5 {
            let start = Instant::now();
            let mut child = Command::new(&bin)
                .args(&args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()?;
            let mut stdin = child.stdin.take().context("stdin")?;
            let text = input.clone();
            let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
            let out = child.wait_with_output()?;
            writer
                .join()
                .map_err(|_| anyhow::anyhow!("writer panicked"))??;
            best = best.min(start.elapsed());
            if !out.status.success() {
                bail!("{name} failed: {}", out.status);
            }
            lines_out = out.stdout.split(|&b| b == b'\n').count() - 1;
        }
        ensure!(
            lines_out == LINES,
            "{name}: {lines_out} lines out for {LINES} in"
        );
        println!(
            "{name}: {LINES} lines in {:.1} ms (best of 5), {:.0} lines/s",
            best.as_secs_f64() * 1e3,
            LINES as f64 / best.as_secs_f64()
        );
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
