//! Memory sizes and durations: newtypes with checked arithmetic, parsing and
//! exact formatting.

use std::fmt;
use std::str::FromStr;

/// Why a size, duration or count was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The text was empty (or only whitespace).
    #[error("empty {what}")]
    Empty {
        /// "size" or "duration".
        what: &'static str,
    },
    /// A number without a unit where one is required.
    #[error("{what} `{input}` has no unit (expected one of {expected})")]
    NoUnit {
        /// "size" or "duration".
        what: &'static str,
        /// The text as given.
        input: String,
        /// The accepted units, comma separated.
        expected: &'static str,
    },
    /// A unit that is not known.
    #[error("unknown {what} unit `{unit}` in `{input}` (expected one of {expected})")]
    UnknownUnit {
        /// "size" or "duration".
        what: &'static str,
        /// The text as given.
        input: String,
        /// The unit as given.
        unit: String,
        /// The accepted units, comma separated.
        expected: &'static str,
    },
    /// A value that does not fit in 64 bits.
    #[error("{what} `{input}` is too large (the maximum is {max})")]
    Overflow {
        /// "size", "duration" or "count".
        what: &'static str,
        /// The text (or the computation) that overflowed.
        input: String,
        /// The largest value, formatted.
        max: String,
    },
    /// Anything else: not a number, a negative factor, ...
    #[error("invalid {what} `{input}`: {reason}")]
    Invalid {
        /// "size", "duration" or "factor".
        what: &'static str,
        /// The text as given.
        input: String,
        /// Why, in words.
        reason: String,
    },
}

/// Size units, longest spelling first for each prefix, with their value in bytes.
///
/// `G`/`M` are decimal (as experimaestro's humanfriendly parses them), `GiB`/`MiB`
/// binary; `K`, `KiB`, `T`, `TiB` and `B` are our extensions.
pub const SIZE_UNITS: &[(&str, u64)] = &[
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("T", 1_000_000_000_000),
    ("G", 1_000_000_000),
    ("M", 1_000_000),
    ("K", 1_000),
    ("B", 1),
];

const SIZE_UNITS_TEXT: &str = "G, GiB, M, MiB, K, KiB, T, TiB, B";

/// Duration units with their value in seconds.
pub const DURATION_UNITS: &[(&str, u64)] = &[
    ("s", 1),
    ("sec", 1),
    ("secs", 1),
    ("second", 1),
    ("seconds", 1),
    ("m", 60),
    ("min", 60),
    ("mins", 60),
    ("minute", 60),
    ("minutes", 60),
    ("h", 3600),
    ("hour", 3600),
    ("hours", 3600),
    ("d", 86_400),
    ("day", 86_400),
    ("days", 86_400),
    ("w", 604_800),
    ("week", 604_800),
    ("weeks", 604_800),
];

const DURATION_UNITS_TEXT: &str = "s, m, min, h, hours, d, days, w, weeks";

/// Looks a size unit up by its exact spelling.
pub(crate) fn size_unit(unit: &str) -> Option<u64> {
    // A `match` (not a scan of SIZE_UNITS): this is on the parser's hot path.
    Some(match unit {
        "G" => 1_000_000_000,
        "GiB" => 1 << 30,
        "M" => 1_000_000,
        "MiB" => 1 << 20,
        "K" => 1_000,
        "KiB" => 1 << 10,
        "T" => 1_000_000_000_000,
        "TiB" => 1 << 40,
        "B" => 1,
        _ => return None,
    })
}

/// Looks a duration unit up by its exact spelling.
pub(crate) fn duration_unit(unit: &str) -> Option<u64> {
    // A `match` (not a scan of DURATION_UNITS): this is on the parser's hot path.
    Some(match unit {
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "w" | "week" | "weeks" => 604_800,
        _ => return None,
    })
}

/// An amount of memory, in bytes.
///
/// Displays with the largest unit that divides it exactly (`32GiB`, `4G`,
/// `1536MiB`), so that formatting and parsing round-trip.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MemSize(u64);

