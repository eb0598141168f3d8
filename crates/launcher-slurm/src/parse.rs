//! Parsers of what Slurm's commands print, in the formats the launcher asks
//! for. Pure functions of strings, tested on real output captured from the
//! test cluster (`tests/data/`, see `tests/data/capture.sh`).

use std::fmt;

/// A line (or a whole output) that does not read as expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Which output (`squeue`, `sacct`, ...).
    pub what: &'static str,
    /// What was wrong.
    pub reason: String,
    /// The offending line.
    pub line: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot read {} output: {} (line `{}`)",
            self.what, self.reason, self.line
        )
    }
}

impl std::error::Error for ParseError {}

fn error(what: &'static str, reason: impl Into<String>, line: &str) -> ParseError {
    ParseError {
        what,
        reason: reason.into(),
        line: line.chars().take(200).collect(),
    }
}

/// A job id as `sbatch --parsable` prints it: `123`, or `123;cluster`.
pub fn sbatch_job_id(stdout: &str) -> Result<String, ParseError> {
    let line = stdout
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("");
    let id = line.split(';').next().unwrap_or("").trim();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error("sbatch --parsable", "expected a job id", line));
    }
    Ok(id.to_owned())
}

/// The `squeue` output format the launcher asks for (`-o`): the job id
/// (`123`, or `123_4` for a task of an array, one line each with `-r`), the
/// state in full (`PENDING`), the reason (`PartitionTimeLimit`,
/// `ReqNodeNotAvail, UnavailableNodes:node1`).
pub const SQUEUE_FORMAT: &str = "%i|%T|%r";

/// One job as `squeue` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRow {
    /// `123`, or `123_4` for an array task.
    pub id: String,
    /// `PENDING`, `RUNNING`, `COMPLETED`, ...
    pub state: String,
    /// Why it is in that state (`None` when there is no reason).
    pub reason: String,
}

/// Reads `squeue -h -o` [`SQUEUE_FORMAT`] output, one job a line. Empty
/// lines are skipped; a line without the three fields is an error.
pub fn squeue(text: &str) -> Result<Vec<QueueRow>, ParseError> {
    let mut rows = Vec::with_capacity(text.len() / 24);
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.splitn(3, '|');
        let (Some(id), Some(state), Some(reason)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(error("squeue", "expected `id|state|reason`", line));
        };
        let (id, state) = (id.trim(), state.trim());
        if id.is_empty() || state.is_empty() {
            return Err(error("squeue", "empty job id or state", line));
        }
        rows.push(QueueRow {
            id: id.to_owned(),
            state: state.to_owned(),
            reason: reason.trim().to_owned(),
        });
    }
    Ok(rows)
}

/// Whether a failed `squeue -j`/`scontrol show job` said only that it
/// knows no such job (what Slurm answers for a single id it has
/// forgotten).
pub fn is_invalid_job_id(stderr: &str) -> bool {
    stderr.contains("Invalid job id specified")
}

/// An exit code as Slurm prints it: `CODE:SIGNAL`.
pub fn exit_code(text: &str) -> Option<(i32, i32)> {
    let (code, signal) = text.trim().split_once(':')?;
    Some((code.parse().ok()?, signal.parse().ok()?))
}

/// One job as `scontrol show job` shows it (the fields the launcher uses).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ControlJob {
    /// `123`, or `123_4` for an array task.
    pub id: String,
    /// `JobState`.
    pub state: String,
    /// `Reason` (`None` when there is none).
    pub reason: String,
    /// `ExitCode` (`code`, `signal`).
    pub exit_code: Option<(i32, i32)>,
    /// `Requeue`: whether Slurm may requeue it.
    pub requeue: Option<bool>,
    /// `Restarts`: how many times it was requeued.
    pub restarts: Option<u32>,
    /// `TimeLimit` in seconds (`None` inside: unlimited).
    pub time_limit: Option<Option<u64>>,
}

