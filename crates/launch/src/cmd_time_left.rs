//! `launch time-left`: inside a job, the seconds left before its time
//! limit, or `unlimited`; outside a job, exit 2
//! ([`launcher_factory::time_left`]).

use std::process::ExitCode;

use anyhow::Result;
use launcher_factory::TimeLeft;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_: &Args) -> Result<ExitCode> {
    match launcher_factory::time_left()? {
        Some(TimeLeft::Left(left)) => outln!("{}", left.as_secs())?,
        Some(TimeLeft::Unlimited) => outln!("unlimited")?,
        None => {
            eprintln!(
                "launch time-left: not inside a job (neither {} nor SLURM_JOB_ID is set)",
                jobdir::JOB_DIR_VAR
            );
            return Ok(ExitCode::from(crate::EXIT_BAD_INPUT));
        }
    }
    Ok(ExitCode::SUCCESS)
}
