//! `cargo xtask test`: the one command that runs every test.
//!
//! It checks that generated files are fresh and that the crate graph keeps
//! its invariants, then runs `cargo test
//! --workspace` (unit, integration and doc tests). Services the tests need
//! are started here, by the project's own scripts, so a fresh machine needs
//! nothing but this command.

use std::process::Command;

use anyhow::{Context, Result, bail};

pub(crate) fn run(extra: &[&str]) -> Result<()> {
    crate::codegen::run(crate::codegen::Mode::Check)?;
    crate::arch::run()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let slurm = crate::slurm::TestCluster::start()?;
    let sshd = crate::sshd::for_tests()?;
    let status = Command::new(&cargo)
        .envs(slurm.env())
        .envs(sshd.env())
        .args(["test", "--workspace"])
        .args(extra.iter().skip_while(|a| **a == "--"))
        .current_dir(crate::codegen::workspace_root())
        .status()
        .with_context(|| format!("running {cargo} test"))?;
    if !status.success() {
        bail!("cargo test failed ({status})");
    }
    Ok(())
}
