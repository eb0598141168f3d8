//! [`SlurmOptions`]: the options of a launcher or a job, in the order they
//! were set.

use serde::Serialize;

use crate::check::{check_value, sbatch_line_value};
use crate::error::OptionError;
use crate::table::{
    OptionKind, RESERVED_OPTIONS, info, is_sbatch_option, negated, normalize_name, suggestion,
};
use crate::value::SlurmValue;

/// `sbatch` options by long name (`partition`, `gpus-per-node`, without
/// the leading `--`), in the order they were set, and raw arguments after
/// them.
///
/// Names are stored normalised (`_` becomes `-`); setting a name again
/// replaces its value in place. [`set`](Self::set) checks the name and the
/// value; the typed setters (`.partition("gpu")`) and
/// [`insert`](Self::insert) do not, and [`validate`](Self::validate) checks
/// everything before a script is written. Serialised as a JSON object in
/// this order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SlurmOptions {
    entries: Vec<(String, SlurmValue)>,
    /// Raw `sbatch` arguments, after the options (`--hint=nomultithread`),
    /// passed verbatim.
    pub extra_args: Vec<String>,
}

impl SlurmOptions {
    /// No option.
    pub fn new() -> Self {
        SlurmOptions::default()
    }

    /// Sets an option, unchecked (`_` in the name becomes `-`); the old
    /// value, if any.
    pub fn insert(
        &mut self,
        name: impl AsRef<str>,
        value: impl Into<SlurmValue>,
    ) -> Option<SlurmValue> {
        let name = normalize_name(name.as_ref());
        let value = value.into();
        if let Some((_, old)) = self.entries.iter_mut().find(|(n, _)| *n == name) {
            return Some(std::mem::replace(old, value));
        }
        self.entries.push((name, value));
        None
    }

    /// Sets an option by its long name (`_` or `-` alike, `--` optional),
    /// checked: the name must be a long option of `sbatch` that the
    /// launcher does not set itself, and the value of its kind (counts are
    /// whole numbers, flags true or false, sizes and times as Slurm reads
    /// them; see [`check_value`](crate::check_value)). A negated flag
    /// (`no-requeue = true`) sets the flag (`requeue = false`). Nothing
    /// changes on an error.
    pub fn set(&mut self, name: &str, value: impl Into<SlurmValue>) -> Result<(), OptionError> {
        let canonical = normalize_name(name);
        let invalid = |value: &SlurmValue, reason: String| OptionError::InvalidValue {
            name: canonical.clone(),
            value: value.to_string(),
            reason,
        };
        let value = value.into();
        if let Some(flag) = negated(&canonical) {
            let checked = check_value(flag.name, value.clone()).map_err(|r| invalid(&value, r))?;
            if let SlurmValue::Flag(v) = checked {
                self.insert(flag.name, SlurmValue::Flag(!v));
            }
            return Ok(());
        }
        if crate::is_reserved_option(&canonical) {
            return Err(OptionError::Reserved { name: canonical });
        }
        if !is_sbatch_option(&canonical) {
            return Err(OptionError::Unknown {
                hint: suggestion(&canonical).map(str::to_owned),
                name: name.to_owned(),
            });
        }
        let checked = check_value(&canonical, value.clone()).map_err(|r| invalid(&value, r))?;
        self.insert(canonical, checked);
        Ok(())
    }

    /// Options from `(name, value)` pairs, in order (see [`set`](Self::set)).
    pub fn from_pairs<I, N, V>(pairs: I) -> Result<Self, OptionError>
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<str>,
        V: Into<SlurmValue>,
    {
        let mut options = SlurmOptions::default();
        for (name, value) in pairs {
            options.set(name.as_ref(), value)?;
        }
        Ok(options)
    }

