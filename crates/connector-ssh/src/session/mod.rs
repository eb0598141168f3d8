//! One SSH session per host, shared by every thread: connecting (host key,
//! login), the rules for using a non-blocking libssh2 session from several
//! threads, and re-opening a broken session.
//!
//! libssh2 is not thread-safe: a session is used by one thread at a time
//! (the `State` mutex). The session is non-blocking, and an operation that
//! would block is retried by the thread that started it:
//!
//! - while libssh2 has bytes of a packet left to send (it would block
//!   *outbound*), the thread keeps the lock and waits for the socket, since
//!   any other packet would have to wait behind that one;
//! - operations with state of their own in libssh2 (opening a channel,
//!   every SFTP request on the shared SFTP handle) keep the lock until they
//!   complete: they take one round trip;
//! - waiting for a process's output or end ([`Shared::wait_on`]) releases
//!   the lock while the server has nothing to say, so that a job running
//!   for hours never holds up the others.
//!
//! A session that fails at the transport level (the server went away, a
//! request went unanswered past the timeout) is dropped, and the next
//! operation opens a new one, retrying with backoff while the server is
//! unreachable; operations that can safely run twice are retried on the
//! new session.

mod auth;
mod connect;
pub(crate) mod hops;
mod host_key;
pub(crate) mod sock;

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use libssh2_sys as raw;
use nix::poll::PollFlags;
use ssh2::{BlockDirections, Session, Sftp};

use hops::{Chain, HopReport};
use sock::{Sock, peer_gone, poll};

use crate::SshConfig;
use crate::SshError;
use crate::util::{Backoff, unpoisoned};

pub(crate) use connect::connect;

/// libssh2's "no socket" and "MAC failure" (`libssh2.h`), which
/// `libssh2-sys` 0.3 does not name.
const LIBSSH2_ERROR_SOCKET_NONE: i32 = -1;
const LIBSSH2_ERROR_MAC_FAILURE: i32 = -52;
/// libssh2 errors after which the session cannot be used any more.
const FATAL: [i32; 16] = [
    LIBSSH2_ERROR_SOCKET_NONE,
    raw::LIBSSH2_ERROR_BANNER_RECV,
    raw::LIBSSH2_ERROR_BANNER_SEND,
    raw::LIBSSH2_ERROR_INVALID_MAC,
    raw::LIBSSH2_ERROR_KEX_FAILURE,
    raw::LIBSSH2_ERROR_SOCKET_SEND,
    raw::LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE,
    raw::LIBSSH2_ERROR_TIMEOUT,
    raw::LIBSSH2_ERROR_DECRYPT,
    raw::LIBSSH2_ERROR_SOCKET_DISCONNECT,
    raw::LIBSSH2_ERROR_PROTO,
    raw::LIBSSH2_ERROR_SOCKET_TIMEOUT,
    raw::LIBSSH2_ERROR_SOCKET_RECV,
    raw::LIBSSH2_ERROR_ENCRYPT,
    raw::LIBSSH2_ERROR_BAD_SOCKET,
    LIBSSH2_ERROR_MAC_FAILURE,
];

/// A live session.
pub(crate) struct Conn {
    pub session: Session,
    /// The socket, for waiting on it (the session owns another handle).
    pub socket: Arc<Sock>,
    /// The SFTP handle, opened on first use.
    pub sftp: Option<Sftp>,
    /// Which session this is (1 for the first, then one more per re-open).
    pub generation: u64,
}

impl Conn {
    /// The SFTP handle, opened when there is none yet.
    pub(crate) fn sftp(&mut self) -> Result<&Sftp, SshError> {
        if self.sftp.is_none() {
            self.sftp = Some(self.session.sftp()?);
        }
        match &self.sftp {
            Some(sftp) => Ok(sftp),
            None => Err(SshError::again()),
        }
    }

    fn classify(&self, fail: &SshError) -> Class {
        let code = match fail {
            SshError::Libssh2(e) => match e.code() {
                ssh2::ErrorCode::Session(code) => code,
                ssh2::ErrorCode::SFTP(_) => return Class::Op,
            },
            SshError::Io(e) if e.kind() == io::ErrorKind::WouldBlock => return Class::Again,
            SshError::Io(_) => {
                match ssh2::Error::last_session_error(&self.session).map(|e| e.code()) {
                    Some(ssh2::ErrorCode::Session(code)) => code,
                    _ => return Class::Op,
                }
            }
            _ => return Class::Op,
        };
        if code == raw::LIBSSH2_ERROR_EAGAIN {
            Class::Again
        } else if FATAL.contains(&code) || peer_gone(&self.socket) {
            // libssh2 sometimes reports a dead connection as the failure of
            // what it was doing ("Unable to startup channel"): the socket
            // tells.
            Class::Fatal
        } else {
            Class::Op
        }
    }
}

enum Class {
    Again,
    Fatal,
    Op,
}

/// Drops a session that broke without waiting on it.
fn discard(conn: Conn) {
    // Dropping the SFTP handle closes it in blocking mode: bound that.
    conn.session.set_timeout(200);
    drop(conn);
}

