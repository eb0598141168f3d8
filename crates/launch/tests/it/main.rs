//! Integration tests of the `launch` binary: real processes, the contract of
//! `shared/spec/cli.md`.

mod cli_match;
mod cli_parse;
mod run;
mod support;
