//! Processes on the remote machine, through exec channels.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use core_types::job::{
    ConnectorError, Process, ProcessExit, ProcessOutput, ProcessSpec, StdioSpec,
};
use ssh2::{Channel, Stream};

use crate::command::{self, Mode, StartLine};
use crate::session::{Fail, OpError, Shared, WaitError, fail_message};

/// An exit whose status cannot be known (the process was followed by its
/// pid after the session that started it broke, or it was detached).
const UNKNOWN_EXIT: ProcessExit = ProcessExit {
    code: None,
    signal: None,
};

/// How often a process is looked at while waiting for it: from `FIRST`,
/// doubling up to `LAST`.
const FIRST_POLL: Duration = Duration::from_millis(5);
const LAST_POLL: Duration = Duration::from_millis(500);
/// How long a watched process may be gone with no exit status written
/// before its watcher is taken for gone too.
const WATCHER_GRACE: Duration = Duration::from_secs(2);

/// An exec channel, closed (so that the server frees its session slot)
/// when its last user drops it.
pub(crate) struct ChanHandle {
    shared: Arc<Shared>,
    channel: Option<Channel>,
    generation: u64,
}

impl ChanHandle {
    /// The channel and its session's generation, for a user that closes
    /// it itself (when this is the only handle).
    pub(crate) fn into_raw(self: Arc<Self>) -> Option<(Channel, u64)> {
        let mut this = Arc::try_unwrap(self).ok()?;
        let channel = this.channel.take()?;
        Some((channel, this.generation))
    }

    fn channel(&self) -> &Channel {
        self.channel
            .as_ref()
            .expect("the channel is only taken when the handle drops")
    }
}

impl Drop for ChanHandle {
    fn drop(&mut self) {
        if let Some(mut channel) = self.channel.take() {
            let deadline = Some(Instant::now() + Duration::from_secs(2));
            let _ = self
                .shared
                .wait_on(self.generation, deadline, |_| Ok(channel.close()?));
            let _guard = self.shared.lock();
            drop(channel);
        }
    }
}

/// Opens a channel and starts `script` on it. A session found broken
/// before the command was sent is re-opened and the start tried again.
pub(crate) fn open_exec(shared: &Arc<Shared>, script: &str) -> Result<Arc<ChanHandle>, OpError> {
    let mut attempts = 0;
    loop {
        let mut st = shared.lock();
        let opened = shared.hold(&mut st, "opening a channel", |c| {
            Ok((c.session.channel_session()?, c.generation))
        });
        let (mut channel, generation) = match opened {
            Ok(v) => v,
            Err(OpError::Broken(_)) if attempts < 3 => {
                attempts += 1;
                continue;
            }
            Err(OpError::Op(fail)) => {
                return Err(OpError::Op(Fail::Io(io::Error::other(format!(
                    "the server refused to open a channel ({}); servers allow a few at once per connection (sshd's MaxSessions, 10 by default)",
                    fail_message(&fail)
                )))));
            }
            Err(e) => return Err(e),
        };
        let started = shared.hold(&mut st, "starting a command", |_| Ok(channel.exec(script)?));
        if let Err(e) = started {
            drop(channel);
            return Err(e);
        }
        drop(st);
        return Ok(Arc::new(ChanHandle {
            shared: Arc::clone(shared),
            channel: Some(channel),
            generation,
        }));
    }
}

/// Reads one chunk of a channel stream, waiting for it.
fn read_chunk(
    shared: &Shared,
    generation: u64,
    stream: &mut Stream,
    buf: &mut [u8],
    deadline: Option<Instant>,
) -> Result<usize, WaitError> {
    shared.wait_on(generation, deadline, |_| Ok(stream.read(buf)?))
}

/// What the script said before the program ran.
#[derive(Debug, Default)]
struct Start {
    pid: Option<(u32, Option<u64>)>,
    status: Option<PathBuf>,
    fail: Option<String>,
    /// What came after the last start line: the program's own output.
    rest: Vec<u8>,
}

impl Start {
    fn complete(&self, mode: Mode) -> bool {
        self.fail.is_some()
            || (self.pid.is_some() && (mode != Mode::Watched || self.status.is_some()))
    }