impl MemSize {
    /// No memory.
    pub const ZERO: MemSize = MemSize(0);
    /// The largest size.
    pub const MAX: MemSize = MemSize(u64::MAX);

    /// A size of `bytes` bytes.
    pub const fn from_bytes(bytes: u64) -> Self {
        MemSize(bytes)
    }

    /// `count` times `unit` (e.g. `MemSize::checked_from_unit(32, "GiB")`).
    pub fn checked_from_unit(count: u64, unit: &str) -> Result<Self, ValueError> {
        SIZE.counted(count, unit).map(MemSize)
    }

    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }

    /// The size in MiB, rounded up (Slurm's `--mem` unit).
    pub const fn mebibytes_ceil(self) -> u64 {
        self.0.div_ceil(1 << 20)
    }

    /// Whether this is zero bytes.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + other`, or `None` on overflow.
    pub const fn checked_add(self, other: MemSize) -> Option<MemSize> {
        match self.0.checked_add(other.0) {
            Some(v) => Some(MemSize(v)),
            None => None,
        }
    }

    /// `self - other`, or `None` when `other` is larger.
    pub const fn checked_sub(self, other: MemSize) -> Option<MemSize> {
        match self.0.checked_sub(other.0) {
            Some(v) => Some(MemSize(v)),
            None => None,
        }
    }

    /// `self * factor`, or `None` on overflow.
    pub const fn checked_mul(self, factor: u64) -> Option<MemSize> {
        match self.0.checked_mul(factor) {
            Some(v) => Some(MemSize(v)),
            None => None,
        }
    }

    /// The largest unit of [`SIZE_UNITS`] that divides this size exactly, and
    /// the count of that unit.
    pub fn exact_unit(self) -> (u64, &'static str) {
        if self.0 == 0 {
            return (0, "B");
        }
        let mut best: (u64, &'static str) = (self.0, "B");
        let mut best_factor = 1;
        for &(unit, factor) in SIZE_UNITS {
            if self.0 % factor == 0 && factor > best_factor {
                best = (self.0 / factor, unit);
                best_factor = factor;
            }
        }
        best
    }

    /// A short approximate form for people (`31.5 GiB`), never used for
    /// round trips.
    pub fn human(self) -> String {
        const STEPS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut value = self.0 as f64;
        let mut step = 0;
        while value >= 1024.0 && step + 1 < STEPS.len() {
            value /= 1024.0;
            step += 1;
        }
        if step == 0 || (value.fract()).abs() < 0.05 {
            format!("{value:.0} {}", STEPS[step])
        } else {
            format!("{value:.1} {}", STEPS[step])
        }
    }
}

/// What sizes and durations differ in, for parsing and for errors; the
/// rest is one code for both.
struct Quantity {
    /// `size` or `duration`, in errors.
    what: &'static str,
    /// A unit's factor, by its exact spelling.
    unit: fn(&str) -> Option<u64>,
    /// The units, for errors.
    units: &'static str,
    /// The base unit's name, for errors (`bytes`, `seconds`).
    base: &'static str,
}

const SIZE: Quantity = Quantity {
    what: "size",
    unit: size_unit,
    units: SIZE_UNITS_TEXT,
    base: "bytes",
};

const DURATION: Quantity = Quantity {
    what: "duration",
    unit: duration_unit,
    units: DURATION_UNITS_TEXT,
    base: "seconds",
};

impl Quantity {
    /// The error for `input`, which is more than `u64::MAX` base units.
    fn overflow(&self, input: String) -> ValueError {
        ValueError::Overflow {
            what: self.what,
            input,
            max: format!("{} {}", u64::MAX, self.base),
        }
    }

    /// The factor of `unit`, or the error naming `input`.
    fn factor(&self, unit: &str, input: impl FnOnce() -> String) -> Result<u64, ValueError> {
        (self.unit)(unit).ok_or_else(|| ValueError::UnknownUnit {
            what: self.what,
            input: input(),
            unit: unit.to_owned(),
            expected: self.units,
        })
    }

