//! The grammar, as winnow parsers over `&str`. No backtracking: every term is
//! chosen by its keyword, so errors point at the first wrong byte.

use core_types::{
    AcceleratorKind, AcceleratorRequest, Alternative, MAX_ACCELERATORS, MemSize, Requirement,
    ValueError, Walltime,
};
use winnow::ascii::digit1;
use winnow::error::{Needed, ParserError};
use winnow::prelude::*;
use winnow::stream::Stream;

use crate::error::{ErrorKind, ParseError};

/// The failure of a parser: where (as the length of the input left) and why.
#[derive(Debug)]
pub(crate) struct Fail {
    remaining: usize,
    len: usize,
    // Boxed: keeps every `Result` of the hot path small.
    kind: Box<ErrorKind>,
}

impl Fail {
    fn at(input: &str, kind: ErrorKind) -> Self {
        Fail {
            remaining: input.len(),
            len: 0,
            kind: Box::new(kind),
        }
    }

    /// An error covering `token`, which starts where `start` does.
    fn token(start: &str, token_len: usize, kind: ErrorKind) -> Self {
        Fail {
            remaining: start.len(),
            len: token_len,
            kind: Box::new(kind),
        }
    }

    fn expected(input: &str, what: &'static str) -> Self {
        Fail::at(input, ErrorKind::Expected(what))
    }
}

impl ParserError<&str> for Fail {
    type Inner = Self;

    fn from_input(input: &&str) -> Self {
        Fail::expected(input, "more input")
    }

    fn incomplete(input: &&str, _needed: Needed) -> Self {
        Fail::expected(input, "more input")
    }

    fn into_inner(self) -> Result<Self::Inner, Self> {
        Ok(self)
    }
}

type PResult<T> = Result<T, Fail>;

const TERM: &str = "a term: `duration=`, `cpu(`, `cuda(`, `mps(`, `rocm(` or `gpu(`";

pub(crate) fn requirement(input: &str) -> Result<Requirement, ParseError> {
    let mut rest = input;
    match parse_requirement(&mut rest) {
        Ok(req) => Ok(req),
        Err(fail) => {
            let start = input.len() - fail.remaining;
            Err(ParseError::new(input, start..start + fail.len, *fail.kind))
        }
    }
}

fn parse_requirement(i: &mut &str) -> PResult<Requirement> {
    let mut alternatives = Vec::with_capacity(2);
    loop {
        alternatives.push(alternative(i)?);
        match i.as_bytes().first() {
            None => break,
            Some(b'|') => {
                i.next_token();
            }
            Some(_) => return Err(Fail::expected(i, "`&`, `|` or the end of the requirement")),
        }
    }
    Ok(Requirement { alternatives })
}

/// Takes the longest prefix of ASCII bytes that satisfy `pred`. All the
/// language's tokens are ASCII, so scanning bytes (not chars) is exact and
/// keeps the hot path free of UTF-8 decoding.
#[inline]
fn take_ascii<'i>(i: &mut &'i str, pred: impl Fn(u8) -> bool) -> &'i str {
    let n = i
        .as_bytes()
        .iter()
        .position(|&b| !pred(b))
        .unwrap_or(i.len());
    i.next_slice(n)
}

fn ws(i: &mut &str) {
    take_ascii(i, |b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
}

/// Consumes `c` (after optional whitespace) or fails with `what`.
fn punct(i: &mut &str, c: u8, what: &'static str) -> PResult<()> {
    ws(i);
    if i.as_bytes().first() == Some(&c) {
        i.next_token();
        Ok(())
    } else {
        Err(Fail::expected(i, what))
    }
}

fn ident<'i>(i: &mut &'i str) -> &'i str {
    take_ascii(i, |b| b.is_ascii_alphanumeric() || b == b'_')
}

fn alternative(i: &mut &str) -> PResult<Alternative> {
    let mut alt = Alternative::default();
    loop {
        ws(i);
        term(i, &mut alt)?;
        ws(i);
        if i.as_bytes().first() == Some(&b'&') {
            i.next_token();
        } else {
            break;
        }
    }
    alt.accelerators
        .sort_by_key(|a| std::cmp::Reverse(a.memory));
    Ok(alt)
}

fn term(i: &mut &str, alt: &mut Alternative) -> PResult<()> {
    let start = *i;
    let word = ident(i);
    match word {
        "duration" => {
            punct(i, b'=', "`=` after `duration`")?;
            ws(i);
            let d = duration(i)?;
            alt.duration = alt.duration.max(d);
        }
        "cpu" => cpu(i, alt)?,
        "cuda" => accelerator(i, start, AcceleratorKind::Cuda, alt)?,
        "mps" => accelerator(i, start, AcceleratorKind::Mps, alt)?,
        "rocm" => accelerator(i, start, AcceleratorKind::Rocm, alt)?,
        "gpu" => accelerator(i, start, AcceleratorKind::Generic, alt)?,
        "" => return Err(Fail::expected(start, TERM)),
        other => {
            return Err(Fail::token(
                start,
                other.len(),
                ErrorKind::UnknownTerm {
                    found: other.to_owned(),
                },
            ));
        }
    }
    Ok(())
}

