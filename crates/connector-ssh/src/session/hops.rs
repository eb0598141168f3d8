//! Jump hosts (`ProxyJump`): a session to each hop, a `direct-tcpip`
//! channel from it to the next one, bridged to the next session's socket.
//!
//! libssh2 runs a session on a socket, so each forwarded channel is
//! bridged to one end of a socket pair by a pump thread, and the next
//! session runs on the other end. Each hop's session is logged into with
//! its own settings and its host key checked against its own
//! `known_hosts` entry. Hops are kept while they live: when the target's
//! session breaks, the chain is rebuilt from the first broken hop.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use libssh2_sys::LIBSSH2_ERROR_EAGAIN;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use parking_lot::Mutex;
use ssh2::{Channel, ErrorCode, Session};

use super::connect::{open_session, tcp};
use super::sock::{Sock, peer_gone};
use crate::{SshConfig, SshError};

/// One hop's live session.
pub(crate) struct Link {
    config: SshConfig,
    session: Mutex<Session>,
    /// The session's socket, for waiting on it and seeing it close.
    sock: Sock,
    /// A pump found the session broken.
    dead: AtomicBool,
}

impl Link {
    fn broken(&self) -> bool {
        self.dead.load(Ordering::Relaxed) || peer_gone(&self.sock)
    }
}

/// The jump hosts of a connector, first first.
pub(crate) struct Chain {
    hops: Vec<SshConfig>,
    links: Mutex<Vec<Arc<Link>>>,
}

/// What happened at one hop (for `launch check --connect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HopReport {
    /// `user@host:port` of the hop (or the target, last).
    pub name: String,
    /// What was done there, or why it failed.
    pub outcome: Result<String, String>,
}

fn is_again(e: &ssh2::Error) -> bool {
    e.code() == ErrorCode::Session(LIBSSH2_ERROR_EAGAIN)
}