    /// An option's value (`_` or `-` alike in the name).
    pub fn get(&self, name: &str) -> Option<&SlurmValue> {
        let name = normalize_name(name);
        self.entries
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// Whether an option is set (`_` or `-` alike in the name).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Removes an option; its value, if it was set.
    pub fn remove(&mut self, name: &str) -> Option<SlurmValue> {
        let name = normalize_name(name);
        let at = self.entries.iter().position(|(n, _)| *n == name)?;
        Some(self.entries.remove(at).1)
    }

    /// The options, in the order they were set.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &SlurmValue)> + '_ {
        self.entries.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// How many options are set (extra arguments aside).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no option is set and there are no extra arguments.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.extra_args.is_empty()
    }

    /// Overlays `other`: each option `other` sets replaces this one's (in
    /// place; new ones come last); the others stay. Extra arguments are
    /// appended.
    pub fn merge(&mut self, other: &SlurmOptions) {
        for (name, value) in &other.entries {
            self.insert(name, value.clone());
        }
        self.extra_args.extend(other.extra_args.iter().cloned());
    }

    /// Checks every option and extra argument (the typed setters and
    /// [`insert`](Self::insert) do not).
    pub fn validate(&self) -> Result<(), OptionError> {
        for (name, value) in &self.entries {
            let reserved = RESERVED_OPTIONS.contains(&name.as_str());
            if reserved || !(is_sbatch_option(name) || negated(name).is_some()) {
                return Err(if reserved {
                    OptionError::Reserved { name: name.clone() }
                } else {
                    OptionError::Unknown {
                        hint: suggestion(name).map(str::to_owned),
                        name: name.clone(),
                    }
                });
            }
            check_value(name, value.clone()).map_err(|reason| OptionError::InvalidValue {
                name: name.clone(),
                value: value.to_string(),
                reason,
            })?;
        }
        for arg in &self.extra_args {
            if arg.contains(['\n', '\r', '\0']) {
                return Err(OptionError::InvalidValue {
                    name: "extra argument".into(),
                    value: arg.clone(),
                    reason: "an argument cannot hold a line break or a NUL byte".into(),
                });
            }
        }
        Ok(())
    }

    /// The `sbatch` arguments, in order: `--name=value`; for a flag,
    /// `--name` when true and its negation (`--no-requeue`) or nothing when
    /// false; then the extra arguments.
    pub fn to_args(&self) -> Vec<String> {
        let mut args: Vec<String> = self
            .entries
            .iter()
            .filter_map(|(name, value)| match value {
                SlurmValue::Flag(true) => Some(format!("--{name}")),
                SlurmValue::Flag(false) => match info(name).map(|o| o.kind) {
                    Some(OptionKind::Flag {
                        negation: Some(negation),
                    }) => Some(format!("--{negation}")),
                    _ => None,
                },
                other => Some(format!("--{name}={other}")),
            })
            .collect();
        args.extend(self.extra_args.iter().cloned());
        args
    }

    /// The `#SBATCH` lines of a job script, one per argument of
    /// [`to_args`](Self::to_args), values quoted so that sbatch reads them
    /// back unchanged; checked first.
    pub fn sbatch_lines(&self) -> Result<String, OptionError> {
        self.validate()?;
        let mut out = String::new();
        for arg in self.to_args() {
            out.push_str("#SBATCH ");
            match arg.split_once('=') {
                Some((name, value)) => {
                    out.push_str(name);
                    out.push('=');
                    out.push_str(&sbatch_line_value(value));
                }
                None => out.push_str(&sbatch_line_value(&arg)),
            }
            out.push('\n');
        }
        Ok(out)
    }
}

