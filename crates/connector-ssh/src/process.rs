//! Processes on the remote machine, through exec channels
//! ([`crate::channel`]): starting them, following them to their end.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use core_types::job::{ConnectorError, ProcessExit, ProcessOutput, ProcessSpec, StdioSpec};

use crate::SshError;
use crate::channel::{ChanHandle, ChannelReader, ChannelWriter, finish, open_exec, read_chunk};
use crate::command::{self, Mode};
use crate::session::Shared;
use crate::start::{Start, captured_output, captured_spec, program_error};
use crate::started::{Follow, Gone, Pipes, SshProcess, UNKNOWN_EXIT};
use crate::util::Backoff;

/// How often a process is looked at while waiting for it: from `FIRST`,
/// doubling up to `LAST`.
const FIRST_POLL: Duration = Duration::from_millis(5);
const LAST_POLL: Duration = Duration::from_millis(500);

/// Reads the start lines from the channel's standard output.
fn read_start(shared: &Shared, chan: &ChanHandle, mode: Mode) -> Result<(Start, bool), SshError> {
    let deadline = Some(Instant::now() + shared.config.timeout + shared.config.connect_timeout);
    let mut stdout = chan.channel().stream(0);
    let mut start = Start::default();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        start.scan(&mut buf, mode);
        if start.complete(mode) {
            start.rest = buf;
            return Ok((start, false));
        }
        let n = read_chunk(shared, chan.generation, &mut stdout, &mut chunk, deadline)?;
        if n == 0 {
            start.scan(&mut buf, mode);
            start.rest = buf;
            return Ok((start, true));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The error for a start that failed, from what the script said.
fn start_error(
    shared: &Shared,
    spec: &ProcessSpec,
    fail: Option<&str>,
    stderr: &[u8],
    exit: Option<ProcessExit>,
) -> ConnectorError {
    let target = &shared.target;
    let program = spec.display_command();
    let spawn = |kind: io::ErrorKind, message: String| ConnectorError::Spawn {
        program: program.clone(),
        source: io::Error::new(kind, message),
    };
    let file = |op: &'static str, stream: &StdioSpec| match stream {
        StdioSpec::File(path) => ConnectorError::Io {
            op,
            path: path.clone(),
            source: io::Error::new(
                io::ErrorKind::NotFound,
                format!("it cannot be opened on {target}"),
            ),
        },
        _ => ConnectorError::Invalid(format!("{op}: no file was asked for")),
    };
    if let Some(e) = program_error(fail, &program, target) {
        return e;
    }
    match fail {
        Some("cwd") => spawn(
            io::ErrorKind::NotFound,
            format!(
                "cannot change to directory `{}` on {target}",
                spec.cwd
                    .as_deref()
                    .or(shared.config.default_dir.as_deref())
                    .unwrap_or(Path::new(""))
                    .display()
            ),
        ),
        Some("stdin") => file("open for input", &spec.stdin),
        Some("stdout") => file("create for output", &spec.stdout),
        Some("stderr") => file("create for output", &spec.stderr),
        Some("status") => spawn(
            io::ErrorKind::Other,
            format!("cannot create a file for its exit status in $TMPDIR (or /tmp) on {target}"),
        ),
        _ => spawn(
            io::ErrorKind::Other,
            format!(
                "the remote shell on {target} did not start it ({}){}",
                exit.map_or_else(|| "no exit status".to_owned(), |e| e.to_string()),
                if stderr.is_empty() {
                    String::new()
                } else {
                    format!(": {}", String::from_utf8_lossy(stderr).trim_end())
                }
            ),
        ),
    }
}

fn wait_error(program: &str, e: SshError, target: &str, timeout: Duration) -> ConnectorError {
    let source = match e {
        SshError::Lost => io::Error::new(
            io::ErrorKind::ConnectionAborted,
            format!("the SSH session to {target} broke while starting it"),
        ),
        SshError::Deadline => io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "{target} did not start it within {}s",
                timeout.as_secs_f64()
            ),
        ),
        other => other.into_io(),
    };
    ConnectorError::Spawn {
        program: program.to_owned(),
        source,
    }
}

/// Whether an error says the machine could not be reached (as opposed to a
/// refusal, or a failure of the operation itself).
fn unreachable(e: &ConnectorError) -> bool {
    let (ConnectorError::Io { source, .. } | ConnectorError::Spawn { source, .. }) = e else {
        return false;
    };
    matches!(
        source.kind(),
        io::ErrorKind::TimedOut
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::NotConnected
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::BrokenPipe
    )
}

