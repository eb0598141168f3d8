//! The SSH connector against a real sshd: `cargo xtask test` starts one on
//! 127.0.0.1 (`cargo xtask sshd up` by hand) and sets
//! `LAUNCH_TEST_SSH=required` and `LAUNCH_TEST_SSH_DIR`. Without them the
//! tests say so and return; with `required`, a missing server fails them.

mod files;
mod host_keys;
mod jump;
mod launchers;
mod processes;
mod restart;
mod slurm;
mod support;
