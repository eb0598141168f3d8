//! Slurm's job states and pending reasons, mapped onto the launcher's
//! [`JobState`]. Pure functions.

use core_types::job::{FailReason, JobState};

/// What a Slurm state says about a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Waiting to run: pending, or requeued and waiting to run again
    /// (`PENDING`, `REQUEUED`, `REQUEUE_HOLD`, `REQUEUE_FED`,
    /// `RESV_DEL_HOLD`, `SPECIAL_EXIT`, `CONFIGURING`).
    Waiting,
    /// Started and not ended (`RUNNING`, `COMPLETING`, `SUSPENDED`,
    /// `STOPPED`, `SIGNALING`, `STAGE_OUT`, `RESIZING`).
    Started,
    /// Ended in a way Slurm may undo by requeueing the job (`PREEMPTED`,
    /// `NODE_FAIL`): final only once it stays so.
    Interrupted(String),
    /// Ended.
    Ended(End),
    /// A state this launcher does not know (a newer Slurm): nothing is
    /// concluded from it.
    Unknown(String),
}

/// How Slurm says a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// `COMPLETED`: exit code 0.
    Completed,
    /// `FAILED`: a non-zero exit code (or a launch failure).
    Failed,
    /// `TIMEOUT`, or `DEADLINE`'s cousin: past its time limit.
    Timeout,
    /// `CANCELLED`.
    Cancelled,
    /// Another end, by its Slurm name (`OUT_OF_MEMORY`, `NODE_FAIL`,
    /// `PREEMPTED`, `BOOT_FAIL`, `DEADLINE`, `REVOKED`).
    Other(String),
}

/// The phase of a Slurm state name, as `squeue %T`, `scontrol`'s
/// `JobState` or `sacct`'s `State` (first word) print it.
pub fn phase(state: &str) -> Phase {
    let state = state.trim();
    // squeue --states takes and prints the long names; accept the short
    // ones too (`%t`), and flags sacct appends (`CANCELLED+`).
    let state = state.trim_end_matches('+');
    match state {
        "PENDING" | "PD" | "REQUEUED" | "RQ" | "REQUEUE_HOLD" | "RH" | "REQUEUE_FED" | "RF"
        | "RESV_DEL_HOLD" | "RD" | "SPECIAL_EXIT" | "SE" | "CONFIGURING" | "CF" => Phase::Waiting,
        "RUNNING" | "R" | "COMPLETING" | "CG" | "SUSPENDED" | "S" | "STOPPED" | "ST"
        | "SIGNALING" | "SI" | "STAGE_OUT" | "SO" | "RESIZING" | "RS" => Phase::Started,
        "PREEMPTED" | "PR" => Phase::Interrupted("PREEMPTED".into()),
        "NODE_FAIL" | "NF" => Phase::Interrupted("NODE_FAIL".into()),
        "COMPLETED" | "CD" => Phase::Ended(End::Completed),
        "FAILED" | "F" => Phase::Ended(End::Failed),
        "TIMEOUT" | "TO" => Phase::Ended(End::Timeout),
        "CANCELLED" | "CA" => Phase::Ended(End::Cancelled),
        "OUT_OF_MEMORY" | "OOM" => Phase::Ended(End::Other("OUT_OF_MEMORY".into())),
        "BOOT_FAIL" | "BF" => Phase::Ended(End::Other("BOOT_FAIL".into())),
        "DEADLINE" | "DL" => Phase::Ended(End::Other("DEADLINE".into())),
        "REVOKED" | "RV" => Phase::Ended(End::Other("REVOKED".into())),
        other => Phase::Unknown(other.to_owned()),
    }
}

/// Pending reasons that mean the job will never start as it is: the
/// launcher cancels such a job and fails it with the reason.
pub const FATAL_REASONS: &[&str] = &[
    "PartitionTimeLimit",
    "PartitionNodeLimit",
    "QOSMaxWallDurationPerJobLimit",
    "AssocMaxWallDurationPerJobLimit",
    "QOSMaxCpuPerJobLimit",
    "QOSMaxGRESPerJob",
    "QOSMaxMemoryPerJob",
    "QOSMaxNodePerJobLimit",
    "QOSMaxBillingPerJob",
    "QOSMinCpuNotSatisfied",
    "QOSMinGRES",
    "QOSMinMemory",
    "QOSMinNode",
    "AssocMaxCpuPerJobLimit",
    "AssocMaxGRESPerJob",
    "AssocMaxMemPerJob",
    "AssocMaxNodePerJobLimit",
    "AssocMaxBillingPerJob",
    "InvalidAccount",
    "InvalidQOS",
    "BadConstraints",
    "DependencyNeverSatisfied",
    "ReservationDeleted",
];