/// Reads `scontrol show job` output (the multi-line form: one field group
/// a line, a job starting at `JobId=`). Fields are taken from the lines
/// that start with them, so a job name or a command holding `JobState=`
/// cannot be mistaken for the state.
pub fn scontrol_jobs(text: &str) -> Result<Vec<ControlJob>, ParseError> {
    let mut jobs: Vec<ControlJob> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("JobId=") {
            // `JobId=15 ArrayJobId=13 ArrayTaskId=0 JobName=...`: the name
            // is last, so the fields before it are safe to split.
            let head = trimmed.split(" JobName=").next().unwrap_or(trimmed);
            let mut id = String::new();
            let (mut array_job, mut array_task) = (None, None);
            for field in head.split_whitespace() {
                match field.split_once('=') {
                    Some(("JobId", v)) => v.clone_into(&mut id),
                    Some(("ArrayJobId", v)) => array_job = Some(v.to_owned()),
                    Some(("ArrayTaskId", v)) => array_task = Some(v.to_owned()),
                    _ => {}
                }
            }
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(error("scontrol show job", "expected a numeric JobId", line));
            }
            if let (Some(job), Some(task)) = (array_job, array_task) {
                id = format!("{job}_{task}");
            }
            jobs.push(ControlJob {
                id,
                ..ControlJob::default()
            });
            continue;
        }
        let Some(job) = jobs.last_mut() else {
            continue;
        };
        let first = trimmed.split_whitespace().next().unwrap_or("");
        if first.starts_with("JobState=") || first.starts_with("Requeue=") {
            for field in trimmed.split_whitespace() {
                match field.split_once('=') {
                    Some(("JobState", v)) => v.clone_into(&mut job.state),
                    Some(("Reason", v)) => v.clone_into(&mut job.reason),
                    Some(("Requeue", v)) => job.requeue = Some(v == "1"),
                    Some(("Restarts", v)) => job.restarts = v.parse().ok(),
                    Some(("ExitCode", v)) => job.exit_code = exit_code(v),
                    _ => {}
                }
            }
        } else if first.starts_with("RunTime=") {
            for field in trimmed.split_whitespace() {
                if let Some(("TimeLimit", v)) = field.split_once('=') {
                    job.time_limit = slurm_time(v).ok();
                }
            }
        }
    }
    if let Some(job) = jobs.iter().find(|j| j.state.is_empty()) {
        return Err(error(
            "scontrol show job",
            "a job without JobState",
            &job.id,
        ));
    }
    Ok(jobs)
}

/// The `sacct` fields the launcher asks for (`-n -P -X -o`).
pub const SACCT_FORMAT: &str = "JobID,State,ExitCode";

/// One job as `sacct` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    /// `123`, or `123_4` for an array task.
    pub id: String,
    /// The state's first word (`CANCELLED by 0` is `CANCELLED`).
    pub state: String,
    /// `ExitCode` (`code`, `signal`).
    pub exit_code: Option<(i32, i32)>,
}

/// Reads `sacct -n -P -X -o` [`SACCT_FORMAT`] output (`|`-separated).
/// Pending array tasks still grouped (`123_[4-9]`) are skipped.
pub fn sacct(text: &str) -> Result<Vec<AccountRow>, ParseError> {
    let mut rows = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('|').collect();
        if fields.len() < 3 {
            return Err(error("sacct", "expected `JobID|State|ExitCode`", line));
        }
        let id = fields[0].trim();
        if id.contains('[') {
            continue;
        }
        let state = fields[1].split_whitespace().next().unwrap_or("");
        if id.is_empty() || state.is_empty() {
            return Err(error("sacct", "empty job id or state", line));
        }
        rows.push(AccountRow {
            id: id.to_owned(),
            state: state.to_owned(),
            exit_code: exit_code(fields[2]),
        });
    }
    Ok(rows)
}

/// Whether a failed `sacct` said that this cluster keeps no accounting.
pub fn is_accounting_disabled(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    s.contains("accounting storage is disabled")
        || s.contains("slurmdbd")
        || s.contains("accounting_storage/none")
}

/// A format [`ids_and_field`] reads: each job's (array's) id and its working
/// directory.
pub const JOB_DIR_FORMAT: &str = "%F|%Z";

/// A format [`ids_and_field`] reads: each job's (array's) id and its comment.
pub const JOB_COMMENT_FORMAT: &str = "%F|%k";

/// `squeue --noheader --format=%F|FIELD` output: `(job id, field)` for each
/// line (an array's tasks share its id, directory and comment).
pub fn ids_and_field(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let (id, dir) = line.trim_end_matches('\r').split_once('|')?;
            let id = id.trim();
            (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
                .then(|| (id.to_owned(), dir.to_owned()))
        })
        .collect()
}