    /// `count` times `unit`, in base units.
    fn counted(&self, count: u64, unit: &str) -> Result<u64, ValueError> {
        let factor = self.factor(unit, || format!("{count}{unit}"))?;
        count
            .checked_mul(factor)
            .ok_or_else(|| self.overflow(format!("{count}{unit}")))
    }

    /// `input` (a number, maybe with a fraction, and a unit or none for
    /// the base unit), exactly, rounded down to whole base units.
    fn parse(&self, input: &str) -> Result<u64, ValueError> {
        let (int, frac, unit) = split_number(input, self.what)?;
        let factor = if unit.is_empty() {
            1
        } else {
            self.factor(unit, || input.to_owned())?
        };
        scaled(int, frac, factor).ok_or_else(|| self.overflow(input.to_owned()))
    }
}

impl fmt::Display for MemSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (count, unit) = self.exact_unit();
        write!(f, "{count}{unit}")
    }
}

impl fmt::Debug for MemSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MemSize({self})")
    }
}

/// Splits `1.5 GiB` into (`1`, `5`, `GiB`); whitespace between number and
/// unit is allowed here (host files), not in the requirement language.
fn split_number<'a>(
    input: &'a str,
    what: &'static str,
) -> Result<(&'a str, &'a str, &'a str), ValueError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(ValueError::Empty { what });
    }
    let int_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (int, rest) = text.split_at(int_end);
    let (frac, rest) = if let Some(after_dot) = rest.strip_prefix('.') {
        let frac_end = after_dot
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after_dot.len());
        after_dot.split_at(frac_end)
    } else {
        ("", rest)
    };
    if int.is_empty() && frac.is_empty() {
        return Err(ValueError::Invalid {
            what,
            input: input.to_owned(),
            reason: "expected a number".into(),
        });
    }
    Ok((int, frac, rest.trim_start()))
}

/// `int.frac * factor`, rounded down to a whole unit (byte or second),
/// exactly: every digit of the fraction counts, however many there are (no
/// floating point, no truncation), and `None` only when the result does not
/// fit in 64 bits.
///
/// The fraction `0.d1…dn` contributes `floor(d1…dn * factor / 10^n)`,
/// computed from the last digit to the first: `acc = (acc + dk * factor) /
/// 10`. Nested floor divisions equal one floor division of the whole
/// (`floor((floor(a / m) + b) / n) == floor((a + b * m) / (m * n))`), and
/// `acc` stays below `factor`, so `acc + 9 * factor` cannot overflow: the
/// work is linear in the number of digits and every step is bounded.
fn scaled(int: &str, frac: &str, factor: u64) -> Option<u64> {
    let mut whole: u64 = 0;
    for b in int.bytes() {
        whole = whole.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    let value = whole.checked_mul(factor)?;
    let factor = u128::from(factor);
    let mut extra: u128 = 0;
    for b in frac.bytes().rev() {
        // extra < factor <= u64::MAX, so extra + 9 * factor < 10 * 2^64.
        extra = (extra + u128::from(b - b'0') * factor) / 10;
    }
    // extra < factor <= u64::MAX: the conversion cannot fail.
    value.checked_add(u64::try_from(extra).ok()?)
}

impl FromStr for MemSize {
    type Err = ValueError;

    /// Parses `32GiB`, `4 G`, `1.5TiB` or a plain number of bytes (`1024`).
    ///
    /// A fraction is exact whatever its number of digits, then rounded down
    /// to a whole byte: `1.999999999999999999999999999999999999TiB` is
    /// 2199023255551 bytes (one byte under `2TiB`).
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        SIZE.parse(input).map(MemSize)
    }
}

/// A length of time, in whole seconds (a job's duration or a time limit).
///
/// Displays with the largest of `d`, `h`, `m`, `s` that divides it exactly,
/// units that experimaestro reads too.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Walltime(u64);

impl Walltime {
    /// No time (for a limit: unlimited).
    pub const ZERO: Walltime = Walltime(0);

    /// A duration of `seconds` seconds.
    pub const fn from_seconds(seconds: u64) -> Self {
        Walltime(seconds)
    }

