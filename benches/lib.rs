//! Criterion benchmarks of the workspace live in `benches/`.
