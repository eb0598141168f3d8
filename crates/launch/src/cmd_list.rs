//! `launch list [--json] [--state S]... [--name GLOB] [--since DURATION]`:
//! every job this user submitted from this machine, newest first: the job
//! directories under the state directory, and those of the index (jobs
//! given `--job-dir` elsewhere, and jobs on other machines).
//!
//! Fast on many jobs: a job that ended is read from its files alone (no
//! process is spawned for it); the Slurm jobs that have not are asked about
//! with one query per cluster.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use core_types::job::{Connector, JobState};
use jobdir::LauncherKind;
use jobset::{Filter, JobRow};

use crate::jobs::{self, Found, Locator, Recovered};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// One JSON object a line.
    #[arg(long)]
    json: bool,
    /// Only jobs in this state (`scheduled`, `running`, `done`, `failed`).
    #[arg(long = "state", value_name = "S",
          value_parser = ["scheduled", "running", "done", "failed"])]
    states: Vec<String>,
    /// Only jobs whose name matches this shell pattern (`train-*`).
    #[arg(long, value_name = "GLOB")]
    name: Option<String>,
    /// Only jobs submitted this long ago or less (`2h`, `3d`).
    #[arg(long, value_name = "DURATION")]
    since: Option<core_types::Walltime>,
    /// The launcher file, whose SSH connectors say how to reach the machine
    /// of an `ssh://` job directory of the index.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// A job directory to look at: where `launch` names it, and when it was
/// submitted when the index says.
struct Candidate {
    address: String,
    submitted: Option<SystemTime>,
}

/// Every job directory of the state directory and of the index, once each.
fn candidates() -> Result<Vec<Candidate>> {
    let mut out: Vec<Candidate> = jobs::state_dirs()?
        .into_iter()
        .map(|dir| Candidate {
            address: dir.display().to_string(),
            submitted: None,
        })
        .collect();
    match std::fs::read_to_string(jobset::index_path()) {
        Ok(text) => {
            let under_home: std::collections::HashSet<String> =
                out.iter().map(|c| c.address.clone()).collect();
            for entry in jobset::Index::parse(&text) {
                if !under_home.contains(&entry.address) {
                    out.push(Candidate {
                        address: entry.address,
                        submitted: Some(
                            SystemTime::UNIX_EPOCH + Duration::from_secs(entry.submitted),
                        ),
                    });
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!(
                "cannot read the index `{}`",
                jobset::index_path().display()
            )));
        }
    }
    Ok(out)
}

/// When a local file was last written.
fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// When a job started and ended, from its files' times (this machine
/// only: another machine's are not read).
fn times(connector: &dyn Connector, dir: &Path) -> (Option<SystemTime>, Option<SystemTime>) {
    if connector.name() != "local" {
        return (None, None);
    }
    // Its `state` is blank (reserved) until the job ends.
    let state = dir.join(jobdir::STATE);
    let ended = std::fs::read(&state)
        .is_ok_and(|bytes| jobdir::state_written(&bytes))
        .then(|| modified(&state))
        .flatten();
    (modified(&dir.join(jobdir::PID)), ended)
}

/// A row whose state is yet to be known.
struct Pending {
    row: JobRow,
    /// The job to ask, when its files do not say it ended.
    job: Option<Recovered>,
    /// An array's tasks.
    tasks: Vec<(u64, Result<Found>)>,
    array: bool,
}

