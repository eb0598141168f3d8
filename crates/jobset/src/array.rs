//! Arrays: many tasks of one command, each a job of its own in `D/INDEX`,
//! with `D/array.json` saying which.

use std::str::FromStr;

use core_types::job::{FailReason, JobState};
use serde::{Deserialize, Serialize};

use crate::JobSetError;

/// The file of an array's directory that makes it one: [`ArrayFile`].
pub const ARRAY_FILE: &str = "array.json";

/// The most tasks an array may have.
pub const MAX_TASKS: usize = 100_000;

/// An array's tasks as `sbatch --array` writes them: `1-100`, `0-30:3`,
/// `1,5,9` (or a mix: `1-3,10`), then `%N` for at most N at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArraySpec {
    /// The task indices, in the order written, each once.
    pub indices: Vec<u64>,
    /// At most this many tasks at once.
    pub throttle: Option<u32>,
}

impl FromStr for ArraySpec {
    type Err = JobSetError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| JobSetError::Range {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let number = |text: &str, what: &str| -> Result<u64, JobSetError> {
            text.trim()
                .parse::<u64>()
                .map_err(|_| bad(&format!("`{text}` is not a {what}")))
        };
        let (ranges, throttle) = match input.split_once('%') {
            Some((ranges, n)) => {
                let n = number(n, "count of tasks at once")?;
                let n = u32::try_from(n)
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| bad("`%N` needs N of at least 1"))?;
                (ranges, Some(n))
            }
            None => (input, None),
        };
        let mut indices = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for part in ranges.split(',') {
            let (span, step) = match part.split_once(':') {
                Some((span, step)) => (span, number(step, "step")?),
                None => (part, 1),
            };
            if step == 0 {
                return Err(bad("a step is at least 1"));
            }
            let (first, last) = match span.split_once('-') {
                Some((a, b)) => (number(a, "task index")?, number(b, "task index")?),
                None if part.contains(':') => return Err(bad("a step needs a range `A-B:S`")),
                None => {
                    let i = number(span, "task index")?;
                    (i, i)
                }
            };
            if last < first {
                return Err(bad(&format!("`{span}` ends before it starts")));
            }
            let mut i = first;
            while i <= last {
                if seen.insert(i) {
                    indices.push(i);
                }
                if indices.len() > MAX_TASKS {
                    return Err(bad(&format!("more than {MAX_TASKS} tasks")));
                }
                let Some(next) = i.checked_add(step) else {
                    break;
                };
                i = next;
            }
        }
        Ok(ArraySpec { indices, throttle })
    }
}

/// `array.json`: the array an array directory holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrayFile {
    /// Its format (1).
    pub format: u64,
    /// The array's name (its tasks' name).
    pub name: String,
    /// Its task indices; task `I` is in the subdirectory `I`.
    pub indices: Vec<u64>,
    /// At most this many tasks at once, when limited.
    #[serde(default)]
    pub throttle: Option<u32>,
    /// The kind of launcher its tasks went to.
    pub launcher: String,
    /// When it was submitted, in seconds since the Unix epoch.
    #[serde(default)]
    pub submitted: u64,
    /// The `launch` process that submits its tasks, when it does so itself
    /// (`%N` on a launcher without arrays of its own): a task not submitted
    /// yet waits while it lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitter: Option<jobdir::Identity>,
}

impl ArrayFile {
    /// Reads `array.json` from its bytes (`path` names it in errors).
    pub fn parse(bytes: &[u8], path: &str) -> Result<ArrayFile, JobSetError> {
        serde_json::from_slice(bytes).map_err(|source| JobSetError::ArrayFile {
            path: path.to_owned(),
            source,
        })
    }

    /// Its bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an array file is always JSON")
    }
}

/// An array's tasks counted by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Waiting to start.
    pub scheduled: usize,
    /// Running.
    pub running: usize,
    /// Ended with exit code 0.
    pub done: usize,
    /// Ended otherwise.
    pub failed: usize,
}

impl Counts {
    /// Counts one more task in `state`.
    pub fn add(&mut self, state: &JobState) {
        match state {
            JobState::Scheduled => self.scheduled += 1,
            JobState::Running => self.running += 1,
            JobState::Done => self.done += 1,
            JobState::Failed(_) => self.failed += 1,
        }
    }

    /// Every task.
    pub const fn total(&self) -> usize {
        self.scheduled + self.running + self.done + self.failed
    }

    /// Tasks that ended.
    pub const fn ended(&self) -> usize {
        self.done + self.failed
    }

    /// The array's state: done when every task is; failed once every task
    /// ended and one failed (`N of M tasks failed`); scheduled while no
    /// task started; else running.
    pub fn state(&self) -> JobState {
        let total = self.total();
        if self.ended() == total {
            if self.failed == 0 {
                JobState::Done
            } else {
                JobState::Failed(FailReason::Other(format!(
                    "{} of {total} tasks failed",
                    self.failed
                )))
            }
        } else if self.running == 0 && self.ended() == 0 {
            JobState::Scheduled
        } else {
            JobState::Running
        }
    }

    /// `3 done, 1 failed, 2 running, 4 waiting` (the non-zero ones; `no
    /// tasks` for none).
    pub fn summary(&self) -> String {
        let parts: Vec<String> = [
            (self.done, "done"),
            (self.failed, "failed"),
            (self.running, "running"),
            (self.scheduled, "waiting"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if parts.is_empty() {
            "no tasks".into()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> ArraySpec {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_as_sbatch_writes_them() {
        assert_eq!(spec("1-5").indices, [1, 2, 3, 4, 5]);
        assert_eq!(spec("0-30:10").indices, [0, 10, 20, 30]);
        assert_eq!(spec("1,5,9").indices, [1, 5, 9]);
        assert_eq!(spec("3-4,1,3").indices, [3, 4, 1]);
        assert_eq!(spec("7").indices, [7]);
        assert_eq!(spec("1-100%5").throttle, Some(5));
        assert_eq!(spec("1-100").throttle, None);
    }

    #[test]
    fn bad_ranges_say_why() {
        let errors: Vec<String> = [
            "5-1", "a-3", "1-3%0", "1-3:0", "4:2", "", "0-200000", "1-2%x",
        ]
        .iter()
        .map(|t| t.parse::<ArraySpec>().unwrap_err().to_string())
        .collect();
        insta::assert_snapshot!(errors.join("\n"), @r"
        bad array range `5-1`: `5-1` ends before it starts
        bad array range `a-3`: `a` is not a task index
        bad array range `1-3%0`: `%N` needs N of at least 1
        bad array range `1-3:0`: a step is at least 1
        bad array range `4:2`: a step needs a range `A-B:S`
        bad array range ``: `` is not a task index
        bad array range `0-200000`: more than 100000 tasks
        bad array range `1-2%x`: `x` is not a count of tasks at once
        ");
    }

    #[test]
    fn counts_make_the_arrays_state() {
        let mut counts = Counts::default();
        counts.add(&JobState::Scheduled);
        assert_eq!(counts.state(), JobState::Scheduled);
        counts.add(&JobState::Done);
        assert_eq!(counts.state(), JobState::Running);
        counts.scheduled = 0;
        assert_eq!(counts.state(), JobState::Done);
        counts.add(&JobState::Failed(FailReason::Lost));
        assert_eq!(counts.state().to_string(), "failed (1 of 2 tasks failed)");
        assert_eq!(counts.summary(), "1 done, 1 failed");
    }
}