    /// `count` times `unit` (e.g. `Walltime::checked_from_unit(40, "h")`).
    pub fn checked_from_unit(count: u64, unit: &str) -> Result<Self, ValueError> {
        DURATION.counted(count, unit).map(Walltime)
    }

    /// The duration in seconds.
    pub const fn seconds(self) -> u64 {
        self.0
    }

    /// Whether this is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + other`, or `None` on overflow.
    pub const fn checked_add(self, other: Walltime) -> Option<Walltime> {
        match self.0.checked_add(other.0) {
            Some(v) => Some(Walltime(v)),
            None => None,
        }
    }

    /// `ceil(self * factor)`, computed exactly from the binary value of
    /// `factor`; an error for a negative, NaN or infinite factor and on
    /// overflow.
    pub fn checked_mul_f64(self, factor: f64) -> Result<Walltime, ValueError> {
        if !factor.is_finite() || factor < 0.0 {
            return Err(ValueError::Invalid {
                what: "factor",
                input: factor.to_string(),
                reason: "a duration can only be multiplied by a finite, non-negative number".into(),
            });
        }
        if factor == 0.0 || self.0 == 0 {
            return Ok(Walltime::ZERO);
        }
        // factor = mantissa * 2^exponent exactly.
        let bits = factor.to_bits();
        let raw_exponent = ((bits >> 52) & 0x7ff) as i32;
        let fraction = bits & ((1 << 52) - 1);
        let (mantissa, exponent) = if raw_exponent == 0 {
            (fraction, -1074)
        } else {
            (fraction | (1 << 52), raw_exponent - 1075)
        };
        let product = u128::from(self.0) * u128::from(mantissa);
        let overflow = || DURATION.overflow(format!("{self} * {factor}"));
        let value = if exponent >= 0 {
            if exponent >= 64 {
                return Err(overflow());
            }
            product
                .checked_shl(exponent as u32)
                .filter(|v| v >> exponent == product)
        } else {
            let shift = exponent.unsigned_abs();
            if shift >= 128 {
                Some(1) // positive product divided by a huge power: ceil is 1
            } else {
                let floor = product >> shift;
                let rest = product & ((1u128 << shift) - 1);
                Some(floor + u128::from(rest != 0))
            }
        };
        value
            .and_then(|v| u64::try_from(v).ok())
            .map(Walltime)
            .ok_or_else(overflow)
    }

    /// The value as a `std::time::Duration`.
    pub const fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.0)
    }
}

impl fmt::Display for Walltime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s == 0 {
            return f.write_str("0s");
        }
        for (unit, factor) in [("d", 86_400), ("h", 3600), ("m", 60)] {
            if s % factor == 0 {
                return write!(f, "{}{unit}", s / factor);
            }
        }
        write!(f, "{s}s")
    }
}

impl fmt::Debug for Walltime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Walltime({self})")
    }
}

impl FromStr for Walltime {
    type Err = ValueError;

    /// Parses `40h`, `4 days`, `90m`, `1.5h` or a plain number of seconds.
    ///
    /// A fraction is exact whatever its number of digits, then rounded down
    /// to a whole second (`0.99999999999999999999999999999999999w` is
    /// 604799 seconds).
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        DURATION.parse(input).map(Walltime)
    }
}

/// The error for a number that needs a unit but has none (used by parsers).
pub(crate) fn no_unit(what: &'static str, input: &str) -> ValueError {
    ValueError::NoUnit {
        what,
        input: input.to_owned(),
        expected: if what == "size" {
            SIZE_UNITS_TEXT
        } else {
            DURATION_UNITS_TEXT
        },
    }
}

impl ValueError {
    /// The error for a size or duration written without its unit.
    pub fn no_unit(what: &'static str, input: &str) -> Self {
        no_unit(what, input)
    }
}

mod serde_impls {
    use super::{MemSize, Walltime};
    use serde::de::{self, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::fmt;
    use std::marker::PhantomData;

    impl Serialize for MemSize {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_u64(self.0)
        }
    }

