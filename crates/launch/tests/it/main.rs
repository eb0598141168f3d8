//! Integration tests of the `launch` binary: real processes, the contract of
//! `docs/cli.md`.

mod broken_pipe;
mod cli_find;
mod cli_generate;
mod cli_match;
mod cli_parse;
mod cli_run_finder;
mod devices;
mod forged;
mod jobfiles;
mod jobs;
mod machine;
mod run;
mod slurm;
mod slurm_files;
mod slurm_jobs;
mod slurm_layouts;
mod ssh;
mod ssh_jobs;
mod ssh_jump;
mod starting;
mod support;
