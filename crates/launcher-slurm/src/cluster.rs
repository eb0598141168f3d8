//! A Slurm cluster as the launcher reaches it: a connector, the directory
//! of the Slurm commands, the environment they run with. Every command
//! goes through [`Connector::run`], which puts the exit code, stdout and
//! stderr into its error.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use core_types::job::{Connector, ConnectorError, ProcessOutput, ProcessSpec};

use crate::SlurmError;
use crate::parse::{self, AccountRow, ControlJob, QueueRow};

/// Which cluster: jobs of the same key share one watcher.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ClusterKey {
    connector: String,
    bin: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
}

/// How submissions are retried when Slurm is busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How many attempts in all (at least 1).
    pub attempts: u32,
    /// The pause after the first failure; it doubles after each.
    pub first_delay: Duration,
    /// The longest pause.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(16),
        }
    }
}

impl RetryPolicy {
    /// The pause before attempt `n` (1-based; 0 before the first).
    pub fn delay(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        core_types::backoff::Backoff::nth(self.first_delay, self.max_delay, attempt - 2)
    }
}

/// Slurm messages that say "try again later": the controller is busy,
/// restarting or unreachable for a moment.
const TRANSIENT: &[&str] = &[
    "socket timed out",
    "resource temporarily unavailable",
    "not responding",
    "unable to contact slurm controller",
    "connection refused",
    "connection timed out",
    "temporarily unable to accept job",
    "communication connection failure",
    "zero bytes were transmitted or received",
    "transport endpoint is not connected",
    "slurmctld is busy",
];

/// Whether a Slurm command's stderr says the failure may pass.
pub fn is_transient(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    TRANSIENT.iter().any(|t| s.contains(t))
}

/// Whether accounting is known to exist.
const ACCOUNTING_UNKNOWN: u8 = 0;
const ACCOUNTING_YES: u8 = 1;
const ACCOUNTING_NO: u8 = 2;

/// A Slurm cluster reached through a connector.
pub(crate) struct Cluster {
    pub connector: Arc<dyn Connector>,
    pub bin: Option<PathBuf>,
    pub env: Vec<(OsString, OsString)>,
    accounting: AtomicU8,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("connector", &self.connector.name())
            .field("bin", &self.bin)
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}

/// The outcome of a query that may be impossible here.
#[derive(Debug)]
pub(crate) enum Query<T> {
    /// It answered.
    Answer(T),
    /// The command does not exist (or this cluster keeps no accounting).
    Unavailable,
}

/// What a job's comment starts with when it carries its submission's tag.
pub(crate) const TAG_PREFIX: &str = "launch:";

