//! One round of following: what Slurm says of a set of jobs (one `squeue`
//! call for all of them, then one `sacct` call for those that left the
//! queue when the cluster keeps accounting, else `scontrol` when `squeue`
//! is missing), and what that makes of each job's state, with the files of
//! its directory.

use std::collections::HashMap;

use core_types::job::{FailReason, JobState};

use crate::SlurmError;
use crate::cluster::{Cluster, Query};
use crate::slurm_dir::JobDir;
use crate::state::{self, Phase};

/// What one round of queries says of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Slurm holds it (or its accounting remembers it).
    Slurm {
        state: String,
        reason: String,
        exit_code: Option<(i32, i32)>,
    },
    /// Slurm no longer knows it.
    Forgotten,
    /// Slurm could not be asked this round.
    Unreachable(String),
}

/// Asks Slurm about `ids`: one `squeue` call; one `sacct` call for those
/// not in the queue (when there is accounting); `scontrol show job` for
/// each that neither answered for.
pub(crate) fn observe(cluster: &Cluster, ids: &[String]) -> HashMap<String, Seen> {
    let mut seen: HashMap<String, Seen> = HashMap::with_capacity(ids.len());
    let mut missing: Vec<String> = Vec::new();
    match cluster.squeue(ids) {
        Ok(Query::Answer(rows)) => {
            let mut by_id: HashMap<String, crate::parse::QueueRow> =
                rows.into_iter().map(|r| (r.id.clone(), r)).collect();
            for id in ids {
                match by_id.remove(id) {
                    Some(row) => {
                        seen.insert(
                            id.clone(),
                            Seen::Slurm {
                                state: row.state,
                                reason: row.reason,
                                exit_code: None,
                            },
                        );
                    }
                    None => missing.push(id.clone()),
                }
            }
        }
        Ok(Query::Unavailable) => {
            missing.extend(ids.iter().cloned());
        }
        Err(e) => {
            let message = e.to_string();
            for id in ids {
                seen.insert(id.clone(), Seen::Unreachable(message.clone()));
            }
            return seen;
        }
    }
    if !missing.is_empty() {
        match cluster.sacct(&missing) {
            Ok(Query::Answer(rows)) => {
                for row in rows {
                    if missing.contains(&row.id) {
                        seen.insert(
                            row.id.clone(),
                            Seen::Slurm {
                                state: row.state,
                                reason: String::new(),
                                exit_code: row.exit_code,
                            },
                        );
                    }
                }
            }
            Ok(Query::Unavailable) => {}
            Err(e) => {
                let message = e.to_string();
                for id in &missing {
                    seen.insert(id.clone(), Seen::Unreachable(message.clone()));
                }
            }
        }
    }
    for id in missing {
        if seen.contains_key(&id) {
            continue;
        }
        // Not in the queue's answer (or `squeue` missing): `scontrol` has
        // the last word before a job counts as forgotten, whose state file
        // would then be its end. The queue's answer can leave out a job
        // Slurm still holds (an id it calls invalid empties the answer for
        // every id), and a requeued job's state file is its first run's.
        let verdict = match cluster.scontrol_job(&id) {
            Ok(Query::Answer(Some(job))) => Seen::Slurm {
                state: job.state,
                reason: job.reason.replace('_', " "),
                exit_code: job.exit_code,
            },
            Ok(Query::Answer(None) | Query::Unavailable) => Seen::Forgotten,
            Err(e) => Seen::Unreachable(e.to_string()),
        };
        seen.insert(id, verdict);
    }
    seen
}

/// What a round makes of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Its state now (final or not).
    State(JobState),
    /// Pending for a reason that means never: cancel it, then fail it
    /// with this reason.
    Fatal(String),
    /// Pending because the nodes it needs are unavailable: fatal once it
    /// stays so for a while (a node that stops answering for a moment, a
    /// controller that restarts, say the same).
    Unavailable(String),
    /// Preempted or its node failed: final (with this name) unless Slurm
    /// requeues it soon.
    Interrupted(String),
    /// Slurm no longer knows it and it left no state: lost, unless a later
    /// look finds its state file.
    Vanished,
    /// Nothing learnt this round (Slurm unreachable, a state unknown to
    /// this launcher).
    Nothing(String),
}

/// Decides a job's state from what Slurm says and the files of its
/// directory (read only when they matter).
pub(crate) fn decide(
    seen: &Seen,
    dir: &JobDir,
    unavailable_nodes_fatal: bool,
) -> Result<Verdict, SlurmError> {
    if let Some(state) = dir.decided()? {
        return Ok(Verdict::State(state));
    }
    match seen {
        Seen::Slurm {
            state: name,
            reason,
            exit_code,
        } => Ok(match state::phase(name) {
            Phase::Waiting => match state::fatal_reason(reason, unavailable_nodes_fatal) {
                Some(fatal) if fatal.starts_with("ReqNodeNotAvail") => Verdict::Unavailable(fatal),
                Some(fatal) => Verdict::Fatal(fatal),
                None => Verdict::State(JobState::Scheduled),
            },
            Phase::Started => Verdict::State(JobState::Running),
            Phase::Interrupted(name) => Verdict::Interrupted(name),
            Phase::Ended(end) => {
                let file = dir.wrapper_state()?;
                Verdict::State(state::ended(&end, file.as_ref(), *exit_code))
            }
            Phase::Unknown(other) => Verdict::Nothing(format!("unknown Slurm state `{other}`")),
        }),
        Seen::Forgotten => Ok(match dir.wrapper_state()? {
            Some(state) if state.is_final() => Verdict::State(state),
            // Cancelled before it started (a pending array task leaves
            // the queue at once): it never ran, as asked.
            _ if dir.cancel_requested()? => Verdict::State(JobState::Failed(FailReason::Cancelled)),
            _ => Verdict::Vanished,
        }),
        // The wrapper's state file is not final while Slurm cannot be asked:
        // a requeued job's first run leaves one behind until its next run
        // starts. Its end is decided when Slurm answers again (or forgets
        // the job, above).
        Seen::Unreachable(message) => Ok(Verdict::Nothing(message.clone())),
    }
}

/// The state of a job cancelled for a fatal pending reason, once Slurm
/// confirms it is gone from the queue.
pub(crate) fn fatal_state(reason: &str) -> JobState {
    JobState::Failed(FailReason::Other(reason.to_owned()))
}
