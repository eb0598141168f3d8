//! Integration tests of the `launch` binary: real processes, the contract of
//! `docs/cli.md`.

mod cli_find;
mod cli_generate;
mod cli_match;
mod cli_parse;
mod cli_run_finder;
mod machine;
mod run;
mod slurm;
mod ssh;
mod support;
