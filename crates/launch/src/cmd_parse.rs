//! `launch parse [--json] EXPR`.

use std::process::ExitCode;

use anyhow::Result;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print the value as JSON instead of the canonical form.
    #[arg(long)]
    json: bool,
    /// The requirement, or `-` to read one per line from stdin (JSON Lines out).
    expr: String,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    if args.expr == "-" {
        crate::batch::run(|req, buf| Ok(serde_json::to_writer(buf, req)?))?;
        return Ok(ExitCode::SUCCESS);
    }
    let req = reqparse::parse(&args.expr)?;
    if args.json {
        outln!("{}", serde_json::to_string(&req)?)?;
    } else {
        outln!("{req}")?;
    }
    Ok(ExitCode::SUCCESS)
}