    /// Takes the start lines out of `buf`; what follows them stays.
    fn scan(&mut self, buf: &mut Vec<u8>, mode: Mode) {
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

/// Reads the start lines from the channel's standard output.
fn read_start(shared: &Shared, chan: &ChanHandle, mode: Mode) -> Result<(Start, bool), WaitError> {
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

/// Reads what a stream holds now, into `sink` when given.
fn drain(
    stream: &mut Stream,
    mut sink: Option<&mut Vec<u8>>,
    chunk: &mut [u8],
) -> Result<(), Fail> {
    loop {
        match stream.read(chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                if let Some(sink) = sink.as_deref_mut() {
                    sink.extend_from_slice(&chunk[..n]);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reads what is left on both streams (into `out` and `err` when given,
/// else dropped), then waits for the channel to close; the exit.
fn finish(
    shared: &Shared,
    chan: &ChanHandle,
    mut out: Option<&mut Vec<u8>>,
    mut err: Option<&mut Vec<u8>>,
    drain_stdout: bool,
    drain_stderr: bool,
    deadline: Option<Instant>,
) -> Result<ProcessExit, WaitError> {
    let channel = chan.channel();
    let mut stdout = channel.stream(0);
    let mut stderr = channel.stderr();
    let mut chunk = vec![0u8; 32 * 1024];
    shared.wait_on(chan.generation, deadline, |_| {
        let mut drain_both = || -> Result<(), Fail> {
            if drain_stdout || out.is_some() {
                drain(&mut stdout, out.as_deref_mut(), &mut chunk)?;
            }
            if drain_stderr || err.is_some() {
                drain(&mut stderr, err.as_deref_mut(), &mut chunk)?;
            }
            Ok(())
        };
        drain_both()?;
        let mut channel = channel.clone();
        // Waiting for the end of the output reads what came before it into
        // libssh2's queue: drain it again once the end is there.
        channel.wait_eof()?;
        drain_both()?;
        channel.wait_close()?;
        Ok(())
    })?;
    let exit = {
        let _guard = shared.lock();
        match channel.exit_signal().ok().and_then(|s| s.exit_signal) {
            Some(name) => ProcessExit {
                code: None,
                signal: command::signal_number(&name),
            },
            None => ProcessExit {
                code: channel.exit_status().ok(),
                signal: None,
            },
        }
    };
    Ok(exit)
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
    match fail {
        Some("notfound") => spawn(
            io::ErrorKind::NotFound,
            format!("no such program on {target}"),
        ),
        Some("noexec") => spawn(
            io::ErrorKind::PermissionDenied,
            format!("it is not an executable file on {target}"),
        ),
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

fn wait_error(program: &str, e: WaitError, target: &str, timeout: Duration) -> ConnectorError {
    let source = match e {
        WaitError::Lost => io::Error::new(
            io::ErrorKind::ConnectionAborted,
            format!("the SSH session to {target} broke while starting it"),
        ),
        WaitError::Deadline => io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "{target} did not start it within {}s",
                timeout.as_secs_f64()
            ),
        ),
        WaitError::Op(f) => f.into_io(),
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

/// A process started on the remote machine.
pub struct SshProcess {
    shared: Arc<Shared>,
    program: String,
    pid: u32,
    start: Option<u64>,
    mode: Mode,
    chan: Option<Arc<ChanHandle>>,
    drain_stdout: bool,
    drain_stderr: bool,
    status_file: Option<PathBuf>,
    stdin: Option<Box<dyn Write + Send>>,
    stdout: Option<Box<dyn Read + Send>>,
    stderr: Option<Box<dyn Read + Send>>,
    pumps: Vec<JoinHandle<()>>,
    exit: Option<ProcessExit>,
    gone_since: Option<Instant>,
}

impl fmt::Debug for SshProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshProcess")
            .field("target", &self.shared.target)
            .field("program", &self.program)
            .field("pid", &self.pid)
            .field("mode", &self.mode)
            .field("exit", &self.exit)
            .finish_non_exhaustive()
    }
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
    let mut process = SshProcess {
        shared: Arc::clone(shared),
        program,
        pid,
        start: start_time,
        mode,
        chan: None,
        drain_stdout: !matches!(spec.stdout, StdioSpec::Pipe | StdioSpec::Inherit),
        drain_stderr: !matches!(spec.stderr, StdioSpec::Pipe | StdioSpec::Inherit),
        status_file: start.status,
        stdin: None,
        stdout: None,
        stderr: None,
        pumps: Vec::new(),
        exit: None,
        gone_since: None,
    };
    let keeps_channel = mode == Mode::Channel
        || matches!(spec.stdin, StdioSpec::Pipe)
        || !process.drain_stdout
        || !process.drain_stderr;
    if !keeps_channel {
        // The script has left the channel: close it now, which frees one
        // of the server's sessions for this connection.
        let deadline = Some(Instant::now() + timeout);
        let _ = finish(shared, &chan, None, None, true, true, deadline);
        return Ok(process);
    }
    if matches!(spec.stdin, StdioSpec::Pipe) {
        process.stdin = Some(Box::new(ChannelWriter {
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
                    process.stdout = Some(r);
                } else {
                    process.stderr = Some(r);
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
                process.pumps.push(pump);
            }
            StdioSpec::Null | StdioSpec::File(_) => {}
        }
    }
    process.chan = Some(chan);
    Ok(process)
}

impl SshProcess {
    /// How the process ended, when it has; `block` waits for it.
    fn check(&mut self, block: bool) -> Result<Option<ProcessExit>, ConnectorError> {
        if let Some(exit) = self.exit {
            return Ok(Some(exit));
        }
        let exit = match (self.mode, self.chan.is_some()) {
            (Mode::Channel, true) => self.check_channel(block)?,
            (Mode::Watched, _) if self.status_file.is_some() => self.check_status(block)?,
            _ => self.check_alive(block)?,
        };
        if let Some(exit) = exit {
            self.exit = Some(exit);
            for pump in self.pumps.drain(..) {
                let _ = pump.join();
            }
            self.chan = None;
        }
        Ok(exit)
    }

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
            Err(WaitError::Deadline) => Ok(None),
            Err(WaitError::Lost) => {
                // The session broke: follow the process by its pid on a
                // new one; its exit status went with the old one.
                self.chan = None;
                self.check_alive(block)
            }
            Err(WaitError::Op(fail)) => Err(ConnectorError::Io {
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
        let mut pause = FIRST_POLL;
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
            if pause >= LAST_POLL || !block {
                if self.shared_alive()? {
                    self.gone_since = None;
                } else {
                    let since = *self.gone_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= WATCHER_GRACE {
                        // Its watcher went with it (killed, or the machine
                        // rebooted): no status will ever come.
                        return Ok(Some(UNKNOWN_EXIT));
                    }
                }
            }
            if !block {
                return Ok(None);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(LAST_POLL);
        }
    }

    fn check_alive(&mut self, block: bool) -> Result<Option<ProcessExit>, ConnectorError> {
        let mut pause = FIRST_POLL;
        loop {
            if !self.shared_alive()? {
                return Ok(Some(UNKNOWN_EXIT));
            }
            if !block {
                return Ok(None);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(LAST_POLL);
        }
    }

    fn shared_alive(&self) -> Result<bool, ConnectorError> {
        crate::files::alive(&self.shared, self.pid, self.start)
    }
}

impl Process for SshProcess {
    fn id(&self) -> Option<u32> {
        Some(self.pid)
    }

    /// Waits for the end; while the machine cannot be reached (the
    /// connection refused or lost, no answer), it keeps trying, with
    /// backoff: the process goes on there meanwhile. `try_wait` reports
    /// such errors instead.
    fn wait(&mut self) -> Result<ProcessExit, ConnectorError> {
        let mut pause = Duration::from_secs(1);
        loop {
            match self.check(true) {
                Ok(Some(exit)) => return Ok(exit),
                Ok(None) => {}
                Err(e) if unreachable(&e) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(30));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn try_wait(&mut self) -> Result<Option<ProcessExit>, ConnectorError> {
        self.check(false)
    }

    fn take_stdin(&mut self) -> Option<Box<dyn Write + Send>> {
        self.stdin.take()
    }

    fn take_stdout(&mut self) -> Option<Box<dyn Read + Send>> {
        self.stdout.take()
    }

    fn take_stderr(&mut self) -> Option<Box<dyn Read + Send>> {
        self.stderr.take()
    }
}

/// A stream of the process's output.
struct ChannelReader {
    chan: Arc<ChanHandle>,
    stream: Option<Stream>,
    prefix: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.prefix.len() {
            let n = buf.len().min(self.prefix.len() - self.pos);
            buf[..n].copy_from_slice(&self.prefix[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Ok(0);
        };
        let shared = &self.chan.shared;
        match read_chunk(shared, self.chan.generation, stream, buf, None) {
            Ok(n) => Ok(n),
            Err(WaitError::Lost) => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                format!(
                    "the SSH session to {} broke: the rest of the process's output is lost",
                    shared.target
                ),
            )),
            Err(WaitError::Deadline) => Err(io::ErrorKind::TimedOut.into()),
            Err(WaitError::Op(fail)) => Err(fail.into_io()),
        }
    }
}

impl Drop for ChannelReader {
    fn drop(&mut self) {
        let _guard = self.chan.shared.lock();
        drop(self.stream.take());
    }
}

/// The process's standard input; dropping it sends end-of-file.
struct ChannelWriter {
    chan: Arc<ChanHandle>,
    channel: Option<Channel>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(channel) = self.channel.as_mut() else {
            return Err(io::ErrorKind::BrokenPipe.into());
        };
        if buf.is_empty() {
            return Ok(0);
        }
        let shared = &self.chan.shared;
        match shared.wait_on(self.chan.generation, None, |_| Ok(channel.write(buf)?)) {
            Ok(n) => Ok(n),
            Err(WaitError::Lost) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                format!("the SSH session to {} broke", shared.target),
            )),
            Err(WaitError::Deadline) => Err(io::ErrorKind::TimedOut.into()),
            Err(WaitError::Op(fail)) => Err(fail.into_io()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ChannelWriter {
    fn drop(&mut self) {
        if let Some(mut channel) = self.channel.take() {
            let shared = &self.chan.shared;
            let deadline = Some(Instant::now() + shared.config.timeout);
            let _ = shared.wait_on(self.chan.generation, deadline, |_| Ok(channel.send_eof()?));
            let _guard = shared.lock();
            drop(channel);
        }
    }
}

impl Drop for SshProcess {
    fn drop(&mut self) {
        // Output copied to this process's own streams is complete once the
        // process has ended; otherwise the copies go on by themselves.
        if self.exit.is_some() {
            for pump in self.pumps.drain(..) {
                let _ = pump.join();
            }
        }
    }
}

/// Runs `spec` with its output captured.
pub(crate) fn run(
    shared: &Arc<Shared>,
    spec: &ProcessSpec,
) -> Result<ProcessOutput, ConnectorError> {
    let mut spec = spec.clone();
    if matches!(spec.stdin, StdioSpec::Pipe | StdioSpec::Inherit) {
        spec.stdin = StdioSpec::Null;
    }
    spec.stdout = StdioSpec::Pipe;
    spec.stderr = StdioSpec::Pipe;
    spec.detached = false;
    let script = command::render(&spec, Mode::Channel, shared.config.default_dir.as_deref())?;
    let program = spec.display_command();
    let (stdout, stderr, exit) =
        exec_capture(shared, &script).map_err(|source| ConnectorError::Spawn {
            program: program.clone(),
            source,
        })?;
    let mut start = Start::default();
    let mut out = stdout;
    start.scan(&mut out, Mode::Channel);
    if start.fail.is_some() || start.pid.is_none() {
        return Err(start_error(
            shared,
            &spec,
            start.fail.as_deref(),
            &stderr,
            Some(exit),
        ));
    }
    if !exit.success() {
        return Err(ConnectorError::Failed {
            program,
            status: exit.to_string(),
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        });
    }
    Ok(ProcessOutput {
        exit,
        stdout: out,
        stderr,
    })
}

/// Runs a script to its end: its standard output, error and exit.
pub(crate) fn exec_capture(
    shared: &Arc<Shared>,
    script: &str,
) -> Result<crate::helper::Captured, io::Error> {
    if let Some(result) = crate::helper::run(shared, script) {
        return result;
    }
    let chan = open_exec(shared, script).map_err(OpError::into_io)?;
    let mut out = Vec::new();
    let mut err = Vec::new();
    match finish(
        shared,
        &chan,
        Some(&mut out),
        Some(&mut err),
        true,
        true,
        None,
    ) {
        Ok(exit) => Ok((out, err, exit)),
        Err(WaitError::Lost) => Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            format!(
                "the SSH session to {} broke while the command ran; it may or may not have run to its end",
                shared.target
            ),
        )),
        Err(WaitError::Deadline) => Err(io::ErrorKind::TimedOut.into()),
        Err(WaitError::Op(fail)) => Err(fail.into_io()),
    }
}
