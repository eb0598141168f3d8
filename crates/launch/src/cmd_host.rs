//! `launch host [--json]`: the detected local machine.

use std::process::ExitCode;

use anyhow::Result;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print JSON instead of TOML.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let host = hostspec::detect();
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&host)?)?;
    } else {
        out!("{}", hostspec::to_toml_string(&host))?;
    }
    Ok(ExitCode::SUCCESS)
}