/// A Slurm time (as `--time` takes it and `sinfo`, `squeue` print it) in
/// seconds: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`. A bare number
/// is minutes. `Ok(None)`: unlimited (`UNLIMITED`, `INFINITE`).
pub fn slurm_time(text: &str) -> Result<Option<u64>, ParseError> {
    slurm_options::parse_time(text).map_err(|e| error("Slurm time", e.to_string(), text))
}

/// A generic resource of a node: `gpu:a100:4` is name `gpu`, type
/// `a100`, count 4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gres {
    /// `gpu`, `shard`, `mps`, ...
    pub name: String,
    /// The type (`a100-sxm4-80gb`, `1g.10gb`), when given.
    pub kind: Option<String>,
    /// How many.
    pub count: u64,
}

/// Splits on commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A count as GRES prints it: digits, maybe with a `K`/`M`/`G` multiplier.
fn gres_count(text: &str) -> Option<u64> {
    let (digits, factor) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], 1_000),
        b'M' | b'm' => (&text[..text.len() - 1], 1_000_000),
        b'G' | b'g' => (&text[..text.len() - 1], 1_000_000_000),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(factor)
}

/// Reads a node's GRES as `sinfo %G` or `scontrol show node` print it:
/// `gpu:a100-sxm4-80gb:4`, `gpu:4(S:0-1)`, `gpu:tesla:2(S:0),gpu:v100:2`,
/// `gpu:1g.10gb:7`, `(null)`. The socket part is dropped; an entry with no
/// count counts 1.
pub fn gres(text: &str) -> Result<Vec<Gres>, ParseError> {
    let t = text.trim();
    if t.is_empty() || t == "(null)" {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for part in split_top_level(t) {
        let part = part.split('(').next().unwrap_or("").trim();
        if part.is_empty() {
            continue;
        }
        let fields: Vec<&str> = part.split(':').collect();
        let bad = || error("GRES", "expected NAME[:TYPE][:COUNT]", part);
        let (name, kind, count) = match fields.as_slice() {
            [name] => (*name, None, 1),
            [name, last] => match gres_count(last) {
                Some(n) => (*name, None, n),
                None => (*name, Some(*last), 1),
            },
            [name, kind, count] => (*name, Some(*kind), gres_count(count).ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        if name.is_empty() || kind.is_some_and(str::is_empty) {
            return Err(bad());
        }
        out.push(Gres {
            name: name.to_owned(),
            kind: kind.map(str::to_owned),
            count,
        });
    }
    Ok(out)
}

/// The `sinfo` output format of cluster discovery (`-h -a -N -o`): one
/// line per node and partition: partition (`*` after the default one),
/// node, CPUs, memory (MB), GRES, features, time limit, partition
/// availability, node state.
pub const SINFO_FORMAT: &str = "%P|%N|%c|%m|%G|%f|%l|%a|%t";

/// One node of one partition, as `sinfo` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// The partition.
    pub partition: String,
    /// Whether it is the default partition.
    pub default: bool,
    /// The node.
    pub node: String,
    /// Its CPUs.
    pub cpus: u64,
    /// Its memory in megabytes (MiB).
    pub memory_mb: u64,
    /// Its generic resources.
    pub gres: Vec<Gres>,
    /// Its features.
    pub features: Vec<String>,
    /// The partition's time limit in seconds (`None`: unlimited).
    pub time_limit: Option<u64>,
    /// Whether the partition is up.
    pub available: bool,
    /// The node's state (`idle`, `mix`, `down*`, ...).
    pub state: String,
}

/// Reads `sinfo -h -a -N -o` [`SINFO_FORMAT`] output.
pub fn sinfo_nodes(text: &str) -> Result<Vec<NodeRow>, ParseError> {
    let mut rows = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('|').map(str::trim).collect();
        if f.len() != 9 {
            return Err(error(
                "sinfo",
                "expected 9 fields: partition|node|cpus|memory|gres|features|time|avail|state",
                line,
            ));
        }
        let number = |s: &str, what: &str| {
            // `sinfo` prints `32+` when nodes of a line differ; not with -N.
            s.trim_end_matches('+')
                .parse::<u64>()
                .map_err(|_| error("sinfo", format!("{what} `{s}` is not a number"), line))
        };
        let (partition, default) = match f[0].strip_suffix('*') {
            Some(p) => (p, true),
            None => (f[0], false),
        };
        let time_limit = if f[6].eq_ignore_ascii_case("n/a") {
            None
        } else {
            slurm_time(f[6]).map_err(|e| error("sinfo", e.reason, line))?
        };
        let features = if f[5] == "(null)" || f[5].is_empty() {
            Vec::new()
        } else {
            f[5].split(',').map(str::to_owned).collect()
        };
        rows.push(NodeRow {
            partition: partition.to_owned(),
            default,
            node: f[1].to_owned(),
            cpus: number(f[2], "cpus")?,
            memory_mb: number(f[3], "memory")?,
            gres: gres(f[4]).map_err(|e| error("sinfo", e.reason, line))?,
            features,
            time_limit,
            available: f[7] == "up",
            state: f[8].to_owned(),
        });
    }
    Ok(rows)
}

/// One partition as `scontrol show partition` shows it (the fields
/// discovery uses to tell whether the user may submit there).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartitionRow {
    /// `PartitionName`.
    pub name: String,
    /// `AllowGroups` (`None`: `ALL`).
    pub allow_groups: Option<Vec<String>>,
    /// `AllowAccounts` (`None`: `ALL`).
    pub allow_accounts: Option<Vec<String>>,
    /// `DenyAccounts` (empty when not set).
    pub deny_accounts: Vec<String>,
    /// `Hidden=YES`.
    pub hidden: bool,
    /// `RootOnly=YES`.
    pub root_only: bool,
    /// `State` (`UP`, `DOWN`, `DRAIN`, `INACTIVE`).
    pub state: String,
}

