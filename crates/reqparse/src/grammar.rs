//! The grammar, as winnow parsers over a [`LocatingSlice`] of the input's
//! bytes, so that every token knows its span. All the language's tokens are
//! ASCII: scanning bytes is exact and keeps the hot path free of UTF-8
//! decoding; the input as text rides along ([`Stateful`]) to hand out a
//! token as `&str` by its span. There is no backtracking across a
//! keyword: each term is chosen by its keyword (`dispatch!`) and committed to
//! once the keyword is read (`cut_err`), so an error points at the first wrong
//! byte; contexts name what was expected there.

mod fail;

use std::cmp::Reverse;
use std::ops::Range;

use core_types::{
    AcceleratorKind, AcceleratorRequest, Alternative, MAX_ACCELERATORS, MemSize, Requirement,
    ValueError, Walltime,
};
use winnow::ascii::{alpha0, digit1, multispace0};
use winnow::combinator::{
    alt, cut_err, delimited, dispatch, empty, eof, fail, opt, peek, preceded, separated,
    separated_foldl1, terminated,
};
use winnow::error::{ErrMode, ParserError, StrContext, StrContextValue};
use winnow::prelude::*;
use winnow::stream::{AsChar, LocatingSlice, Location, Stateful};
use winnow::token::{one_of, rest, take_while};

use self::fail::Fail;
use crate::error::{ErrorKind, ParseError};

/// The stream the parsers read: the input's bytes and the offset into them,
/// with the input as text.
type Input<'i> = Stateful<LocatingSlice<&'i [u8]>, &'i str>;

fn stream(input: &str) -> Input<'_> {
    Stateful {
        input: LocatingSlice::new(input.as_bytes()),
        state: input,
    }
}

/// The text of the token at `span`.
fn token<'i>(i: &Input<'i>, span: Range<usize>) -> &'i str {
    i.state.get(span).unwrap_or_default()
}

type PResult<T> = ModalResult<T, Fail>;

const TERM: &str = "a term: `duration=`, `cpu(`, `cuda(`, `mps(`, `rocm(` or `gpu(`";

/// The context "expected `what`", for [`Parser::context`].
const fn expected(what: &'static str) -> StrContext {
    StrContext::Expected(StrContextValue::Description(what))
}

/// One term of an alternative, as written (before it is merged in).
#[derive(Debug, Clone, Copy)]
enum Term {
    Duration(Walltime),
    Cpu {
        cores: u64,
        memory: MemSize,
    },
    Accelerators {
        request: AcceleratorRequest,
        count: usize,
    },
}

/// A whole number as written: its value, its digits and their span.
struct Number<'i> {
    value: u64,
    digits: &'i [u8],
    span: Range<usize>,
}

pub(crate) fn requirement(input: &str) -> Result<Requirement, ParseError> {
    let mut stream = stream(input);
    parse_requirement(&mut stream).map_err(|e| {
        // `Incomplete` is for partial streams; this one is whole.
        let fail = e.into_inner().unwrap_or_else(|_| Fail::from_input(&stream));
        fail.into_parse_error(input)
    })
}

/// `alternative | alternative | ...` and the end of the input.
fn parse_requirement(i: &mut Input<'_>) -> PResult<Requirement> {
    terminated(
        separated(1.., alternative, b'|'),
        eof.context(expected("`&`, `|` or the end of the requirement")),
    )
    .map(|alternatives| Requirement { alternatives })
    .parse_next(i)
}

/// `term & term & ...`, each merged into the alternative as it is read (so
/// that a bound is reported at the term that crosses it).
fn alternative(i: &mut Input<'_>) -> PResult<Alternative> {
    let mut alt = Alternative::default();
    separated::<_, _, (), _, _, _, _>(
        1..,
        |i: &mut Input<'_>| {
            let (term, span) =
                delimited(multispace0, term.with_span(), multispace0).parse_next(i)?;
            add_term(&mut alt, term, span).map_err(ErrMode::Cut)
        },
        b'&',
    )
    .parse_next(i)?;
    alt.accelerators.sort_by_key(|a| Reverse(a.memory));
    Ok(alt)
}

