//! Batch mode (`EXPR` = `-`): one expression per line on stdin, one JSON
//! object per line on stdout, in order; a line that does not parse gives
//! `{"error": "..."}` and the run goes on.

use std::io::{self, BufRead, BufWriter, Write};

use anyhow::{Context, Result};
use core_types::Requirement;

/// Reads stdin line by line (bytes: a line that is not UTF-8 is an error
/// line, not the end of the run) and writes what `answer` writes for each
/// parsed requirement.
pub(crate) fn run(mut answer: impl FnMut(&Requirement, &mut Vec<u8>) -> Result<()>) -> Result<()> {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut line = Vec::with_capacity(256);
    let mut buf = Vec::with_capacity(256);
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .context("reading requirements from stdin")?;
        if n == 0 {
            break;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        buf.clear();
        match reqparse::parse_bytes(text) {
            Ok(req) => answer(&req, &mut buf)?,
            Err(err) => error_line(&err, &mut buf)?,
        }
        buf.push(b'\n');
        if let Err(e) = out.write_all(&buf) {
            return broken_pipe_is_fine(e);
        }
    }
    out.flush().or_else(broken_pipe_is_fine)
}

/// `{"error": "<message> at column N"}`: one line, no drawing.
fn error_line(err: &reqparse::ParseError, buf: &mut Vec<u8>) -> Result<()> {
    let message = format!("{} at column {}", err.message(), err.column());
    serde_json::to_writer(buf, &serde_json::json!({ "error": message }))?;
    Ok(())
}

/// A reader that went away (`| head`) ends the run quietly.
fn broken_pipe_is_fine(e: io::Error) -> Result<()> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e).context("writing to stdout")
    }
}