/// Reads `scontrol show partition` output, in the multi-line or the
/// one-line (`-o`) form: a partition starts at `PartitionName=`.
pub fn scontrol_partitions(text: &str) -> Result<Vec<PartitionRow>, ParseError> {
    let list = |v: &str| -> Option<Vec<String>> {
        (v != "ALL").then(|| {
            v.split(',')
                .filter(|s| !s.is_empty() && *s != "(null)")
                .map(str::to_owned)
                .collect()
        })
    };
    let mut out: Vec<PartitionRow> = Vec::new();
    for field in text.split_whitespace() {
        let Some((key, value)) = field.split_once('=') else {
            continue;
        };
        if key == "PartitionName" {
            if value.is_empty() {
                return Err(error(
                    "scontrol show partition",
                    "an empty PartitionName",
                    field,
                ));
            }
            out.push(PartitionRow {
                name: value.to_owned(),
                ..PartitionRow::default()
            });
            continue;
        }
        let Some(p) = out.last_mut() else {
            return Err(error(
                "scontrol show partition",
                "a field before any PartitionName",
                field,
            ));
        };
        match key {
            "AllowGroups" => p.allow_groups = list(value),
            "AllowAccounts" => p.allow_accounts = list(value),
            "DenyAccounts" => p.deny_accounts = list(value).unwrap_or_default(),
            "Hidden" => p.hidden = value == "YES",
            "RootOnly" => p.root_only = value == "YES",
            "State" => value.clone_into(&mut p.state),
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_dirs_of_squeue() {
        let text =
            "41|/scratch/jobs/a b\n42|/scratch/jobs/arr\n42|/scratch/jobs/arr\nbad line\n|/x\n";
        assert_eq!(
            ids_and_field(text),
            [
                ("41".to_owned(), "/scratch/jobs/a b".to_owned()),
                ("42".to_owned(), "/scratch/jobs/arr".to_owned()),
                ("42".to_owned(), "/scratch/jobs/arr".to_owned()),
            ]
        );
    }

    fn data(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn sbatch_ids() {
        let captured = data("sbatch-parsable.txt");
        let id = sbatch_job_id(&captured).unwrap();
        assert!(
            id.bytes().all(|b| b.is_ascii_digit()) && id == captured.trim(),
            "{id}"
        );
        assert_eq!(sbatch_job_id("77;cluster2\n").unwrap(), "77");
        assert!(sbatch_job_id("").is_err());
        assert!(sbatch_job_id("Submitted batch job 5").is_err());
    }

    #[test]
    fn squeue_real_states() {
        let rows = squeue(&data("squeue-states.txt")).unwrap();
        let by_reason = |reason: &str| rows.iter().find(|r| r.reason == reason).unwrap();
        assert_eq!(by_reason("PartitionTimeLimit").state, "PENDING");
        assert_eq!(by_reason("NonZeroExitCode").state, "FAILED");
        assert_eq!(by_reason("DependencyNeverSatisfied").state, "PENDING");
        let task = by_reason("JobArrayTaskLimit");
        assert!(task.id.contains('_'), "{task:?}");
        assert!(
            rows.iter()
                .any(|r| r.id.contains('_') && r.state == "RUNNING"),
            "{rows:?}"
        );
        let states: std::collections::BTreeSet<&str> =
            rows.iter().map(|r| r.state.as_str()).collect();
        for s in [
            "CANCELLED",
            "COMPLETED",
            "FAILED",
            "PENDING",
            "RUNNING",
            "SUSPENDED",
        ] {
            assert!(states.contains(s), "{s}");
        }
        let later = squeue(&data("squeue-later.txt")).unwrap();
        assert!(later.iter().any(|r| r.state == "TIMEOUT"), "{later:?}");
        let node = squeue(&data("squeue-reqnodenotavail.txt")).unwrap();
        assert_eq!(
            node[0].reason,
            "ReqNodeNotAvail, UnavailableNodes:launchtest1"
        );
        assert!(
            squeue(&data("squeue-unknown-several.txt"))
                .unwrap()
                .is_empty()
        );
        assert!(is_invalid_job_id(&data("squeue-unknown-single.txt")));
        assert!(squeue("garbage").is_err());
        assert!(squeue("|RUNNING|None").is_err());
    }

    #[test]
    fn grouped_array_lines_keep_their_id() {
        // Without -r, pending tasks come grouped; the launcher always asks -r.
        let rows = squeue(&data("squeue-states-no-r.txt")).unwrap();
        assert!(rows.iter().any(|r| r.id.contains('[')), "{rows:?}");
    }

    #[test]
    fn scontrol_real_jobs() {
        let running = scontrol_jobs(&data("scontrol-job-running.txt")).unwrap();
        assert_eq!(running.len(), 1);
        assert_eq!(running[0].state, "RUNNING");
        assert_eq!(running[0].requeue, Some(true));
        assert_eq!(running[0].exit_code, Some((0, 0)));
        assert_eq!(running[0].time_limit, Some(Some(86_400)));
        let suspended = scontrol_jobs(&data("scontrol-job-suspended.txt")).unwrap();
        assert_eq!(suspended[0].state, "SUSPENDED");
        let timeout = scontrol_jobs(&data("scontrol-job-timeout.txt")).unwrap();
        assert_eq!(timeout[0].state, "TIMEOUT");
        assert_eq!(timeout[0].reason, "TimeLimit");
        assert_eq!(timeout[0].exit_code, Some((0, 15)));
        let failed = scontrol_jobs(&data("scontrol-job-failed.txt")).unwrap();
        assert_eq!(failed[0].state, "FAILED");
        assert_eq!(failed[0].exit_code, Some((3, 0)));
        let node = scontrol_jobs(&data("scontrol-job-reqnodenotavail.txt")).unwrap();
        assert!(node[0].reason.starts_with("ReqNodeNotAvail"), "{node:?}");
        assert!(
            scontrol_jobs(&data("scontrol-job-unknown.txt"))
                .unwrap()
                .is_empty()
        );
        assert!(is_invalid_job_id(&data("scontrol-job-unknown.txt")));
    }

    #[test]
    fn scontrol_is_not_fooled_by_names() {
        let text = "JobId=5 JobName=x JobState=COMPLETED\n   UserId=root(0)\n   JobState=RUNNING Reason=None Dependency=(null)\n   Command=/bin/echo JobState=FAILED\n";
        let jobs = scontrol_jobs(text).unwrap();
        assert_eq!(jobs[0].state, "RUNNING");
        let array =
            "JobId=15 ArrayJobId=13 ArrayTaskId=0 JobName=a\n   JobState=PENDING Reason=None\n";
        assert_eq!(scontrol_jobs(array).unwrap()[0].id, "13_0");
        assert!(scontrol_jobs("JobId=x JobName=y\n").is_err());
        assert!(scontrol_jobs("JobId=5 JobName=y\n").is_err(), "no state");
    }

    #[test]
    fn sacct_rows() {
        assert!(is_accounting_disabled(&data("sacct-disabled.txt")));
        // sacct -n -P -X -o JobID,State,ExitCode as Slurm documents it
        // (this cluster keeps no accounting, so it cannot print any).
        let rows =
            sacct("12|COMPLETED|0:0\n13_4|CANCELLED by 0|0:15\n13_[5-9]|PENDING|0:0\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].state, "CANCELLED");
        assert_eq!(rows[1].exit_code, Some((0, 15)));
        assert!(sacct("12|COMPLETED").is_err());
    }

    #[test]
    fn slurm_times() {
        // Read by `slurm_options::parse_time`, whose table of cases (these
        // among them) is there.
        for (text, seconds) in [
            ("1-00:00:00", Some(86_400)),
            ("2-3:04", Some(2 * 86_400 + 3 * 3600 + 240)),
            ("UNLIMITED", None),
        ] {
            assert_eq!(slurm_time(text).unwrap(), seconds, "{text}");
        }
        for bad in ["", "4h", "1-2:3:4:5"] {
            let err = slurm_time(bad).unwrap_err();
            assert_eq!((err.what, err.line.as_str()), ("Slurm time", bad));
        }
    }

    #[test]
    fn gres_forms() {
        let g = gres("gpu:a100-sxm4-80gb:4").unwrap();
        assert_eq!(
            g,
            [Gres {
                name: "gpu".into(),
                kind: Some("a100-sxm4-80gb".into()),
                count: 4
            }]
        );
        let g = gres("gpu:tesla:2(S:0-1),gpu:1g.10gb:7,shard:8,gpu:4(S:0,1)").unwrap();
        assert_eq!(g.len(), 4);
        assert_eq!(g[1].kind.as_deref(), Some("1g.10gb"));
        assert_eq!(g[1].count, 7);
        assert_eq!((g[2].name.as_str(), g[2].count), ("shard", 8));
        assert_eq!((g[3].kind.as_deref(), g[3].count), (None, 4));
        assert!(gres("(null)").unwrap().is_empty());
        assert!(gres("gpu:a:b:c").is_err());
        assert!(gres("gpu:a100:x").is_err());
    }

    #[test]
    fn sinfo_real_nodes() {
        let rows = sinfo_nodes(&data("sinfo-nodes.txt")).unwrap();
        assert_eq!(rows.len(), 2);
        let main = rows.iter().find(|r| r.partition == "main").unwrap();
        assert!(main.default);
        assert_eq!((main.cpus, main.memory_mb), (32, 32_000));
        assert_eq!(main.gres[0].count, 4);
        assert_eq!(main.features, ["a100", "nvlink"]);
        assert_eq!(main.time_limit, Some(86_400));
        let short = rows.iter().find(|r| r.partition == "short").unwrap();
        assert_eq!(short.time_limit, Some(120));
        assert!(!short.default && short.available);
        assert!(sinfo_nodes("a|b").is_err());
    }

    #[test]
    fn scontrol_real_partitions() {
        let parts = scontrol_partitions(&data("scontrol-partitions.txt")).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "main");
        assert_eq!(parts[0].allow_groups, None);
        assert!(!parts[0].hidden && !parts[0].root_only);
        assert_eq!(parts[0].state, "UP");
        let layout =
            scontrol_partitions(&data("layouts/scontrol-partitions-university.txt")).unwrap();
        let by = |n: &str| layout.iter().find(|p| p.name == n).unwrap().clone();
        assert!(by("admin").hidden);
        assert!(by("maint").root_only);
        assert_eq!(
            by("physics").allow_groups,
            Some(vec!["physics".to_owned(), "astro".to_owned()])
        );
        assert_eq!(by("paid").allow_accounts, Some(vec!["proj1".to_owned()]));
        assert_eq!(by("closed").state, "DOWN");
        assert!(scontrol_partitions("Nodes=x").is_err());
    }
}
