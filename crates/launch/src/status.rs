//! `launch status [--json] DIR...` and `launch cancel DIR...`: a job
//! followed from its directory alone, by a process that did not submit it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use connector_local::LocalConnector;
use core_types::job::{Connector, JobHandle, JobState};
use jobdir::LauncherKind;

#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// One JSON object per directory, one a line.
    #[arg(long)]
    json: bool,
    /// The launcher file, whose SSH connectors say how to reach the machine
    /// of an `ssh://` job directory.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Job directories (`ssh://[user@]host[:port]/path` for one on another
    /// machine, as `launch run` names them).
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CancelArgs {
    /// The launcher file, whose SSH connectors say how to reach the machine
    /// of an `ssh://` job directory.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Job directories (`ssh://[user@]host[:port]/path` for one on another
    /// machine, as `launch run` names them).
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
}

/// Where a job directory argument is: `ssh://[user@]host[:port]/path` is
/// `path` on that machine, reached with the settings of the launcher
/// file's SSH connector for that host (and port and user, when the address
/// names them), else with SSH's defaults; anything else is a local path.
fn locate(arg: &Path, config: Option<&Path>) -> Result<(Arc<dyn Connector>, PathBuf)> {
    let Some(text) = arg.to_str().filter(|t| t.starts_with("ssh://")) else {
        return Ok((LocalConnector::shared(), arg.to_path_buf()));
    };
    let address = connector_ssh::SshAddress::parse(text)?;
    let dir = address
        .path
        .clone()
        .filter(|p| p.is_absolute())
        .with_context(|| format!("`{text}` names no absolute job directory"))?;
    let (_, file) = registry::load_discovered(config)?;
    let from_file = file.connectors().values().find_map(|c| match c {
        registry::ConnectorConfig::Ssh(ssh)
            if ssh.host == address.host
                && address.port.is_none_or(|p| p == ssh.port)
                && (address.user.is_none() || address.user == ssh.user) =>
        {
            Some(ssh.clone())
        }
        _ => None,
    });
    let mut settings = from_file.unwrap_or_else(|| connector_ssh::SshConfig::new(&address.host));
    if let Some(port) = address.port {
        settings = settings.port(port);
    }
    if address.user.is_some() {
        settings.user.clone_from(&address.user);
    }
    Ok((Arc::new(connector_ssh::SshConnector::new(settings)?), dir))
}

/// A handle on a job, from the launcher its `job.json` names.
enum Recovered {
    Slurm(launcher_slurm::SlurmJob),
    Direct(launcher_direct::RecoveredJob),
}

impl Recovered {
    fn handle(&self) -> &dyn JobHandle {
        match self {
            Recovered::Slurm(job) => job,
            Recovered::Direct(job) => job,
        }
    }

    /// Why a scheduled job waits, when its launcher says.
    fn waiting_reason(&self) -> Result<Option<String>> {
        Ok(match self {
            Recovered::Direct(job) => job.waiting_reason()?,
            Recovered::Slurm(job) => job.pending_reason(),
        })
    }
}

/// A handle on the job in `dir`, from the launcher its `job.json` names,
/// and that launcher's kind.
fn recover(arg: &Path, config: Option<&Path>) -> Result<(Recovered, LauncherKind)> {
    let (connector, dir) = locate(arg, config)?;
    let dir = dir.as_path();
    let kind = jobdir::read_meta(connector.as_ref(), dir)?.kind();
    let job = match kind {
        LauncherKind::Slurm => Recovered::Slurm(
            launcher_slurm::recover(connector, dir)?
                .with_poll_interval(std::time::Duration::from_secs(1)),
        ),
        LauncherKind::Direct => Recovered::Direct(launcher_direct::recover(connector, dir)?),
    };
    Ok((job, kind))
}

/// The JSON object `launch status --json` prints for a directory; a
/// scheduled job's `reason` says what it waits for, when that is known.
fn state_json(
    dir: &Path,
    state: &JobState,
    waiting: Option<&str>,
    launcher: LauncherKind,
) -> serde_json::Value {
    serde_json::json!({
        "dir": dir.display().to_string(),
        "state": state.name(),
        "exit_code": state.exit_code(),
        "reason": state.reason().map(ToString::to_string).or(waiting.map(str::to_owned)),
        "launcher": launcher.name(),
    })
}

/// Each directory's state; a directory that holds no job is reported on
/// stderr and makes the exit status 2, the others are still reported.
#[allow(clippy::unnecessary_wraps)] // the shape of every subcommand
pub(crate) fn status(args: &StatusArgs) -> Result<ExitCode> {
    let mut code = ExitCode::SUCCESS;
    for dir in &args.dirs {
        let recovered = recover(dir, args.config.as_deref());
        let observed = recovered.and_then(|(job, kind)| {
            let state = job.handle().state()?;
            let waiting = if state == JobState::Scheduled {
                job.waiting_reason()?
            } else {
                None
            };
            Ok((state, waiting, kind))
        });
        match observed {
            Ok((state, waiting, kind)) if args.json => {
                outln!("{}", state_json(dir, &state, waiting.as_deref(), kind))?;
            }
            Ok((state, Some(waiting), _)) => outln!("{}: {state} ({waiting})", dir.display())?,
            Ok((state, None, _)) => outln!("{}: {state}", dir.display())?,
            Err(e) => {
                eprintln!("error: {}", crate::report(&e));
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
        let result = recover(dir, args.config.as_deref()).and_then(|(job, _)| {
            let job = job.handle();
            let before = job.state()?;
            if before.is_final() {
                return Ok(format!("already ended: {before}"));
            }
            job.cancel()?;
            Ok(job.state()?.to_string())
        });
        match result {
            Ok(what) => outln!("{}: {what}", dir.display())?,
            Err(e) => {
                eprintln!("error: {}", crate::report(&e));
                code = ExitCode::from(crate::EXIT_BAD_INPUT);
            }
        }
    }
    Ok(code)
}
