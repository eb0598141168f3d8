//! The error type the parsers carry: a byte span and, once known, what went
//! wrong. It is cheap while nothing is known, because the grammar creates
//! (and drops) one each time an optional part is absent: an `&`, a `|` or a
//! `* N` that is not there.

use std::ops::Range;

use winnow::error::{AddContext, FromExternalError, ParserError, StrContext, StrContextValue};
use winnow::stream::{Location, Offset, Stream};

use super::Input;
use crate::error::{ErrorKind, ParseError};

/// A parser's failure: the span of the offending token and why.
#[derive(Debug)]
pub(crate) struct Fail {
    span: Range<usize>,
    // `None` until a context or the grammar says what was wrong; boxed so
    // that every `Result` of the hot path stays small.
    kind: Option<Box<ErrorKind>>,
}

impl Fail {
    /// The failure `kind`, covering `span` of the input.
    pub(crate) fn new(span: Range<usize>, kind: ErrorKind) -> Self {
        Fail {
            span,
            kind: Some(Box::new(kind)),
        }
    }

    /// The error the user sees, drawn against `input`.
    pub(crate) fn into_parse_error(self, input: &str) -> ParseError {
        let kind = self
            .kind
            .map_or(ErrorKind::Expected("more input"), |kind| *kind);
        ParseError::new(input, self.span, kind)
    }
}

impl ParserError<Input<'_>> for Fail {
    type Inner = Self;

    fn from_input(input: &Input<'_>) -> Self {
        let at = input.current_token_start();
        Fail {
            span: at..at,
            kind: None,
        }
    }

    fn into_inner(self) -> Result<Self::Inner, Self> {
        Ok(self)
    }
}

/// An expectation names what should have been where the parser it wraps
/// started. The innermost one wins: it is the most precise, and a failure
/// whose cause is already known keeps it.
impl<'i> AddContext<Input<'i>, StrContext> for Fail {
    fn add_context(
        mut self,
        input: &Input<'i>,
        token_start: &<Input<'i> as Stream>::Checkpoint,
        context: StrContext,
    ) -> Self {
        match context {
            StrContext::Expected(StrContextValue::Description(what)) if self.kind.is_none() => {
                let start = input
                    .current_token_start()
                    .saturating_sub(input.offset_from(token_start));
                self.span = start..start;
                self.kind = Some(Box::new(ErrorKind::Expected(what)));
            }
            _ => {}
        }
        self
    }
}

/// A value that does not hold (`try_map`) is refused with its own span.
impl FromExternalError<Input<'_>, Fail> for Fail {
    fn from_external_error(_input: &Input<'_>, fail: Fail) -> Self {
        fail
    }
}
