//! Development tasks of the workspace.
//!
//! - `cargo xtask arch`: check the crate graph's invariants (ARCHITECTURE.md).
//! - `cargo xtask codegen`: regenerate the generated files.
//! - `cargo xtask codegen --check`: fail when a generated file is stale (CI).
//! - `cargo xtask test`: every test of the workspace (the README's test
//!   command, which `.ci/run` calls).
//! - `cargo xtask bench-cli`: times `launch parse|match --json -` on 100,000
//!   lines with a release build.
//! - `cargo xtask bench-jobs [--debug]`: `launch list` over 10,000 jobs, an
//!   array of 300 tasks against `xargs -P2`, 1,000 tasks to Slurm.
//! - `cargo xtask slurm up|down|status|env`: the hermetic Slurm test cluster;
//!   `cargo xtask bench-slurm` measures submission and polling on it.
//! - `cargo xtask fuzz [TARGET] [--seconds N]`: every fuzz target (or one)
//!   for N seconds (default 30) with debug assertions on; fails on a crash.
//! - `cargo xtask sshd up|down`: the SSH connector's test server;
//!   `cargo xtask bench-ssh` runs the SSH bench against it.

mod arch;
mod bench_cli;
mod bench_jobs;
mod bench_slurm;
mod codegen;
mod fuzz;
mod slurm;
mod slurm_options;
mod sshd;
mod test;

use anyhow::{Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["arch"] => arch::run(),
        ["codegen"] => codegen::run(codegen::Mode::Write),
        ["codegen", "--check"] => codegen::run(codegen::Mode::Check),
        ["test", rest @ ..] => test::run(rest),
        ["bench-cli"] => bench_cli::run(),
        ["bench-jobs", rest @ ..] => bench_jobs::run(rest),
        ["fuzz", rest @ ..] => fuzz::run(rest),
        ["slurm", rest @ ..] => slurm::main(rest),
        ["bench-slurm"] => bench_slurm::run(),
        ["sshd", rest @ ..] => sshd::run(rest),
        ["bench-ssh"] => sshd::bench(),
        _ => bail!(
            "usage: cargo xtask arch | cargo xtask codegen [--check] | cargo xtask test [-- CARGO TEST ARGS] | cargo xtask bench-cli | cargo xtask bench-jobs [--debug] | cargo xtask fuzz [TARGET] [--seconds N] | cargo xtask slurm up|down|status|env | cargo xtask bench-slurm | cargo xtask sshd up|down | cargo xtask bench-ssh"
        ),
    }
}
