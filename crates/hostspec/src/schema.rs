//! The host file schema: what the files hold, before it becomes a
//! [`HostSpec`].
//!
//! Every value that can be wrong is checked while it is deserialized, so the
//! error carries the position (line and column) the TOML or JSON
//! deserializer knows, and `serde_path_to_error` adds the key.

use std::fmt;

use core_types::{AcceleratorKind, AcceleratorSpec, HostSpec, MemSize, Walltime};
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// The most accelerators one entry (`count`) and one host may hold.
pub const MAX_ACCELERATORS: u64 = core_types::MAX_ACCELERATORS as u64;

/// The top level of a host file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHost {
    cores: u64,
    memory: MemSize,
    #[serde(default)]
    mem_per_cpu: Option<MemSize>,
    #[serde(default)]
    cpu_per_gpu: Option<u64>,
    #[serde(default)]
    max_duration: Option<Walltime>,
    #[serde(default)]
    priority: Option<Priority>,
    #[serde(default)]
    min_gpu: Option<u64>,
    #[serde(default)]
    accelerators: AcceleratorList,
}

/// The host table of a host file, for files that embed one (the launcher
/// file's `host = { ... }`): deserialize it with any serde deserializer,
/// then take its [`HostSpec`] with [`HostTable::into_host`]. It accepts
/// and checks exactly what a host file does.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct HostTable(RawHost);

impl HostTable {
    /// The host this table describes.
    pub fn into_host(self) -> HostSpec {
        self.0.into_host()
    }
}

/// One `accelerators` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccelerator {
    kind: Kind,
    memory: MemSize,
    #[serde(default)]
    min_memory: Option<MemSize>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    slurm_type: Option<String>,
    #[serde(default)]
    count: Option<Count>,
}

impl RawHost {
    /// The host this file describes (every check was made while reading).
    pub(crate) fn into_host(self) -> HostSpec {
        let mut accelerators = Vec::new();
        for entry in self.accelerators.0 {
            let count = entry.count.map_or(1, |c| c.0);
            let spec = AcceleratorSpec {
                kind: entry.kind.0,
                memory: entry.memory,
                min_memory: entry.min_memory.unwrap_or(MemSize::ZERO),
                model: entry.model,
                slurm_type: entry.slurm_type,
            };
            for _ in 0..count {
                accelerators.push(spec.clone());
            }
        }
        HostSpec {
            cores: self.cores,
            memory: self.memory,
            mem_per_cpu: self.mem_per_cpu,
            cpu_per_gpu: self.cpu_per_gpu,
            accelerators,
            max_duration: self.max_duration.unwrap_or(Walltime::ZERO),
            priority: self.priority.map_or(0.0, |p| p.0),
            min_gpu: self.min_gpu.unwrap_or(0),
        }
    }
}

/// An accelerator kind: `cuda`, `mps`, `rocm`, `generic` (or its alias `gpu`).
#[derive(Debug)]
struct Kind(AcceleratorKind);

/// Parses a kind name of a host file (`gpu` is an alias of `generic`).
pub fn parse_kind(name: &str) -> Option<AcceleratorKind> {
    match name {
        "cuda" => Some(AcceleratorKind::Cuda),
        "mps" => Some(AcceleratorKind::Mps),
        "rocm" => Some(AcceleratorKind::Rocm),
        "generic" | "gpu" => Some(AcceleratorKind::Generic),
        _ => None,
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KindVisitor;
        impl Visitor<'_> for KindVisitor {
            type Value = Kind;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an accelerator kind: cuda, mps, rocm, generic or gpu")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
                parse_kind(v).map(Kind).ok_or_else(|| {
                    E::custom(format!(
                        "unknown accelerator kind `{v}` (expected cuda, mps, rocm, generic or gpu)"
                    ))
                })
            }
        }
        d.deserialize_str(KindVisitor)
    }
}

/// An accelerator entry's `count`: 1 to [`MAX_ACCELERATORS`].
#[derive(Debug)]
struct Count(u64);

fn check_count<E: de::Error>(v: i128) -> Result<Count, E> {
    if (1..=i128::from(MAX_ACCELERATORS)).contains(&v) {
        Ok(Count(v as u64))
    } else {
        Err(E::custom(format!(
            "{v} is not a valid count (1 to {MAX_ACCELERATORS})"
        )))
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl Visitor<'_> for CountVisitor {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a count: an integer from 1 to {MAX_ACCELERATORS}")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                check_count(i128::from(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                check_count(i128::from(v))
            }
        }
        d.deserialize_any(CountVisitor)
    }
}

