//! A process started on the remote machine, on either transport: what is
//! the same (its pid, the caller's ends of its pipes, its exit once known,
//! waiting for it), around what each transport does to follow it
//! ([`Follow`]).

use std::fmt;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use core_types::job::{ConnectorError, Process, ProcessExit, ProcessSpec};

use crate::command::{self, Mode};
use crate::util::Backoff;

/// An exit whose status cannot be known (the process was followed by its
/// pid after the session that started it broke, or it was detached).
pub(crate) const UNKNOWN_EXIT: ProcessExit = ProcessExit {
    code: None,
    signal: None,
};

/// How long a watched process may be gone with no exit status written
/// before its watcher is taken for gone too.
const WATCHER_GRACE: Duration = Duration::from_secs(2);

/// Since when a watched process has been gone without its exit status.
#[derive(Debug, Default)]
pub(crate) struct Gone(Option<Instant>);

impl Gone {
    /// Whether its watcher went with it (killed, or the machine rebooted),
    /// so that no status will ever come: the process is not `alive`, and
    /// has not been for [`WATCHER_GRACE`].
    pub(crate) fn for_good(&mut self, alive: bool) -> bool {
        if alive {
            self.0 = None;
            return false;
        }
        self.0.get_or_insert_with(Instant::now).elapsed() >= WATCHER_GRACE
    }
}

/// How a transport follows a process it started to its end.
pub(crate) trait Follow: Send {
    /// How the process ended, when it has; `block` waits for it.
    fn check(&mut self, block: bool) -> Result<Option<ProcessExit>, ConnectorError>;

    /// Lets go of what followed the process, once its end is known.
    fn ended(&mut self);

    /// Whether [`Process::wait`] keeps trying, with backoff, through this
    /// error (the machine could not be reached) instead of reporting it.
    fn retries(&self, _error: &ConnectorError) -> bool {
        false
    }
}

/// The caller's ends of a process's piped streams.
#[derive(Default)]
pub(crate) struct Pipes {
    pub(crate) stdin: Option<Box<dyn Write + Send>>,
    pub(crate) stdout: Option<Box<dyn Read + Send>>,
    pub(crate) stderr: Option<Box<dyn Read + Send>>,
}

/// A process started on the remote machine.
pub struct SshProcess {
    target: String,
    program: String,
    pid: u32,
    mode: Mode,
    pipes: Pipes,
    exit: Option<ProcessExit>,
    follow: Box<dyn Follow>,
}

impl fmt::Debug for SshProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshProcess")
            .field("target", &self.target)
            .field("program", &self.program)
            .field("pid", &self.pid)
            .field("mode", &self.mode)
            .field("exit", &self.exit)
            .finish_non_exhaustive()
    }
}

impl SshProcess {
    /// Process `pid` on `target`, started for `spec`, followed by
    /// `follow`.
    pub(crate) fn new(
        target: String,
        spec: &ProcessSpec,
        pid: u32,
        pipes: Pipes,
        follow: Box<dyn Follow>,
    ) -> Self {
        SshProcess {
            target,
            program: spec.display_command(),
            pid,
            mode: command::mode(spec),
            pipes,
            exit: None,
            follow,
        }
    }

    /// How the process ended, when it has; `block` waits for it.
    fn check(&mut self, block: bool) -> Result<Option<ProcessExit>, ConnectorError> {
        if let Some(exit) = self.exit {
            return Ok(Some(exit));
        }
        let exit = self.follow.check(block)?;
        if let Some(exit) = exit {
            self.exit = Some(exit);
            self.follow.ended();
        }
        Ok(exit)
    }
}

impl Process for SshProcess {
    fn id(&self) -> Option<u32> {
        Some(self.pid)
    }

    /// Waits for the end; on the ssh2 transport, while the machine cannot
    /// be reached (the connection refused or lost, no answer), it keeps
    /// trying, with backoff: the process goes on there meanwhile.
    /// `try_wait` reports such errors instead.
    fn wait(&mut self) -> Result<ProcessExit, ConnectorError> {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        loop {
            match self.check(true) {
                Ok(Some(exit)) => return Ok(exit),
                Ok(None) => {}
                Err(e) if self.follow.retries(&e) => backoff.sleep(),
                Err(e) => return Err(e),
            }
        }
    }

    fn try_wait(&mut self) -> Result<Option<ProcessExit>, ConnectorError> {
        self.check(false)
    }

    fn take_stdin(&mut self) -> Option<Box<dyn Write + Send>> {
        self.pipes.stdin.take()
    }

    fn take_stdout(&mut self) -> Option<Box<dyn Read + Send>> {
        self.pipes.stdout.take()
    }

    fn take_stderr(&mut self) -> Option<Box<dyn Read + Send>> {
        self.pipes.stderr.take()
    }
}