pub(crate) struct State {
    pub conn: Option<Conn>,
    generation: u64,
    connected_once: bool,
    last_use: Instant,
}

/// What every handle on one host's session shares.
pub(crate) struct Shared {
    /// The settings, resolved through the OpenSSH configuration files.
    pub config: SshConfig,
    /// `user@host:port`, the host as given (see [`SshConfig::name`]).
    pub target: String,
    /// The jump hosts.
    chain: Chain,
    state: Mutex<State>,
    this: Weak<Shared>,
    keepalive: OnceLock<Arc<Stop>>,
    /// Shells kept running for short commands ([`crate::helper`]).
    helpers: Mutex<crate::helper::Pool>,
}

/// Tells the keep-alive thread to stop.
#[derive(Default)]
struct Stop {
    stopped: Mutex<bool>,
    cond: Condvar,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshSession")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(stop) = self.keepalive.get() {
            *unpoisoned(stop.stopped.lock()) = true;
            stop.cond.notify_all();
        }
        drop(std::mem::take(unpoisoned(self.helpers.get_mut())));
        let state = unpoisoned(self.state.get_mut());
        if let Some(conn) = state.conn.take() {
            // A polite goodbye when it goes out at once; never waited for.
            let _ = conn
                .session
                .disconnect(None, "launch: connector dropped", None);
            discard(conn);
        }
    }
}

fn flags_of(dirs: &BlockDirections) -> PollFlags {
    match dirs {
        BlockDirections::Inbound => PollFlags::POLLIN,
        BlockDirections::Outbound => PollFlags::POLLOUT,
        BlockDirections::Both | BlockDirections::None => PollFlags::POLLIN | PollFlags::POLLOUT,
    }
}