/// How a submission is known to Slurm before its id is: by its tag (in its
/// comment), else (a comment of the user's, a directory of an older
/// version) by its working directory.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Submission<'a> {
    /// `--comment=launch:TAG`.
    Tagged(&'a str),
    /// The working directory.
    InDir(&'a Path),
}

impl<'a> Submission<'a> {
    pub(crate) fn new(tag: Option<&'a str>, dir: &'a Path) -> Self {
        tag.map_or(Submission::InDir(dir), Submission::Tagged)
    }
}

impl Cluster {
    pub(crate) fn new(
        connector: Arc<dyn Connector>,
        bin: Option<PathBuf>,
        env: Vec<(OsString, OsString)>,
    ) -> Self {
        Cluster {
            connector,
            bin,
            env,
            accounting: AtomicU8::new(ACCOUNTING_UNKNOWN),
        }
    }

    pub(crate) fn key(&self) -> ClusterKey {
        ClusterKey {
            connector: self.connector.name(),
            bin: self.bin.clone(),
            env: self.env.clone(),
        }
    }

    /// The path of a Slurm command.
    pub(crate) fn program(&self, name: &str) -> PathBuf {
        match &self.bin {
            Some(dir) => dir.join(name),
            None => PathBuf::from(name),
        }
    }

    /// A Slurm command with the cluster's environment.
    fn spec<I, S>(&self, name: &str, args: I) -> ProcessSpec
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut spec = ProcessSpec::new(self.program(name)).args(args);
        spec.env.clone_from(&self.env);
        spec
    }

    /// Runs a Slurm command to its end, through the connector.
    pub(crate) fn run<I, S>(
        &self,
        name: &str,
        args: I,
        cwd: Option<&Path>,
    ) -> Result<ProcessOutput, ConnectorError>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut spec = self.spec(name, args);
        if let Some(cwd) = cwd {
            spec = spec.cwd(cwd);
        }
        self.connector.run(&spec)
    }

    /// Runs a Slurm command to its end with variables added to its
    /// environment (after the cluster's own).
    pub(crate) fn run_with_env<I, S>(
        &self,
        name: &str,
        args: I,
        vars: &[(&str, &str)],
    ) -> Result<ProcessOutput, ConnectorError>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut spec = self.spec(name, args);
        spec.env.extend(
            vars.iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v))),
        );
        self.connector.run(&spec)
    }

    /// `sbatch --parsable SCRIPT` in `cwd`, retried with backoff while
    /// Slurm says it is busy; the job id. A permanent failure comes back at
    /// once with Slurm's message.
    pub(crate) fn sbatch(
        &self,
        script: &Path,
        cwd: &Path,
        key: &Submission<'_>,
        retry: &RetryPolicy,
    ) -> Result<String, SlurmError> {
        let attempts = retry.attempts.max(1);
        let mut attempt = 1;
        loop {
            std::thread::sleep(retry.delay(attempt));
            let result = self.run(
                "sbatch",
                [OsString::from("--parsable"), script.as_os_str().to_owned()],
                Some(cwd),
            );
            match result {
                Ok(out) => {
                    let stdout = String::from_utf8_lossy(&out.stdout);
                    return parse::sbatch_job_id(&stdout).map_err(SlurmError::Parse);
                }
                Err(ConnectorError::Failed {
                    program,
                    status,
                    stderr,
                    ..
                }) => {
                    if is_transient(&stderr) && attempt < attempts {
                        // The controller may have taken the job before the
                        // answer was lost: never submit it twice.
                        if let Ok(Some(id)) = self.submitted(key) {
                            return Ok(id);
                        }
                        attempt += 1;
                        continue;
                    }
                    return Err(SlurmError::Submit {
                        message: slurm_message(&stderr),
                        command: program,
                        status,
                        attempts: attempt,
                    });
                }
                Err(e) => return Err(SlurmError::Connector(e)),
            }
        }
    }

    /// The id of this user's job (or job array) Slurm holds for this
    /// submission: how one whose `sbatch` answer was lost (the submitter
    /// killed, a timed-out socket) is found again. `None` when Slurm holds
    /// none.
    pub(crate) fn submitted(&self, key: &Submission<'_>) -> Result<Option<String>, SlurmError> {
        let format = match key {
            Submission::Tagged(_) => parse::JOB_COMMENT_FORMAT,
            Submission::InDir(_) => parse::JOB_DIR_FORMAT,
        };
        let args = query_args(&["--me", "--states=all"], None, format);
        let out = self
            .run("squeue", args, None)
            .map_err(|e| SlurmError::Query {
                message: failure_message(&e),
                transient: transient_error(&e),
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        let (want, trim): (String, fn(&str) -> &str) = match key {
            Submission::Tagged(tag) => (format!("{TAG_PREFIX}{tag}"), str::trim),
            Submission::InDir(dir) => (dir.to_string_lossy().into_owned(), |d| {
                d.trim_end_matches('/')
            }),
        };
        Ok(parse::ids_and_field(&text)
            .into_iter()
            .find(|(_, field)| trim(field) == trim(&want))
            .map(|(id, _)| id))
    }

    /// `squeue` for these job ids (`123`, `123_4`; arrays by their base id),
    /// one call; the rows of the jobs Slurm still holds.
    pub(crate) fn squeue(&self, ids: &[String]) -> Result<Query<Vec<QueueRow>>, SlurmError> {
        let mut bases: Vec<&str> = ids
            .iter()
            .map(|id| id.split('_').next().unwrap_or(id))
            .collect();
        bases.sort_unstable();
        bases.dedup();
        if bases.is_empty() {
            return Ok(Query::Answer(Vec::new()));
        }
        let args = query_args(
            &["--array", "--states=all"],
            Some(bases.join(",")),
            parse::SQUEUE_FORMAT,
        );
        match self.run("squeue", args, None) {
            Ok(out) => Ok(Query::Answer(
                parse::squeue(&String::from_utf8_lossy(&out.stdout)).map_err(SlurmError::Parse)?,
            )),
            Err(ConnectorError::Failed { stderr, .. }) if parse::is_invalid_job_id(&stderr) => {
                // One id Slurm has forgotten: an error, not an empty list.
                Ok(Query::Answer(Vec::new()))
            }
            Err(e) if is_missing(&e) => Ok(Query::Unavailable),
            Err(e) => Err(SlurmError::Query {
                message: failure_message(&e),
                transient: transient_error(&e),
            }),
        }
    }

    /// `sacct` for these ids, one call, when the cluster keeps accounting
    /// (found out at the first call, remembered).
    pub(crate) fn sacct(&self, ids: &[String]) -> Result<Query<Vec<AccountRow>>, SlurmError> {
        if ids.is_empty() {
            return Ok(Query::Answer(Vec::new()));
        }
        if self.accounting.load(Ordering::Relaxed) == ACCOUNTING_NO {
            return Ok(Query::Unavailable);
        }
        let args = query_args(
            &[
                "--parsable2",
                "--allocations",
                // Without a start time sacct looks at today only.
                "--starttime=1970-01-01T00:00:00",
            ],
            Some(ids.join(",")),
            parse::SACCT_FORMAT,
        );
        match self.run("sacct", args, None) {
            Ok(out) => {
                self.accounting.store(ACCOUNTING_YES, Ordering::Relaxed);
                Ok(Query::Answer(
                    parse::sacct(&String::from_utf8_lossy(&out.stdout))
                        .map_err(SlurmError::Parse)?,
                ))
            }
            Err(ConnectorError::Failed { stderr, .. })
                if parse::is_accounting_disabled(&stderr) && !is_transient(&stderr) =>
            {
                self.accounting.store(ACCOUNTING_NO, Ordering::Relaxed);
                Ok(Query::Unavailable)
            }
            Err(e) if is_missing(&e) => {
                self.accounting.store(ACCOUNTING_NO, Ordering::Relaxed);
                Ok(Query::Unavailable)
            }
            Err(e) => Err(SlurmError::Query {
                message: failure_message(&e),
                transient: transient_error(&e),
            }),
        }
    }

    /// `scontrol show job ID`: the job, when Slurm still holds it.
    pub(crate) fn scontrol_job(&self, id: &str) -> Result<Query<Option<ControlJob>>, SlurmError> {
        match self.run("scontrol", ["show", "job", id], None) {
            Ok(out) => {
                let jobs = parse::scontrol_jobs(&String::from_utf8_lossy(&out.stdout))
                    .map_err(SlurmError::Parse)?;
                Ok(Query::Answer(jobs.into_iter().find(|j| j.id == id)))
            }
            Err(ConnectorError::Failed { stderr, .. }) if parse::is_invalid_job_id(&stderr) => {
                Ok(Query::Answer(None))
            }
            Err(e) if is_missing(&e) => Ok(Query::Unavailable),
            Err(e) => Err(SlurmError::Query {
                message: failure_message(&e),
                transient: transient_error(&e),
            }),
        }
    }

    /// `scancel ID`. A job that already ended is not an error.
    pub(crate) fn scancel(&self, id: &str) -> Result<(), SlurmError> {
        match self.run("scancel", [id], None) {
            Ok(_) => Ok(()),
            Err(ConnectorError::Failed { stderr, .. })
                if stderr.contains("already completing or completed")
                    || parse::is_invalid_job_id(&stderr) =>
            {
                Ok(())
            }
            Err(e) => Err(SlurmError::Cancel {
                job: id.to_owned(),
                message: failure_message(&e),
            }),
        }
    }
}

/// Whether the command itself is missing.
fn is_missing(e: &ConnectorError) -> bool {
    match e {
        ConnectorError::Spawn { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
        // Through a shell (SSH): `command not found` is 127.
        ConnectorError::Failed { status, .. } => status == "exit code 127",
        _ => false,
    }
}

fn transient_error(e: &ConnectorError) -> bool {
    match e {
        ConnectorError::Failed { stderr, .. } => is_transient(stderr),
        _ => false,
    }
}

/// What Slurm said: its stderr lines, trimmed.
pub(crate) fn slurm_message(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        "(no message)".to_owned()
    } else {
        lines.join("\n")
    }
}

/// The arguments of a query of `squeue` or `sacct`: no header, `flags`,
/// the jobs asked about (all when `None`), the columns of `format`.
fn query_args(flags: &[&str], jobs: Option<String>, format: &str) -> Vec<String> {
    let mut args = vec!["--noheader".to_owned()];
    args.extend(flags.iter().map(|&flag| flag.to_owned()));
    args.extend(jobs.map(|jobs| format!("--jobs={jobs}")));
    args.push(format!("--format={format}"));
    args
}

fn failure_message(e: &ConnectorError) -> String {
    match e {
        ConnectorError::Failed {
            program,
            status,
            stderr,
            ..
        } => format!("`{program}` failed ({status}): {}", slurm_message(stderr)),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> String {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn transient_and_permanent_messages() {
        assert!(is_transient(
            "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation"
        ));
        assert!(is_transient(
            "sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying"
        ));
        assert!(is_transient(
            "squeue: error: slurm_load_jobs error: Unable to contact slurm controller (connect failure)"
        ));
        for permanent in [
            "sbatch-invalid-partition.txt",
            "sbatch-invalid-feature.txt",
            "sbatch-too-many-gpus.txt",
            "sbatch-invalid-time.txt",
            "sbatch-no-config.txt",
        ] {
            assert!(!is_transient(&data(permanent)), "{permanent}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            attempts: 10,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
        };
        let delays: Vec<u128> = (1..=6).map(|a| p.delay(a).as_millis()).collect();
        assert_eq!(delays, [0, 100, 200, 400, 500, 500]);
        assert_eq!(p.delay(200), Duration::from_millis(500));
    }

    #[test]
    fn messages_keep_slurm_words() {
        assert_eq!(
            slurm_message(&data("sbatch-invalid-partition.txt")),
            "sbatch: error: invalid partition specified: nosuch\nsbatch: error: Batch job submission failed: Invalid partition name specified"
        );
        assert_eq!(slurm_message("  \n"), "(no message)");
    }
}
