//! `launch`: state what a job needs, find where it can run, run it there.
//!
//! The machine-readable contract (JSON shapes, exit codes) is
//! `docs/cli.md`: 0 success, 1 no match or job failed, 2 bad input.

/// `println!` that gives the write's error back instead of panicking: a
/// closed pipe (`launch check | head -1`) ends the command quietly (see
/// `main`).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)
    }};
}

/// `print!`, likewise.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout(), $($arg)*)
    }};
}

mod batch;
mod cmd_array;
mod cmd_check;
mod cmd_find;
mod cmd_generate;
mod cmd_generate_slurm;
mod cmd_host;
mod cmd_list;
mod cmd_logs;
mod cmd_match;
mod cmd_parse;
mod cmd_prune;
mod cmd_time_left;
mod cmd_wait;
mod jobs;
mod run;
mod status;
mod unsubmitted;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Find the launcher that can serve a job's requirement, submit the job,
/// follow it to its end.
#[derive(Debug, Parser)]
#[command(name = "launch", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse a requirement and print its canonical form (or its value as JSON).
    Parse(cmd_parse::Args),
    /// Match a requirement against a host specification file.
    Match(cmd_match::Args),
    /// Print the detected local machine as a host specification (TOML).
    Host(cmd_host::Args),
    /// Which launcher the launcher file yields for a requirement, and why.
    Find(cmd_find::Args),
    /// Write a launcher file (`generate local`: this machine; `generate slurm`: the Slurm partitions).
    Generate(cmd_generate::Args),
    /// Validate a launcher file and print what it defines.
    Check(cmd_check::Args),
    /// Run a command as a job where its requirement fits, following it to its end.
    Run(run::Args),
    /// Print the state of jobs, from their job directories.
    Status(status::StatusArgs),
    /// Cancel jobs, from their job directories, and wait until they stopped.
    Cancel(status::CancelArgs),
    /// List this user's jobs, newest first.
    List(cmd_list::Args),
    /// Print a job's output (`--follow`: until it ends).
    Logs(cmd_logs::Args),
    /// Wait until every job ended; exit 0 when all are done.
    Wait(cmd_wait::Args),
    /// Inside a job: the seconds left before its time limit (or `unlimited`).
    TimeLeft(cmd_time_left::Args),
    /// Remove the directories of jobs that ended, under the state directory.
    Prune(cmd_prune::Args),
}

/// Exit code for bad input: an unparsable requirement, a bad file or flag.
pub(crate) const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Parse(args) => cmd_parse::run(&args),
        Command::Match(args) => cmd_match::run(&args),
        Command::Host(args) => cmd_host::run(&args),
        Command::Find(args) => cmd_find::run(&args),
        Command::Generate(args) => cmd_generate::run(&args),
        Command::Check(args) => cmd_check::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Status(args) => status::status(&args),
        Command::Cancel(args) => status::cancel(&args),
        Command::List(args) => cmd_list::run(&args),
        Command::Logs(args) => cmd_logs::run(&args),
        Command::Wait(args) => cmd_wait::run(&args),
        Command::TimeLeft(args) => cmd_time_left::run(&args),
        Command::Prune(args) => cmd_prune::run(&args),
    };
    // No OpenSSH master outlives this process (threads that follow jobs
    // may still hold their connectors).
    connector_ssh::stop_masters();
    match result {
        Ok(code) => code,
        // The reader went away (`launch check | head -1`): stop quietly, as
        // Unix tools do.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", report(&err));
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// Whether writing to stdout failed because its reader has gone.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes, `: `-joined. No error of the workspace quotes
/// its cause's text, so each cause is said once.
fn report(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause.to_string());
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn report_says_each_cause_once() {
        let io = std::io::Error::other("disk on fire");
        let chained = anyhow::Error::new(io).context("cannot read `x`");
        assert_eq!(super::report(&chained), "cannot read `x`: disk on fire");
        let plain =
            anyhow::Error::new(std::io::Error::other("no such file")).context("loading f.toml");
        assert_eq!(super::report(&plain), "loading f.toml: no such file");
    }
}
