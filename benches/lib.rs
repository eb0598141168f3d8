//! Criterion benchmarks of the workspace (`cargo bench -p benches`), and the
//! inputs they share.

/// The requirement every bench parses or matches: the README's example.
pub const EXAMPLE: &str =
    "duration=40h & cpu(mem=700GiB, cores=16) & cuda(mem=32GiB) * 8 | duration=4h & mps(mem=8GiB)";