impl Chain {
    pub(crate) fn new(hops: Vec<SshConfig>) -> Chain {
        Chain {
            hops,
            links: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.hops.is_empty()
    }

    /// How many hop sessions are open now.
    pub(crate) fn live(&self) -> usize {
        self.links.lock().len()
    }

    fn hop_error(&self, index: usize, source: SshError) -> SshError {
        SshError::Hop {
            index: index + 1,
            count: self.hops.len(),
            name: self.hops[index].name(),
            source: Box::new(source),
        }
    }

    /// A stream to `host:port` through every hop, reusing the hops that
    /// live and opening again those from the first broken one.
    pub(crate) fn forward_to(
        &self,
        host: &str,
        port: u16,
        mut report: Option<&mut Vec<HopReport>>,
    ) -> Result<Sock, SshError> {
        let mut links = self.links.lock();
        if let Some(first_broken) = links.iter().position(|l| l.broken()) {
            links.truncate(first_broken);
        }
        for (i, link) in links.iter().enumerate() {
            if let Some(r) = report.as_deref_mut() {
                r.push(HopReport {
                    name: self.hops[i].name(),
                    outcome: Ok("session already open".into()),
                });
            }
            let _ = link;
        }
        while links.len() < self.hops.len() {
            let j = links.len();
            let hop = &self.hops[j];
            let opened = (|| {
                let stream = match links.last() {
                    None => tcp(hop)?,
                    Some(prev) => forward(prev, &hop.host, hop.port)?,
                };
                open_link(hop, stream)
            })();
            match opened {
                Ok(link) => {
                    if let Some(r) = report.as_deref_mut() {
                        r.push(HopReport {
                            name: hop.name(),
                            outcome: Ok(format!(
                                "connected to {}:{}, host key known, logged in",
                                hop.host, hop.port
                            )),
                        });
                    }
                    links.push(Arc::new(link));
                }
                Err(e) => {
                    let e = self.hop_error(j, e);
                    if let Some(r) = report.as_deref_mut() {
                        r.push(HopReport {
                            name: hop.name(),
                            outcome: Err(core_types::text::error_chain(&e)),
                        });
                    }
                    return Err(e);
                }
            }
        }
        let last = links.last().expect("a chain has a hop");
        forward(last, host, port)
    }
}

/// A session to a hop on `stream`.
fn open_link(config: &SshConfig, stream: Sock) -> Result<Link, SshError> {
    let sock = stream.try_clone().map_err(SshError::Io)?;
    let session = open_session(config, stream)?;
    session.set_blocking(false);
    if !config.keepalive.is_zero() {
        session.set_keepalive(false, config.keepalive.as_secs().max(1) as u32);
    }
    Ok(Link {
        config: config.clone(),
        session: Mutex::new(session),
        sock,
        dead: AtomicBool::new(false),
    })
}

/// Waits for `link`'s socket (bounded).
fn wait(link: &Link, flags: PollFlags, timeout: Duration) {
    let _ = super::sock::poll(&link.sock, flags, timeout);
}

/// A `direct-tcpip` channel from `link` to `host:port`, bridged to a new
/// socket pair: the other end is returned.
fn forward(link: &Arc<Link>, host: &str, port: u16) -> Result<Sock, SshError> {
    let deadline = Instant::now() + link.config.connect_timeout;
    let channel = loop {
        let session = link.session.lock();
        match session.channel_direct_tcpip(host, port, None) {
            Ok(channel) => break channel,
            Err(e) if is_again(&e) => {
                drop(session);
                if Instant::now() >= deadline {
                    return Err(SshError::Forward {
                        via: link.config.name(),
                        host: host.to_owned(),
                        port,
                        source: Box::new(SshError::Timeout {
                            target: link.config.name(),
                            what: "opening a forwarded connection".into(),
                            after: link.config.connect_timeout,
                        }),
                    });
                }
                wait(link, PollFlags::POLLIN, Duration::from_millis(50));
            }
            Err(e) => {
                if peer_gone(&link.sock) {
                    link.dead.store(true, Ordering::Relaxed);
                }
                return Err(SshError::Forward {
                    via: link.config.name(),
                    host: host.to_owned(),
                    port,
                    source: Box::new(SshError::Libssh2(e)),
                });
            }
        }
    };
    let (ours, theirs) = UnixStream::pair().map_err(SshError::Io)?;
    ours.set_nonblocking(true).map_err(SshError::Io)?;
    let link = Arc::clone(link);
    std::thread::Builder::new()
        .name("launch-ssh-jump".into())
        .spawn(move || pump(&link, channel, ours))
        .map_err(SshError::Io)?;
    Ok(Sock::Unix(theirs))
}

/// Waits until the hop's socket or the pair's end has something to do
/// (bounded: another pump on this session may have read what is ours into
/// libssh2's queue).
fn idle(link: &Link, end: &UnixStream, to_channel: bool, to_end: bool) {
    let mut link_flags = PollFlags::POLLIN;
    if to_channel {
        link_flags |= PollFlags::POLLOUT;
    }
    let mut end_flags = PollFlags::POLLIN;
    if to_end {
        end_flags |= PollFlags::POLLOUT;
    }
    let mut fds = [
        PollFd::new(std::os::fd::AsFd::as_fd(&link.sock), link_flags),
        PollFd::new(std::os::fd::AsFd::as_fd(end), end_flags),
    ];
    let _ = nix::poll::poll(&mut fds, PollTimeout::from(50u8));
}

/// Writes what `w` takes now of `buf` (non-blocking) and drops that from
/// `buf`: whether any went.
fn write_some(w: &mut impl Write, buf: &mut Vec<u8>) -> io::Result<bool> {
    match w.write(buf) {
        Ok(n) => {
            buf.drain(..n);
            Ok(n > 0)
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e),
    }
}

/// Copies between a forwarded channel and its socket pair end until
/// either side ends.
fn pump(link: &Link, mut channel: Channel, mut end: UnixStream) {
    let mut to_end: Vec<u8> = Vec::new();
    let mut to_channel: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let (mut end_eof, mut channel_eof, mut eof_sent) = (false, false, false);
    let mut last_keepalive = Instant::now();
    let broken = loop {
        let mut progress = false;
        {
            let session = link.session.lock();
            if to_end.len() < 1 << 20 && !channel_eof {
                match channel.read(&mut chunk) {
                    Ok(0) if channel.eof() => channel_eof = true,
                    Ok(0) => {}
                    Ok(n) => {
                        to_end.extend_from_slice(&chunk[..n]);
                        progress = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => break true,
                }
            }
            if !to_channel.is_empty() {
                match write_some(&mut channel, &mut to_channel) {
                    Ok(wrote) => progress |= wrote,
                    Err(_) => break true,
                }
            }
            if end_eof && to_channel.is_empty() && !eof_sent {
                match channel.send_eof() {
                    Ok(()) => eof_sent = true,
                    Err(e) if is_again(&e) => {}
                    Err(_) => break true,
                }
            }
            if last_keepalive.elapsed() >= Duration::from_secs(1) {
                last_keepalive = Instant::now();
                if let Err(e) = session.keepalive_send() {
                    if !is_again(&e) {
                        break true;
                    }
                }
            }
        }
        if !to_end.is_empty() {
            match write_some(&mut end, &mut to_end) {
                Ok(wrote) => progress |= wrote,
                Err(_) => break false,
            }
        }
        if !end_eof && to_channel.len() < 1 << 20 {
            match end.read(&mut chunk) {
                Ok(0) => {
                    end_eof = true;
                    progress = true;
                }
                Ok(n) => {
                    to_channel.extend_from_slice(&chunk[..n]);
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => break false,
            }
        }
        if channel_eof && to_end.is_empty() {
            break false;
        }
        if end_eof && eof_sent {
            break false;
        }
        if peer_gone(&link.sock) {
            break true;
        }
        if !progress {
            idle(link, &end, !to_channel.is_empty(), !to_end.is_empty());
        }
    };
    if broken {
        link.dead.store(true, Ordering::Relaxed);
    }
    let _ = end.shutdown(std::net::Shutdown::Both);
    let session = link.session.lock();
    let _ = channel.close();
    drop(channel);
    drop(session);
}
