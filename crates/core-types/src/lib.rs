//! The shared vocabulary of the `launch` workspace.
//!
//! Memory sizes ([`MemSize`]) and durations ([`Walltime`]) are newtypes with
//! checked arithmetic, parsing and exact human formatting; a [`Requirement`]
//! is an ordered list of [`Alternative`]s, each asking for cores, CPU memory,
//! a duration and accelerators; a [`HostSpec`] says what a machine (or a
//! Slurm partition) offers. This crate does no I/O and depends on no other
//! crate of the workspace.
//!
//! ```
//! use core_types::{MemSize, Walltime};
//!
//! let size: MemSize = "32GiB".parse()?;
//! assert_eq!(size.bytes(), 32 << 30);
//! assert_eq!(size.to_string(), "32GiB");
//! assert_eq!(MemSize::from_bytes(4_000_000_000).to_string(), "4G");
//!
//! let limit: Walltime = "40h".parse()?;
//! assert_eq!(limit.seconds(), 144_000);
//! assert_eq!(limit.checked_mul_f64(1.5)?.to_string(), "60h");
//! # Ok::<(), core_types::ValueError>(())
//! ```

mod host;
pub mod job;
mod requirement;
mod units;

pub use host::{AcceleratorSpec, HostSpec};
pub use requirement::{
    AcceleratorKind, AcceleratorRequest, Alternative, CpuRequest, MAX_ACCELERATORS, Requirement,
};
pub use units::{DURATION_UNITS, MemSize, SIZE_UNITS, ValueError, Walltime};
