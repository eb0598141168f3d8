//! Why an alternative does not match a host, in words.

use std::fmt::{self, Write as _};

use core_types::{AcceleratorRequest, AcceleratorSpec, Alternative, HostSpec, MemSize, Walltime};

use crate::bipartite::hopcroft_karp;
use crate::{AltMatch, PreparedHost, can_serve};

/// Why an alternative does not match a host: one rule that fails.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Mismatch {
    /// Rule 6: the job is longer than the host allows.
    #[error("asks for {requested}, the host allows at most {limit}")]
    TooLong {
        /// The alternative's duration.
        requested: Walltime,
        /// The host's `max_duration`.
        limit: Walltime,
    },
    /// Rule 4: more cores than the host has.
    #[error("asks for {}, the host has {available}", Count(*requested, "core"))]
    TooManyCores {
        /// Cores asked for.
        requested: u64,
        /// The host's cores.
        available: u64,
    },
    /// Rule 4: more CPU memory than the host has.
    #[error("asks for {requested} of memory, the host has {available}")]
    TooMuchMemory {
        /// CPU memory asked for.
        requested: MemSize,
        /// The host's memory.
        available: MemSize,
    },
    /// Rule 1: more accelerators than the host has.
    #[error("asks for {}, the host has {available}", Count(*requested as u64, "accelerator"))]
    TooFewAccelerators {
        /// Accelerators asked for.
        requested: usize,
        /// The host's accelerators.
        available: usize,
    },
    /// Rule 3: fewer accelerators than the host's `min_gpu`.
    #[error("asks for {}, the host takes only jobs with at least {min_gpu}", Count(*requested as u64, "accelerator"))]
    BelowMinGpu {
        /// Accelerators asked for.
        requested: usize,
        /// The host's `min_gpu`.
        min_gpu: u64,
    },
    /// Rule 5: `mps` memory and CPU memory together exceed the host's
    /// (unified) memory.
    #[error("{}", UnifiedText { accelerators: *accelerators, cpu: *cpu, available: *available })]
    UnifiedMemory {
        /// The requested `mps` memory (`None`: it overflows 64 bits).
        accelerators: Option<MemSize>,
        /// The requested CPU memory.
        cpu: MemSize,
        /// The host's memory.
        available: MemSize,
    },
    /// Rule 2: no way to give each requested accelerator its own device.
    /// `requests` is a smallest-known set of requests that cannot all be
    /// served (Hall's witness); `usable` the host devices that could serve
    /// any of them (fewer than the requests); `host` all the host's devices.
    #[error("{}", AssignmentText { requests, usable, host })]
    NoAssignment {
        /// Requests that cannot all be served together.
        requests: Vec<AcceleratorRequest>,
        /// The host devices that could serve some of them.
        usable: Vec<AcceleratorSpec>,
        /// All the host's devices.
        host: Vec<AcceleratorSpec>,
    },
}

/// `1 core`, `2 cores`.
struct Count(u64, &'static str);

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.0 == 1 { "" } else { "s" };
        write!(f, "{} {}{s}", self.0, self.1)
    }
}

struct UnifiedText {
    accelerators: Option<MemSize>,
    cpu: MemSize,
    available: MemSize,
}

impl fmt::Display for UnifiedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self
            .accelerators
            .and_then(|a| a.checked_add(self.cpu).map(|t| (a, t)))
        {
            Some((mps, total)) => write!(
                f,
                "asks for {mps} of mps memory and {} of CPU memory ({total} together), \
                 the host has {} of unified memory",
                self.cpu, self.available
            ),
            None => write!(
                f,
                "asks for more mps and CPU memory together than 64 bits can count, \
                 the host has {} of unified memory",
                self.available
            ),
        }
    }
}

struct AssignmentText<'a> {
    requests: &'a [AcceleratorRequest],
    usable: &'a [AcceleratorSpec],
    host: &'a [AcceleratorSpec],
}

