//! One option's value.

use std::fmt;

use serde::Serialize;

/// A Slurm option's value: `--name=VALUE`, or a flag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum SlurmValue {
    /// A text value (`partition = "fast"`, `time = "4:00:00"`).
    Text(String),
    /// An integer value (`gpus-per-node = 2`, `mem = 8192`: MiB).
    Integer(i64),
    /// A flag: `true` passes `--name`, `false` its negation when it has
    /// one (`--no-requeue`), else nothing.
    Flag(bool),
}

impl fmt::Display for SlurmValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlurmValue::Text(text) => f.write_str(text),
            SlurmValue::Integer(n) => write!(f, "{n}"),
            SlurmValue::Flag(b) => write!(f, "{b}"),
        }
    }
}

impl From<&str> for SlurmValue {
    fn from(text: &str) -> Self {
        SlurmValue::Text(text.to_owned())
    }
}

impl From<String> for SlurmValue {
    fn from(text: String) -> Self {
        SlurmValue::Text(text)
    }
}

impl From<i64> for SlurmValue {
    fn from(n: i64) -> Self {
        SlurmValue::Integer(n)
    }
}

impl From<bool> for SlurmValue {
    fn from(b: bool) -> Self {
        SlurmValue::Flag(b)
    }
}