/// Merges `term` (written at `span`) into `alt`: the largest duration and cpu
/// request win, accelerators add up to at most [`MAX_ACCELERATORS`].
fn add_term(alt: &mut Alternative, term: Term, span: Range<usize>) -> Result<(), Fail> {
    match term {
        Term::Duration(d) => alt.duration = alt.duration.max(d),
        Term::Cpu { cores, memory } => {
            alt.cpu.cores = alt.cpu.cores.max(cores);
            alt.cpu.memory = alt.cpu.memory.max(memory);
        }
        Term::Accelerators { request, count } => {
            let total = alt.accelerators.len().checked_add(count);
            if total.is_none_or(|total| total > MAX_ACCELERATORS) {
                return Err(too_many(span));
            }
            alt.accelerators.extend(std::iter::repeat_n(request, count));
        }
    }
    Ok(())
}

fn too_many(span: Range<usize>) -> Fail {
    Fail::new(
        span,
        ErrorKind::TooManyAccelerators {
            max: MAX_ACCELERATORS,
        },
    )
}

/// A term, chosen by its keyword; once the keyword is read the term is
/// committed to.
fn term(i: &mut Input<'_>) -> PResult<Term> {
    dispatch! {ident;
        b"duration" => cut_err(preceded(equals("`=` after `duration`"), duration))
            .map(Term::Duration),
        b"cpu" => cut_err(cpu),
        b"cuda" => cut_err(accelerator(AcceleratorKind::Cuda)),
        b"mps" => cut_err(accelerator(AcceleratorKind::Mps)),
        b"rocm" => cut_err(accelerator(AcceleratorKind::Rocm)),
        b"gpu" => cut_err(accelerator(AcceleratorKind::Generic)),
        b"" => cut_err(fail.context(expected(TERM))),
        word => unknown_term(word),
    }
    .parse_next(i)
}

/// Refuses `word`, just read, which is no keyword.
fn unknown_term<'i>(word: &'i [u8]) -> impl Parser<Input<'i>, Term, ErrMode<Fail>> {
    move |i: &mut Input<'i>| {
        let end = i.current_token_start();
        let found = text(word).to_owned();
        let span = end.saturating_sub(word.len())..end;
        Err(ErrMode::Cut(Fail::new(
            span,
            ErrorKind::UnknownTerm { found },
        )))
    }
}

/// A keyword or an argument name.
fn ident<'i>(i: &mut Input<'i>) -> PResult<&'i [u8]> {
    take_while(0.., (AsChar::is_alphanum, b'_')).parse_next(i)
}

/// Bytes the grammar took as ASCII (letters, digits, `_`), as text.
fn text(ascii: &[u8]) -> &str {
    std::str::from_utf8(ascii).unwrap_or_default()
}

/// `c` after optional whitespace; else the expectation `what`.
fn punct<'i>(c: u8, what: &'static str) -> impl Parser<Input<'i>, u8, ErrMode<Fail>> {
    preceded(multispace0, c.context(expected(what)))
}

/// `=` and the whitespace around it.
fn equals<'i>(what: &'static str) -> impl Parser<Input<'i>, (), ErrMode<Fail>> {
    (punct(b'=', what), multispace0).void()
}

/// A whole number; `what` names it in errors. One that does not fit 64 bits
/// is refused at its digits.
fn integer<'i>(what: &'static str) -> impl Parser<Input<'i>, Number<'i>, ErrMode<Fail>> {
    digit1.context(expected(what)).with_span().try_map(
        |(digits, span): (&'i [u8], Range<usize>)| match decimal(digits) {
            Some(value) => Ok(Number {
                value,
                digits,
                span,
            }),
            None => Err(Fail::new(
                span,
                ErrorKind::Value(ValueError::Overflow {
                    what: "number",
                    input: text(digits).to_owned(),
                    max: u64::MAX.to_string(),
                }),
            )),
        },
    )
}

