//! `launch generate local [-o FILE] [--force]`: a launcher file for this
//! machine, commented so a user can edit it.

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
    let What::Local(local) = &args.what;
    let text = registry::local_file(&hostspec::detect());
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
