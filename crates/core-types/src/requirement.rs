//! What a job asks for: an ordered list of alternatives.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{MemSize, ValueError, Walltime};

/// The most accelerators one alternative may ask for. Requests past it are
/// refused at parse time instead of allocating a huge list.
pub const MAX_ACCELERATORS: usize = 1024;

/// The kind of an accelerator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AcceleratorKind {
    /// NVIDIA CUDA (dedicated memory).
    Cuda,
    /// Apple Metal Performance Shaders (memory shared with the CPU).
    Mps,
    /// AMD `ROCm` (dedicated memory).
    Rocm,
    /// Any kind: in a request (`gpu(...)`) it accepts every kind; on a host it
    /// is a device of unknown kind, served only to `gpu(...)` requests.
    #[serde(alias = "gpu")]
    Generic,
}

impl AcceleratorKind {
    /// The keyword of the requirement language (`gpu` for [`Generic`](Self::Generic)).
    pub const fn keyword(self) -> &'static str {
        match self {
            AcceleratorKind::Cuda => "cuda",
            AcceleratorKind::Mps => "mps",
            AcceleratorKind::Rocm => "rocm",
            AcceleratorKind::Generic => "gpu",
        }
    }

    /// The name in host files (`generic` for [`Generic`](Self::Generic)).
    pub const fn host_name(self) -> &'static str {
        match self {
            AcceleratorKind::Generic => "generic",
            other => other.keyword(),
        }
    }

    /// Whether a request of kind `self` may be served by a host device of
    /// kind `device`.
    pub const fn accepts(self, device: AcceleratorKind) -> bool {
        matches!(self, AcceleratorKind::Generic) || self as u8 == device as u8
    }
}

impl fmt::Display for AcceleratorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `serialize_with` passes a reference
fn serialize_keyword<S: serde::Serializer>(
    kind: &AcceleratorKind,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.keyword())
}

/// One requested accelerator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AcceleratorRequest {
    /// The kind asked for (`Generic` accepts any).
    #[serde(serialize_with = "serialize_keyword")]
    pub kind: AcceleratorKind,
    /// The least memory the device must have.
    pub memory: MemSize,
}

/// The CPU part of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct CpuRequest {
    /// Cores (0 when no `cpu(...)` term was given).
    pub cores: u64,
    /// CPU memory.
    pub memory: MemSize,
}

/// One way to run a job: everything it needs on one host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Alternative {
    /// How long the job runs (0: not said).
    #[serde(rename = "duration_s")]
    pub duration: Walltime,
    /// Cores and CPU memory.
    pub cpu: CpuRequest,
    /// The accelerators, largest memory first (stable for equal memory).
    pub accelerators: Vec<AcceleratorRequest>,
}

impl Alternative {
    /// Combines `other` into `self` as `&` does: CPU memory, cores and
    /// duration take the maximum, accelerators are concatenated and sorted
    /// by memory, largest first (stable).
    pub fn combine(&mut self, other: &Alternative) -> Result<(), ValueError> {
        self.cpu.memory = self.cpu.memory.max(other.cpu.memory);
        self.cpu.cores = self.cpu.cores.max(other.cpu.cores);
        self.duration = self.duration.max(other.duration);
        self.add_accelerators(&other.accelerators)
    }

    /// Appends accelerators, keeping the order invariant and the
    /// [`MAX_ACCELERATORS`] bound.
    pub fn add_accelerators(&mut self, extra: &[AcceleratorRequest]) -> Result<(), ValueError> {
        let total = self.accelerators.len().saturating_add(extra.len());
        if total > MAX_ACCELERATORS {
            return Err(ValueError::Overflow {
                what: "count",
                input: format!("{total} accelerators in one alternative"),
                max: MAX_ACCELERATORS.to_string(),
            });
        }
        self.accelerators.extend_from_slice(extra);
        self.accelerators
            .sort_by_key(|a| std::cmp::Reverse(a.memory));
        Ok(())
    }

    /// The total memory requested for `mps` (unified memory) accelerators.
    pub fn unified_memory(&self) -> Option<MemSize> {
        self.accelerators
            .iter()
            .filter(|a| a.kind == AcceleratorKind::Mps)
            .try_fold(MemSize::ZERO, |sum, a| sum.checked_add(a.memory))
    }
}

