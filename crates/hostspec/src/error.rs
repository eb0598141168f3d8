//! Why a host file was refused.

use std::fmt;

/// Why a host file could not be read or was refused.
///
/// Every message names the file; a refused file also says where (line and
/// column, when the TOML or JSON reader knows), the key (`accelerators[1].count`)
/// and why.
#[derive(Debug, thiserror::Error)]
pub enum HostSpecError {
    /// The file could not be read.
    #[error("{file}: cannot read the host file")]
    Read {
        /// The file, as given.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file name says neither TOML nor JSON.
    #[error("{file}: unknown host file type (expected a name ending in .toml or .json)")]
    UnknownFormat {
        /// The file, as given.
        file: String,
    },
    /// The text is not valid TOML/JSON, or does not follow the host schema.
    #[error("{file}{}: {}{message}", Position(*line, *column), KeyPrefix(key))]
    Invalid {
        /// The file (or the source name given to `from_*_str`).
        file: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column (in characters), when known.
        column: Option<usize>,
        /// The key that was refused, such as `accelerators[1].count`;
        /// empty at the top level.
        key: String,
        /// Why.
        message: String,
    },
}

impl HostSpecError {
    /// The file (or source name) the error is about.
    pub fn file(&self) -> &str {
        match self {
            HostSpecError::Read { file, .. }
            | HostSpecError::UnknownFormat { file }
            | HostSpecError::Invalid { file, .. } => file,
        }
    }
}

/// `:line:column` (or `:line`, or nothing) after a file name in an error
/// message; the launcher file's errors use it too.
#[derive(Debug, Clone, Copy)]
pub struct Position(pub Option<usize>, pub Option<usize>);

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(line), Some(column)) => write!(f, ":{line}:{column}"),
            (Some(line), None) => write!(f, ":{line}"),
            _ => Ok(()),
        }
    }
}

/// `key: ` before an error message (nothing for an empty key).
#[derive(Debug, Clone, Copy)]
pub struct KeyPrefix<'a>(pub &'a str);

impl fmt::Display for KeyPrefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, "{}: ", self.0)
        }
    }
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let before = &bytes[..offset.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.split(|&b| b == b'\n').count();
    // Count characters, not bytes: skip UTF-8 continuation bytes.
    let column = before[line_start..]
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        assert_eq!(line_column("abc", 0), (1, 1));
        assert_eq!(line_column("abc\ndef", 5), (2, 2));
        assert_eq!(line_column("é\né", 5), (2, 2));
        assert_eq!(line_column("ab", 99), (1, 3));
    }

    #[test]
    fn display() {
        let err = HostSpecError::Invalid {
            file: "hosts/a.toml".into(),
            line: Some(3),
            column: Some(7),
            key: "accelerators[1].count".into(),
            message: "0 is not a valid count (1 to 1024)".into(),
        };
        assert_eq!(
            err.to_string(),
            "hosts/a.toml:3:7: accelerators[1].count: 0 is not a valid count (1 to 1024)"
        );
        let err = HostSpecError::Invalid {
            file: "x.json".into(),
            line: None,
            column: None,
            key: String::new(),
            message: "bad".into(),
        };
        assert_eq!(err.to_string(), "x.json: bad");
        assert_eq!(err.file(), "x.json");
    }
}
