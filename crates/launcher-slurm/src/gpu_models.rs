//! What a GPU's GRES type says of it: its memory and its kind.
//!
//! Slurm does not know how much memory a GPU has. It is taken from the GRES
//! type when the name says it (`a100-sxm4-80gb`, MIG slices such as
//! `1g.10gb`), else from tables of common models and MIG profiles, at the
//! smallest memory each was sold with (so a match never over-promises),
//! else left unknown. Pure functions of the name.

use core_types::{AcceleratorKind, MemSize};

/// Where a GPU's memory came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuMemory {
    /// The GRES type says it (`80gb`).
    FromName(MemSize),
    /// A model of the built-in table (the model's key, its smallest memory).
    FromModel(&'static str, MemSize),
    /// A MIG slice whose name gives its profile (`3g`) but not its memory:
    /// the smallest slice of that profile on the model (the model's key,
    /// the profile, the memory).
    FromSlice(&'static str, &'static str, MemSize),
    /// Unknown.
    Unknown,
}

impl GpuMemory {
    /// The memory, zero when unknown.
    pub fn size(&self) -> MemSize {
        match self {
            GpuMemory::FromName(m) | GpuMemory::FromModel(_, m) | GpuMemory::FromSlice(_, _, m) => {
                *m
            }
            GpuMemory::Unknown => MemSize::ZERO,
        }
    }
}

/// Common GPU models and the smallest memory each is sold with, in GB
/// (decimal, which is below what the cards report in GiB), per device
/// Slurm counts: an MI250(X) is two devices of 64 GB, a K80 two of 12 GB.
/// A key matches where the name has it and no digit follows (`a10` is not
/// `a100`); a key that ends in a letter (`v100s`, `l40s`) must also end a
/// word (`v100sxm2` is a V100 in SXM2 form, not a V100S).
pub const GPU_MODELS: &[(&str, u64)] = &[
    ("gh200", 96),
    ("h200", 141),
    // H100 SXM5 was also sold with 64 GB.
    ("h100", 64),
    ("h800", 80),
    ("b200", 180),
    // A100 64 GB exists (custom), above the 40 GB model.
    ("a100", 40),
    ("a800", 40),
    ("a40", 48),
    ("a30", 24),
    ("a16", 16),
    ("a10g", 24),
    ("a10", 24),
    ("a2", 16),
    ("l40s", 48),
    ("l40", 48),
    ("l4", 24),
    ("t4", 16),
    ("v100s", 32),
    // V100 was sold with 16 and 32 GB, in PCIe and SXM2 forms alike.
    ("v100", 16),
    ("p100", 12),
    ("p40", 24),
    ("p4", 8),
    ("k80", 12),
    ("k40", 12),
    ("titanrtx", 24),
    ("titanv", 12),
    ("titanxp", 12),
    ("rtx8000", 48),
    ("rtx6000ada", 48),
    ("rtx6000", 24),
    ("a6000", 48),
    ("a5500", 24),
    ("a5000", 24),
    ("a4500", 20),
    ("a4000", 16),
    ("a2000", 6),
    ("4090", 24),
    ("4080", 16),
    ("4070", 12),
    ("3090", 24),
    ("3080", 10),
    ("3070", 8),
    ("3060", 8),
    ("2080ti", 11),
    ("2080", 8),
    ("1080ti", 11),
    ("1080", 8),
    ("mi300x", 192),
    ("mi250x", 64),
    ("mi250", 64),
    ("mi210", 64),
    ("mi100", 32),
    ("mi60", 32),
    ("mi50", 16),
];

/// MIG profiles without their memory in the name (`a100_3g`): the smallest
/// slice of that profile on the smallest memory of the model, in GB.
pub const MIG_SLICES: &[(&str, &str, u64)] = &[
    ("a100", "1g", 5),
    ("a100", "2g", 10),
    ("a100", "3g", 20),
    ("a100", "4g", 20),
    ("a100", "7g", 40),
    ("a30", "1g", 6),
    ("a30", "2g", 12),
    ("a30", "4g", 24),
    ("h100", "1g", 10),
    ("h100", "2g", 20),
    ("h100", "3g", 40),
    ("h100", "4g", 40),
    ("h100", "7g", 80),
    ("h200", "1g", 18),
    ("h200", "2g", 35),
    ("h200", "3g", 71),
    ("h200", "4g", 71),
    ("h200", "7g", 141),
];

