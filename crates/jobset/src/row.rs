//! The rows `launch list` prints: one per job (an array is one job with
//! tasks), filtered, as JSON or as a table.

use std::time::{Duration, SystemTime};

use core_types::job::JobState;

use crate::{Counts, JobSetError};

/// A job as `launch list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// Its directory, as `launch` names it.
    pub dir: String,
    /// Its name.
    pub name: String,
    /// Its state.
    pub state: JobState,
    /// What a scheduled job waits for, when that is known.
    pub waiting: Option<String>,
    /// Its launcher's kind (`direct`, `slurm`).
    pub launcher: String,
    /// When it was submitted.
    pub submitted: Option<SystemTime>,
    /// When it started.
    pub started: Option<SystemTime>,
    /// When it ended.
    pub ended: Option<SystemTime>,
    /// Its requirement, as the language writes it.
    pub requirement: String,
    /// An array's tasks by state.
    pub tasks: Option<Counts>,
}

/// A time as RFC 3339, in UTC, to the second.
pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// A span for people, coarse: `45s`, `12m`, `3h`, `5d`.
pub fn age(span: Duration) -> String {
    let s = span.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

impl JobRow {
    /// Why it failed, or what it waits for.
    pub fn reason(&self) -> Option<String> {
        self.state
            .reason()
            .map(ToString::to_string)
            .or_else(|| self.waiting.clone())
    }

    /// The object `launch list --json` prints.
    pub fn to_json(&self) -> serde_json::Value {
        let time = |t: Option<SystemTime>| t.map(rfc3339);
        let mut value = serde_json::json!({
            "dir": self.dir,
            "name": self.name,
            "state": self.state.name(),
            "exit_code": self.state.exit_code(),
            "reason": self.reason(),
            "launcher": self.launcher,
            "submitted": time(self.submitted),
            "started": time(self.started),
            "ended": time(self.ended),
            "requirement": self.requirement,
        });
        if let Some(tasks) = &self.tasks {
            value["tasks"] = serde_json::json!(tasks);
        }
        value
    }

    /// How long it ran (until now while it runs).
    pub fn runtime(&self, now: SystemTime) -> Option<Duration> {
        let start = self.started?;
        self.ended
            .unwrap_or(now)
            .duration_since(start)
            .ok()
            .or(Some(Duration::ZERO))
    }

    /// Its state in words: `failed (exit code 3)`, `scheduled (waiting for
    /// 2 cores: ...)`, an array's `running (3 done, 2 running)`.
    pub fn state_text(&self) -> String {
        if let Some(tasks) = &self.tasks {
            return format!("{} ({})", self.state.name(), tasks.summary());
        }
        match self.reason() {
            Some(reason) => format!("{} ({reason})", self.state.name()),
            None => self.state.name().to_owned(),
        }
    }

    /// The rows as a table (name, state with reason, launcher, age,
    /// runtime, directory), the state coloured when `color`.
    pub fn table(rows: &[JobRow], now: SystemTime, color: bool) -> String {
        let header = ["NAME", "STATE", "LAUNCHER", "AGE", "RUNTIME", "DIR"];
        let since = |t: Option<SystemTime>| {
            t.and_then(|t| now.duration_since(t).ok())
                .map_or_else(|| "-".to_owned(), age)
        };
        let cells: Vec<[String; 6]> = rows
            .iter()
            .map(|r| {
                [
                    r.name.clone(),
                    r.state_text(),
                    r.launcher.clone(),
                    since(r.submitted),
                    r.runtime(now).map_or_else(|| "-".to_owned(), age),
                    r.dir.clone(),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &cells {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[String], style: console::Style| {
            let mut text = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    text.push_str(cell);
                    break;
                }
                let pad = widths[i] - cell.chars().count() + 2;
                if i == 1 {
                    text.push_str(&style.apply_to(cell).to_string());
                } else {
                    text.push_str(cell);
                }
                text.push_str(&" ".repeat(pad));
            }
            out.push_str(&text);
            out.push('\n');
        };
        line(&header.map(str::to_owned), console::Style::new());
        for (row, cells) in rows.iter().zip(&cells) {
            let style = match row.state {
                JobState::Scheduled => console::Style::new().yellow(),
                JobState::Running => console::Style::new().cyan(),
                JobState::Done => console::Style::new().green(),
                JobState::Failed(_) => console::Style::new().red(),
            };
            line(cells, style.force_styling(color));
        }
        out
    }
}

/// Which jobs `launch list` shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    states: Vec<String>,
    name: Option<glob::Pattern>,
    since: Option<SystemTime>,
}

impl Filter {
    /// Jobs in one of `states` (`scheduled`, `running`, `done`, `failed`;
    /// any when empty), whose name matches the shell pattern `name`,
    /// submitted at `since` or later.
    pub fn new(
        states: Vec<String>,
        name: Option<&str>,
        since: Option<SystemTime>,
    ) -> Result<Filter, JobSetError> {
        let name = name
            .map(|text| {
                glob::Pattern::new(text).map_err(|source| JobSetError::Pattern {
                    input: text.to_owned(),
                    source,
                })
            })
            .transpose()?;
        Ok(Filter {
            states,
            name,
            since,
        })
    }

    /// Whether the filter keeps `row`'s job.
    pub fn keeps(&self, row: &JobRow) -> bool {
        (self.states.is_empty() || self.states.iter().any(|s| s == row.state.name()))
            && self.name.as_ref().is_none_or(|p| p.matches(&row.name))
            && self
                .since
                .is_none_or(|since| row.submitted.is_some_and(|t| t >= since))
    }

    /// Whether it keeps jobs of this name.
    pub fn keeps_name(&self, name: &str) -> bool {
        self.name.as_ref().is_none_or(|p| p.matches(name))
    }

    /// Whether it keeps jobs submitted before `time` (then their state
    /// must still be looked at).
    pub fn keeps_submitted(&self, time: Option<SystemTime>) -> bool {
        self.since
            .is_none_or(|since| time.is_some_and(|t| t >= since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_types::job::FailReason;

    fn row(name: &str, state: JobState, at: u64) -> JobRow {
        JobRow {
            dir: format!("/jobs/{name}"),
            name: name.into(),
            state,
            waiting: None,
            launcher: "direct".into(),
            submitted: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(at)),
            started: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(at + 1)),
            ended: None,
            requirement: "cpu(cores=1)".into(),
            tasks: None,
        }
    }

    #[test]
    fn rows_as_json_and_table() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(7200);
        let mut failed = row("train", JobState::Failed(FailReason::ExitCode(3)), 0);
        failed.ended = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(61));
        let running = row("eval", JobState::Running, 7000);
        insta::assert_snapshot!(failed.to_json().to_string(), @r#"{"dir":"/jobs/train","ended":"1970-01-01T00:01:01Z","exit_code":3,"launcher":"direct","name":"train","reason":"exit code 3","requirement":"cpu(cores=1)","started":"1970-01-01T00:00:01Z","state":"failed","submitted":"1970-01-01T00:00:00Z"}"#);
        insta::assert_snapshot!(JobRow::table(&[running, failed], now, false), @r"
        NAME   STATE                 LAUNCHER  AGE  RUNTIME  DIR
        eval   running               direct    3m   3m       /jobs/eval
        train  failed (exit code 3)  direct    2h   1m       /jobs/train
        ");
    }

    #[test]
    fn filters_by_state_name_and_time() {
        let since = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let filter = Filter::new(vec!["running".into()], Some("tr*"), Some(since)).unwrap();
        assert!(filter.keeps(&row("train", JobState::Running, 100)));
        assert!(!filter.keeps(&row("train", JobState::Done, 100)));
        assert!(!filter.keeps(&row("eval", JobState::Running, 100)));
        assert!(!filter.keeps(&row("train", JobState::Running, 99)));
        let err = Filter::new(Vec::new(), Some("[x"), None).unwrap_err();
        assert_eq!(err.to_string(), "bad name pattern `[x`");
    }
}