/// The fatal reason of a pending job, when its reason means it will never
/// start: one of [`FATAL_REASONS`], or `ReqNodeNotAvail` naming
/// unavailable nodes (`ReqNodeNotAvail, UnavailableNodes:node1`) when
/// `unavailable_nodes_fatal`. `None` for a job that may still start.
pub fn fatal_reason(reason: &str, unavailable_nodes_fatal: bool) -> Option<String> {
    let reason = reason.trim();
    let code = reason
        .split([',', ' ', '('])
        .find(|s| !s.is_empty())
        .unwrap_or("");
    if FATAL_REASONS.contains(&code) {
        return Some(code.to_owned());
    }
    if code == "ReqNodeNotAvail" && unavailable_nodes_fatal {
        let nodes = reason
            .split_once("UnavailableNodes:")
            .map(|(_, n)| n.trim().trim_end_matches(')').trim());
        if let Some(nodes) = nodes.filter(|n| !n.is_empty()) {
            return Some(format!("ReqNodeNotAvail (unavailable nodes: {nodes})"));
        }
    }
    None
}

/// The reason a pending job waits, as `squeue %r` or `scontrol`'s
/// `Reason` prints it (`PartitionDown`, `Resources`, `Priority`,
/// `QOSMaxJobsPerUserLimit`, `ReqNodeNotAvail, UnavailableNodes:n1`);
/// `None` for Slurm's `None` or nothing.
pub fn pending_reason(reason: &str) -> Option<String> {
    let reason = reason.trim();
    (!reason.is_empty() && reason != "None" && reason != "(null)").then(|| reason.to_owned())
}