/// A priority: any finite number (an integer or a float; NaN and the
/// infinities are refused). The launcher file's priorities use it too.
#[derive(Debug, Clone, Copy)]
pub struct Priority(pub f64);

impl<'de> Deserialize<'de> for Priority {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PriorityVisitor;
        impl Visitor<'_> for PriorityVisitor {
            type Value = Priority;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a priority: a finite number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Priority, E> {
                Ok(Priority(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Priority, E> {
                Ok(Priority(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Priority, E> {
                if v.is_finite() {
                    Ok(Priority(v))
                } else {
                    Err(E::custom(format!("{v} is not a finite number")))
                }
            }
        }
        d.deserialize_any(PriorityVisitor)
    }
}

/// The `accelerators` list; refuses a host with more than
/// [`MAX_ACCELERATORS`] accelerators in all.
#[derive(Debug, Default)]
struct AcceleratorList(Vec<RawAccelerator>);

impl<'de> Deserialize<'de> for AcceleratorList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = AcceleratorList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of accelerators")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AcceleratorList, A::Error> {
                let mut list = Vec::new();
                let mut total: u64 = 0;
                while let Some(entry) = seq.next_element::<RawAccelerator>()? {
                    total = total.saturating_add(entry.count.as_ref().map_or(1, |c| c.0));
                    if total > MAX_ACCELERATORS {
                        return Err(de::Error::custom(format!(
                            "more than {MAX_ACCELERATORS} accelerators in all (the most a host may have)"
                        )));
                    }
                    list.push(entry);
                }
                Ok(AcceleratorList(list))
            }
        }
        d.deserialize_seq(ListVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_alias() {
        assert_eq!(parse_kind("gpu"), Some(AcceleratorKind::Generic));
        assert_eq!(parse_kind("generic"), Some(AcceleratorKind::Generic));
        assert_eq!(parse_kind("rocm"), Some(AcceleratorKind::Rocm));
        assert_eq!(parse_kind("CUDA"), None);
    }

    #[test]
    fn counts_expand() {
        let raw: RawHost = serde_json::from_str(
            r#"{"cores": 2, "memory": "4GiB", "accelerators": [
                {"kind": "cuda", "memory": 1024, "count": 3},
                {"kind": "gpu", "memory": "1G", "min_memory": "1M"}]}"#,
        )
        .unwrap();
        let host = raw.into_host();
        assert_eq!(host.accelerators.len(), 4);
        assert_eq!(host.accelerators[3].kind, AcceleratorKind::Generic);
        assert_eq!(host.accelerators[3].min_memory.bytes(), 1_000_000);
        assert_eq!(host.max_duration, Walltime::ZERO);
    }

    #[test]
    fn count_bounds() {
        for bad in ["0", "-3", "1025", "1000000000", "18446744073709551615"] {
            let text = format!(
                r#"{{"cores": 2, "memory": 1, "accelerators": [{{"kind": "cuda", "memory": 1, "count": {bad}}}]}}"#
            );
            let err = serde_json::from_str::<RawHost>(&text).unwrap_err();
            assert!(err.to_string().contains("(1 to 1024)"), "{err}");
        }
    }

    #[test]
    fn total_bound() {
        let text = r#"{"cores": 2, "memory": 1, "accelerators": [
            {"kind": "cuda", "memory": 1, "count": 1000},
            {"kind": "cuda", "memory": 1, "count": 25}]}"#;
        let err = serde_json::from_str::<RawHost>(text).unwrap_err();
        assert!(err.to_string().contains("more than 1024"), "{err}");
    }

    #[test]
    fn priority_must_be_finite() {
        let err = toml::from_str::<RawHost>("cores = 1\nmemory = 1\npriority = nan\n").unwrap_err();
        assert!(err.to_string().contains("not a finite number"), "{err}");
        let ok: RawHost = toml::from_str("cores = 1\nmemory = 1\npriority = 2.5\n").unwrap();
        assert!((ok.into_host().priority - 2.5).abs() < f64::EPSILON);
    }
}
