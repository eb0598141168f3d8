//! `launch generate slurm [-o FILE] [--force]`: a launcher file for the
//! partitions of the Slurm cluster reached from this machine.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// The launcher file, from what `sinfo` says; GPU types of unknown memory
/// are reported on stderr (the file asks to fill them in).
pub(crate) fn text() -> Result<String> {
    let bin = std::env::var_os("LAUNCH_SLURM_BIN")
        .filter(|b| !b.is_empty())
        .map(PathBuf::from);
    let rows = launcher_slurm::discover::discover(
        connector_local::LocalConnector::shared(),
        bin.as_deref(),
        Vec::new(),
    )
    .context("cannot list the Slurm partitions")?;
    let generated = launcher_slurm::discover::launcher_file(&rows, registry::LOCAL);
    for warning in &generated.warnings {
        eprintln!("launch: warning: {warning}");
    }
    eprintln!(
        "launch: {} launcher(s) for {} node line(s) of sinfo",
        generated.entries,
        rows.len()
    );
    Ok(generated.text)
}
