//! What a machine (or a Slurm partition, or a node type) offers.

use serde::{Deserialize, Serialize};

use crate::{AcceleratorKind, MemSize, Walltime};

/// One accelerator of a host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AcceleratorSpec {
    /// Its kind (`Generic` when unknown).
    pub kind: AcceleratorKind,
    /// Its memory.
    pub memory: MemSize,
    /// The least memory a request must ask for to be given this device
    /// (keeps small jobs off big cards).
    #[serde(default)]
    pub min_memory: MemSize,
    /// The model name, when known (`A100`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The GRES type Slurm knows it by (`a100-sxm4-80gb`), when known: the
    /// derived GPU option of a Slurm launcher names it, so that Slurm gives
    /// only GPUs of that type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_type: Option<String>,
}

/// A host: cores, memory, accelerators and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostSpec {
    /// CPU cores.
    pub cores: u64,
    /// Total memory.
    pub memory: MemSize,
    /// Memory per CPU core, when the scheduler says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_per_cpu: Option<MemSize>,
    /// Cores per GPU, when the scheduler says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_per_gpu: Option<u64>,
    /// The accelerators, one entry each.
    #[serde(default)]
    pub accelerators: Vec<AcceleratorSpec>,
    /// The longest job (0: unlimited).
    #[serde(default)]
    pub max_duration: Walltime,
    /// Higher is preferred.
    #[serde(default)]
    pub priority: f64,
    /// The fewest accelerators a job must ask for.
    #[serde(default)]
    pub min_gpu: u64,
}

impl Default for HostSpec {
    fn default() -> Self {
        HostSpec {
            cores: 0,
            memory: MemSize::ZERO,
            mem_per_cpu: None,
            cpu_per_gpu: None,
            accelerators: Vec::new(),
            max_duration: Walltime::ZERO,
            priority: 0.0,
            min_gpu: 0,
        }
    }
}
