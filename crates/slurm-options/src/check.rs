//! Checking values against what `sbatch` reads: times, sizes, counts,
//! flags; and quoting a value for an `#SBATCH` line.

use crate::table::{OptionKind, kind_of};
use crate::value::SlurmValue;

/// A text that is not a Slurm time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expected M, M:S, H:M:S, D-H, D-H:M or D-H:M:S")]
pub struct InvalidTime;

/// A Slurm time (as `--time` takes it and `sinfo`, `squeue` print it) in
/// seconds: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`. A bare number
/// is minutes. `Ok(None)`: unlimited (`UNLIMITED`, `INFINITE`).
///
/// ```
/// assert_eq!(slurm_options::parse_time("1-00:00:00"), Ok(Some(86_400)));
/// assert_eq!(slurm_options::parse_time("90"), Ok(Some(5_400)));
/// assert_eq!(slurm_options::parse_time("UNLIMITED"), Ok(None));
/// assert!(slurm_options::parse_time("4h").is_err());
/// ```
pub fn parse_time(text: &str) -> Result<Option<u64>, InvalidTime> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("UNLIMITED") || t.eq_ignore_ascii_case("INFINITE") {
        return Ok(None);
    }
    let number = |s: &str| -> Result<u64, InvalidTime> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidTime);
        }
        s.parse::<u64>().map_err(|_| InvalidTime)
    };
    let (days, clock) = match t.split_once('-') {
        Some((d, c)) => (Some(number(d)?), c),
        None => (None, t),
    };
    let parts = clock
        .split(':')
        .map(number)
        .collect::<Result<Vec<u64>, _>>()?;
    let seconds = match (days, parts.as_slice()) {
        (None, [m]) => m.checked_mul(60),
        (None, [m, s]) => m.checked_mul(60).and_then(|v| v.checked_add(*s)),
        (_, [h, m, s]) => h
            .checked_mul(3600)
            .and_then(|v| v.checked_add(m.checked_mul(60)?))
            .and_then(|v| v.checked_add(*s)),
        (Some(_), [h]) => h.checked_mul(3600),
        (Some(_), [h, m]) => h
            .checked_mul(3600)
            .and_then(|v| v.checked_add(m.checked_mul(60)?)),
        _ => return Err(InvalidTime),
    }
    .ok_or(InvalidTime)?;
    let days = days.unwrap_or(0).checked_mul(86_400).ok_or(InvalidTime)?;
    Ok(Some(seconds.checked_add(days).ok_or(InvalidTime)?))
}

/// Whether `text` is a Slurm size: digits, then at most one unit letter
/// (`K`, `M`, `G`, `T`, either case).
pub fn is_size(text: &str) -> bool {
    let number = text
        .strip_suffix(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't'])
        .unwrap_or(text);
    !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
}

/// A flag's value from text: `true`/`false`, `yes`/`no`, `1`/`0`,
/// `on`/`off`, or empty (a flag named with no value is set).
pub fn parse_flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "true" | "yes" | "1" | "on" => Some(true),
        "false" | "no" | "0" | "off" => Some(false),
        _ => None,
    }
}