/// Writes the canonical form: `duration=40h & cpu(mem=700GiB, cores=16) & cuda(mem=32GiB) * 8`.
impl fmt::Display for Alternative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            if first {
                first = false;
                Ok(())
            } else {
                f.write_str(" & ")
            }
        };
        if !self.duration.is_zero() {
            sep(f)?;
            write!(f, "duration={}", self.duration)?;
        }
        // A `cpu(...)` term is written whenever it says something; a bare
        // `cpu()` means one core, so zero cores and no memory write nothing.
        if self.cpu.cores > 0 || !self.cpu.memory.is_zero() {
            sep(f)?;
            f.write_str("cpu(")?;
            if !self.cpu.memory.is_zero() {
                write!(f, "mem={}, ", self.cpu.memory)?;
            }
            write!(f, "cores={})", self.cpu.cores)?;
        }
        let mut i = 0;
        while i < self.accelerators.len() {
            let a = self.accelerators[i];
            let run = self.accelerators[i..]
                .iter()
                .take_while(|b| **b == a)
                .count();
            sep(f)?;
            if a.memory.is_zero() {
                write!(f, "{}()", a.kind)?;
            } else {
                write!(f, "{}(mem={})", a.kind, a.memory)?;
            }
            if run > 1 {
                write!(f, " * {run}")?;
            }
            i += run;
        }
        if first {
            // Nothing asked: the smallest term that parses to this value.
            f.write_str("duration=0s")?;
        }
        Ok(())
    }
}

/// A job's requirement: alternatives in order of preference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Requirement {
    /// The alternatives, in the order they were written.
    pub alternatives: Vec<Alternative>,
}

impl Requirement {
    /// A copy whose durations are `ceil(d * factor)`.
    pub fn multiply_duration(&self, factor: f64) -> Result<Requirement, ValueError> {
        let mut copy = self.clone();
        for alt in &mut copy.alternatives {
            alt.duration = alt.duration.checked_mul_f64(factor)?;
        }
        Ok(copy)
    }
}

/// Writes the canonical form, alternatives joined by ` | `.
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, alt) in self.alternatives.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{alt}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cuda(gib: u64) -> AcceleratorRequest {
        AcceleratorRequest {
            kind: AcceleratorKind::Cuda,
            memory: MemSize::from_bytes(gib << 30),
        }
    }

    #[test]
    fn combine_takes_max_and_sorts_accelerators() {
        let mut a = Alternative {
            duration: Walltime::from_seconds(3600),
            cpu: CpuRequest {
                cores: 2,
                memory: MemSize::from_bytes(10),
            },
            accelerators: vec![cuda(8)],
        };
        let b = Alternative {
            duration: Walltime::from_seconds(60),
            cpu: CpuRequest {
                cores: 4,
                memory: MemSize::from_bytes(5),
            },
            accelerators: vec![cuda(16), cuda(8)],
        };
        a.combine(&b).unwrap();
        assert_eq!(a.duration.seconds(), 3600);
        assert_eq!(
            a.cpu,
            CpuRequest {
                cores: 4,
                memory: MemSize::from_bytes(10)
            }
        );
        assert_eq!(a.accelerators, vec![cuda(16), cuda(8), cuda(8)]);
    }

    #[test]
    fn accelerator_bound_is_enforced() {
        let mut a = Alternative::default();
        a.add_accelerators(&vec![cuda(1); MAX_ACCELERATORS])
            .unwrap();
        let err = a.add_accelerators(&[cuda(1)]).unwrap_err();
        assert!(err.to_string().contains("1024"), "{err}");
    }

    #[test]
    fn display_is_canonical() {
        let alt = Alternative {
            duration: Walltime::from_seconds(144_000),
            cpu: CpuRequest {
                cores: 16,
                memory: MemSize::from_bytes(700 << 30),
            },
            accelerators: vec![cuda(32); 8],
        };
        assert_eq!(
            alt.to_string(),
            "duration=40h & cpu(mem=700GiB, cores=16) & cuda(mem=32GiB) * 8"
        );
        assert_eq!(Alternative::default().to_string(), "duration=0s");
    }

    #[test]
    fn kinds() {
        assert!(AcceleratorKind::Generic.accepts(AcceleratorKind::Mps));
        assert!(AcceleratorKind::Cuda.accepts(AcceleratorKind::Cuda));
        assert!(!AcceleratorKind::Cuda.accepts(AcceleratorKind::Generic));
        let json = serde_json::to_string(&AcceleratorRequest {
            kind: AcceleratorKind::Generic,
            memory: MemSize::ZERO,
        })
        .unwrap();
        assert_eq!(json, r#"{"kind":"gpu","memory":0}"#);
    }
}