/// How a process started over an exec channel is followed: by its
/// channel while it is open, then by its status file or its pid.
struct Ssh2Follow {
    shared: Arc<Shared>,
    program: String,
    pid: u32,
    start: Option<u64>,
    mode: Mode,
    chan: Option<Arc<ChanHandle>>,
    drain_stdout: bool,
    drain_stderr: bool,
    status_file: Option<PathBuf>,
    pumps: Vec<JoinHandle<()>>,
    gone: Gone,
}

/// Starts `spec` (see [`crate::SshConnector`] for what each kind of
/// process becomes remotely).
pub(crate) fn spawn(
    shared: &Arc<Shared>,
    spec: &ProcessSpec,
) -> Result<SshProcess, ConnectorError> {
    let mode = command::mode(spec);
    let script = command::render(spec, mode, shared.config.default_dir.as_deref())?;
    let program = spec.display_command();
    let chan = open_exec(shared, &script).map_err(|e| ConnectorError::Spawn {
        program: program.clone(),
        source: e.into_io(),
    })?;
    let timeout = shared.config.timeout;
    let (start, _eof) = read_start(shared, &chan, mode)
        .map_err(|e| wait_error(&program, e, &shared.target, timeout))?;
    let Some((pid, start_time)) = start.pid.filter(|_| start.fail.is_none()) else {
        let mut err = Vec::new();
        let deadline = Some(Instant::now() + timeout);
        let exit = finish(shared, &chan, None, Some(&mut err), true, true, deadline).ok();
        return Err(start_error(shared, spec, start.fail.as_deref(), &err, exit));
    };
    let mut follow = Ssh2Follow {
        shared: Arc::clone(shared),
        program: program.clone(),
        pid,
        start: start_time,
        mode,
        chan: None,
        drain_stdout: !matches!(spec.stdout, StdioSpec::Pipe | StdioSpec::Inherit),
        drain_stderr: !matches!(spec.stderr, StdioSpec::Pipe | StdioSpec::Inherit),
        status_file: start.status,
        pumps: Vec::new(),
        gone: Gone::default(),
    };
    let mut pipes = Pipes::default();
    let keeps_channel = mode == Mode::Channel
        || matches!(spec.stdin, StdioSpec::Pipe)
        || !follow.drain_stdout
        || !follow.drain_stderr;
    let started =
        |pipes, follow| SshProcess::new(shared.target.clone(), spec, pid, pipes, Box::new(follow));
    if !keeps_channel {
        // The script has left the channel: close it now, which frees one
        // of the server's sessions for this connection.
        let deadline = Some(Instant::now() + timeout);
        let _ = finish(shared, &chan, None, None, true, true, deadline);
        return Ok(started(pipes, follow));
    }
    if matches!(spec.stdin, StdioSpec::Pipe) {
        pipes.stdin = Some(Box::new(ChannelWriter {
            chan: Arc::clone(&chan),
            channel: Some(chan.channel().clone()),
        }));
    }
    let reader = |id: i32, prefix: Vec<u8>| ChannelReader {
        chan: Arc::clone(&chan),
        stream: Some(chan.channel().stream(id)),
        prefix,
        pos: 0,
    };
    let mut rest = Some(start.rest);
    for (id, stream) in [(0, &spec.stdout), (1, &spec.stderr)] {
        let prefix = if id == 0 {
            rest.take().unwrap_or_default()
        } else {
            Vec::new()
        };
        match stream {
            StdioSpec::Pipe => {
                let r: Box<dyn Read + Send> = Box::new(reader(id, prefix));
                if id == 0 {
                    pipes.stdout = Some(r);
                } else {
                    pipes.stderr = Some(r);
                }
            }
            StdioSpec::Inherit => {
                let mut r = reader(id, prefix);
                let pump = std::thread::Builder::new()
                    .name("launch-ssh-output".into())
                    .spawn(move || {
                        let _ = if id == 0 {
                            io::copy(&mut r, &mut io::stdout())
                        } else {
                            io::copy(&mut r, &mut io::stderr())
                        };
                    })
                    .map_err(|source| ConnectorError::Spawn {
                        program: "a thread copying remote output".into(),
                        source,
                    })?;
                follow.pumps.push(pump);
            }
            StdioSpec::Null | StdioSpec::File(_) => {}
        }
    }
    follow.chan = Some(chan);
    Ok(started(pipes, follow))
}

impl Follow for Ssh2Follow {
    fn check(&mut self, block: bool) -> Result<Option<ProcessExit>, ConnectorError> {
        match (self.mode, self.chan.is_some()) {
            (Mode::Channel, true) => self.check_channel(block),
            (Mode::Watched, _) if self.status_file.is_some() => self.check_status(block),
            _ => self.check_alive(block),
        }
    }

