//! Why a launcher file was refused, and why a launcher could not be built.

use std::fmt;

use hostspec::{KeyPrefix, Position, line_column};
use std::ops::Range;

/// What kind of mistake a launcher file holds (the message says which
/// entry and why; this is for programs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidKind {
    /// Not TOML, or a value of the wrong type.
    Syntax,
    /// A key the format does not know, or a key that does not belong to
    /// this type of launcher.
    UnknownKey,
    /// A launcher or connector `type` that does not exist.
    UnknownType,
    /// A required key is missing.
    MissingKey,
    /// A `connector` that names no connector.
    DanglingConnector,
    /// A `members` entry that names no launcher.
    DanglingMember,
    /// Two launchers (or a launcher and a built-in name) share a name.
    DuplicateName,
    /// Dynamic launchers that are, through their members, members of
    /// themselves.
    Cycle,
    /// A bad value: a size, a duration, a count, a name, a Slurm option.
    BadValue,
}

/// Why a launcher file could not be read or was refused.
///
/// A refused file's message names the file, the line and column, the key
/// (`launcher[2].connector`) and why, in the form
/// `FILE:LINE:COLUMN: KEY: MESSAGE`.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The file could not be read.
    #[error("{file}: cannot read the launcher file{}", Via(*via))]
    Read {
        /// The file, as given.
        file: String,
        /// How it was found (`--config`, `$LAUNCH_CONFIG`), when it matters.
        via: Option<&'static str>,
        /// The I/O error.
        #[source]
        error: std::io::Error,
    },
    /// The file does not follow the launcher file format.
    #[error("{file}{}: {}{message}", Position(*line, *column), KeyPrefix(key))]
    Invalid {
        /// What kind of mistake.
        kind: InvalidKind,
        /// The file (or the source name given to the loader).
        file: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column (in characters), when known.
        column: Option<usize>,
        /// The offending key, such as `launcher[1].members[0]`; empty at the
        /// top level.
        key: String,
        /// Why.
        message: String,
    },
}

impl RegistryError {
    /// The kind of a refused file's mistake (`None` for a read error).
    pub fn kind(&self) -> Option<InvalidKind> {
        match self {
            RegistryError::Invalid { kind, .. } => Some(*kind),
            RegistryError::Read { .. } => None,
        }
    }

    /// The 1-based line of a refused file's mistake, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            RegistryError::Invalid { line, .. } => *line,
            RegistryError::Read { .. } => None,
        }
    }

    /// The offending key of a refused file (empty at the top level).
    pub fn key(&self) -> &str {
        match self {
            RegistryError::Invalid { key, .. } => key,
            RegistryError::Read { .. } => "",
        }
    }
}

struct Via(Option<&'static str>);

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(via) => write!(f, " (named by {via})"),
            None => Ok(()),
        }
    }
}

/// Builds [`RegistryError::Invalid`] errors for one file's text.
#[derive(Debug, Clone)]
pub(crate) struct Source<'a> {
    pub(crate) name: &'a str,
    pub(crate) text: &'a str,
    /// The byte offset where each line starts (line 1 at index 0).
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub(crate) fn new(name: &'a str, text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(
                text.bytes()
                    .enumerate()
                    .filter(|&(_, b)| b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        Source {
            name,
            text,
            line_starts,
        }
    }

    /// The 1-based line of a byte offset (without scanning the text).
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        self.line_starts
            .partition_point(|&start| start <= offset)
            .max(1)
    }

    /// A bad value at `span`, of `key` ([`InvalidKind::BadValue`]).
    pub(crate) fn bad_value(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> RegistryError {
        self.error(Some(span), InvalidKind::BadValue, key, message)
    }

    /// An error at `span` (its start), about `key`.
    pub(crate) fn error(
        &self,
        span: Option<Range<usize>>,
        kind: InvalidKind,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> RegistryError {
        let (line, column) = match span {
            Some(span) => {
                let (line, column) = line_column(self.text, span.start);
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        RegistryError::Invalid {
            kind,
            file: self.name.to_owned(),
            line,
            column,
            // Names and values come from the file: nothing raw reaches a
            // terminal (a NUL, a line break, a right-to-left override).
            key: core_types::text::printable(&key.into()).into_owned(),
            message: core_types::text::printable(&message.into()).into_owned(),
        }
    }
}

pub(crate) use core_types::suggest::did_you_mean;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints() {
        assert_eq!(
            core_types::suggest::closest("partiton", ["qos", "partition"]),
            Some("partition")
        );
        assert_eq!(
            core_types::suggest::closest("zzz", ["qos", "partition"]),
            None
        );
        assert_eq!(
            did_you_mean("clustr", ["cluster"]),
            " (did you mean `cluster`?)"
        );
        assert_eq!(did_you_mean("x", ["cluster"]), "");
    }

    #[test]
    fn display() {
        let source = Source::new("l.toml", "a\nbb = 1\n");
        assert_eq!(source.line_of(0), 1);
        assert_eq!(source.line_of(1), 1);
        assert_eq!(source.line_of(2), 2);
        assert_eq!(source.line_of(99), 3);
        let err = source.error(Some(5..6), InvalidKind::BadValue, "bb", "too big");
        assert_eq!(err.to_string(), "l.toml:2:4: bb: too big");
        assert_eq!(err.kind(), Some(InvalidKind::BadValue));
        assert_eq!(err.line(), Some(2));
        let err = source.error(None, InvalidKind::Syntax, "", "bad");
        assert_eq!(err.to_string(), "l.toml: bad");
        let err = RegistryError::Read {
            file: "x.toml".into(),
            via: Some("$LAUNCH_CONFIG"),
            error: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        };
        assert_eq!(
            err.to_string(),
            "x.toml: cannot read the launcher file (named by $LAUNCH_CONFIG)"
        );
        let cause = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(
            cause.as_deref(),
            Some("gone"),
            "the cause is kept, not copied"
        );
    }
}