/// The value of decimal `digits`, unless it does not fit 64 bits.
fn decimal(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, &digit| {
        n.checked_mul(10)?
            .checked_add(u64::from(digit.checked_sub(b'0')?))
    })
}

/// A value's refusal by its unit's table: an unknown unit points at the
/// unit, any other refusal at the whole value.
fn refused_value(e: ValueError, number: &Number<'_>, unit: Range<usize>) -> ErrMode<Fail> {
    let span = match e {
        ValueError::UnknownUnit { .. } => unit,
        _ => number.span.start..unit.end,
    };
    ErrMode::Cut(Fail::new(span, ErrorKind::Value(e)))
}

/// `4h`, `4 h`, `90 minutes`.
fn duration(i: &mut Input<'_>) -> PResult<Walltime> {
    let number = integer("a whole number of time units (`duration=4h`)").parse_next(i)?;
    let span = preceded(multispace0, alpha0.span()).parse_next(i)?;
    let unit = token(i, span.clone());
    if unit.is_empty() {
        let no_unit = ValueError::no_unit("duration", text(number.digits));
        return Err(ErrMode::Cut(Fail::new(
            number.span,
            ErrorKind::Value(no_unit),
        )));
    }
    Walltime::checked_from_unit(number.value, unit).map_err(|e| refused_value(e, &number, span))
}

/// `32GiB`, `4G`: no space between number and unit.
fn size(i: &mut Input<'_>) -> PResult<MemSize> {
    let number = integer("a size such as `32GiB` or `4G`").parse_next(i)?;
    let span = alpha0.span().parse_next(i)?;
    let unit = token(i, span.clone());
    if unit.is_empty() {
        let kind = missing_unit(number.digits).parse_next(i)?;
        return Err(ErrMode::Cut(Fail::new(number.span, kind)));
    }
    MemSize::checked_from_unit(number.value, unit).map_err(|e| refused_value(e, &number, span))
}

/// Why the size `digits` has no unit right after it, by what follows:
/// `1.5G`, `4 G` or nothing of a unit. Consumes nothing.
fn missing_unit(digits: &[u8]) -> impl Parser<Input<'_>, ErrorKind, ErrMode<Fail>> {
    alt((
        peek(b'.').value(ErrorKind::FractionalSize),
        peek((one_of([b' ', b'\t']), rest.verify(spaces_then_letter)))
            .value(ErrorKind::SpaceInSize),
        empty.map(move |()| ErrorKind::Value(ValueError::no_unit("size", text(digits)))),
    ))
}

/// `rest` is (Unicode) whitespace, then an ASCII letter. It starts where the
/// grammar took only ASCII, so it is whole UTF-8.
fn spaces_then_letter(rest: &[u8]) -> bool {
    std::str::from_utf8(rest).is_ok_and(|rest| {
        rest.trim_start()
            .starts_with(|c: char| c.is_ascii_alphabetic())
    })
}

/// `cpu(mem=SIZE, cores=N)` after the keyword: arguments in any order, the
/// last of a name wins; `cpu()` asks for one core.
fn cpu(i: &mut Input<'_>) -> PResult<Term> {
    preceded(
        (punct(b'(', "`(` after `cpu`"), multispace0),
        alt((
            b')'.value((None, None)),
            terminated(
                separated_foldl1(
                    delimited(multispace0, cut_err(cpu_argument), multispace0),
                    b',',
                    |(cores, memory), _, (later_cores, later_memory)| {
                        (later_cores.or(cores), later_memory.or(memory))
                    },
                ),
                b')'.context(expected("`,` or `)`")),
            ),
        )),
    )
    .map(|(cores, memory)| Term::Cpu {
        cores: cores.unwrap_or(1),
        memory: memory.unwrap_or(MemSize::ZERO),
    })
    .parse_next(i)
}

