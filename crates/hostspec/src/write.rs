//! Writing a [`HostSpec`] back as a TOML host file.

use std::fmt::Write as _;

use core_types::{AcceleratorSpec, HostSpec};

use crate::schema::MAX_ACCELERATORS;

/// Writes `host` as a TOML host file that [`from_toml_str`](crate::from_toml_str)
/// reads back to an equal value, for every host that a host file can hold:
/// at most 1024 accelerators, a finite priority, and `cores`, `cpu_per_gpu`
/// and `min_gpu` at most `i64::MAX` (TOML integers are 64-bit signed).
///
/// Sizes are written as strings with the largest exact unit (`"32GiB"`),
/// durations likewise (`"10d"`), and identical consecutive accelerators are
/// grouped into one entry with `count = N`.
pub fn to_toml_string(host: &HostSpec) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(out, "cores = {}", host.cores);
    let _ = writeln!(out, "memory = \"{}\"", host.memory);
    if let Some(size) = host.mem_per_cpu {
        let _ = writeln!(out, "mem_per_cpu = \"{size}\"");
    }
    if let Some(cores) = host.cpu_per_gpu {
        let _ = writeln!(out, "cpu_per_gpu = {cores}");
    }
    if host.max_duration.is_zero() {
        out.push_str("max_duration = 0  # unlimited\n");
    } else {
        let _ = writeln!(out, "max_duration = \"{}\"", host.max_duration);
    }
    let _ = writeln!(out, "priority = {}", format_priority(host.priority));
    let _ = writeln!(out, "min_gpu = {}", host.min_gpu);
    if host.accelerators.is_empty() {
        out.push_str("accelerators = []\n");
        return out;
    }
    out.push_str("accelerators = [\n");
    let mut i = 0;
    while i < host.accelerators.len() {
        let first = &host.accelerators[i];
        let run = host.accelerators[i..]
            .iter()
            .take(MAX_ACCELERATORS as usize)
            .take_while(|a| *a == first)
            .count();
        write_entry(&mut out, first, run);
        i += run;
    }
    out.push_str("]\n");
    out
}

fn write_entry(out: &mut String, acc: &AcceleratorSpec, count: usize) {
    let _ = write!(
        out,
        "  {{ kind = \"{}\", memory = \"{}\"",
        acc.kind.host_name(),
        acc.memory
    );
    if !acc.min_memory.is_zero() {
        let _ = write!(out, ", min_memory = \"{}\"", acc.min_memory);
    }
    if let Some(model) = &acc.model {
        let _ = write!(out, ", model = {}", toml_string(model));
    }
    if let Some(slurm_type) = &acc.slurm_type {
        let _ = write!(out, ", slurm_type = {}", toml_string(slurm_type));
    }
    if count > 1 {
        let _ = write!(out, ", count = {count}");
    }
    out.push_str(" },\n");
}

/// A TOML basic string holding `text`.
fn toml_string(text: &str) -> String {
    use toml_writer::ToTomlValue as _;
    toml_writer::TomlStringBuilder::new(text)
        .as_basic()
        .to_toml_value()
}

/// An integer when the priority is one (and fits TOML's i64), else a float
/// in a form TOML reads back exactly.
fn format_priority(priority: f64) -> String {
    // 2^63 as f64; integers below it in magnitude fit i64.
    const I64_BOUND: f64 = 9_223_372_036_854_775_808.0;
    if priority.is_finite() && priority.fract() == 0.0 && priority.abs() < I64_BOUND {
        format!("{}", priority as i64)
    } else if priority.is_nan() {
        "nan".to_owned()
    } else {
        // Debug writes `1.5`, `1e300`, `inf`, `-inf`: all valid TOML floats.
        format!("{priority:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(toml_string("A100"), "\"A100\"");
        assert_eq!(toml_string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }

    #[test]
    fn priorities() {
        assert_eq!(format_priority(0.0), "0");
        assert_eq!(format_priority(-3.0), "-3");
        assert_eq!(format_priority(2.5), "2.5");
        assert_eq!(format_priority(1e300), "1e300");
        assert_eq!(format_priority(f64::INFINITY), "inf");
        assert_eq!(format_priority(f64::NAN), "nan");
    }
}