    /// Output copied to this process's own streams is complete once the
    /// process has ended.
    fn ended(&mut self) {
        for pump in self.pumps.drain(..) {
            let _ = pump.join();
        }
        self.chan = None;
    }

    fn retries(&self, error: &ConnectorError) -> bool {
        unreachable(error)
    }
}

impl Ssh2Follow {
    fn check_channel(&mut self, block: bool) -> Result<Option<ProcessExit>, ConnectorError> {
        let Some(chan) = self.chan.clone() else {
            return self.check_alive(block);
        };
        let deadline = if block { None } else { Some(Instant::now()) };
        let result = finish(
            &self.shared,
            &chan,
            None,
            None,
            self.drain_stdout,
            self.drain_stderr,
            deadline,
        );
        match result {
            Ok(exit) => Ok(Some(exit)),
            Err(SshError::Deadline) => Ok(None),
            Err(SshError::Lost) => {
                // The session broke: follow the process by its pid on a
                // new one; its exit status went with the old one.
                self.chan = None;
                self.check_alive(block)
            }
            Err(fail) => Err(ConnectorError::Io {
                op: "wait for",
                path: PathBuf::from(&self.program),
                source: fail.into_io(),
            }),
        }
    }

    fn check_status(&mut self, block: bool) -> Result<Option<ProcessExit>, ConnectorError> {
        let Some(path) = self.status_file.clone() else {
            return self.check_alive(block);
        };
        let mut backoff = Backoff::new(FIRST_POLL, LAST_POLL);
        loop {
            match crate::files::read_file(&self.shared, &path) {
                Ok(bytes) => {
                    if let Some(exit) = command::parse_status_file(&bytes) {
                        let _ = crate::files::remove(&self.shared, &path);
                        return Ok(Some(exit));
                    }
                }
                Err(e) if e.is_not_found() => {
                    // Someone removed it: the pid is all there is.
                    self.status_file = None;
                    return self.check_alive(block);
                }
                Err(e) => return Err(e),
            }
            if (backoff.at_max() || !block) && self.gone.for_good(self.shared_alive()?) {
                return Ok(Some(UNKNOWN_EXIT));
            }
            if !block {
                return Ok(None);
            }
            backoff.sleep();
        }
    }

    fn check_alive(&mut self, block: bool) -> Result<Option<ProcessExit>, ConnectorError> {
        let mut backoff = Backoff::new(FIRST_POLL, LAST_POLL);
        loop {
            if !self.shared_alive()? {
                return Ok(Some(UNKNOWN_EXIT));
            }
            if !block {
                return Ok(None);
            }
            backoff.sleep();
        }
    }

    fn shared_alive(&self) -> Result<bool, ConnectorError> {
        crate::files::alive(&self.shared, self.pid, self.start)
    }
}

/// Runs `spec` with its output captured.
pub(crate) fn run(
    shared: &Arc<Shared>,
    spec: &ProcessSpec,
) -> Result<ProcessOutput, ConnectorError> {
    let spec = captured_spec(spec);
    let script = command::render(&spec, Mode::Channel, shared.config.default_dir.as_deref())?;
    let program = spec.display_command();
    let (mut stdout, stderr, exit) =
        exec_capture(shared, &script).map_err(|source| ConnectorError::Spawn {
            program: program.clone(),
            source,
        })?;
    let mut start = Start::default();
    start.scan(&mut stdout, Mode::Channel);
    if !start.started() {
        return Err(start_error(
            shared,
            &spec,
            start.fail.as_deref(),
            &stderr,
            Some(exit),
        ));
    }
    captured_output(program, exit, stdout, stderr)
}

/// Runs a script to its end: its standard output, error and exit.
pub(crate) fn exec_capture(
    shared: &Arc<Shared>,
    script: &str,
) -> Result<crate::helper::Captured, io::Error> {
    if let Some(result) = crate::helper::run(shared, script) {
        return result;
    }
    let chan = open_exec(shared, script).map_err(SshError::into_io)?;
    let mut out = Vec::new();
    let mut err = Vec::new();
    let exit = finish(
        shared,
        &chan,
        Some(&mut out),
        Some(&mut err),
        true,
        true,
        None,
    )
    .map_err(|e| {
        e.into_stream_io(io::ErrorKind::ConnectionAborted, || {
            format!(
                "the SSH session to {} broke while the command ran; it may or may not have run to its end",
                shared.target
            )
        })
    })?;
    Ok((out, err, exit))
}
