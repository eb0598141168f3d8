//! `launch status [--json] DIR...` and `launch cancel DIR...`: a job
//! followed from its directory alone, by a process that did not submit it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use connector_local::LocalConnector;
use core_types::job::{JobHandle, JobState};

#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// One JSON object per directory, one a line.
    #[arg(long)]
    json: bool,
    /// Job directories.
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CancelArgs {
    /// Job directories.
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
}

/// A handle on the job in `dir`, from the launcher its `job.json` names
/// (Slurm or direct), and that launcher's kind.
fn recover(dir: &Path) -> Result<(Box<dyn JobHandle>, &'static str)> {
    match launcher_slurm::recover(LocalConnector::shared(), dir) {
        Ok(job) => Ok((
            Box::new(job.with_poll_interval(std::time::Duration::from_secs(1))),
            "slurm",
        )),
        Err(launcher_slurm::SlurmError::NotAJobDir { .. }) => Ok((
            Box::new(launcher_direct::recover(LocalConnector::shared(), dir)?),
            "direct",
        )),
        Err(e) => Err(e.into()),
    }
}

/// The JSON object of `shared/spec/cli.md`.
fn state_json(dir: &Path, state: &JobState, launcher: &str) -> serde_json::Value {
    serde_json::json!({
        "dir": dir.display().to_string(),
        "state": state.name(),
        "exit_code": state.exit_code(),
        "reason": state.reason().map(ToString::to_string),
        "launcher": launcher,
    })
}

/// Each directory's state; a directory that holds no job is reported on
/// stderr and makes the exit status 2, the others are still reported.
#[allow(clippy::unnecessary_wraps)] // the shape of every subcommand
pub(crate) fn status(args: &StatusArgs) -> Result<ExitCode> {
    let mut code = ExitCode::SUCCESS;
    for dir in &args.dirs {
        match recover(dir).and_then(|(job, kind)| Ok((job.state()?, kind))) {
            Ok((state, kind)) if args.json => println!("{}", state_json(dir, &state, kind)),
            Ok((state, _)) => println!("{}: {state}", dir.display()),
            Err(e) => {
                eprintln!("error: {e:#}");
                code = ExitCode::from(crate::EXIT_BAD_INPUT);
            }
        }
    }
    Ok(code)
}

/// Stops each job and waits until it has stopped.
#[allow(clippy::unnecessary_wraps)] // the shape of every subcommand
pub(crate) fn cancel(args: &CancelArgs) -> Result<ExitCode> {
    let mut code = ExitCode::SUCCESS;
    for dir in &args.dirs {
        let result = recover(dir).and_then(|(job, _)| {
            let before = job.state()?;
            if before.is_final() {
                return Ok(format!("already ended: {before}"));
            }
            job.cancel()?;
            Ok(job.state()?.to_string())
        });
        match result {
            Ok(what) => println!("{}: {what}", dir.display()),
            Err(e) => {
                eprintln!("error: {e:#}");
                code = ExitCode::from(crate::EXIT_BAD_INPUT);
            }
        }
    }
    Ok(code)
}