/// The job's state when Slurm says it ended as `end`: the state file the
/// job wrote (`file`, when there is one) refines `COMPLETED` and `FAILED`
/// (an exit code, a timeout the job's own time limit caught, a
/// cancellation it recorded); otherwise Slurm's word stands. `exit_code`
/// is Slurm's (`sacct`, `scontrol`), used when the job wrote nothing.
pub fn ended(end: &End, file: Option<&JobState>, exit_code: Option<(i32, i32)>) -> JobState {
    match end {
        End::Completed | End::Failed => match file {
            Some(state) if state.is_final() => state.clone(),
            _ => match (end, exit_code) {
                (End::Completed, _) => JobState::Done,
                (_, Some((code, _))) if code != 0 => JobState::Failed(FailReason::ExitCode(code)),
                (_, Some((0, signal))) if signal != 0 => {
                    JobState::Failed(FailReason::ExitCode(128 + signal))
                }
                _ => JobState::Failed(FailReason::Other("FAILED".into())),
            },
        },
        End::Timeout => JobState::Failed(FailReason::Timeout),
        End::Cancelled => JobState::Failed(FailReason::Cancelled),
        End::Other(name) => JobState::Failed(FailReason::Other(name.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_reasons() {
        assert_eq!(
            pending_reason("PartitionDown").as_deref(),
            Some("PartitionDown")
        );
        assert_eq!(pending_reason(" Resources ").as_deref(), Some("Resources"));
        assert_eq!(
            pending_reason("ReqNodeNotAvail, UnavailableNodes:n1").as_deref(),
            Some("ReqNodeNotAvail, UnavailableNodes:n1")
        );
        assert_eq!(pending_reason("None"), None);
        assert_eq!(pending_reason(""), None);
    }

    #[test]
    fn every_state_has_a_phase() {
        for s in [
            "PENDING",
            "CONFIGURING",
            "REQUEUED",
            "REQUEUE_HOLD",
            "REQUEUE_FED",
            "RESV_DEL_HOLD",
            "SPECIAL_EXIT",
        ] {
            assert_eq!(phase(s), Phase::Waiting, "{s}");
        }
        for s in [
            "RUNNING",
            "COMPLETING",
            "SUSPENDED",
            "STOPPED",
            "SIGNALING",
            "STAGE_OUT",
            "RESIZING",
        ] {
            assert_eq!(phase(s), Phase::Started, "{s}");
        }
        assert_eq!(phase("PREEMPTED"), Phase::Interrupted("PREEMPTED".into()));
        assert_eq!(phase("NODE_FAIL"), Phase::Interrupted("NODE_FAIL".into()));
        assert_eq!(phase("COMPLETED"), Phase::Ended(End::Completed));
        assert_eq!(phase("FAILED"), Phase::Ended(End::Failed));
        assert_eq!(phase("TIMEOUT"), Phase::Ended(End::Timeout));
        assert_eq!(phase("CANCELLED+"), Phase::Ended(End::Cancelled));
        for s in ["OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "REVOKED"] {
            assert_eq!(phase(s), Phase::Ended(End::Other(s.into())), "{s}");
        }
        assert_eq!(phase("FROBNICATED"), Phase::Unknown("FROBNICATED".into()));
    }

    #[test]
    fn states_of_real_squeue_output() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/squeue-states.txt"),
        )
        .unwrap();
        for row in crate::parse::squeue(&text).unwrap() {
            assert!(!matches!(phase(&row.state), Phase::Unknown(_)), "{row:?}");
        }
    }

    #[test]
    fn fatal_reasons() {
        assert_eq!(
            fatal_reason("PartitionTimeLimit", true).as_deref(),
            Some("PartitionTimeLimit")
        );
        assert_eq!(
            fatal_reason("ReqNodeNotAvail, UnavailableNodes:launchtest1", true).as_deref(),
            Some("ReqNodeNotAvail (unavailable nodes: launchtest1)")
        );
        assert_eq!(
            fatal_reason("ReqNodeNotAvail, UnavailableNodes:launchtest1", false),
            None
        );
        assert_eq!(
            fatal_reason("ReqNodeNotAvail, UnavailableNodes:", true),
            None
        );
        assert_eq!(fatal_reason("ReqNodeNotAvail", true), None);
        for fine in [
            "None",
            "Resources",
            "Priority",
            "BeginTime",
            "Dependency",
            "JobHeldUser",
            "JobArrayTaskLimit",
            "job requeued in held state",
            "",
        ] {
            assert_eq!(fatal_reason(fine, true), None, "{fine}");
        }
        assert_eq!(
            fatal_reason("DependencyNeverSatisfied", false).as_deref(),
            Some("DependencyNeverSatisfied")
        );
    }

    #[test]
    fn the_file_refines_completed_and_failed() {
        let code3 = JobState::Failed(FailReason::ExitCode(3));
        let timeout = JobState::Failed(FailReason::Timeout);
        assert_eq!(ended(&End::Failed, Some(&code3), None), code3);
        assert_eq!(ended(&End::Failed, Some(&timeout), None), timeout);
        assert_eq!(ended(&End::Completed, None, None), JobState::Done);
        assert_eq!(
            ended(&End::Failed, None, Some((2, 0))),
            JobState::Failed(FailReason::ExitCode(2))
        );
        assert_eq!(
            ended(&End::Failed, None, Some((0, 9))),
            JobState::Failed(FailReason::ExitCode(137))
        );
        assert_eq!(
            ended(&End::Failed, None, None),
            JobState::Failed(FailReason::Other("FAILED".into()))
        );
        // Slurm's word stands for the others, whatever the job wrote.
        let code143 = JobState::Failed(FailReason::ExitCode(143));
        assert_eq!(ended(&End::Timeout, Some(&code143), None), timeout);
        assert_eq!(
            ended(&End::Cancelled, Some(&code143), None),
            JobState::Failed(FailReason::Cancelled)
        );
        assert_eq!(
            ended(&End::Other("OUT_OF_MEMORY".into()), None, None),
            JobState::Failed(FailReason::Other("OUT_OF_MEMORY".into()))
        );
        assert_eq!(
            ended(&End::Failed, Some(&JobState::Running), None),
            JobState::Failed(FailReason::Other("FAILED".into()))
        );
    }
}
