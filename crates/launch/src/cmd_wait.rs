//! `launch wait [--timeout D] DIR...`: until every job (every task of an
//! array) ended; exit 0 when all are done, else 1, with each failure on
//! stderr.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use core_types::job::JobState;

use crate::jobs::{self, Found, Locator, Recovered, Target};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Give up after this long (`30s`, `2h`): the jobs that have not ended
    /// are named on stderr, and the exit status is 1.
    #[arg(long, value_name = "D")]
    timeout: Option<core_types::Walltime>,
    /// The launcher file, whose SSH connectors say how to reach the machine
    /// of an `ssh://` job directory.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Job directories (an array's: every task).
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
}

#[allow(clippy::unnecessary_wraps)] // the shape of every subcommand
pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let mut locator = Locator::new(args.config.as_deref());
    let mut code = ExitCode::SUCCESS;
    let mut jobs: Vec<Found> = Vec::new();
    for dir in &args.dirs {
        match jobs::target(&mut locator, dir) {
            Ok(Target::Job(found)) => jobs.push(*found),
            Ok(Target::Array { tasks, .. }) => {
                for (_, task) in tasks {
                    match task {
                        Ok(found) => jobs.push(found),
                        Err(e) => {
                            eprintln!("error: {}", crate::report(&e));
                            code = ExitCode::from(crate::EXIT_BAD_INPUT);
                        }
                    }
                }
            }
            Err(e) => {
                eprintln!("error: {}", crate::report(&e));
                code = ExitCode::from(crate::EXIT_BAD_INPUT);
            }
        }
    }
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    let deadline = args.timeout.map(|t| Instant::now() + t.as_std());
    let mut states: Vec<Option<JobState>> = vec![None; jobs.len()];
    loop {
        let open: Vec<usize> = (0..jobs.len()).filter(|&i| states[i].is_none()).collect();
        if open.is_empty() {
            break;
        }
        let asked: Vec<&Recovered> = open.iter().map(|&i| &jobs[i].job).collect();
        for (&i, observed) in open.iter().zip(jobs::observe_all(&asked)) {
            match observed {
                Ok((state, _)) if state.is_final() => states[i] = Some(state),
                Ok(_) => {}
                // Unreachable for now (Slurm busy, a network hiccup): again
                // next round.
                Err(e) => eprintln!(
                    "launch: warning: {}: {}",
                    jobs[i].dir.display(),
                    crate::report(&e)
                ),
            }
        }
        if states.iter().all(Option::is_some) {
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut all_done = true;
    for (job, state) in jobs.iter().zip(&states) {
        match state {
            Some(JobState::Done) => {}
            Some(state) => {
                all_done = false;
                eprintln!("launch: {}: {state}", job.dir.display());
            }
            None => {
                all_done = false;
                eprintln!("launch: {}: not ended yet (timeout)", job.dir.display());
            }
        }
    }
    Ok(if all_done {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
