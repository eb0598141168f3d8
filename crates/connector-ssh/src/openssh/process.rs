//! Processes through `ssh`: a channel process is the `ssh` child itself;
//! a watched or detached one leaves it, and is followed remotely.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::Duration;

use core_types::job::{
    ConnectorError, ProcessExit, ProcessOutput, ProcessSpec, StdioSpec, shell_quote,
};

use super::{Master, SSH_FAILED};
use crate::command::{self, Mode};
use crate::start::{Start, captured_output, captured_spec, program_error};
use crate::started::{Follow, Gone, Pipes, SshProcess, UNKNOWN_EXIT};
use crate::util::Backoff;

/// The remote command for a channel script: run by a `sh` of its own, so
/// that the login shell reports a program killed by signal N as status
/// 128 + N (OpenSSH's own status for a remote signal is 255).
fn wrapped(script: &str) -> Result<String, ConnectorError> {
    let quoted = String::from_utf8(shell_quote(script.as_ref())?)
        .map_err(|_| ConnectorError::Invalid("the command is not UTF-8".into()))?;
    Ok(format!("sh -c {quoted}"))
}

/// Reads the start lines off `stdout`, up to what `mode` writes (or its
/// end).
fn read_start(stdout: &mut impl Read, mode: Mode) -> Start {
    let mut start = Start::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        start.scan(&mut buf, mode);
        if start.complete(mode) {
            start.rest = buf;
            return start;
        }
        match stdout.read(&mut chunk) {
            Ok(0) | Err(_) => {
                start.rest = buf;
                return start;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn start_error(
    master: &Master,
    spec: &ProcessSpec,
    start: &Start,
    stderr: &[u8],
    status: Option<i32>,
) -> ConnectorError {
    let program = spec.display_command();
    let spawn = |kind: io::ErrorKind, message: String| ConnectorError::Spawn {
        program: program.clone(),
        source: io::Error::new(kind, message),
    };
    let target = &master.name;
    if let Some(e) = program_error(start.fail.as_deref(), &program, target) {
        return e;
    }
    match start.fail.as_deref() {
        Some("cwd") => spawn(
            io::ErrorKind::NotFound,
            format!("cannot change to its directory on {target}"),
        ),
        Some(what @ ("stdin" | "stdout" | "stderr")) => spawn(
            io::ErrorKind::NotFound,
            format!("its {what} file cannot be opened on {target}"),
        ),
        _ => {
            let e = master.failed(status.unwrap_or(SSH_FAILED), stderr);
            ConnectorError::Spawn {
                program,
                source: e.into_io(),
            }
        }
    }
}

/// Runs `spec` with its output captured.
pub(crate) fn run(
    master: &Arc<Master>,
    spec: &ProcessSpec,
) -> Result<ProcessOutput, ConnectorError> {
    let spec = captured_spec(spec);
    let script = wrapped(&command::render(
        &spec,
        Mode::Channel,
        master.default_dir.as_deref(),
    )?)?;
    let program = spec.display_command();
    let (out, err, status) = master
        .capture(&script, None)
        .map_err(|e| ConnectorError::Spawn {
            program: program.clone(),
            source: e.into_io(),
        })?;
    let mut reader = io::Cursor::new(out);
    let start = read_start(&mut reader, Mode::Channel);
    if !start.started() {
        return Err(start_error(master, &spec, &start, &err, Some(status)));
    }
    captured_output(program, crate::helper::exit_of(status), start.rest, err)
}

/// Starts `spec` (as on the ssh2 transport: see [`crate::SshConnector`]).
pub(crate) fn spawn(
    master: &Arc<Master>,
    spec: &ProcessSpec,
) -> Result<SshProcess, ConnectorError> {
    let mode = command::mode(spec);
    let mut script = command::render(spec, mode, master.default_dir.as_deref())?;
    if mode == Mode::Channel {
        script = wrapped(&script)?;
    }
    let program = spec.display_command();
    let spawn_error = |source: io::Error| ConnectorError::Spawn {
        program: program.clone(),
        source,
    };
    master.ensure().map_err(|e| spawn_error(e.into_io()))?;
    let mut cmd = master.command(&script);
    cmd.stdin(if matches!(spec.stdin, StdioSpec::Pipe) {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped());
    cmd.stderr(match spec.stderr {
        StdioSpec::Inherit if mode == Mode::Channel => Stdio::inherit(),
        _ => Stdio::piped(),
    });
    let mut child = cmd.spawn().map_err(spawn_error)?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| spawn_error(io::ErrorKind::BrokenPipe.into()))?;
    let start = read_start(&mut stdout, mode);
    let Some((pid, start_time)) = start.pid.filter(|_| start.fail.is_none()) else {
        let mut err = Vec::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_end(&mut err);
        }
        let status = child.wait().ok().and_then(|s| s.code());
        return Err(start_error(master, spec, &start, &err, status));
    };
    let mut follow = OpenSshFollow {
        master: Arc::clone(master),
        pid,
        start: start_time,
        child: None,
        status_file: start.status.clone(),
        gone: Gone::default(),
    };
    let mut pipes = Pipes::default();
    if mode == Mode::Channel {
        pipes.stdin = child
            .stdin
            .take()
            .map(|s| Box::new(s) as Box<dyn Write + Send>);
        let rest = io::Cursor::new(start.rest);
        match spec.stdout {
            StdioSpec::Pipe => pipes.stdout = Some(Box::new(rest.chain(stdout))),
            StdioSpec::Inherit => {
                let mut r = rest.chain(stdout);
                std::thread::spawn(move || {
                    let _ = io::copy(&mut r, &mut io::stdout());
                });
            }
            _ => {
                let mut r = rest.chain(stdout);
                std::thread::spawn(move || {
                    let _ = io::copy(&mut r, &mut io::sink());
                });
            }
        }
        if let Some(err) = child.stderr.take() {
            if matches!(spec.stderr, StdioSpec::Pipe) {
                pipes.stderr = Some(Box::new(err));
            } else {
                let mut err = err;
                std::thread::spawn(move || {
                    let _ = io::copy(&mut err, &mut io::sink());
                });
            }
        }
        follow.child = Some(child);
    } else {
        // The script left the channel: `ssh` ends by itself.
        drop(stdout);
        std::thread::spawn(move || {
            let _ = child.wait_with_output();
        });
    }
    Ok(SshProcess::new(
        master.name.clone(),
        spec,
        pid,
        pipes,
        Box::new(follow),
    ))
}

/// How a process started through `ssh` is followed: by the `ssh` child
/// while it runs the program (a channel process), else remotely, by its
/// status file or its pid.
struct OpenSshFollow {
    master: Arc<Master>,
    pid: u32,
    start: Option<u64>,
    child: Option<Child>,
    status_file: Option<PathBuf>,
    gone: Gone,
}

impl Follow for OpenSshFollow {
    fn check(&mut self, block: bool) -> Result<Option<ProcessExit>, ConnectorError> {
        let Some(child) = self.child.as_mut() else {
            return self.check_remote(block);
        };
        let status = if block {
            Some(child.wait().map_err(|source| self.wait_error(source))?)
        } else {
            child.try_wait().map_err(|source| self.wait_error(source))?
        };
        Ok(status.map(|s| crate::helper::exit_of(s.code().unwrap_or(SSH_FAILED))))
    }

    fn ended(&mut self) {
        self.child = None;
    }
}

impl OpenSshFollow {
    fn wait_error(&self, source: io::Error) -> ConnectorError {
        ConnectorError::Io {
            op: "wait for",
            path: PathBuf::from(format!("process {}", self.pid)),
            source,
        }
    }

    fn check_remote(&mut self, block: bool) -> Result<Option<ProcessExit>, ConnectorError> {
        let mut backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(500));
        loop {
            if let Some(path) = self.status_file.clone() {
                match self.master.read_file(&path, 0, None) {
                    Ok(bytes) => {
                        if let Some(exit) = command::parse_status_file(&bytes) {
                            let _ = self.master.remove(&path);
                            return Ok(Some(exit));
                        }
                    }
                    Err(e) if e.is_not_found() => self.status_file = None,
                    Err(e) => return Err(e),
                }
            }
            let alive = self.master.alive(self.pid, self.start)?;
            if !alive && self.status_file.is_none() {
                return Ok(Some(UNKNOWN_EXIT));
            }
            if self.gone.for_good(alive) {
                return Ok(Some(UNKNOWN_EXIT));
            }
            if !block {
                return Ok(None);
            }
            backoff.sleep();
        }
    }
}