/// The GPU compute slices of MIG profiles: `3g` in `3g.40gb` or `a100_3g`
/// is a slice, never a memory.
const MIG_PROFILES: &[&str] = &["1g", "2g", "3g", "4g", "7g"];

fn tokens(kind: &str) -> Vec<String> {
    kind.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The memory a GRES type name states: a token `NNgb`, or `NNg` that is not
/// the first word nor a MIG compute slice (`1g` ... `7g`), in GB.
fn memory_in_name(kind: &str) -> Option<MemSize> {
    let tokens = tokens(kind);
    let size = |t: &str, suffix: &str| -> Option<u64> {
        let digits = t.strip_suffix(suffix)?;
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
    };
    let gb = tokens
        .iter()
        .rev()
        .find_map(|t| size(t, "gb"))
        .or_else(|| {
            tokens
                .iter()
                .skip(1)
                .rev()
                .filter(|t| !MIG_PROFILES.contains(&t.as_str()))
                .find_map(|t| size(t, "g"))
                .filter(|&g| g >= 4)
        })?;
    Some(MemSize::from_bytes(gb.checked_mul(1_000_000_000)?)).filter(|m| !m.is_zero())
}

/// The MIG profile a name gives (`3g` in `a100_3g`), when it gives one.
fn mig_profile(kind: &str) -> Option<&'static str> {
    let tokens = tokens(kind);
    let has_mig_word = tokens.iter().any(|t| t == "mig");
    tokens
        .iter()
        .skip(1)
        .chain(tokens.first().filter(|_| has_mig_word))
        .find_map(|t| MIG_PROFILES.iter().copied().find(|p| *p == t))
}

/// The model of the table a GRES type names, when one.
fn model_of(kind: &str) -> Option<(&'static str, u64)> {
    let lower = kind.to_ascii_lowercase();
    // Separators kept as `_`, so that a key may span them (`quadro_rtx_8000`
    // is `rtx8000`) while word ends stay visible.
    let name: String = lower
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '))
        .collect();
    let squeezed: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    // The positions in `squeezed` where a word of `name` ends.
    let mut word_ends = Vec::new();
    let mut at = 0;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            at += 1;
        } else {
            word_ends.push(at);
        }
    }
    word_ends.push(at);
    let mut best: Option<(&'static str, u64)> = None;
    for &(key, gb) in GPU_MODELS {
        let found = squeezed.match_indices(key).any(|(at, _)| {
            let end = at + key.len();
            let next = squeezed[end..].chars().next();
            let ends_in_letter = key.ends_with(|c: char| c.is_ascii_alphabetic());
            let at_word_end = next.is_none() || word_ends.contains(&end);
            at_word_end || (!next.is_some_and(|c| c.is_ascii_digit()) && !ends_in_letter)
        });
        if found && best.is_none_or(|(b, _)| key.len() > b.len()) {
            best = Some((key, gb));
        }
    }
    best
}

/// How much memory a GPU of this GRES type has, as far as its name says.
pub fn gpu_memory(kind: &str) -> GpuMemory {
    if let Some(size) = memory_in_name(kind) {
        return GpuMemory::FromName(size);
    }
    let model = model_of(kind);
    if let Some(profile) = mig_profile(kind) {
        // A slice: never its parent card's memory.
        return model
            .and_then(|(m, _)| {
                MIG_SLICES
                    .iter()
                    .find(|(sm, sp, _)| *sm == m && *sp == profile)
            })
            .map_or(GpuMemory::Unknown, |&(m, p, gb)| {
                GpuMemory::FromSlice(m, p, MemSize::from_bytes(gb * 1_000_000_000))
            });
    }
    match model {
        Some((model, gb)) => GpuMemory::FromModel(model, MemSize::from_bytes(gb * 1_000_000_000)),
        None => GpuMemory::Unknown,
    }
}