impl fmt::Display for AssignmentText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Requests grouped by (kind, memory), in order of first appearance.
        let mut groups: Vec<(AcceleratorRequest, u64)> = Vec::new();
        for r in self.requests {
            match groups.iter_mut().find(|(g, _)| g == r) {
                Some((_, n)) => *n += 1,
                None => groups.push((*r, 1)),
            }
        }
        let parts: Vec<String> = groups
            .iter()
            .map(|(r, n)| {
                let plural = if *n == 1 { "" } else { "s" };
                let what = format!("{n} {} accelerator{plural}", r.kind.keyword());
                if r.memory.is_zero() {
                    what
                } else {
                    format!("{what} of {}", r.memory)
                }
            })
            .collect();
        write!(f, "asks for {}, the host has ", join(&parts))?;
        write!(f, "{}", devices_text(self.host))?;
        let them = if self.requests.len() == 1 {
            "it"
        } else {
            "them"
        };
        match self.usable.len() {
            0 => write!(f, ", none of which can serve {them}"),
            n => write!(f, ", of which only {n} can serve {them}"),
        }
    }
}

/// `8 cuda accelerators of 24GiB and 2 mps accelerators of 64GiB (min 32GiB)`.
fn devices_text(devices: &[AcceleratorSpec]) -> String {
    if devices.is_empty() {
        return "no accelerators".to_owned();
    }
    let mut groups: Vec<(&AcceleratorSpec, u64)> = Vec::new();
    for d in devices {
        let same = |g: &AcceleratorSpec| {
            g.kind == d.kind && g.memory == d.memory && g.min_memory == d.min_memory
        };
        match groups.iter_mut().find(|(g, _)| same(g)) {
            Some((_, n)) => *n += 1,
            None => groups.push((d, 1)),
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(d, n)| {
            let plural = if *n == 1 { "" } else { "s" };
            let mut text = format!(
                "{n} {} accelerator{plural} of {}",
                d.kind.host_name(),
                d.memory
            );
            if !d.min_memory.is_zero() {
                let _ = write!(text, " (min {})", d.min_memory);
            }
            text
        })
        .collect();
    join(&parts)
}

/// `a`, `a and b`, `a, b and c`.
fn join(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Every rule that `alt` fails on `host`, in the order: duration, cores,
/// memory, accelerator count, `min_gpu`, unified memory, assignment (the
/// assignment only when the count allows one). Empty when it matches.
pub fn mismatches(alt: &Alternative, host: &HostSpec) -> Vec<Mismatch> {
    let mut found = Vec::new();
    if !host.max_duration.is_zero() && alt.duration > host.max_duration {
        found.push(Mismatch::TooLong {
            requested: alt.duration,
            limit: host.max_duration,
        });
    }
    if alt.cpu.cores > host.cores {
        found.push(Mismatch::TooManyCores {
            requested: alt.cpu.cores,
            available: host.cores,
        });
    }
    if alt.cpu.memory > host.memory {
        found.push(Mismatch::TooMuchMemory {
            requested: alt.cpu.memory,
            available: host.memory,
        });
    }
    let requested = alt.accelerators.len();
    let enough = requested <= host.accelerators.len();
    if !enough {
        found.push(Mismatch::TooFewAccelerators {
            requested,
            available: host.accelerators.len(),
        });
    }
    if (requested as u64) < host.min_gpu {
        found.push(Mismatch::BelowMinGpu {
            requested,
            min_gpu: host.min_gpu,
        });
    }
    let mps = alt.unified_memory();
    if mps
        .and_then(|m| m.checked_add(alt.cpu.memory))
        .is_none_or(|total| total > host.memory)
    {
        found.push(Mismatch::UnifiedMemory {
            accelerators: mps,
            cpu: alt.cpu.memory,
            available: host.memory,
        });
    }
    if enough {
        let matching = hopcroft_karp(requested, host.accelerators.len(), |i, j| {
            can_serve(&host.accelerators[j], &alt.accelerators[i])
        });
        if let Some((requests, usable)) = matching.hall_witness() {
            found.push(Mismatch::NoAssignment {
                requests: requests.iter().map(|&i| alt.accelerators[i]).collect(),
                usable: usable
                    .iter()
                    .map(|&j| host.accelerators[j].clone())
                    .collect(),
                host: host.accelerators.clone(),
            });
        }
    }
    found
}

/// Matches `alt` against `host` like [`match_alternative`](crate::match_alternative),
/// or says why not: the first rule that fails, in the order of
/// [`mismatches`].
pub fn explain_alternative(alt: &Alternative, host: &HostSpec) -> Result<AltMatch, Mismatch> {
    if let Some(found) = PreparedHost::new(host).match_alternative(alt) {
        return Ok(found);
    }
    match mismatches(alt, host).into_iter().next() {
        Some(first) => Err(first),
        // Unreachable when the matcher and the rules agree (a property
        // test checks it); say so rather than panic.
        None => Err(Mismatch::NoAssignment {
            requests: alt.accelerators.clone(),
            usable: Vec::new(),
            host: host.accelerators.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_types::{AcceleratorKind, CpuRequest};

    const GIB: u64 = 1 << 30;

    fn spec(kind: AcceleratorKind, gib: u64, min: u64) -> AcceleratorSpec {
        AcceleratorSpec {
            kind,
            memory: MemSize::from_bytes(gib * GIB),
            min_memory: MemSize::from_bytes(min * GIB),
            model: None,
            slurm_type: None,
        }
    }

    fn req(kind: AcceleratorKind, gib: u64) -> AcceleratorRequest {
        AcceleratorRequest {
            kind,
            memory: MemSize::from_bytes(gib * GIB),
        }
    }

    fn host() -> HostSpec {
        HostSpec {
            cores: 16,
            memory: MemSize::from_bytes(64 * GIB),
            accelerators: vec![spec(AcceleratorKind::Cuda, 24, 0); 8],
            max_duration: Walltime::from_seconds(86_400),
            ..HostSpec::default()
        }
    }

    fn first(alt: &Alternative, host: &HostSpec) -> String {
        explain_alternative(alt, host).unwrap_err().to_string()
    }

    #[test]
    fn words() {
        let h = host();
        let alt = Alternative {
            accelerators: vec![req(AcceleratorKind::Cuda, 40); 2],
            ..Alternative::default()
        };
        assert_eq!(
            first(&alt, &h),
            "asks for 2 cuda accelerators of 40GiB, the host has 8 cuda accelerators of 24GiB, \
             none of which can serve them"
        );
        let alt = Alternative {
            cpu: CpuRequest {
                cores: 20,
                memory: MemSize::ZERO,
            },
            ..Alternative::default()
        };
        assert_eq!(first(&alt, &h), "asks for 20 cores, the host has 16");
        let alt = Alternative {
            duration: Walltime::from_seconds(48 * 3600),
            ..Alternative::default()
        };
        assert_eq!(first(&alt, &h), "asks for 2d, the host allows at most 1d");
        let alt = Alternative {
            cpu: CpuRequest {
                cores: 1,
                memory: MemSize::from_bytes(100 * GIB),
            },
            ..Alternative::default()
        };
        let all: Vec<String> = mismatches(&alt, &h)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            all,
            [
                "asks for 100GiB of memory, the host has 64GiB",
                "asks for 0B of mps memory and 100GiB of CPU memory (100GiB together), \
                 the host has 64GiB of unified memory",
            ]
        );
    }

    #[test]
    fn counts_and_min_gpu() {
        let mut h = host();
        h.min_gpu = 2;
        let one = Alternative {
            accelerators: vec![req(AcceleratorKind::Cuda, 8)],
            ..Alternative::default()
        };
        assert_eq!(
            first(&one, &h),
            "asks for 1 accelerator, the host takes only jobs with at least 2"
        );
        let nine = Alternative {
            accelerators: vec![req(AcceleratorKind::Cuda, 8); 9],
            ..Alternative::default()
        };
        assert_eq!(first(&nine, &h), "asks for 9 accelerators, the host has 8");
        assert!(
            explain_alternative(
                &Alternative {
                    accelerators: vec![req(AcceleratorKind::Cuda, 8); 2],
                    ..Alternative::default()
                },
                &h
            )
            .is_ok()
        );
    }

    #[test]
    fn hall_witness_in_words() {
        let h = HostSpec {
            cores: 8,
            memory: MemSize::from_bytes(64 * GIB),
            accelerators: vec![
                spec(AcceleratorKind::Cuda, 80, 40),
                spec(AcceleratorKind::Cuda, 16, 0),
                spec(AcceleratorKind::Mps, 32, 0),
            ],
            ..HostSpec::default()
        };
        let alt = Alternative {
            accelerators: vec![
                req(AcceleratorKind::Cuda, 16),
                req(AcceleratorKind::Generic, 16),
                req(AcceleratorKind::Cuda, 8),
            ],
            ..Alternative::default()
        };
        assert_eq!(
            first(&alt, &h),
            "asks for 1 cuda accelerator of 16GiB and 1 cuda accelerator of 8GiB, \
                   the host has 1 cuda accelerator of 80GiB (min 40GiB), \
                   1 cuda accelerator of 16GiB and 1 mps accelerator of 32GiB, \
                   of which only 1 can serve them"
        );
    }
}
