//! Parse errors that keep the input and the span and draw a caret.

use std::fmt;
use std::ops::Range;

use core_types::ValueError;

/// What went wrong, without the where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The next token is not one the grammar allows here.
    #[error("expected {0}")]
    Expected(&'static str),
    /// A word that is no term of the language.
    #[error(
        "unknown term `{found}` (expected `duration=`, `cpu(`, `cuda(`, `mps(`, `rocm(` or `gpu(`; keywords are lower case)"
    )]
    UnknownTerm {
        /// The word as written.
        found: String,
    },
    /// A size or duration that is not valid: no unit, unknown unit, too large.
    /// The refusal is the error itself, so it speaks for itself (and its own
    /// source, if any, stays the source).
    #[error(transparent)]
    Value(ValueError),
    /// A size with a decimal point.
    #[error("sizes are whole numbers of a unit: write `1536MiB`, not `1.5GiB`")]
    FractionalSize,
    /// `4 G`: a space between a size's number and its unit.
    #[error("a size is written without a space between number and unit (`4G`, not `4 G`)")]
    SpaceInSize,
    /// `* 0`.
    #[error("`* 0` asks for no accelerator: leave the term out instead")]
    ZeroCount,
    /// More accelerators than one alternative may ask for.
    #[error("too many accelerators: one alternative may ask for at most {max}")]
    TooManyAccelerators {
        /// The bound.
        max: usize,
    },
    /// The input is not UTF-8.
    #[error("the requirement is not valid UTF-8")]
    InvalidUtf8,
}

/// A requirement that does not parse: the input, the byte span of the
/// offending token, its 1-based line and column, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    input: String,
    span: Range<usize>,
    line: usize,
    column: usize,
    // Boxed: keeps `Result<Requirement, ParseError>` small.
    kind: Box<ErrorKind>,
}

impl ParseError {
    pub(crate) fn new(input: &str, span: Range<usize>, kind: ErrorKind) -> Self {
        let mut start = span.start.min(input.len());
        // Offset 0 and the length are char boundaries: both loops stop there.
        while !input.is_char_boundary(start) {
            start = start.saturating_sub(1);
        }
        let mut end = span.end.clamp(start, input.len());
        while !input.is_char_boundary(end) {
            end = end.saturating_add(1);
        }
        let before = &input[..start];
        let line = before.matches('\n').count().saturating_add(1);
        let line_start = before.rfind('\n').map_or(0, |p| p.saturating_add(1));
        let column = input[line_start..start].chars().count().saturating_add(1);
        ParseError {
            input: input.to_owned(),
            span: start..end,
            line,
            column,
            kind: Box::new(kind),
        }
    }

    pub(crate) fn invalid_utf8(input: &[u8], valid_up_to: usize) -> Self {
        let text = String::from_utf8_lossy(input);
        // The lossy text has the same prefix, so the offset still holds.
        let span = valid_up_to..valid_up_to.saturating_add(1);
        ParseError::new(&text, span, ErrorKind::InvalidUtf8)
    }

    /// The input as given (lossily decoded when it was not UTF-8).
    pub fn input(&self) -> &str {
        &self.input
    }

    /// The byte span of the offending token (empty at the end of the input).
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The byte offset where the error starts.
    pub fn offset(&self) -> usize {
        self.span.start
    }

    /// The 1-based line.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The 1-based column, in characters.
    pub fn column(&self) -> usize {
        self.column
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The message without the position and the drawing, e.g.
    /// ``expected `)`, found end of input``.
    pub fn message(&self) -> String {
        match &*self.kind {
            ErrorKind::Expected(_) => format!("{}, found {}", self.kind, self.found()),
            other => other.to_string(),
        }
    }

    fn found(&self) -> String {
        match self
            .input
            .get(self.span.start..)
            .and_then(|s| s.chars().next())
        {
            None => "the end of the requirement".to_owned(),
            Some(c) if c.is_control() || c.is_whitespace() => format!("{c:?}"),
            Some(c) => format!("`{c}`"),
        }
    }

    /// The line of the error, cut to a window around it for long lines, with
    /// control characters shown as spaces so the caret lines up; and the
    /// caret line under it.
    fn snippet(&self) -> (String, String) {
        const WINDOW: usize = 60;
        let line_start = self.input[..self.span.start]
            .rfind('\n')
            .map_or(0, |p| p.saturating_add(1));
        let line_end = self.input[self.span.start..]
            .find('\n')
            .map_or(self.input.len(), |p| self.span.start.saturating_add(p));
        let line = &self.input[line_start..line_end];
        let col = self.column.saturating_sub(1);
        let (skip, prefix) = if col > WINDOW {
            (col.saturating_sub(WINDOW / 2), "...")
        } else {
            (0, "")
        };
        let shown: String = line
            .chars()
            .skip(skip)
            .take(WINDOW * 2)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let truncated = line.chars().count() > skip.saturating_add(WINDOW * 2);
        let text = format!("{prefix}{shown}{}", if truncated { "..." } else { "" });
        let span_end = self.span.end.min(line_end);
        let width = self.input[self.span.start..span_end]
            .chars()
            .count()
            .clamp(1, WINDOW);
        let caret = format!(
            "{}{}",
            " ".repeat(prefix.len().saturating_add(col.saturating_sub(skip))),
            "^".repeat(width)
        );
        (text, caret)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (text, caret) = self.snippet();
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        write!(
            f,
            "{} at line {}, column {}\n{pad} |\n{number} | {text}\n{pad} | {caret}",
            self.message(),
            self.line,
            self.column
        )
    }
}