/// The accelerator kind of a GRES type: AMD Instinct models are `ROCm`,
/// Intel's data-center GPUs (`max1550`, `pvc`, `flex170`) generic, the
/// rest CUDA (Slurm's `gpu` GRES is NVIDIA on most clusters).
pub fn gpu_kind(kind: &str) -> AcceleratorKind {
    let tokens = tokens(kind);
    let intel = tokens.iter().any(|t| {
        t == "intel"
            || t == "pvc"
            || (t.starts_with("max") && t[3..].bytes().all(|b| b.is_ascii_digit()) && t.len() > 3)
            || (t.starts_with("flex") && t.len() > 4)
    });
    if intel {
        return AcceleratorKind::Generic;
    }
    match model_of(kind) {
        Some((model, _)) if model.starts_with("mi") => AcceleratorKind::Rocm,
        _ if tokens.iter().any(|t| {
            t == "amd" || t.starts_with("mi") && t[2..].starts_with(|c: char| c.is_ascii_digit())
        }) =>
        {
            AcceleratorKind::Rocm
        }
        _ => AcceleratorKind::Cuda,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gb(n: u64) -> MemSize {
        MemSize::from_bytes(n * 1_000_000_000)
    }

    #[test]
    fn gpu_memory_from_names_and_models() {
        assert_eq!(gpu_memory("a100-sxm4-80gb"), GpuMemory::FromName(gb(80)));
        assert_eq!(gpu_memory("1g.10gb"), GpuMemory::FromName(gb(10)));
        assert_eq!(gpu_memory("3g.40gb"), GpuMemory::FromName(gb(40)));
        assert_eq!(
            gpu_memory("nvidia_h100_80gb_hbm3"),
            GpuMemory::FromName(gb(80))
        );
        assert_eq!(gpu_memory("a100_40g"), GpuMemory::FromName(gb(40)));
        assert_eq!(gpu_memory("a100"), GpuMemory::FromModel("a100", gb(40)));
        assert_eq!(
            gpu_memory("tesla_v100"),
            GpuMemory::FromModel("v100", gb(16))
        );
        assert_eq!(gpu_memory("v100s"), GpuMemory::FromModel("v100s", gb(32)));
        assert_eq!(gpu_memory("A10"), GpuMemory::FromModel("a10", gb(24)));
        assert_eq!(gpu_memory("l40s"), GpuMemory::FromModel("l40s", gb(48)));
        assert_eq!(gpu_memory("l4"), GpuMemory::FromModel("l4", gb(24)));
        assert_eq!(
            gpu_memory("rtx_a6000"),
            GpuMemory::FromModel("a6000", gb(48))
        );
        assert_eq!(
            gpu_memory("quadro_rtx_8000"),
            GpuMemory::FromModel("rtx8000", gb(48))
        );
        assert_eq!(
            gpu_memory("geforce_rtx_3090"),
            GpuMemory::FromModel("3090", gb(24))
        );
        assert_eq!(
            gpu_memory("gtx1080ti"),
            GpuMemory::FromModel("1080ti", gb(11))
        );
        assert_eq!(gpu_kind("mi250x"), AcceleratorKind::Rocm);
        assert_eq!(gpu_kind("a100"), AcceleratorKind::Cuda);
        assert_eq!(gpu_memory("frobnitz"), GpuMemory::Unknown);
        assert_eq!(gpu_memory(""), GpuMemory::Unknown);
    }

    /// One GRES name each, as clusters publish them (or as Slurm's NVML
    /// autodetection writes them), and what `launch` takes them for.
    #[test]
    #[allow(clippy::too_many_lines)] // a table, one name a line
    #[rustfmt::skip]
    fn real_gres_names() {
        use GpuMemory::{FromModel, FromName, FromSlice, Unknown};
        let cases: &[(&str, GpuMemory, AcceleratorKind)] = &[
            // Slurm's NVML autodetection (whole cards and MIG slices).
            ("nvidia_h100_80gb_hbm3", FromName(gb(80)), AcceleratorKind::Cuda),
            ("nvidia_h100_80gb_hbm3_1g.10gb", FromName(gb(10)), AcceleratorKind::Cuda),
            ("nvidia_h100_80gb_hbm3_3g.40gb", FromName(gb(40)), AcceleratorKind::Cuda),
            ("nvidia_a100-sxm4-80gb", FromName(gb(80)), AcceleratorKind::Cuda),
            ("nvidia_a100-pcie-40gb", FromName(gb(40)), AcceleratorKind::Cuda),
            ("nvidia_a100_3g.39gb", FromName(gb(39)), AcceleratorKind::Cuda),
            ("nvidia_geforce_rtx_2080_ti", FromModel("2080ti", gb(11)), AcceleratorKind::Cuda),
            ("nvidia_rtx_a6000", FromModel("a6000", gb(48)), AcceleratorKind::Cuda),
            ("tesla_t4", FromModel("t4", gb(16)), AcceleratorKind::Cuda),
            // Names admins write by hand.
            ("3g.40gb", FromName(gb(40)), AcceleratorKind::Cuda),
            ("2g.20gb", FromName(gb(20)), AcceleratorKind::Cuda),
            ("1g.10gb", FromName(gb(10)), AcceleratorKind::Cuda),
            ("a100_1g.5gb", FromName(gb(5)), AcceleratorKind::Cuda),
            ("a100_80g", FromName(gb(80)), AcceleratorKind::Cuda),
            ("v100-sxm2-32gb", FromName(gb(32)), AcceleratorKind::Cuda),
            // A name that says SXM2 but not the memory: the 16 GB card.
            ("v100-sxm2", FromModel("v100", gb(16)), AcceleratorKind::Cuda),
            ("v100sxm2", FromModel("v100", gb(16)), AcceleratorKind::Cuda),
            ("tesla_v100s", FromModel("v100s", gb(32)), AcceleratorKind::Cuda),
            ("v100", FromModel("v100", gb(16)), AcceleratorKind::Cuda),
            ("a100", FromModel("a100", gb(40)), AcceleratorKind::Cuda),
            ("a100-sxm4", FromModel("a100", gb(40)), AcceleratorKind::Cuda),
            ("h100", FromModel("h100", gb(64)), AcceleratorKind::Cuda),
            ("h100nvl", FromModel("h100", gb(64)), AcceleratorKind::Cuda),
            ("h200", FromModel("h200", gb(141)), AcceleratorKind::Cuda),
            ("gh200", FromModel("gh200", gb(96)), AcceleratorKind::Cuda),
            ("a40", FromModel("a40", gb(48)), AcceleratorKind::Cuda),
            ("l40s", FromModel("l40s", gb(48)), AcceleratorKind::Cuda),
            ("rtx8000", FromModel("rtx8000", gb(48)), AcceleratorKind::Cuda),
            ("quadro_rtx_6000", FromModel("rtx6000", gb(24)), AcceleratorKind::Cuda),
            ("rtx_6000_ada", FromModel("rtx6000ada", gb(48)), AcceleratorKind::Cuda),
            ("p100", FromModel("p100", gb(12)), AcceleratorKind::Cuda),
            ("k80", FromModel("k80", gb(12)), AcceleratorKind::Cuda),
            ("gtx1080", FromModel("1080", gb(8)), AcceleratorKind::Cuda),
            ("rtx3090", FromModel("3090", gb(24)), AcceleratorKind::Cuda),
            // MIG-style names without their memory: never the parent card's.
            ("a100_3g", FromSlice("a100", "3g", gb(20)), AcceleratorKind::Cuda),
            ("a100_1g", FromSlice("a100", "1g", gb(5)), AcceleratorKind::Cuda),
            ("h100_1g", FromSlice("h100", "1g", gb(10)), AcceleratorKind::Cuda),
            ("a100_7g", FromSlice("a100", "7g", gb(40)), AcceleratorKind::Cuda),
            ("a30_2g", FromSlice("a30", "2g", gb(12)), AcceleratorKind::Cuda),
            ("mig_3g", Unknown, AcceleratorKind::Cuda),
            ("l40s_2g", Unknown, AcceleratorKind::Cuda),
            // AMD: a device per GCD.
            ("mi250x", FromModel("mi250x", gb(64)), AcceleratorKind::Rocm),
            ("mi250", FromModel("mi250", gb(64)), AcceleratorKind::Rocm),
            ("mi210", FromModel("mi210", gb(64)), AcceleratorKind::Rocm),
            ("mi100", FromModel("mi100", gb(32)), AcceleratorKind::Rocm),
            ("mi300x", FromModel("mi300x", gb(192)), AcceleratorKind::Rocm),
            ("amd_mi50", FromModel("mi50", gb(16)), AcceleratorKind::Rocm),
            // Intel: unknown memory (tiles), not CUDA.
            ("max1550", Unknown, AcceleratorKind::Generic),
            ("intel_max_1100", Unknown, AcceleratorKind::Generic),
            // Names that say nothing.
            ("tesla", Unknown, AcceleratorKind::Cuda),
            ("gpu", Unknown, AcceleratorKind::Cuda),
        ];
        for (name, memory, kind) in cases {
            assert_eq!(&gpu_memory(name), memory, "{name}");
            assert_eq!(gpu_kind(name), *kind, "{name}");
        }
    }
}
