//! The socket under a session: a TCP connection to the host, or one end
//! of a socket pair bridged to a jump host's forwarded channel
//! ([`super::hops`]).

use std::io;
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{MsgFlags, recv};

/// A session's socket.
#[derive(Debug)]
pub(crate) enum Sock {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A socket pair's end, bridged to a forwarded channel.
    Unix(UnixStream),
}

impl Sock {
    pub(crate) fn try_clone(&self) -> io::Result<Sock> {
        Ok(match self {
            Sock::Tcp(s) => Sock::Tcp(s.try_clone()?),
            Sock::Unix(s) => Sock::Unix(s.try_clone()?),
        })
    }
}

impl AsFd for Sock {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Sock::Tcp(s) => s.as_fd(),
            Sock::Unix(s) => s.as_fd(),
        }
    }
}

impl AsRawFd for Sock {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// Whether the other end closed the connection (or it was reset): the
/// socket reads its end, with nothing left before it.
pub(crate) fn peer_gone(socket: &impl AsRawFd) -> bool {
    let mut byte = [0u8; 1];
    match recv(
        socket.as_raw_fd(),
        &mut byte,
        MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT,
    ) {
        Ok(n) => n == 0,
        Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => false,
        Err(_) => true,
    }
}

/// Waits until the socket is ready for `flags` or `timeout` passes;
/// whether it is ready. A signal does not cut the wait short.
pub(crate) fn poll(socket: &impl AsFd, flags: PollFlags, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds = [PollFd::new(socket.as_fd(), flags)];
        let wait = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        match nix::poll::poll(&mut fds, wait) {
            Ok(n) => return n > 0,
            Err(nix::errno::Errno::EINTR) if !left.is_zero() => {}
            Err(_) => return false,
        }
    }
}
