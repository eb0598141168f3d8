//! Exec channels: opening one and starting a script on it, reading and
//! writing its streams, waiting for its end.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use core_types::job::ProcessExit;
use ssh2::{Channel, Stream};

use crate::SshError;
use crate::command;
use crate::session::{Shared, retry_broken};

/// An exec channel, closed (so that the server frees its session slot)
/// when its last user drops it.
pub(crate) struct ChanHandle {
    pub(crate) shared: Arc<Shared>,
    channel: Option<Channel>,
    pub(crate) generation: u64,
}

impl ChanHandle {
    /// The channel and its session's generation, for a user that closes
    /// it itself (when this is the only handle).
    pub(crate) fn into_raw(self: Arc<Self>) -> Option<(Channel, u64)> {
        let mut this = Arc::try_unwrap(self).ok()?;
        let channel = this.channel.take()?;
        Some((channel, this.generation))
    }

    pub(crate) fn channel(&self) -> &Channel {
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
pub(crate) fn open_exec(shared: &Arc<Shared>, script: &str) -> Result<Arc<ChanHandle>, SshError> {
    let (mut channel, generation, mut st) = retry_broken(|| {
        let mut st = shared.lock();
        let opened = shared.hold(&mut st, "opening a channel", |c| {
            Ok((c.session.channel_session()?, c.generation))
        });
        match opened {
            Ok((channel, generation)) => Ok((channel, generation, st)),
            Err(e @ (SshError::Libssh2(_) | SshError::Io(_))) => Err(SshError::ChannelRefused {
                source: Box::new(e),
            }),
            Err(e) => Err(e),
        }
    })?;
    // The command may have reached the server: it is not sent again.
    let started = shared.hold(&mut st, "starting a command", |_| Ok(channel.exec(script)?));
    if let Err(e) = started {
        drop(channel);
        return Err(e);
    }
    drop(st);
    Ok(Arc::new(ChanHandle {
        shared: Arc::clone(shared),
        channel: Some(channel),
        generation,
    }))
}

/// Reads one chunk of a channel stream, waiting for it.
pub(crate) fn read_chunk(
    shared: &Shared,
    generation: u64,
    stream: &mut Stream,
    buf: &mut [u8],
    deadline: Option<Instant>,
) -> Result<usize, SshError> {
    shared.wait_on(generation, deadline, |_| Ok(stream.read(buf)?))
}

/// Reads what a stream holds now, into `sink` when given.
fn drain(
    stream: &mut Stream,
    mut sink: Option<&mut Vec<u8>>,
    chunk: &mut [u8],
) -> Result<(), SshError> {
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
pub(crate) fn finish(
    shared: &Shared,
    chan: &ChanHandle,
    mut out: Option<&mut Vec<u8>>,
    mut err: Option<&mut Vec<u8>>,
    drain_stdout: bool,
    drain_stderr: bool,
    deadline: Option<Instant>,
) -> Result<ProcessExit, SshError> {
    let channel = chan.channel();
    let mut stdout = channel.stream(0);
    let mut stderr = channel.stderr();
    let mut chunk = vec![0u8; 32 * 1024];
    shared.wait_on(chan.generation, deadline, |_| {
        let mut drain_both = || -> Result<(), SshError> {
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

/// A stream of the process's output.
pub(crate) struct ChannelReader {
    pub(crate) chan: Arc<ChanHandle>,
    pub(crate) stream: Option<Stream>,
    pub(crate) prefix: Vec<u8>,
    pub(crate) pos: usize,
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
        read_chunk(shared, self.chan.generation, stream, buf, None).map_err(|e| {
            e.into_stream_io(io::ErrorKind::ConnectionAborted, || {
                format!(
                    "the SSH session to {} broke: the rest of the process's output is lost",
                    shared.target
                )
            })
        })
    }
}

impl Drop for ChannelReader {
    fn drop(&mut self) {
        let _guard = self.chan.shared.lock();
        drop(self.stream.take());
    }
}

/// The process's standard input; dropping it sends end-of-file.
pub(crate) struct ChannelWriter {
    pub(crate) chan: Arc<ChanHandle>,
    pub(crate) channel: Option<Channel>,
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
        shared
            .wait_on(self.chan.generation, None, |_| Ok(channel.write(buf)?))
            .map_err(|e| {
                e.into_stream_io(io::ErrorKind::BrokenPipe, || {
                    format!("the SSH session to {} broke", shared.target)
                })
            })
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