/// Checks `value` for the option `name` (canonical) and gives it as it is
/// kept: a count or a flag given as text becomes an integer or a flag,
/// text is trimmed. `Err` says why the value is refused.
pub fn check_value(name: &str, value: SlurmValue) -> Result<SlurmValue, String> {
    if let SlurmValue::Text(text) = &value {
        if text.contains(['\n', '\r', '\0']) {
            return Err("a value cannot hold a line break or a NUL byte".to_owned());
        }
    }
    let needs_value = || "needs a value, not true or false".to_owned();
    match (kind_of(name), value) {
        (Some(OptionKind::Time), SlurmValue::Text(text)) => {
            let text = text.trim();
            match parse_time(text) {
                Ok(_) => Ok(SlurmValue::Text(text.to_owned())),
                Err(_) => Err(format!(
                    "`{text}` is not a Slurm time (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS or UNLIMITED)"
                )),
            }
        }
        (Some(OptionKind::Memory), SlurmValue::Text(text)) => {
            let text = text.trim();
            if is_size(text) {
                Ok(SlurmValue::Text(text.to_owned()))
            } else {
                Err(format!(
                    "`{text}` is not a Slurm size (an integer with an optional unit K, M, G or T)"
                ))
            }
        }
        (Some(OptionKind::Count), SlurmValue::Text(text)) => match text.trim().parse::<u32>() {
            Ok(n) => Ok(SlurmValue::Integer(i64::from(n))),
            Err(_) => Err(format!("`{text}` is not a whole number")),
        },
        (Some(OptionKind::Count), SlurmValue::Integer(n)) if u32::try_from(n).is_err() => {
            Err(if n < 0 {
                format!("{n} is negative")
            } else {
                format!("{n} is too large")
            })
        }
        (Some(OptionKind::Time | OptionKind::Memory), SlurmValue::Integer(n)) if n < 0 => {
            Err(format!("{n} is negative"))
        }
        (
            Some(OptionKind::Time | OptionKind::Memory | OptionKind::Count | OptionKind::Text),
            SlurmValue::Flag(_),
        ) => Err(needs_value()),
        (Some(OptionKind::Flag { .. }), SlurmValue::Text(text)) => parse_flag(&text)
            .map(SlurmValue::Flag)
            .ok_or_else(|| format!("`{text}` is not true or false")),
        (Some(OptionKind::Flag { .. }), SlurmValue::Integer(n)) => {
            Err(format!("{n} is not true or false"))
        }
        (Some(OptionKind::Text), SlurmValue::Text(text)) if text.trim().is_empty() => {
            Err("needs a value".to_owned())
        }
        (Some(OptionKind::Text), SlurmValue::Text(text)) => {
            Ok(SlurmValue::Text(text.trim().to_owned()))
        }
        (_, value) => Ok(value),
    }
}

/// Characters that need no quoting in an `#SBATCH` line.
fn plain(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%&|[]*!#^~".contains(&b))
}

/// A value as `sbatch` reads it back from an `#SBATCH` line: bare when
/// plain, else in double quotes with `"` and `\` escaped by `\` (what
/// sbatch's own line splitter undoes).
pub fn sbatch_line_value(value: &str) -> String {
    if plain(value) {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        for (text, seconds) in [
            ("60", Some(3600)),
            ("1:00", Some(60)),
            ("4:00:00", Some(14_400)),
            ("2-0", Some(172_800)),
            ("2-12:30", Some(217_800)),
            ("2-12:30:00", Some(217_800)),
            ("10", Some(600)),
            ("2:00", Some(120)),
            ("1:02:03", Some(3723)),
            ("1-00:00:00", Some(86_400)),
            ("2-3", Some(2 * 86_400 + 3 * 3600)),
            ("2-3:04", Some(2 * 86_400 + 3 * 3600 + 240)),
            ("UNLIMITED", None),
            ("infinite", None),
        ] {
            assert_eq!(parse_time(text), Ok(seconds), "{text}");
        }
        for bad in [
            "",
            "4h",
            "1:2:3:4",
            "-1",
            "a",
            "a-1",
            "1-",
            "1:",
            "1-2:3:4:5",
            "99999999999999999999",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        for ok in ["64G", "1000", "512m"] {
            assert!(is_size(ok), "{ok}");
        }
        for bad in ["", "G", "1.5G", "64GiB", "-1"] {
            assert!(!is_size(bad), "{bad}");
        }
    }

    #[test]
    fn values_by_kind() {
        let ok = |name: &str, value: SlurmValue| check_value(name, value).unwrap();
        let bad = |name: &str, value: SlurmValue| check_value(name, value).unwrap_err();
        assert_eq!(ok("cpus-per-task", "4".into()), SlurmValue::Integer(4));
        assert_eq!(ok("requeue", "yes".into()), SlurmValue::Flag(true));
        assert_eq!(ok("mem", " 16G ".into()), SlurmValue::from("16G"));
        assert_eq!(ok("hint", "nomultithread".into()), "nomultithread".into());
        let reasons = [
            bad("cpus-per-task", "four".into()),
            bad("cpus-per-task", SlurmValue::Integer(-1)),
            bad("mem", "16GiB".into()),
            bad("mem", SlurmValue::Integer(-1)),
            bad("time", "4h".into()),
            bad("time", SlurmValue::Flag(true)),
            bad("time-min", "x".into()),
            bad("requeue", "maybe".into()),
            bad("partition", "".into()),
            bad("comment", "x\n#SBATCH --uid=0".into()),
        ];
        insta::assert_snapshot!(reasons.join("\n"));
    }

    #[test]
    fn line_values() {
        assert_eq!(sbatch_line_value("plain-name_1.x"), "plain-name_1.x");
        assert_eq!(
            sbatch_line_value(r#"a b "q" 'x' \ $y"#),
            r#""a b \"q\" 'x' \\ $y""#
        );
    }
}