impl Serialize for SlurmOptions {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for (name, value) in &self.entries {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<N: AsRef<str>, V: Into<SlurmValue>> FromIterator<(N, V)> for SlurmOptions {
    /// Unchecked, like [`insert`](SlurmOptions::insert).
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut map = SlurmOptions::new();
        for (name, value) in iter {
            map.insert(name, value);
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_checks_and_types() {
        let mut o = SlurmOptions::default();
        o.set("partition", "gpu").unwrap();
        o.set("--cpus_per_task", "4").unwrap();
        o.set("mem", "16G").unwrap();
        o.set("time", "1-02:00:00").unwrap();
        o.set("requeue", "true").unwrap();
        o.set("exclusive", "").unwrap();
        o.set("hint", "nomultithread").unwrap();
        o.set("overcommit", true).unwrap();
        assert_eq!(o.get("partition"), Some(&SlurmValue::from("gpu")));
        assert_eq!(o.get("cpus-per-task"), Some(&SlurmValue::Integer(4)));
        assert_eq!(o.get("requeue"), Some(&SlurmValue::Flag(true)));
        assert_eq!(
            o.to_args(),
            [
                "--partition=gpu",
                "--cpus-per-task=4",
                "--mem=16G",
                "--time=1-02:00:00",
                "--requeue",
                "--exclusive",
                "--hint=nomultithread",
                "--overcommit"
            ]
        );
        o.set("no-requeue", "true").unwrap();
        assert_eq!(o.get("requeue"), Some(&SlurmValue::Flag(false)));
        assert!(o.to_args().contains(&"--no-requeue".to_owned()));
    }

    #[test]
    fn bad_values_and_names_are_named() {
        let mut o = SlurmOptions::default();
        let errors = [
            o.set("cpus-per-task", "four").unwrap_err(),
            o.set("mem", "16GiB").unwrap_err(),
            o.set("time", "4h").unwrap_err(),
            o.set("requeue", "maybe").unwrap_err(),
            o.set("partiton", "gpu").unwrap_err(),
            o.set("output", "x").unwrap_err(),
            o.set("array", "1-3").unwrap_err(),
            o.set("comment", "a\nb").unwrap_err(),
            o.set("frobnicate", "1").unwrap_err(),
        ];
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        insta::assert_snapshot!(text.join("\n"));
        assert_eq!(o, SlurmOptions::default(), "failed sets change nothing");
    }

    #[test]
    fn merge_keeps_what_is_set() {
        let mut base = SlurmOptions::default()
            .nodes("2")
            .partition("cpu")
            .requeue(true);
        base.extra_args.push("--hint=nomultithread".into());
        let over = SlurmOptions::default().partition("gpu").gpus_per_node("2");
        base.merge(&over);
        assert_eq!(
            base.get("nodes"),
            Some(&SlurmValue::from("2")),
            "never reset"
        );
        assert_eq!(base.get("partition"), Some(&SlurmValue::from("gpu")));
        assert_eq!(base.get("gpus-per-node"), Some(&SlurmValue::from("2")));
        assert_eq!(base.get("requeue"), Some(&SlurmValue::Flag(true)));
        assert_eq!(base.extra_args, ["--hint=nomultithread"]);
        let mut unchanged = base.clone();
        unchanged.merge(&SlurmOptions::default());
        assert_eq!(unchanged, base);
    }

    #[test]
    fn sbatch_lines_quote_what_sbatch_would_split() {
        let o = SlurmOptions::default()
            .job_name("plain-name_1.x")
            .comment(r#"a b "q" 'x' \ $y"#);
        assert_eq!(
            o.sbatch_lines().unwrap(),
            "#SBATCH --job-name=plain-name_1.x\n#SBATCH --comment=\"a b \\\"q\\\" 'x' \\\\ $y\"\n"
        );
        let bad = SlurmOptions::default().comment("line\nbreak");
        assert!(bad.sbatch_lines().is_err());
    }

    #[test]
    fn map_keeps_order_and_replaces_in_place() {
        let mut map = SlurmOptions::new();
        assert_eq!(map.insert("qos", "normal"), None);
        assert_eq!(map.insert("gpus_per_node", 2), None);
        assert_eq!(map.insert("qos", "high"), Some(SlurmValue::from("normal")));
        let names: Vec<&str> = map.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["qos", "gpus-per-node"]);
        assert_eq!(
            serde_json::to_string(&map).unwrap(),
            r#"{"qos":"high","gpus-per-node":2}"#
        );
        assert_eq!(map.len(), 2);
        assert_eq!(map.remove("qos"), Some(SlurmValue::from("high")));
        assert!(!map.contains("qos"));
    }
}
