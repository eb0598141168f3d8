//! `launch generate local [-o FILE] [--force]`: a launcher file for this
//! machine, commented so a user can edit it. `launch generate slurm`: one
//! for the partitions of the Slurm cluster `sinfo` reaches from here.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// A launcher file with one direct launcher on this machine, as detected.
    Local(LocalArgs),
    /// A launcher file with a slurm launcher per partition of the cluster
    /// (`sinfo` from `PATH`, or from `$LAUNCH_SLURM_BIN`).
    Slurm(SlurmArgs),
}

#[derive(Debug, clap::Args)]
struct SlurmArgs {
    #[command(flatten)]
    out: LocalArgs,
    /// Keep the partitions you cannot submit to (hidden, root-only, or
    /// whose groups or accounts exclude you).
    #[arg(long)]
    all_partitions: bool,
}

#[derive(Debug, clap::Args)]
struct LocalArgs {
    /// Write to FILE instead of stdout (its directory is created).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Overwrite FILE when it exists.
    #[arg(long, requires = "output")]
    force: bool,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let (local, text) = match &args.what {
        What::Local(local) => (local, registry::local_file(&hostspec::detect())),
        What::Slurm(slurm) => (
            &slurm.out,
            crate::cmd_generate_slurm::text(slurm.all_partitions)?,
        ),
    };
    let Some(path) = &local.output else {
        std::io::stdout().write_all(text.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    };
    if path.exists() && !local.force {
        bail!("`{}` exists; pass --force to overwrite it", path.display());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the directory `{}`", parent.display()))?;
    }
    std::fs::write(path, &text).with_context(|| format!("cannot write `{}`", path.display()))?;
    eprintln!(
        "launch: wrote {}; check it with `launch check --config {}`",
        path.display(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