/// The row of the job (or array) at `address`, its state still to be asked
/// when its files do not say it ended; `None` when the filter drops it by
/// its name or time, or it is gone.
fn pending(
    locator: &mut Locator<'_>,
    address: &str,
    submitted: Option<SystemTime>,
    filter: &Filter,
) -> Result<Option<Pending>> {
    let (connector, dir) = locator.locate(Path::new(address))?;
    if let Some(file) = jobs::array_in(connector.as_ref(), &dir)? {
        let submitted = submitted.or(Some(
            SystemTime::UNIX_EPOCH + Duration::from_secs(file.submitted),
        ));
        if !filter.keeps_submitted(submitted) {
            return Ok(None);
        }
        let tasks = jobs::array_tasks(&connector, &dir, &file);
        let requirement = tasks
            .iter()
            .find_map(|(_, t)| {
                t.as_ref()
                    .ok()
                    .map(|f| f.meta.requirement.clone())
                    .filter(|r| !r.is_empty())
            })
            .unwrap_or_default();
        let row = JobRow {
            dir: address.to_owned(),
            name: file.name.clone(),
            state: JobState::Scheduled,
            waiting: None,
            launcher: file.launcher.clone(),
            submitted,
            started: None,
            ended: None,
            requirement,
            tasks: None,
        };
        return Ok(Some(Pending {
            row,
            job: None,
            tasks,
            array: true,
        }));
    }
    let files = jobdir::JobDir::new(Arc::clone(&connector), &dir);
    let meta = match files.meta() {
        Ok(meta) => meta,
        // Gone since (pruned), or a directory of something else.
        Err(jobdir::JobDirError::NotAJobDir { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let submitted = submitted.or_else(|| {
        (connector.name() == "local")
            .then(|| {
                modified(&dir.join(jobdir::SCRIPT)).or_else(|| modified(&dir.join(jobdir::META)))
            })
            .flatten()
    });
    if !filter.keeps_submitted(submitted) {
        return Ok(None);
    }
    let (started, ended) = times(connector.as_ref(), &dir);
    // A direct job's `state` file is its end; a Slurm job's end is what its
    // launcher recorded, or Slurm says.
    let ended_state = match meta.kind() {
        LauncherKind::Direct => files.final_state().ok().flatten(),
        LauncherKind::Slurm => None,
    };
    let job = match ended_state {
        Some(_) => None,
        None => Some(jobs::recover_in(Arc::clone(&connector), &dir)?.job),
    };
    let row = JobRow {
        dir: address.to_owned(),
        name: meta.name.clone(),
        state: ended_state.unwrap_or(JobState::Scheduled),
        waiting: None,
        launcher: meta.kind().name().to_owned(),
        submitted,
        started,
        ended,
        requirement: meta.requirement.clone(),
        tasks: None,
    };
    Ok(Some(Pending {
        row,
        job,
        tasks: Vec::new(),
        array: false,
    }))
}

/// Every job's row, newest first, as the filter keeps them; the jobs that
/// cannot be read are said on stderr.
fn rows(args: &Args) -> Result<(Vec<JobRow>, bool)> {
    let now = SystemTime::now();
    let since = args.since.map(|d| {
        now.checked_sub(d.as_std())
            .unwrap_or(SystemTime::UNIX_EPOCH)
    });
    let filter = Filter::new(args.states.clone(), args.name.as_deref(), since)?;
    let mut locator = Locator::new(args.config.as_deref());
    let mut failed = false;
    let mut pending_rows = Vec::new();
    for Candidate { address, submitted } in candidates()? {
        match pending(&mut locator, &address, submitted, &filter) {
            Ok(Some(p)) if filter.keeps_name(&p.row.name) => pending_rows.push(p),
            Ok(_) => {}
            Err(e) => {
                eprintln!("error: {address}: {}", crate::report(&e));
                failed = true;
            }
        }
    }
    // The states still to be known, asked all at once.
    let asked: Vec<&Recovered> = pending_rows.iter().filter_map(|p| p.job.as_ref()).collect();
    let mut answers = jobs::observe_all(&asked).into_iter();
    let mut out = Vec::with_capacity(pending_rows.len());
    for mut p in pending_rows {
        if p.array {
            let (counts, _) = jobs::count(&p.tasks);
            p.row.state = counts.state();
            p.row.tasks = Some(counts);
            for (_, task) in &p.tasks {
                let Ok(task) = task else { continue };
                let (started, ended) = times(task.connector.as_ref(), &task.dir);
                p.row.started = match (p.row.started, started) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                p.row.ended = match (p.row.ended, ended) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
            }
            if !p.row.state.is_final() {
                p.row.ended = None;
            }
        } else if p.job.is_some() {
            match answers.next().expect("one answer per job asked") {
                Ok((state, waiting)) => {
                    p.row.state = state;
                    p.row.waiting = waiting;
                }
                Err(e) => {
                    eprintln!("error: {}: {}", p.row.dir, crate::report(&e));
                    failed = true;
                    continue;
                }
            }
        }
        if filter.keeps(&p.row) {
            out.push(p.row);
        }
    }
    out.sort_by(|a, b| {
        b.submitted
            .cmp(&a.submitted)
            .then_with(|| a.dir.cmp(&b.dir))
    });
    Ok((out, failed))
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let (rows, failed) = rows(args)?;
    if args.json {
        for row in &rows {
            outln!("{}", row.to_json())?;
        }
    } else {
        use std::io::IsTerminal as _;
        let color = std::io::stdout().is_terminal();
        out!("{}", JobRow::table(&rows, SystemTime::now(), color))?;
    }
    Ok(if failed {
        ExitCode::from(crate::EXIT_BAD_INPUT)
    } else {
        ExitCode::SUCCESS
    })
}
