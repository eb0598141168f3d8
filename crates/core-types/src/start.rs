//! When a job would start on a launcher, asked without submitting it
//! ([`Launcher::expected_start`](crate::job::Launcher::expected_start)),
//! and how a dynamic launcher chooses among its members ([`Choose`]).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

/// How long a dynamic launcher choosing the earliest start keeps its
/// members' answers when nothing says otherwise.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(30);

/// How a dynamic launcher chooses among the members that match a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Choose {
    /// The highest priority, at random among ties (the default).
    #[default]
    Priority,
    /// At random, with probability proportional to priority.
    Sample,
    /// The member where the job is expected to start first; priority
    /// breaks ties, then the members' order.
    EarliestStart,
}

impl Choose {
    /// Every way, as the launcher file names them.
    pub const NAMES: [&'static str; 3] = ["priority", "sample", "earliest-start"];

    /// Its name in the launcher file.
    pub const fn name(self) -> &'static str {
        match self {
            Choose::Priority => "priority",
            Choose::Sample => "sample",
            Choose::EarliestStart => "earliest-start",
        }
    }
}

impl fmt::Display for Choose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Choose {
    type Err = String;

    /// `priority`, `sample` or `earliest-start`; `Err` says what is
    /// expected (and what was meant, when close).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "priority" => Ok(Choose::Priority),
            "sample" => Ok(Choose::Sample),
            "earliest-start" => Ok(Choose::EarliestStart),
            other => Err(format!(
                "unknown way to choose `{}` (expected priority, sample or earliest-start){}",
                crate::text::printable(other),
                crate::suggest::did_you_mean(other, Choose::NAMES)
            )),
        }
    }
}

/// When a job is expected to start, in the order a dynamic launcher
/// prefers: now, then at a known time (earliest first), then at a time
/// no one knows (after every member whose start is known), then never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// It would start at once.
    Now,
    /// It would start at this time (as the launcher estimates it).
    At(SystemTime),
    /// It would wait, for a time no one knows.
    Later,
    /// It would not start (a partition down, a request it can never hold).
    Never,
}

impl Start {
    /// Compares two starts as of `now`: a time already past is now.
    pub fn cmp_at(&self, other: &Start, now: SystemTime) -> Ordering {
        self.rank(now).cmp(&other.rank(now))
    }

    /// Whether the job could start at all.
    pub fn is_possible(&self) -> bool {
        !matches!(self, Start::Never)
    }

    fn rank(&self, now: SystemTime) -> (u8, Duration) {
        match self {
            Start::Now => (0, Duration::ZERO),
            Start::At(t) => match t.duration_since(now) {
                Ok(wait) if !wait.is_zero() => (1, wait),
                _ => (0, Duration::ZERO),
            },
            Start::Later => (2, Duration::ZERO),
            Start::Never => (3, Duration::ZERO),
        }
    }

    /// For people, as of `now`: `now`, `in 50m 1s`, `later (unknown when)`, `never`.
    pub fn describe(&self, now: SystemTime) -> String {
        match self.rank(now) {
            (0, _) => "now".to_owned(),
            (1, wait) => format!("in {}", short(wait)),
            (2, _) => "later (unknown when)".to_owned(),
            _ => "never".to_owned(),
        }
    }
}

/// `50m 1s`, `2h 5m`, `3d 4h`: the two largest units, rounded down.
fn short(wait: Duration) -> String {
    let s = wait.as_secs().max(1);
    let parts = [
        (s / 86_400, "d"),
        (s / 3600 % 24, "h"),
        (s / 60 % 60, "m"),
        (s % 60, "s"),
    ];
    let first = parts.iter().position(|(n, _)| *n > 0).unwrap_or(3);
    parts[first..(first + 2).min(4)]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A launcher's answer to "when would this job start here": when, and
/// why (`on nodes n01 in partition main`, `the ledger holds 4 of 4 cores`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartEstimate {
    /// When.
    pub start: Start,
    /// Why, for people (may be empty).
    pub why: String,
}

impl StartEstimate {
    /// An estimate of `start`, because of `why`.
    pub fn new(start: Start, why: impl Into<String>) -> Self {
        StartEstimate {
            start,
            why: why.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_words() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let past = Start::At(now - Duration::from_secs(5));
        let soon = Start::At(now + Duration::from_secs(60));
        let late = Start::At(now + Duration::from_secs(3_600));
        assert_eq!(past.cmp_at(&Start::Now, now), Ordering::Equal);
        let mut all = [Start::Never, Start::Later, late, soon, Start::Now];
        all.sort_by(|a, b| a.cmp_at(b, now));
        assert_eq!(all, [Start::Now, soon, late, Start::Later, Start::Never]);
        assert_eq!(soon.describe(now), "in 1m");
        assert_eq!(short(Duration::from_secs(3001)), "50m 1s");
        assert_eq!(short(Duration::from_secs(90_000)), "1d 1h");
        assert_eq!(past.describe(now), "now");
        assert_eq!(Start::Later.describe(now), "later (unknown when)");
        assert!(!Start::Never.is_possible());
    }

    #[test]
    fn names() {
        for name in Choose::NAMES {
            assert_eq!(name.parse::<Choose>().unwrap().name(), name);
        }
        let err = "earliest".parse::<Choose>().unwrap_err();
        assert!(err.contains("earliest-start"), "{err}");
    }
}
