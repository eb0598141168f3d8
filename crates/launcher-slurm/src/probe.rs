//! When a job would start, asked without submitting it: `sbatch
//! --test-only` with the options the job would get (run with `TZ=UTC0`,
//! so that the time it prints is UTC), then the state of the partition it
//! names (`--test-only` ignores a partition that is down). The parsers
//! are functions of strings, tested on captured real output
//! (`tests/data/test-only-*.txt`, `tests/data/sinfo-partition-*.txt`:
//! captured on a layout like the integration test's `probe.rs`, with
//! partitions up, down and drained, and a node busy with a long job).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use core_types::job::{ConnectorError, Job, Start, StartEstimate};

use crate::cluster::{is_transient, slurm_message};
use crate::parse::ParseError;
use crate::{SlurmError, SlurmLauncher};

/// What `sbatch --test-only` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestOnly {
    /// The job would start at `at` (seconds since the epoch, the time
    /// read as UTC), on `nodes`, in `partition`.
    Start {
        /// When.
        at: u64,
        /// The nodes (`n[01-02]`), when said.
        nodes: String,
        /// The partition, when said.
        partition: String,
    },
    /// Slurm refused the job: it would never start as asked (a drained
    /// or inactive partition, a request no node can hold, no such
    /// partition); Slurm's message.
    Never(String),
}

/// Reads what `sbatch --test-only` printed (its stderr) and whether it
/// succeeded: `sbatch: Job 7 to start at 2026-12-03T20:53:49 using 1
/// processors on nodes qa01 in partition pa`, or a refusal (`allocation
/// failure: ...`).
pub fn test_only(text: &str, succeeded: bool) -> Result<TestOnly, ParseError> {
    if !succeeded {
        return Ok(TestOnly::Never(slurm_message(text)));
    }
    let error = |reason: &str, line: &str| ParseError {
        what: "sbatch --test-only",
        reason: reason.to_owned(),
        line: line.to_owned(),
    };
    let Some(line) = text.lines().find(|l| l.contains(" to start at ")) else {
        return Err(error("no `to start at`", text.trim()));
    };
    let word_after = |marker: &str| {
        line.split_once(marker)
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .unwrap_or_default()
            .to_owned()
    };
    let time = word_after(" to start at ");
    let at =
        utc_seconds(&time).ok_or_else(|| error("a time that is not YYYY-MM-DDTHH:MM:SS", line))?;
    Ok(TestOnly::Start {
        at,
        nodes: word_after(" on nodes "),
        partition: word_after(" in partition "),
    })
}

/// `2026-12-03T20:53:49` read as UTC: seconds since the epoch.
fn utc_seconds(text: &str) -> Option<u64> {
    humantime::parse_rfc3339_weak(text)
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// Reads `sinfo --noheader --partition=P --format=%a` (`up`, `down`,
/// `drain`, `inact`): `None` when the partition takes jobs, else its
/// state.
pub fn partition_unavailable(text: &str) -> Option<String> {
    let states: Vec<&str> = text.split_whitespace().collect();
    if states.is_empty() || states.contains(&"up") {
        None
    } else {
        Some(states.join(", "))
    }
}

impl SlurmLauncher {
    /// When `job` would start on this cluster, asked without submitting
    /// it: `sbatch --test-only` with the options it would get, then the
    /// state of the partition Slurm named. A refusal, or a partition that
    /// is not up, is [`Start::Never`]; a failure to ask (the controller
    /// unreachable, a connection refused) is an error.
    pub fn start_estimate(&self, job: &Job) -> Result<StartEstimate, SlurmError> {
        let options = self.options_for(job);
        let mut args = vec!["--test-only".to_owned()];
        args.extend(options.to_args());
        args.push("--output=/dev/null".to_owned());
        args.push("--wrap=true".to_owned());
        let (text, succeeded) = match self
            .cluster()
            .run_with_env("sbatch", args, &[("TZ", "UTC0")])
        {
            Ok(out) => (
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stderr),
                    String::from_utf8_lossy(&out.stdout)
                ),
                true,
            ),
            Err(ConnectorError::Failed { stderr, .. }) if !is_transient(&stderr) => (stderr, false),
            Err(e) => return Err(SlurmError::Connector(e)),
        };
        match test_only(&text, succeeded).map_err(SlurmError::Parse)? {
            TestOnly::Never(message) => Ok(StartEstimate::new(Start::Never, message)),
            TestOnly::Start {
                at,
                nodes,
                partition,
            } => {
                if !partition.is_empty() {
                    let out = self
                        .cluster()
                        .run(
                            "sinfo",
                            [
                                "--noheader".to_owned(),
                                format!("--partition={partition}"),
                                "--format=%a".to_owned(),
                            ],
                            None,
                        )
                        .map_err(SlurmError::Connector)?;
                    if let Some(state) =
                        partition_unavailable(&String::from_utf8_lossy(&out.stdout))
                    {
                        return Ok(StartEstimate::new(
                            Start::Never,
                            format!("partition {partition} is {state}"),
                        ));
                    }
                }
                let when = UNIX_EPOCH + Duration::from_secs(at);
                let why = match (nodes.is_empty(), partition.is_empty()) {
                    (false, false) => format!("on {nodes} in partition {partition}"),
                    (false, true) => format!("on {nodes}"),
                    (true, false) => format!("in partition {partition}"),
                    (true, true) => String::new(),
                };
                let start = if when <= SystemTime::now() {
                    Start::Now
                } else {
                    Start::At(when)
                };
                Ok(StartEstimate::new(start, why))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn captured_answers() {
        assert_eq!(
            test_only(&data("test-only-start.txt"), true).unwrap(),
            TestOnly::Start {
                at: utc_seconds("2026-12-03T20:03:48").unwrap(),
                nodes: "qa01".into(),
                partition: "pa".into(),
            }
        );
        let TestOnly::Start { at, .. } = test_only(&data("test-only-busy.txt"), true).unwrap()
        else {
            panic!("a start");
        };
        assert_eq!(
            at - utc_seconds("2026-12-03T20:03:48").unwrap(),
            50 * 60 + 1
        );
        for (file, says) in [
            (
                "test-only-drain.txt",
                "Required partition not available (inactive or drain)",
            ),
            (
                "test-only-node-config.txt",
                "Requested node configuration is not available",
            ),
            (
                "test-only-invalid-partition.txt",
                "invalid partition specified: nosuch",
            ),
        ] {
            match test_only(&data(file), false).unwrap() {
                TestOnly::Never(message) => assert!(message.contains(says), "{file}: {message}"),
                other @ TestOnly::Start { .. } => panic!("{file}: {other:?}"),
            }
        }
        assert!(test_only("sbatch: something else\n", true).is_err());
        assert!(test_only("sbatch: Job 1 to start at soon using 1 processors", true).is_err());
    }

    #[test]
    fn civil_times() {
        assert_eq!(utc_seconds("1970-01-01T00:00:00"), Some(0));
        assert_eq!(utc_seconds("2000-03-01T00:00:00"), Some(951_868_800));
        assert_eq!(utc_seconds("2026-12-03T20:03:48"), Some(1_796_328_228));
        assert_eq!(utc_seconds("2026-13-03T20:03:48"), None);
        assert_eq!(utc_seconds("Unknown"), None);
    }

    #[test]
    fn partition_states() {
        assert_eq!(partition_unavailable(&data("sinfo-partition-up.txt")), None);
        assert_eq!(
            partition_unavailable(&data("sinfo-partition-down.txt")).as_deref(),
            Some("down")
        );
        assert_eq!(partition_unavailable(""), None);
    }
}
