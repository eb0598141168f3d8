//! `launch status [--json] [--tasks] DIR...` and `launch cancel DIR...`: a
//! job (or an array of them) followed from its directory alone, by a
//! process that did not submit it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use core_types::job::JobState;

use crate::jobs::{self, Found, Locator, Target};

#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// One JSON object per directory, one a line.
    #[arg(long)]
    json: bool,
    /// For an array, one more line per task (with `--json`, an object with
    /// its `index`).
    #[arg(long)]
    tasks: bool,
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

/// The JSON object `launch status --json` prints for a directory; a
/// scheduled job's `reason` says what it waits for, when that is known.
fn state_json(
    dir: &Path,
    state: &JobState,
    waiting: Option<&str>,
    launcher: &str,
) -> serde_json::Value {
    serde_json::json!({
        "dir": dir.display().to_string(),
        "state": state.name(),
        "exit_code": state.exit_code(),
        "reason": state.reason().map(ToString::to_string).or(waiting.map(str::to_owned)),
        "launcher": launcher,
    })
}

/// A state line of the text form: `DIR: state (why)`.
fn state_text(dir: &Path, state: &JobState, waiting: Option<&str>) -> String {
    match waiting {
        Some(waiting) => format!("{}: {state} ({waiting})", dir.display()),
        None => format!("{}: {state}", dir.display()),
    }
}

/// Prints the state of one job.
fn job_status(args: &StatusArgs, dir: &Path, found: &Found) -> Result<()> {
    let (state, waiting) = jobs::observe_all(&[&found.job]).pop().expect("one state")?;
    if args.json {
        let mut value = state_json(dir, &state, waiting.as_deref(), found.meta.kind().name());
        // Shown with its name, as everywhere.
        value["name"] = found.meta.name.clone().into();
        outln!("{value}")?;
    } else {
        outln!("{}", state_text(dir, &state, waiting.as_deref()))?;
    }
    Ok(())
}

/// Prints the state of an array: counts by state (and each task's with
/// `--tasks`).
fn array_status(
    args: &StatusArgs,
    dir: &Path,
    file: &jobset::ArrayFile,
    tasks: &[(u64, Result<Found>)],
) -> Result<()> {
    let (counts, each) = jobs::count(tasks);
    let state = counts.state();
    if args.json {
        let mut value = state_json(dir, &state, None, &file.launcher);
        value["name"] = file.name.clone().into();
        value["tasks"] = serde_json::json!(counts);
        outln!("{value}")?;
    } else {
        outln!(
            "{}: array of {}: {} ({})",
            dir.display(),
            counts.total(),
            state.name(),
            counts.summary()
        )?;
    }
    if !args.tasks {
        return Ok(());
    }
    for (index, observed) in each {
        let task = dir.join(index.to_string());
        match observed {
            Ok((state, waiting)) if args.json => {
                let mut value = state_json(&task, &state, waiting.as_deref(), &file.launcher);
                value["index"] = index.into();
                outln!("{value}")?;
            }
            Ok((state, waiting)) => outln!("{}", state_text(&task, &state, waiting.as_deref()))?,
            Err(e) => eprintln!("error: {}", crate::report(&e)),
        }
    }
    Ok(())
}

/// Each directory's state; a directory that holds no job is reported on
/// stderr and makes the exit status 2, the others are still reported.
#[allow(clippy::unnecessary_wraps)] // the shape of every subcommand
pub(crate) fn status(args: &StatusArgs) -> Result<ExitCode> {
    let mut code = ExitCode::SUCCESS;
    let mut locator = Locator::new(args.config.as_deref());
    for dir in &args.dirs {
        let shown = jobs::target(&mut locator, dir).and_then(|target| match target {
            Target::Job(found) => job_status(args, dir, &found),
            Target::Array { file, tasks, .. } => array_status(args, dir, &file, &tasks),
        });
        if let Err(e) = shown {
            if crate::is_broken_pipe(&e) {
                return Err(e);
            }
            eprintln!("error: {}", crate::report(&e));
            code = ExitCode::from(crate::EXIT_BAD_INPUT);
        }
    }
    Ok(code)
}

/// Cancels one job; what it is now, in words.
fn cancel_job(found: &Found) -> Result<String> {
    let job = found.job.handle();
    let before = job.state()?;
    if before.is_final() {
        return Ok(format!("already ended: {before}"));
    }
    job.cancel()?;
    Ok(job.state()?.to_string())
}

/// Cancels every task of an array that has not ended, a few at once.
fn cancel_tasks(tasks: &[(u64, Result<Found>)]) -> String {
    let found: Vec<&Found> = tasks.iter().filter_map(|(_, t)| t.as_ref().ok()).collect();
    let errors = parking_lot::Mutex::new(Vec::new());
    let workers = found.len().clamp(1, 8);
    std::thread::scope(|scope| {
        for chunk in found.chunks(found.len().div_ceil(workers).max(1)) {
            let errors = &errors;
            scope.spawn(move || {
                for task in chunk {
                    if let Err(e) = cancel_job(task) {
                        errors.lock().push(format!(
                            "{}: {}",
                            task.dir.display(),
                            crate::report(&e)
                        ));
                    }
                }
            });
        }
    });
    for error in errors.into_inner() {
        eprintln!("error: {error}");
    }
    let (counts, _) = jobs::count(tasks);
    format!("{} ({})", counts.state().name(), counts.summary())
}

/// Stops each job (every task of an array) and waits until it has stopped.
#[allow(clippy::unnecessary_wraps)] // the shape of every subcommand
pub(crate) fn cancel(args: &CancelArgs) -> Result<ExitCode> {
    let mut code = ExitCode::SUCCESS;
    let mut locator = Locator::new(args.config.as_deref());
    for dir in &args.dirs {
        let result = jobs::target(&mut locator, dir).and_then(|target| match target {
            Target::Job(found) => cancel_job(&found),
            Target::Array { tasks, .. } => Ok(cancel_tasks(&tasks)),
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
