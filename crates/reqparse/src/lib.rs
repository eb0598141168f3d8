//! The requirement language of `launch`, parsed with winnow's combinators.
//!
//! A requirement is an ordered list of alternatives separated by `|`; each
//! alternative is a list of terms joined by `&`: `duration=N unit`,
//! `cpu(mem=SIZE, cores=N)` and accelerators `cuda(mem=SIZE) * N` (also `mps`,
//! `rocm` and `gpu`, which accepts any kind). Every string experimaestro 2.7
//! accepts parses here to the same value; a few more spellings are accepted
//! on purpose (`rocm`, `gpu`, the `K`, `T` and `B` size units, durations in
//! seconds or weeks, see the README). Each term is chosen by its keyword and
//! committed to once it is read, so [`parse`] never backtracks and never
//! panics: bad input gives a [`ParseError`] that keeps the input and the span
//! of the first wrong token and draws a caret.
//!
//! ```
//! let req = reqparse::parse("duration=40h & cpu(mem=700GiB) & cuda(mem=32GiB) * 8 | duration=4h & mps(mem=8GiB)")?;
//! assert_eq!(req.alternatives.len(), 2);
//! assert_eq!(req.alternatives[0].accelerators.len(), 8);
//! assert_eq!(req.alternatives[0].duration.seconds(), 40 * 3600);
//! // The canonical form parses back to the same value.
//! assert_eq!(reqparse::parse(&req.to_string())?, req);
//!
//! let err = reqparse::parse("cuda(mem=32) * 2").unwrap_err();
//! assert_eq!(err.to_string(), "\
//! size `32` has no unit (expected one of G, GiB, M, MiB, K, KiB, T, TiB, B) at line 1, column 10
//!   |
//! 1 | cuda(mem=32) * 2
//!   |          ^^");
//! # Ok::<(), reqparse::ParseError>(())
//! ```

mod error;
mod grammar;

use std::fmt;
use std::str::FromStr;

pub use core_types::{Alternative, Requirement};
pub use error::{ErrorKind, ParseError};

/// Parses a requirement.
pub fn parse(input: &str) -> Result<Requirement, ParseError> {
    grammar::requirement(input)
}

/// Parses a requirement given as bytes (a line read from a pipe): bytes that
/// are not UTF-8 are an error at their offset.
pub fn parse_bytes(input: &[u8]) -> Result<Requirement, ParseError> {
    match std::str::from_utf8(input) {
        Ok(text) => parse(text),
        Err(e) => Err(ParseError::invalid_utf8(input, e.valid_up_to())),
    }
}

/// A copy of `requirement` whose durations are `ceil(d * factor)`.
pub fn multiply_duration(
    requirement: &Requirement,
    factor: f64,
) -> Result<Requirement, core_types::ValueError> {
    requirement.multiply_duration(factor)
}

/// A parsed requirement that remembers nothing but its value: `FromStr` and
/// `Display` (the canonical form), and serde as a string, for configuration
/// files and command lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Expr(pub Requirement);

impl FromStr for Expr {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).map(Expr)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Expr> for Requirement {
    fn from(e: Expr) -> Self {
        e.0
    }
}

impl std::ops::Deref for Expr {
    type Target = Requirement;

    fn deref(&self) -> &Requirement {
        &self.0
    }
}

/// The property the `reqparse` fuzz target checks, exported so that the fuzz
/// target and the replay test run the same code: parsing any bytes returns
/// (never panics); an error points inside the input and renders; a parsed
/// requirement's canonical form parses back to the same value.
///
/// # Panics
///
/// When the property does not hold: that is a bug the fuzzer reports.
pub fn fuzz_check(data: &[u8]) {
    match parse_bytes(data) {
        Ok(req) => {
            let text = req.to_string();
            match parse(&text) {
                Ok(again) => assert_eq!(again, req, "round trip of {text:?}"),
                Err(e) => panic!("canonical form {text:?} does not parse:\n{e}"),
            }
        }
        Err(e) => {
            assert!(e.offset() <= data.len(), "offset past the input");
            assert!(!e.to_string().is_empty());
        }
    }
}
