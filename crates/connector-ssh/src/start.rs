//! What both transports do around the start script ([`crate::command`]):
//! reading its start lines off the program's output, and running a
//! process with its output captured.

use std::io;
use std::path::PathBuf;

use core_types::job::{ConnectorError, ProcessExit, ProcessOutput, ProcessSpec, StdioSpec};

use crate::command::{self, Mode, StartLine};

/// What the script said before the program ran.
#[derive(Debug, Default)]
pub(crate) struct Start {
    pub(crate) pid: Option<(u32, Option<u64>)>,
    pub(crate) status: Option<PathBuf>,
    pub(crate) fail: Option<String>,
    /// What came after the last start line: the program's own output.
    pub(crate) rest: Vec<u8>,
}

impl Start {
    /// Whether every line `mode` writes has come (or a failure).
    pub(crate) fn complete(&self, mode: Mode) -> bool {
        self.fail.is_some()
            || (self.pid.is_some() && (mode != Mode::Watched || self.status.is_some()))
    }

    /// Whether the program runs: its pid came, and no failure.
    pub(crate) fn started(&self) -> bool {
        self.fail.is_none() && self.pid.is_some()
    }

    /// Takes the start lines out of `buf`; what follows them stays.
    pub(crate) fn scan(&mut self, buf: &mut Vec<u8>, mode: Mode) {
        let mut consumed = 0;
        while !self.complete(mode) {
            let Some(nl) = buf[consumed..].iter().position(|&b| b == b'\n') else {
                break;
            };
            let line = &buf[consumed..consumed + nl];
            consumed += nl + 1;
            // What the remote shell's start-up files print comes first, maybe
            // without a newline: look for the mark anywhere.
            let Some(at) = line.windows(11).position(|w| w == b"launch-ssh-") else {
                continue;
            };
            match command::parse_start_line(&line[at..]) {
                Some(StartLine::Pid { pid, start }) => self.pid = Some((pid, start)),
                Some(StartLine::Status(path)) => self.status = Some(path),
                Some(StartLine::Fail(what)) => self.fail = Some(what),
                None => {}
            }
        }
        buf.drain(..consumed);
    }
}

/// The error for a start that failed as the script says both transports'
/// way (`notfound`: no such program, `noexec`: not an executable file);
/// `None` for any other failure, which each transport words itself.
pub(crate) fn program_error(
    fail: Option<&str>,
    program: &str,
    target: &str,
) -> Option<ConnectorError> {
    let (kind, message) = match fail {
        Some("notfound") => (
            io::ErrorKind::NotFound,
            format!("no such program on {target}"),
        ),
        Some("noexec") => (
            io::ErrorKind::PermissionDenied,
            format!("it is not an executable file on {target}"),
        ),
        _ => return None,
    };
    Some(ConnectorError::Spawn {
        program: program.to_owned(),
        source: io::Error::new(kind, message),
    })
}

/// `spec` as a captured run starts it: no input from the caller, both
/// outputs piped, attached.
pub(crate) fn captured_spec(spec: &ProcessSpec) -> ProcessSpec {
    let mut spec = spec.clone();
    if matches!(spec.stdin, StdioSpec::Pipe | StdioSpec::Inherit) {
        spec.stdin = StdioSpec::Null;
    }
    spec.stdout = StdioSpec::Pipe;
    spec.stderr = StdioSpec::Pipe;
    spec.detached = false;
    spec
}

/// A captured run's outcome: its output, or [`ConnectorError::Failed`]
/// with that output when it did not succeed.
pub(crate) fn captured_output(
    program: String,
    exit: ProcessExit,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
) -> Result<ProcessOutput, ConnectorError> {
    if !exit.success() {
        return Err(ConnectorError::Failed {
            program,
            status: exit.to_string(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        });
    }
    Ok(ProcessOutput {
        exit,
        stdout,
        stderr,
    })
}