    impl Serialize for Walltime {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_u64(self.0)
        }
    }

    /// Accepts an integer (bytes or seconds) or a string with a unit.
    struct IntOrString<T>(PhantomData<T>, &'static str);

    impl<T> Visitor<'_> for IntOrString<T>
    where
        T: std::str::FromStr<Err = super::ValueError> + From<Raw>,
    {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{}", self.1)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
            Ok(T::from(Raw(v)))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
            u64::try_from(v)
                .map(|v| T::from(Raw(v)))
                .map_err(|_| E::custom(format!("{v} is negative")))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
            if v >= 0.0 && v.fract() == 0.0 && v < 1.8e19 {
                Ok(T::from(Raw(v as u64)))
            } else {
                Err(E::custom(format!("{v} is not a whole non-negative number")))
            }
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            v.parse().map_err(E::custom)
        }
    }

    #[derive(Debug)]
    pub struct Raw(u64);

    impl From<Raw> for MemSize {
        fn from(v: Raw) -> Self {
            MemSize(v.0)
        }
    }

    impl From<Raw> for Walltime {
        fn from(v: Raw) -> Self {
            Walltime(v.0)
        }
    }

    impl<'de> Deserialize<'de> for MemSize {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(IntOrString(
                PhantomData,
                "a size: an integer of bytes or a string such as \"32GiB\"",
            ))
        }
    }

    impl<'de> Deserialize<'de> for Walltime {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(IntOrString(
                PhantomData,
                "a duration: an integer of seconds or a string such as \"10d\"",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes_parse_and_display() {
        let cases = [
            ("32GiB", 32u64 << 30, "32GiB"),
            ("4G", 4_000_000_000, "4G"),
            ("400M", 400_000_000, "400M"),
            ("1.5GiB", 3 << 29, "1536MiB"),
            ("1024", 1024, "1KiB"),
            ("0", 0, "0B"),
            ("2 TiB", 2 << 40, "2TiB"),
            ("1000K", 1_000_000, "1M"),
            ("1001", 1001, "1001B"),
        ];
        parse_and_show(&cases, MemSize::bytes);
    }

    /// Each `(text, value, shown)`: `text` parses as `value` (as `base`
    /// reads it), shows as `shown`, which parses back to it.
    fn parse_and_show<T>(cases: &[(&str, u64, &str)], base: fn(T) -> u64)
    where
        T: FromStr<Err = ValueError> + fmt::Display + PartialEq + fmt::Debug + Copy,
    {
        for &(text, value, shown) in cases {
            let parsed: T = text.parse().unwrap();
            assert_eq!(base(parsed), value, "{text}");
            assert_eq!(parsed.to_string(), shown, "{text}");
            assert_eq!(shown.parse::<T>().unwrap(), parsed);
        }
    }

    #[test]
    fn size_errors_name_the_input() {
        assert_eq!(
            "4g".parse::<MemSize>().unwrap_err().to_string(),
            "unknown size unit `g` in `4g` (expected one of G, GiB, M, MiB, K, KiB, T, TiB, B)"
        );
        assert!(matches!(
            "99999999999999999999".parse::<MemSize>(),
            Err(ValueError::Overflow { .. })
        ));
        assert!(matches!(
            "20000000000TiB".parse::<MemSize>(),
            Err(ValueError::Overflow { .. })
        ));
        assert!(matches!(
            "".parse::<MemSize>(),
            Err(ValueError::Empty { .. })
        ));
        assert!(matches!(
            "GiB".parse::<MemSize>(),
            Err(ValueError::Invalid { .. })
        ));
    }

    #[test]
    fn unit_lookups_agree_with_the_tables() {
        for &(unit, value) in SIZE_UNITS {
            assert_eq!(size_unit(unit), Some(value), "{unit}");
        }
        for &(unit, value) in DURATION_UNITS {
            assert_eq!(duration_unit(unit), Some(value), "{unit}");
        }
        assert_eq!(size_unit("g"), None);
        assert_eq!(duration_unit("H"), None);
    }

    #[test]
    fn durations_parse_and_display() {
        let cases = [
            ("40h", 144_000, "40h"),
            ("4 days", 345_600, "4d"),
            ("90m", 5400, "90m"),
            ("1.5h", 5400, "90m"),
            ("2w", 1_209_600, "14d"),
            ("61", 61, "61s"),
            ("0", 0, "0s"),
        ];
        parse_and_show(&cases, Walltime::seconds);
    }

    #[test]
    fn multiply_duration_is_exact_ceiling() {
        let d = Walltime::from_seconds(3600);
        assert_eq!(d.checked_mul_f64(2.0).unwrap().seconds(), 7200);
        assert_eq!(d.checked_mul_f64(0.5).unwrap().seconds(), 1800);
        assert_eq!(
            Walltime::from_seconds(3)
                .checked_mul_f64(0.5)
                .unwrap()
                .seconds(),
            2
        );
        assert_eq!(
            Walltime::from_seconds(1)
                .checked_mul_f64(1e-300)
                .unwrap()
                .seconds(),
            1
        );
        assert_eq!(d.checked_mul_f64(0.0).unwrap().seconds(), 0);
        assert!(d.checked_mul_f64(-1.0).is_err());
        assert!(d.checked_mul_f64(f64::NAN).is_err());
        assert!(d.checked_mul_f64(f64::INFINITY).is_err());
        assert!(
            Walltime::from_seconds(u64::MAX)
                .checked_mul_f64(2.0)
                .is_err()
        );
        assert!(d.checked_mul_f64(1e300).is_err());
        assert_eq!(
            Walltime::from_seconds(u64::MAX)
                .checked_mul_f64(1.0)
                .unwrap()
                .seconds(),
            u64::MAX
        );
    }

    #[test]
    fn serde_accepts_integers_and_strings() {
        let s: MemSize = serde_json::from_str("\"8GiB\"").unwrap();
        assert_eq!(s.bytes(), 8 << 30);
        let s: MemSize = serde_json::from_str("1024").unwrap();
        assert_eq!(s.bytes(), 1024);
        assert!(serde_json::from_str::<MemSize>("-1").is_err());
        let d: Walltime = serde_json::from_str("\"10d\"").unwrap();
        assert_eq!(d.seconds(), 864_000);
        assert_eq!(serde_json::to_string(&d).unwrap(), "864000");
    }

    /// `floor(int.frac * factor)` by schoolbook decimal multiplication: an
    /// independent reference for [`scaled`].
    fn reference_scaled(int: &str, frac: &str, factor: u64) -> Option<u64> {
        // The digits of int·frac as one integer, little-endian, times factor.
        let mut digits: Vec<u128> = format!("{int}{frac}")
            .bytes()
            .rev()
            .map(|b| u128::from(b - b'0'))
            .collect();
        let mut carry = 0u128;
        for d in &mut digits {
            let v = *d * u128::from(factor) + carry;
            *d = v % 10;
            carry = v / 10;
        }
        while carry > 0 {
            digits.push(carry % 10);
            carry /= 10;
        }
        // Drop the fraction's digits (floor), read the rest.
        let mut value: u64 = 0;
        for &d in digits.iter().skip(frac.len()).rev() {
            value = value.checked_mul(10)?.checked_add(d as u64)?;
        }
        Some(value)
    }

    #[test]
    fn long_fractions_are_exact_not_wrapped() {
        // Once `attempt to multiply with overflow` (debug) or 1099570928030
        // bytes, about 1TiB (release): the u128 fraction arithmetic wrapped.
        let size: MemSize = "1.999999999999999999999999999999999999TiB".parse().unwrap();
        assert_eq!(size.bytes(), (2 << 40) - 1);
        for nines in 1..80 {
            let text = format!("1.{}TiB", "9".repeat(nines));
            let got = text.parse::<MemSize>().unwrap().bytes();
            // 2TiB - 2^40 / 10^nines, rounded down.
            let under = if nines >= 13 {
                1
            } else {
                (1u64 << 40).div_ceil(10u64.pow(nines as u32))
            };
            assert_eq!(got, (2 << 40) - under, "{text}");
        }
        let week: Walltime = "0.99999999999999999999999999999999999w".parse().unwrap();
        assert_eq!(week.seconds(), 604_799);
        let exact: Walltime = "0.5000000000000000000000000000000000000000m"
            .parse()
            .unwrap();
        assert_eq!(exact.seconds(), 30);
        // A fraction never carries a size past the maximum unnoticed.
        assert_eq!(
            "18446744073709551615.99999999999999999999999999999999999B"
                .parse::<MemSize>()
                .unwrap(),
            MemSize::MAX
        );
        assert!(matches!(
            "16777215.99999999999999999999999999999999999999TiB".parse::<MemSize>(),
            Ok(MemSize::MAX)
        ));
        assert!(matches!(
            "16777216.0000000000000000000000000000000000001TiB".parse::<MemSize>(),
            Err(ValueError::Overflow { .. })
        ));
        let digits = "7".repeat(100_000);
        let long: MemSize = format!("0.{digits}TiB").parse().unwrap();
        assert_eq!(long.bytes(), (7u64 << 40) / 9);
    }

    proptest! {
        #[test]
        fn size_display_round_trips(bytes in any::<u64>()) {
            let size = MemSize::from_bytes(bytes);
            prop_assert_eq!(size.to_string().parse::<MemSize>().unwrap(), size);
        }

        #[test]
        fn duration_display_round_trips(seconds in any::<u64>()) {
            let d = Walltime::from_seconds(seconds);
            prop_assert_eq!(d.to_string().parse::<Walltime>().unwrap(), d);
        }

        #[test]
        fn checked_arithmetic_never_wraps(a in any::<u64>(), b in any::<u64>()) {
            let (x, y) = (MemSize::from_bytes(a), MemSize::from_bytes(b));
            prop_assert_eq!(x.checked_add(y).map(MemSize::bytes), a.checked_add(b));
            prop_assert_eq!(x.checked_mul(b).map(MemSize::bytes), a.checked_mul(b));
            prop_assert_eq!(x.checked_sub(y).map(MemSize::bytes), a.checked_sub(b));
            let d = Walltime::from_seconds(a);
            prop_assert_eq!(d.checked_add(Walltime::from_seconds(b)).map(Walltime::seconds), a.checked_add(b));
        }

        #[test]
        fn multiply_matches_wide_arithmetic(seconds in 0u64..1 << 40, factor in 0u32..1000) {
            let d = Walltime::from_seconds(seconds);
            let got = d.checked_mul_f64(f64::from(factor) / 8.0).unwrap().seconds();
            let exact = (u128::from(seconds) * u128::from(factor)).div_ceil(8);
            prop_assert_eq!(u128::from(got), exact);
        }

        /// The same digits as a size and as a duration, each in a unit of
        /// its own.
        #[test]
        fn fractions_match_decimal_arithmetic(
            int in "[0-9]{0,21}",
            frac in "[0-9]{0,60}",
            size in proptest::sample::select(SIZE_UNITS.iter().map(|&(u, _)| u).collect::<Vec<_>>()),
            duration in proptest::sample::select(DURATION_UNITS.iter().map(|&(u, _)| u).collect::<Vec<_>>()),
        ) {
            prop_assume!(!(int.is_empty() && frac.is_empty()));
            let size_text = format!("{int}.{frac}{size}");
            let duration_text = format!("{int}.{frac}{duration}");
            for (text, factor, parsed) in [
                (&size_text, size_unit(size).unwrap(), size_text.parse::<MemSize>().ok().map(MemSize::bytes)),
                (&duration_text, duration_unit(duration).unwrap(), duration_text.parse::<Walltime>().ok().map(Walltime::seconds)),
            ] {
                prop_assert_eq!(parsed, reference_scaled(&int, &frac, factor), "{}", text);
            }
        }

        #[test]
        fn any_text_parses_or_errs(text in ".{0,40}") {
            let _ = text.parse::<MemSize>();
            let _ = text.parse::<Walltime>();
        }
    }
}
