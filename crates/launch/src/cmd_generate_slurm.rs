//! `launch generate slurm [-o FILE] [--force] [--all-partitions]`: a
//! launcher file for the partitions of the Slurm cluster reached from this
//! machine.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// The launcher file, from what `sinfo` and `scontrol` say; GPU types of
/// unknown memory and the partitions left out are reported on stderr.
pub(crate) fn text(all_partitions: bool) -> Result<String> {
    let bin = std::env::var_os("LAUNCH_SLURM_BIN")
        .filter(|b| !b.is_empty())
        .map(PathBuf::from);
    let discovery = launcher_slurm::discover::discover(
        connector_local::LocalConnector::shared(),
        bin.as_deref(),
        Vec::new(),
    )
    .context("cannot list the Slurm partitions")?;
    let generated = launcher_slurm::discover::launcher_file(
        &discovery,
        registry::LOCAL,
        launcher_slurm::discover::Settings { all_partitions },
    );
    for warning in &generated.warnings {
        eprintln!("launch: warning: {warning}");
    }
    for (partition, why) in &generated.left_out {
        eprintln!(
            "launch: partition `{partition}` {}: {why}",
            if all_partitions { "kept" } else { "left out" }
        );
    }
    eprintln!(
        "launch: {} launcher(s) for {} node line(s) of sinfo",
        generated.entries,
        discovery.nodes.len()
    );
    Ok(generated.text)
}
