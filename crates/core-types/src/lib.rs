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

pub mod backoff;
pub mod connector;
mod host;
pub mod job;
pub mod paths;
mod requirement;
pub mod start;
pub mod suggest;
pub mod text;
mod units;

pub use host::{AcceleratorSpec, HostSpec};
pub use requirement::{
    AcceleratorKind, AcceleratorRequest, Alternative, CpuRequest, MAX_ACCELERATORS, Requirement,
};
pub use units::{DURATION_UNITS, MemSize, SIZE_UNITS, ValueError, Walltime};

/// The property the `memsize` fuzz target checks, exported so that the fuzz
/// target and the replay test run the same code: parsing any text as a size
/// or a duration returns (never panics); what parses formats back to the
/// same value; checked arithmetic agrees with 128-bit arithmetic (it never
/// wraps); multiplying a duration is an exact ceiling.
///
/// # Panics
///
/// When the property does not hold: that is a bug the fuzzer reports.
pub fn fuzz_check_units(data: &[u8]) {
    let word = |at: usize| -> u64 {
        let mut bytes = [0u8; 8];
        for (k, b) in bytes.iter_mut().enumerate() {
            *b = data.get(at + k).copied().unwrap_or(0);
        }
        u64::from_le_bytes(bytes)
    };
    let (a, b, factor) = (word(0), word(8), f64::from_bits(word(16)));
    let text = String::from_utf8_lossy(data.get(24..).unwrap_or_default());

    if let Ok(size) = text.parse::<MemSize>() {
        assert_eq!(size.to_string().parse::<MemSize>(), Ok(size), "{text:?}");
        // One more fraction digit never lowers the value (a wrapped
        // product once read 1.999…TiB as about 1 TiB).
        if let Some(dot) = text.find('.') {
            let end = text[dot + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(text.len(), |i| dot + 1 + i);
            let longer = format!("{}9{}", &text[..end], &text[end..]);
            if let Ok(more) = longer.parse::<MemSize>() {
                assert!(more >= size, "{longer:?} < {text:?}");
            }
        }
    }
    if let Ok(d) = text.parse::<Walltime>() {
        assert_eq!(d.to_string().parse::<Walltime>(), Ok(d), "{text:?}");
    }
    let (size_a, size_b) = (MemSize::from_bytes(a), MemSize::from_bytes(b));
    let wide_sum = u128::from(a) + u128::from(b);
    let wide_product = u128::from(a) * u128::from(b);
    assert_eq!(
        size_a.checked_add(size_b).map(|s| u128::from(s.bytes())),
        (wide_sum <= u128::from(u64::MAX)).then_some(wide_sum)
    );
    assert_eq!(
        size_a.checked_mul(b).map(|s| u128::from(s.bytes())),
        (wide_product <= u128::from(u64::MAX)).then_some(wide_product)
    );
    assert_eq!(
        size_a.checked_sub(size_b).map(MemSize::bytes),
        a.checked_sub(b)
    );
    assert_eq!(size_a.to_string().parse::<MemSize>(), Ok(size_a));
    let d = Walltime::from_seconds(a);
    assert_eq!(d.to_string().parse::<Walltime>(), Ok(d));
    if let Ok(scaled) = d.checked_mul_f64(factor) {
        // ceil(d * f): not below the product, and less than one second above it.
        let exact = a as f64 * factor;
        let got = scaled.seconds() as f64;
        assert!(
            got >= exact * (1.0 - 1e-12) && got <= exact * (1.0 + 1e-12) + 1.0,
            "{a} * {factor} = {got}"
        );
    } else {
        assert!(
            !factor.is_finite()
                || factor < 0.0
                || a as f64 * factor > u64::MAX as f64 * (1.0 - 1e-12),
            "{a} * {factor} refused"
        );
    }
}