impl Shared {
    pub(crate) fn new(config: SshConfig, hops: Vec<SshConfig>) -> Arc<Shared> {
        let target = config.name();
        Arc::new_cyclic(|this| Shared {
            config,
            target,
            chain: Chain::new(hops),
            state: Mutex::new(State {
                conn: None,
                generation: 0,
                connected_once: false,
                last_use: Instant::now(),
            }),
            this: this.clone(),
            keepalive: OnceLock::new(),
            helpers: Mutex::new(crate::helper::Pool::default()),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        unpoisoned(self.state.lock())
    }

    /// The helper shells (never locked while `lock` is held).
    pub(crate) fn helpers(&self) -> MutexGuard<'_, crate::helper::Pool> {
        unpoisoned(self.helpers.lock())
    }

    /// Connects now, saying what happened at each hop (the session is
    /// kept when it opens).
    pub(crate) fn probe(&self) -> Vec<HopReport> {
        let mut report = Vec::new();
        let mut st = self.lock();
        if st.conn.is_some() {
            report.push(HopReport {
                name: self.target.clone(),
                outcome: Ok("session already open".into()),
            });
            return report;
        }
        let generation = st.generation + 1;
        if let Ok(conn) = connect(&self.config, &self.chain, generation, Some(&mut report)) {
            st.generation = generation;
            st.connected_once = true;
            st.last_use = Instant::now();
            st.conn = Some(conn);
            drop(st);
            self.start_keepalive();
        }
        report
    }

    /// How many jump host sessions are open.
    pub(crate) fn hops_open(&self) -> usize {
        self.chain.live()
    }

    /// How many sessions were opened so far.
    pub(crate) fn sessions_opened(&self) -> u64 {
        self.lock().generation
    }

    /// The live session, opening one when there is none (with backoff
    /// when this is a re-open).
    pub(crate) fn conn<'a>(&self, st: &'a mut State) -> Result<&'a mut Conn, SshError> {
        if st.conn.is_none() {
            let generation = st.generation + 1;
            let conn = if st.connected_once {
                self.reconnect(generation)?
            } else {
                connect(&self.config, &self.chain, generation, None)?
            };
            st.generation = generation;
            st.connected_once = true;
            st.last_use = Instant::now();
            st.conn = Some(conn);
            self.start_keepalive();
        }
        match st.conn.as_mut() {
            Some(conn) => Ok(conn),
            None => Err(self.session_error("no session", None)),
        }
    }

    fn reconnect(&self, generation: u64) -> Result<Conn, SshError> {
        let deadline = Instant::now() + self.config.reconnect_timeout;
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        loop {
            match connect(&self.config, &self.chain, generation, None) {
                Ok(conn) => return Ok(conn),
                Err(e) if e.is_transient() && Instant::now() + backoff.pause() < deadline => {
                    backoff.sleep();
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The session failed while doing `what`, for the reason `cause`.
    pub(crate) fn session_error(&self, what: &str, cause: Option<SshError>) -> SshError {
        SshError::Session {
            target: self.target.clone(),
            what: what.to_owned(),
            source: cause.map(Box::new),
        }
    }

    /// Drops the session after a transport failure.
    fn broken(st: &mut State, why: SshError) -> SshError {
        if let Some(conn) = st.conn.take() {
            discard(conn);
        }
        SshError::Broken(Box::new(why))
    }

    /// Runs `f` on the live session, keeping the lock, until it does not
    /// block (at most the request timeout).
    pub(crate) fn hold<T>(
        &self,
        st: &mut State,
        what: &str,
        mut f: impl FnMut(&mut Conn) -> Result<T, SshError>,
    ) -> Result<T, SshError> {
        let deadline = Instant::now() + self.config.timeout;
        let conn = self.conn(st)?;
        let failure = loop {
            let result = f(conn);
            let Err(fail) = result else {
                st.last_use = Instant::now();
                return result;
            };
            match conn.classify(&fail) {
                Class::Again => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break SshError::Timeout {
                            target: self.target.clone(),
                            what: what.to_owned(),
                            after: self.config.timeout,
                        };
                    }
                    let flags = flags_of(&conn.session.block_directions());
                    poll(&conn.socket, flags, left.min(Duration::from_millis(500)));
                }
                Class::Fatal => break self.session_error(what, Some(fail)),
                Class::Op => return Err(fail),
            }
        };
        Err(Self::broken(st, failure))
    }

    /// Runs `f` on session `generation` until it does not block or
    /// `deadline` passes, letting other threads use the session while the
    /// server has nothing to say.
    pub(crate) fn wait_on<T>(
        &self,
        generation: u64,
        deadline: Option<Instant>,
        mut f: impl FnMut(&mut Conn) -> Result<T, SshError>,
    ) -> Result<T, SshError> {
        let mut backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(50));
        loop {
            let mut st = self.lock();
            let Some(conn) = st.conn.as_mut().filter(|c| c.generation == generation) else {
                return Err(SshError::Lost);
            };
            let fail = match f(conn) {
                Ok(value) => {
                    st.last_use = Instant::now();
                    return Ok(value);
                }
                Err(fail) => fail,
            };
            match conn.classify(&fail) {
                Class::Again => {}
                Class::Fatal => {
                    let why = self.session_error("waiting", Some(fail));
                    let _ = Self::broken(&mut st, why);
                    return Err(SshError::Lost);
                }
                Class::Op => return Err(fail),
            }
            let dirs = conn.session.block_directions();
            if matches!(dirs, BlockDirections::Outbound | BlockDirections::Both) {
                // Bytes of a packet are waiting to go: nobody else may send
                // before they have.
                if !poll(&conn.socket, flags_of(&dirs), self.config.timeout) {
                    let why = SshError::Timeout {
                        target: self.target.clone(),
                        what: "sending".into(),
                        after: self.config.timeout,
                    };
                    let _ = Self::broken(&mut st, why);
                    return Err(SshError::Lost);
                }
                continue;
            }
            let socket = Arc::clone(&conn.socket);
            drop(st);
            let mut nap = backoff.pause();
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(SshError::Deadline);
                }
                nap = nap.min(left);
            }
            // Another thread may read what is ours from the socket: never
            // wait long on it.
            if poll(&socket, PollFlags::POLLIN, nap) {
                backoff.reset();
            } else {
                backoff.grow();
            }
        }
    }

    /// Runs a whole operation that may safely run twice, on a new session
    /// when the one it started on broke.
    pub(crate) fn retrying<T>(
        &self,
        mut op: impl FnMut(&Shared, &mut State) -> Result<T, SshError>,
    ) -> Result<T, SshError> {
        retry_broken(|| op(self, &mut self.lock()))
    }

    fn start_keepalive(&self) {
        if self.config.keepalive.is_zero() {
            return;
        }
        let mut started = false;
        let stop = self.keepalive.get_or_init(|| {
            started = true;
            Arc::new(Stop::default())
        });
        if !started {
            return;
        }
        let stop = Arc::clone(stop);
        let this = self.this.clone();
        let interval = self.config.keepalive;
        let _ = std::thread::Builder::new()
            .name("launch-ssh-keepalive".into())
            .spawn(move || {
                loop {
                    let guard = unpoisoned(stop.stopped.lock());
                    let (guard, _) = unpoisoned(stop.cond.wait_timeout_while(
                        guard,
                        interval,
                        |stopped| !*stopped,
                    ));
                    if *guard {
                        return;
                    }
                    drop(guard);
                    let Some(shared) = this.upgrade() else {
                        return;
                    };
                    shared.keepalive_tick();
                }
            });
    }

    /// A request on an idle session: it keeps firewalls from forgetting
    /// the connection, answers what the server sent meanwhile, and finds a
    /// session that broke while nobody used it.
    fn keepalive_tick(&self) {
        let mut st = self.lock();
        if st.conn.is_none() || st.last_use.elapsed() < self.config.keepalive {
            return;
        }
        let _ = self.hold(&mut st, "checking the session", |c| {
            Ok(c.sftp()?.stat(Path::new("."))?)
        });
    }
}

/// Runs `op` again, up to three more times, while it fails because the
/// session broke (a new one is opened by the next try).
pub(crate) fn retry_broken<T>(mut op: impl FnMut() -> Result<T, SshError>) -> Result<T, SshError> {
    let mut attempts = 0;
    loop {
        match op() {
            Err(SshError::Broken(_)) if attempts < 3 => attempts += 1,
            other => return other,
        }
    }
}
