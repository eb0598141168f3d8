//! `launch logs [--stderr] [--follow] [--tail N] DIR`: a job's output, on
//! this machine or another; `--follow` copies it as it is written until
//! the job ends, then exits with the job's status.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::jobs::{self, Locator, Target};
use crate::run::Tail;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The job's standard error instead of its standard output.
    #[arg(long)]
    stderr: bool,
    /// Go on copying what the job writes until it ends, then exit with its
    /// status (as `launch run`).
    #[arg(long)]
    follow: bool,
    /// Only the last N lines written so far.
    #[arg(long, value_name = "N")]
    tail: Option<usize>,
    /// The launcher file, whose SSH connectors say how to reach the machine
    /// of an `ssh://` job directory.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The job directory (`ssh://[user@]host[:port]/path` on another
    /// machine; `DIR/INDEX` for a task of an array).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

/// The last `n` lines of `bytes` (a last line without its line break
/// counts as one).
fn last_lines(bytes: &[u8], n: usize) -> &[u8] {
    if n == 0 {
        return &bytes[bytes.len()..];
    }
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let mut seen = 0;
    for (i, &b) in body.iter().enumerate().rev() {
        if b == b'\n' {
            seen += 1;
            if seen == n {
                return &bytes[i + 1..];
            }
        }
    }
    bytes
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    use std::io::Write as _;
    let mut locator = Locator::new(args.config.as_deref());
    let found = match jobs::target(&mut locator, &args.dir)? {
        Target::Job(found) => found,
        Target::Array { file, .. } => bail!(
            "`{}` is an array of {} tasks: name one of them (`{}/INDEX`, INDEX one of {})",
            args.dir.display(),
            file.indices.len(),
            args.dir.display(),
            indices_text(&file.indices)
        ),
    };
    let path = found.dir.join(if args.stderr {
        jobdir::STDERR
    } else {
        jobdir::STDOUT
    });
    let bytes = match found.connector.read_file(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.is_not_found() => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let shown = match args.tail {
        Some(n) => last_lines(&bytes, n),
        None => &bytes,
    };
    let mut stdout = std::io::stdout();
    stdout.write_all(shown)?;
    stdout.flush()?;
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    let mut tail = Tail {
        path,
        offset: bytes.len() as u64,
    };
    let handle = found.job.handle();
    loop {
        let ended = handle.wait_timeout(Duration::from_millis(200))?;
        tail.copy(&found.connector, &mut stdout)?;
        if let Some(state) = ended {
            if !state.is_final() {
                continue;
            }
            if state != core_types::job::JobState::Done {
                eprintln!("launch: job {state} ({})", args.dir.display());
            }
            return Ok(crate::run::exit_code_of(&state));
        }
    }
}

/// `1, 2, 3 ... 100` for people: the first three and the last.
fn indices_text(indices: &[u64]) -> String {
    let first: Vec<String> = indices.iter().take(3).map(ToString::to_string).collect();
    match indices.len() {
        0..=4 => indices
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        _ => format!("{} ... {}", first.join(", "), indices[indices.len() - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_of_output() {
        assert_eq!(last_lines(b"a\nb\nc\n", 2), b"b\nc\n");
        assert_eq!(last_lines(b"a\nb\nc", 2), b"b\nc");
        assert_eq!(last_lines(b"a\nb\n", 5), b"a\nb\n");
        assert_eq!(last_lines(b"a\n", 0), b"");
        assert_eq!(last_lines(b"", 3), b"");
        assert_eq!(indices_text(&[1, 2, 3, 4, 5]), "1, 2, 3 ... 5");
        assert_eq!(indices_text(&[1, 5]), "1, 5");
    }
}
