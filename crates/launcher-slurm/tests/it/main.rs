//! Integration tests of the Slurm launcher against the real test cluster
//! (`cargo xtask test` starts it and sets `LAUNCH_TEST_SLURM=required`).

mod follow;
mod jobs;
mod layouts;
mod mig;
mod probe;
mod support;
