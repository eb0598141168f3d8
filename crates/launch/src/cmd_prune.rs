//! `launch prune [--older-than D] [--dry-run] [DIR...]`: removes the
//! directories of jobs that ended, under the state directory (and those
//! named, wherever they are); never one of a job that has not ended.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, Result};
use core_types::job::JobState;

use crate::jobs::{self, Locator, Target};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only jobs that ended at least this long ago (`7d`).
    #[arg(long, value_name = "D")]
    older_than: Option<core_types::Walltime>,
    /// Print what would be removed; remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// The launcher file, whose SSH connectors say how to reach the machine
    /// of an `ssh://` job directory.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Job directories to prune as well, outside the state directory
    /// (default: only those under it).
    #[arg(value_name = "DIR")]
    dirs: Vec<PathBuf>,
}

/// Whether a job (every task of an array) ended.
enum Verdict {
    /// Not yet.
    Going,
    /// It did, the last of its tasks at this time (on this machine;
    /// unknown on another).
    Ended(Option<SystemTime>),
}

/// Whether the job (or every task of the array) in `arg` ended, and when.
fn ended(locator: &mut Locator<'_>, arg: &Path) -> Result<Verdict> {
    let modified = |dir: &Path| {
        std::fs::metadata(dir.join(jobdir::STATE))
            .and_then(|m| m.modified())
            .ok()
    };
    let (found, remote) = match jobs::target(locator, arg)? {
        Target::Job(found) => {
            let remote = found.connector.name() != "local";
            (vec![*found], remote)
        }
        Target::Array { tasks, .. } => {
            let mut found = Vec::new();
            for (_, task) in tasks {
                found.push(task?);
            }
            let remote = found.iter().any(|f| f.connector.name() != "local");
            (found, remote)
        }
    };
    let asked: Vec<&jobs::Recovered> = found.iter().map(|f| &f.job).collect();
    let mut last: Option<SystemTime> = None;
    for (job, observed) in found.iter().zip(jobs::observe_all(&asked)) {
        let (state, _): (JobState, _) = observed?;
        if !state.is_final() {
            return Ok(Verdict::Going);
        }
        if !remote {
            last = last.max(modified(&job.dir));
        }
    }
    Ok(Verdict::Ended(last))
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let mut dirs = jobs::state_dirs()?;
    dirs.extend(args.dirs.iter().cloned());
    let cutoff = args.older_than.map(|d| {
        SystemTime::now()
            .checked_sub(d.as_std())
            .unwrap_or(SystemTime::UNIX_EPOCH)
    });
    let mut locator = Locator::new(args.config.as_deref());
    let mut code = ExitCode::SUCCESS;
    let mut removed: Vec<String> = Vec::new();
    for dir in &dirs {
        let named = args.dirs.contains(dir);
        let verdict = match ended(&mut locator, dir) {
            Ok(verdict) => verdict,
            // A directory under the state directory that holds no job
            // (being created, or not launch's): left alone.
            Err(_) if !named => continue,
            Err(e) => {
                eprintln!("error: {}", crate::report(&e));
                code = ExitCode::from(crate::EXIT_BAD_INPUT);
                continue;
            }
        };
        let Verdict::Ended(last) = verdict else {
            if named {
                eprintln!("launch: {}: not ended, kept", dir.display());
            }
            continue;
        };
        if let Some(cutoff) = cutoff {
            // An end of unknown time (another machine) is not old.
            if last.is_none_or(|t| t > cutoff) {
                continue;
            }
        }
        if !args.dry_run {
            let (connector, path) = locator.locate(dir)?;
            connector
                .remove(&path)
                .with_context(|| format!("cannot remove `{}`", dir.display()))?;
        }
        outln!("{}", dir.display())?;
        removed.push(dir.display().to_string());
    }
    if !args.dry_run && !removed.is_empty() {
        forget(&removed)?;
    }
    Ok(code)
}

/// Drops the removed jobs from the index (rewritten whole: write, then
/// rename), holding the index's lock, so that a line another process
/// appends meanwhile is kept.
fn forget(removed: &[String]) -> Result<()> {
    let path = jobset::index_path();
    let _lock = crate::jobs::lock_index()
        .with_context(|| format!("cannot lock the index `{}`", path.display()))?;
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", path.display())),
    };
    let kept = jobset::Index::without(&text, removed);
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, kept)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .with_context(|| format!("cannot rewrite the index `{}`", path.display()))
}