/// A whole number; `what` names it in errors.
fn integer(i: &mut &str, what: &'static str) -> PResult<u64> {
    let start = *i;
    let digits: &str = digit1
        .parse_next(i)
        .map_err(|_: Fail| Fail::expected(start, what))?;
    digits.parse::<u64>().map_err(|_| {
        Fail::token(
            start,
            digits.len(),
            ErrorKind::Value(ValueError::Overflow {
                what: "number",
                input: digits.to_owned(),
                max: u64::MAX.to_string(),
            }),
        )
    })
}

fn unit<'i>(i: &mut &'i str) -> &'i str {
    take_ascii(i, |b| b.is_ascii_alphabetic())
}

fn duration(i: &mut &str) -> PResult<Walltime> {
    let start = *i;
    let count = integer(i, "a whole number of time units (`duration=4h`)")?;
    let number_len = start.len() - i.len();
    ws(i);
    let unit_start = *i;
    let unit = unit(i);
    if unit.is_empty() {
        return Err(Fail::token(
            start,
            number_len,
            ErrorKind::Value(ValueError::no_unit("duration", &start[..number_len])),
        ));
    }
    Walltime::checked_from_unit(count, unit).map_err(|e| {
        if matches!(e, ValueError::UnknownUnit { .. }) {
            let kind = ErrorKind::Value(e);
            Fail::token(unit_start, unit.len(), kind)
        } else {
            Fail::token(start, start.len() - i.len(), ErrorKind::Value(e))
        }
    })
}

fn size(i: &mut &str) -> PResult<MemSize> {
    let start = *i;
    let count = integer(i, "a size such as `32GiB` or `4G`")?;
    let number_len = start.len() - i.len();
    let unit_start = *i;
    let unit = unit(i);
    if unit.is_empty() {
        let kind = if i.starts_with('.') {
            ErrorKind::FractionalSize
        } else if i.starts_with([' ', '\t'])
            && i.trim_start()
                .starts_with(|c: char| c.is_ascii_alphabetic())
        {
            ErrorKind::SpaceInSize
        } else {
            ErrorKind::Value(ValueError::no_unit("size", &start[..number_len]))
        };
        return Err(Fail::token(start, number_len, kind));
    }
    MemSize::checked_from_unit(count, unit).map_err(|e| {
        if matches!(e, ValueError::UnknownUnit { .. }) {
            let kind = ErrorKind::Value(e);
            Fail::token(unit_start, unit.len(), kind)
        } else {
            Fail::token(start, start.len() - i.len(), ErrorKind::Value(e))
        }
    })
}

fn cpu(i: &mut &str, alt: &mut Alternative) -> PResult<()> {
    punct(i, b'(', "`(` after `cpu`")?;
    let (mut cores, mut memory) = (1, MemSize::ZERO);
    ws(i);
    if i.as_bytes().first() == Some(&b')') {
        i.next_token();
    } else {
        loop {
            ws(i);
            let arg_start = *i;
            match ident(i) {
                "mem" => {
                    punct(i, b'=', "`=` after `mem`")?;
                    ws(i);
                    memory = size(i)?;
                }
                "cores" => {
                    punct(i, b'=', "`=` after `cores`")?;
                    ws(i);
                    cores = integer(i, "a whole number of cores")?;
                }
                _ => return Err(Fail::expected(arg_start, "`mem=` or `cores=`")),
            }
            ws(i);
            match i.as_bytes().first() {
                Some(b',') => {
                    i.next_token();
                }
                Some(b')') => {
                    i.next_token();
                    break;
                }
                _ => return Err(Fail::expected(i, "`,` or `)`")),
            }
        }
    }
    alt.cpu.cores = alt.cpu.cores.max(cores);
    alt.cpu.memory = alt.cpu.memory.max(memory);
    Ok(())
}

fn accelerator(
    i: &mut &str,
    start: &str,
    kind: AcceleratorKind,
    alt: &mut Alternative,
) -> PResult<()> {
    punct(i, b'(', "`(` after the accelerator kind")?;
    ws(i);
    let mut memory = MemSize::ZERO;
    if i.as_bytes().first() == Some(&b')') {
        i.next_token();
    } else {
        let arg_start = *i;
        if ident(i) != "mem" {
            return Err(Fail::expected(arg_start, "`mem=` or `)`"));
        }
        punct(i, b'=', "`=` after `mem`")?;
        ws(i);
        memory = size(i)?;
        punct(i, b')', "`)`")?;
    }
    // An optional `* N`.
    let before = *i;
    ws(i);
    let mut count = 1;
    if i.as_bytes().first() == Some(&b'*') {
        i.next_token();
        ws(i);
        let count_start = *i;
        count = integer(i, "a count of accelerators after `*`")?;
        let count_len = count_start.len() - i.len();
        if count == 0 {
            return Err(Fail::token(count_start, count_len, ErrorKind::ZeroCount));
        }
        if count > MAX_ACCELERATORS as u64 {
            return Err(Fail::token(
                count_start,
                count_len,
                ErrorKind::TooManyAccelerators {
                    max: MAX_ACCELERATORS,
                },
            ));
        }
    } else {
        *i = before;
    }
    let total = alt.accelerators.len() + count as usize;
    if total > MAX_ACCELERATORS {
        return Err(Fail::token(
            start,
            start.len() - i.len(),
            ErrorKind::TooManyAccelerators {
                max: MAX_ACCELERATORS,
            },
        ));
    }
    let request = AcceleratorRequest { kind, memory };
    alt.accelerators
        .extend(std::iter::repeat_n(request, count as usize));
    Ok(())
}