/// `mem=SIZE` or `cores=N`.
fn cpu_argument(i: &mut Input<'_>) -> PResult<(Option<u64>, Option<MemSize>)> {
    dispatch! {ident;
        b"mem" => preceded(equals("`=` after `mem`"), size).map(|m| (None, Some(m))),
        b"cores" => preceded(equals("`=` after `cores`"), integer("a whole number of cores"))
            .map(|n| (Some(n.value), None)),
        _ => fail,
    }
    .context(expected("`mem=` or `cores=`"))
    .parse_next(i)
}

/// `(mem=SIZE) * N` after the accelerator's keyword; `()` asks for any
/// memory, no `* N` for one.
fn accelerator<'i>(kind: AcceleratorKind) -> impl Parser<Input<'i>, Term, ErrMode<Fail>> {
    (
        preceded(
            (punct(b'(', "`(` after the accelerator kind"), multispace0),
            alt((
                b')'.value(MemSize::ZERO),
                cut_err(terminated(accelerator_memory, punct(b')', "`)`"))),
            )),
        ),
        opt(preceded((multispace0, b'*', multispace0), cut_err(count))),
    )
        .map(move |(memory, count)| Term::Accelerators {
            request: AcceleratorRequest { kind, memory },
            count: count.unwrap_or(1),
        })
}

/// `mem=SIZE`, an accelerator's only argument.
fn accelerator_memory(i: &mut Input<'_>) -> PResult<MemSize> {
    dispatch! {ident;
        b"mem" => preceded(equals("`=` after `mem`"), size),
        _ => fail,
    }
    .context(expected("`mem=` or `)`"))
    .parse_next(i)
}

/// The `N` of `* N`: from 1 to [`MAX_ACCELERATORS`].
fn count(i: &mut Input<'_>) -> PResult<usize> {
    integer("a count of accelerators after `*`")
        .try_map(|n| match usize::try_from(n.value) {
            Ok(0) => Err(Fail::new(n.span, ErrorKind::ZeroCount)),
            Ok(count) if count <= MAX_ACCELERATORS => Ok(count),
            _ => Err(too_many(n.span)),
        })
        .parse_next(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<'i, O>(
        mut parser: impl Parser<Input<'i>, O, ErrMode<Fail>>,
        text: &'i str,
    ) -> (Result<O, ParseError>, usize) {
        let mut i = stream(text);
        let out = parser.parse_next(&mut i);
        let rest = i.len();
        (
            out.map_err(|e| e.into_inner().unwrap().into_parse_error(text)),
            rest,
        )
    }

    #[test]
    fn a_size_without_unit_says_why() {
        let kind = |text| match run(size, text).0 {
            Err(e) => e.kind().clone(),
            Ok(m) => panic!("{text} gave {m:?}"),
        };
        assert_eq!(kind("1.5G"), ErrorKind::FractionalSize);
        assert_eq!(kind("4 \t G"), ErrorKind::SpaceInSize);
        assert!(matches!(
            kind("4 ,"),
            ErrorKind::Value(ValueError::NoUnit { .. })
        ));
        assert!(matches!(
            kind("4"),
            ErrorKind::Value(ValueError::NoUnit { .. })
        ));
    }

    #[test]
    fn an_absent_count_consumes_nothing() {
        let (term, rest) = run(accelerator(AcceleratorKind::Cuda), "(mem=1G) & x");
        assert!(matches!(term, Ok(Term::Accelerators { count: 1, .. })));
        assert_eq!(rest, " & x".len());
    }

    #[test]
    fn expectations_point_where_the_token_should_start() {
        let (err, _) = run(cpu_argument, "memory=4G");
        let err = err.unwrap_err();
        assert_eq!(err.span(), 0..0);
        assert_eq!(err.kind(), &ErrorKind::Expected("`mem=` or `cores=`"));
        let (err, _) = run(cpu_argument, "mem = 4 G");
        assert_eq!(err.unwrap_err().span(), 6..7);
    }
}
