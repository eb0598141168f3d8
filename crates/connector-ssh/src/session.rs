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

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use ssh2::{BlockDirections, ErrorCode, MethodType, Session, Sftp};

use crate::SshError;
use crate::config::{HostKeyPolicy, Secret, SshConfig, expand_home, home};
use crate::known_hosts::{self, HostKeyStatus};

/// libssh2's "would block".
const EAGAIN: i32 = -37;
/// libssh2 errors after which the session cannot be used any more.
const FATAL: [i32; 16] = [
    -1,  // socket none
    -2,  // banner receive
    -3,  // banner send
    -4,  // invalid MAC
    -5,  // kex failure
    -7,  // socket send
    -8,  // key exchange failure
    -9,  // timeout
    -12, // decrypt
    -13, // socket disconnect
    -14, // protocol
    -30, // socket timeout
    -43, // socket receive
    -44, // encrypt
    -45, // bad socket
    -52, // MAC failure
];

/// An error of one libssh2 call: its own, or an I/O error from a stream.
#[derive(Debug)]
pub(crate) enum Fail {
    Ssh(ssh2::Error),
    Io(io::Error),
}

impl From<ssh2::Error> for Fail {
    fn from(e: ssh2::Error) -> Self {
        Fail::Ssh(e)
    }
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        Fail::Io(e)
    }
}

impl Fail {
    /// "Would block", for closures that found nothing to do yet.
    pub(crate) fn again() -> Fail {
        Fail::Ssh(ssh2::Error::from_errno(ErrorCode::Session(EAGAIN)))
    }

    /// The SFTP status code, when the server answered with one.
    pub(crate) fn sftp_code(&self) -> Option<i32> {
        match self {
            Fail::Ssh(e) => match e.code() {
                ErrorCode::SFTP(code) => Some(code),
                ErrorCode::Session(_) => None,
            },
            Fail::Io(_) => None,
        }
    }

    /// As an I/O error, with the kind a caller can test
    /// ([`io::ErrorKind::NotFound`] for a missing file).
    pub(crate) fn into_io(self) -> io::Error {
        match self {
            Fail::Io(e) => e,
            Fail::Ssh(e) => {
                let kind = match e.code() {
                    ErrorCode::SFTP(2 | 10) => io::ErrorKind::NotFound,
                    ErrorCode::SFTP(3 | 12) => io::ErrorKind::PermissionDenied,
                    ErrorCode::SFTP(11) => io::ErrorKind::AlreadyExists,
                    ErrorCode::SFTP(19) => io::ErrorKind::NotADirectory,
                    ErrorCode::SFTP(18) => io::ErrorKind::DirectoryNotEmpty,
                    _ => io::ErrorKind::Other,
                };
                io::Error::new(kind, e.message().to_owned())
            }
        }
    }
}

/// Why an operation failed.
#[derive(Debug)]
pub(crate) enum OpError {
    /// The session broke during the operation (it has been dropped).
    Broken(Box<SshError>),
    /// No session could be opened.
    Connect(Box<SshError>),
    /// The operation itself failed; the session is fine.
    Op(Fail),
}

impl OpError {
    pub(crate) fn into_io(self) -> io::Error {
        match self {
            OpError::Broken(e) | OpError::Connect(e) => {
                let kind = match &*e {
                    SshError::Timeout { .. } => io::ErrorKind::TimedOut,
                    SshError::Connect { source, .. } => source.kind(),
                    SshError::Session { .. } => io::ErrorKind::ConnectionAborted,
                    SshError::UnknownHostKey { .. }
                    | SshError::ChangedHostKey { .. }
                    | SshError::RevokedHostKey { .. }
                    | SshError::Auth { .. } => io::ErrorKind::PermissionDenied,
                    _ => io::ErrorKind::Other,
                };
                // The message only: the error's own chain would repeat it.
                io::Error::new(kind, e.to_string())
            }
            OpError::Op(f) => f.into_io(),
        }
    }
}

/// A live session.
pub(crate) struct Conn {
    pub session: Session,
    /// The socket, for waiting on it (the session owns another handle).
    pub socket: Arc<TcpStream>,
    /// The SFTP handle, opened on first use.
    pub sftp: Option<Sftp>,
    /// Which session this is (1 for the first, then one more per re-open).
    pub generation: u64,
}

impl Conn {
    /// The SFTP handle, opened when there is none yet.
    pub(crate) fn sftp(&mut self) -> Result<&Sftp, Fail> {
        if self.sftp.is_none() {
            self.sftp = Some(self.session.sftp()?);
        }
        match &self.sftp {
            Some(sftp) => Ok(sftp),
            None => Err(Fail::again()),
        }
    }

    fn classify(&self, fail: &Fail) -> Class {
        let code = match fail {
            Fail::Ssh(e) => match e.code() {
                ErrorCode::Session(code) => code,
                ErrorCode::SFTP(_) => return Class::Op,
            },
            Fail::Io(e) if e.kind() == io::ErrorKind::WouldBlock => return Class::Again,
            Fail::Io(_) => match ssh2::Error::last_session_error(&self.session).map(|e| e.code()) {
                Some(ErrorCode::Session(code)) => code,
                _ => return Class::Op,
            },
        };
        if code == EAGAIN {
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

/// Whether the server closed the connection (or it was reset): the socket
/// (non-blocking, as libssh2 sets it) reads its end, with nothing left
/// before it.
fn peer_gone(socket: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match socket.peek(&mut byte) {
        Ok(n) => n == 0,
        Err(e) => !matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
        ),
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
    pub config: SshConfig,
    /// `user@host:port`.
    pub target: String,
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
            *stop.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
            stop.cond.notify_all();
        }
        drop(std::mem::take(
            self.helpers
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        ));
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(conn) = state.conn.take() {
            // A polite goodbye when it goes out at once; never waited for.
            let _ = conn
                .session
                .disconnect(None, "launch: connector dropped", None);
            discard(conn);
        }
    }
}

/// Waits until the socket is ready for `flags` or `timeout` passes;
/// whether it is ready. A signal does not cut the wait short.
fn poll(socket: &TcpStream, flags: PollFlags, timeout: Duration) -> bool {
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

fn flags_of(dirs: &BlockDirections) -> PollFlags {
    match dirs {
        BlockDirections::Inbound => PollFlags::POLLIN,
        BlockDirections::Outbound => PollFlags::POLLOUT,
        BlockDirections::Both | BlockDirections::None => PollFlags::POLLIN | PollFlags::POLLOUT,
    }
}

/// Why [`Shared::wait_on`] stopped.
#[derive(Debug)]
pub(crate) enum WaitError {
    /// The session the caller's channel belongs to is gone.
    Lost,
    /// The deadline passed.
    Deadline,
    /// The operation failed.
    Op(Fail),
}

impl Shared {
    pub(crate) fn new(config: SshConfig) -> Arc<Shared> {
        let target = config.target();
        Arc::new_cyclic(|this| Shared {
            config,
            target,
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
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The helper shells (never locked while `lock` is held).
    pub(crate) fn helpers(&self) -> MutexGuard<'_, crate::helper::Pool> {
        self.helpers.lock().unwrap_or_else(PoisonError::into_inner)
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
                connect(&self.config, generation)?
            };
            st.generation = generation;
            st.connected_once = true;
            st.last_use = Instant::now();
            st.conn = Some(conn);
            self.start_keepalive();
        }
        match st.conn.as_mut() {
            Some(conn) => Ok(conn),
            None => Err(self.session_error("no session")),
        }
    }

    fn reconnect(&self, generation: u64) -> Result<Conn, SshError> {
        let deadline = Instant::now() + self.config.reconnect_timeout;
        let mut pause = Duration::from_millis(100);
        loop {
            match connect(&self.config, generation) {
                Ok(conn) => return Ok(conn),
                Err(e) if e.is_transient() && Instant::now() + pause < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub(crate) fn session_error(&self, message: impl Into<String>) -> SshError {
        SshError::Session {
            target: self.target.clone(),
            message: message.into(),
        }
    }

    /// Drops the session after a transport failure.
    fn broken(st: &mut State, why: SshError) -> OpError {
        if let Some(conn) = st.conn.take() {
            discard(conn);
        }
        OpError::Broken(Box::new(why))
    }

    /// Runs `f` on the live session, keeping the lock, until it does not
    /// block (at most the request timeout).
    pub(crate) fn hold<T>(
        &self,
        st: &mut State,
        what: &str,
        mut f: impl FnMut(&mut Conn) -> Result<T, Fail>,
    ) -> Result<T, OpError> {
        let deadline = Instant::now() + self.config.timeout;
        let conn = self.conn(st).map_err(|e| OpError::Connect(Box::new(e)))?;
        let failure = loop {
            let fail = match f(conn) {
                Ok(value) => {
                    st.last_use = Instant::now();
                    return Ok(value);
                }
                Err(fail) => fail,
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
                Class::Fatal => {
                    break self.session_error(format!("{what}: {}", fail_message(&fail)));
                }
                Class::Op => return Err(OpError::Op(fail)),
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
        mut f: impl FnMut(&mut Conn) -> Result<T, Fail>,
    ) -> Result<T, WaitError> {
        let mut pause = Duration::from_millis(1);
        loop {
            let mut st = self.lock();
            let Some(conn) = st.conn.as_mut().filter(|c| c.generation == generation) else {
                return Err(WaitError::Lost);
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
                    let why = self.session_error(fail_message(&fail));
                    let _ = Self::broken(&mut st, why);
                    return Err(WaitError::Lost);
                }
                Class::Op => return Err(WaitError::Op(fail)),
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
                    return Err(WaitError::Lost);
                }
                continue;
            }
            let socket = Arc::clone(&conn.socket);
            drop(st);
            let mut nap = pause;
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(WaitError::Deadline);
                }
                nap = nap.min(left);
            }
            // Another thread may read what is ours from the socket: never
            // wait long on it.
            pause = if poll(&socket, PollFlags::POLLIN, nap) {
                Duration::from_millis(1)
            } else {
                (pause * 2).min(Duration::from_millis(50))
            };
        }
    }

    /// Runs a whole operation that may safely run twice, on a new session
    /// when the one it started on broke.
    pub(crate) fn retrying<T>(
        &self,
        mut op: impl FnMut(&Shared, &mut State) -> Result<T, OpError>,
    ) -> Result<T, OpError> {
        let mut attempts = 0;
        loop {
            let mut st = self.lock();
            match op(self, &mut st) {
                Err(OpError::Broken(_)) if attempts < 3 => attempts += 1,
                other => return other,
            }
        }
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
                    let guard = stop.stopped.lock().unwrap_or_else(PoisonError::into_inner);
                    let (guard, _) = stop
                        .cond
                        .wait_timeout_while(guard, interval, |stopped| !*stopped)
                        .unwrap_or_else(PoisonError::into_inner);
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

/// What a failure says, for messages.
pub(crate) fn fail_message(fail: &Fail) -> String {
    match fail {
        Fail::Ssh(e) => e.message().to_owned(),
        Fail::Io(e) => e.to_string(),
    }
}

/// Milliseconds for libssh2's timeouts.
fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX).max(1)
}

/// Opens a session: TCP, handshake, host key check, login.
pub(crate) fn connect(config: &SshConfig, generation: u64) -> Result<Conn, SshError> {
    config.validate()?;
    let user = config.user_name()?;
    let target = config.target();
    let session_error = |message: String| SshError::Session {
        target: target.clone(),
        message,
    };
    let connect_error = |source: io::Error| SshError::Connect {
        host: config.host.clone(),
        port: config.port,
        source,
    };
    let addrs: Vec<SocketAddr> = (config.host.as_str(), config.port)
        .to_socket_addrs()
        .map_err(connect_error)?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name has no address");
    let mut stream = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, config.connect_timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let stream = stream.ok_or_else(|| connect_error(last))?;
    let _ = stream.set_nodelay(true);
    let socket = Arc::new(stream.try_clone().map_err(connect_error)?);
    let mut session =
        Session::new().map_err(|e| session_error(format!("cannot start libssh2: {e}")))?;
    session.set_tcp_stream(stream);
    session.set_blocking(true);
    session.set_timeout(millis(config.connect_timeout));

    let known_hosts_path = config.known_hosts_path();
    let known_text = read_known_hosts(&known_hosts_path)?;
    let name = known_hosts::host_name(&config.host, config.port);
    if let Ok(supported) = session.supported_algs(MethodType::HostKey) {
        let known = known_hosts::known_types(&known_text, &name);
        if let Some(pref) = known_hosts::hostkey_preference(&known, &supported) {
            let _ = session.method_pref(MethodType::HostKey, &pref);
        }
    }
    session
        .handshake()
        .map_err(|e| session_error(format!("SSH handshake failed: {}", e.message())))?;
    check_host_key(&session, config, &known_hosts_path, &known_text, &name)?;
    authenticate(&session, config, &user, &target)?;
    session.set_blocking(false);
    session.set_timeout(millis(config.timeout));
    Ok(Conn {
        session,
        socket,
        sftp: None,
        generation,
    })
}

fn read_known_hosts(path: &Path) -> Result<String, SshError> {
    match fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(SshError::KnownHosts {
            op: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn check_host_key(
    session: &Session,
    config: &SshConfig,
    path: &Path,
    text: &str,
    name: &str,
) -> Result<(), SshError> {
    let Some((blob, _)) = session.host_key() else {
        return Err(SshError::Session {
            target: config.target(),
            message: "the server showed no host key".into(),
        });
    };
    let fingerprint = known_hosts::fingerprint(blob);
    let offered = format!(
        "{} {fingerprint}",
        known_hosts::key_type(blob).unwrap_or("unknown")
    );
    match known_hosts::check(text, name, blob) {
        HostKeyStatus::Known { .. } => Ok(()),
        HostKeyStatus::Changed {
            line,
            known_fingerprint,
        } => Err(SshError::ChangedHostKey {
            name: name.to_owned(),
            offered,
            known_fingerprint,
            known_hosts: path.to_path_buf(),
            line,
        }),
        HostKeyStatus::Revoked { line } => Err(SshError::RevokedHostKey {
            name: name.to_owned(),
            fingerprint,
            known_hosts: path.to_path_buf(),
            line,
        }),
        HostKeyStatus::Unknown { other_types } => match config.host_key_policy {
            HostKeyPolicy::Strict => Err(SshError::UnknownHostKey {
                name: name.to_owned(),
                offered,
                known_hosts: path.to_path_buf(),
                other_types,
            }),
            HostKeyPolicy::AcceptNew => record_host_key(path, name, blob),
        },
    }
}

/// Appends a host key to the known hosts file (created, with its
/// directory, private to the user when missing).
fn record_host_key(path: &Path, name: &str, blob: &[u8]) -> Result<(), SshError> {
    let fail = |source| SshError::KnownHosts {
        op: "record the new host key in",
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(fail)?;
    }
    let existing = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(fail(e)),
    };
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    file.write_all(known_hosts::append_text(&existing, name, blob).as_bytes())
        .map_err(fail)
}

/// Why a key was not accepted, for people.
fn key_refusal(e: &ssh2::Error) -> String {
    match e.code() {
        ErrorCode::Session(-18 | -19) => "the server refused the key".into(),
        ErrorCode::Session(-16) => format!(
            "the key cannot be used (a wrong or missing passphrase, or a format libssh2 cannot read): {}",
            e.message()
        ),
        _ => e.message().to_owned(),
    }
}

fn authenticate(
    session: &Session,
    config: &SshConfig,
    user: &str,
    target: &str,
) -> Result<(), SshError> {
    let mut tried = Vec::new();
    let fail = |tried| SshError::Auth {
        target: target.to_owned(),
        tried,
    };
    let try_file = |path: &Path, passphrase: Option<&Secret>, tried: &mut Vec<String>| match session
        .userauth_pubkey_file(user, None, path, passphrase.map(Secret::expose))
    {
        Ok(()) if session.authenticated() => true,
        Ok(()) => {
            tried.push(format!(
                "identity file `{}`: more authentication is required, which is not supported",
                path.display()
            ));
            false
        }
        Err(e) => {
            tried.push(format!(
                "identity file `{}`: {}",
                path.display(),
                key_refusal(&e)
            ));
            false
        }
    };
    let home = home();
    if let Some(identity) = &config.identity {
        let path = expand_home(identity, home.as_deref());
        if !path.is_file() {
            tried.push(format!(
                "identity file `{}`: it does not exist",
                path.display()
            ));
        } else if try_file(&path, config.passphrase.as_ref(), &mut tried) {
            return Ok(());
        }
        return Err(fail(tried));
    }
    match agent_login(session, user) {
        Ok(true) => return Ok(()),
        Ok(false) => tried.push("the SSH agent: the server refused each of its keys".into()),
        Err(why) => tried.push(format!("the SSH agent: {why}")),
    }
    let mut defaults = 0;
    for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
        let Some(path) = home.as_ref().map(|h| h.join(".ssh").join(name)) else {
            break;
        };
        if path.is_file() {
            defaults += 1;
            if try_file(&path, None, &mut tried) {
                return Ok(());
            }
        }
    }
    if defaults == 0 {
        tried.push(
            "no identity file is set and ~/.ssh has no id_ed25519, id_ecdsa or id_rsa".into(),
        );
    }
    Err(fail(tried))
}

/// Logs in with the agent's keys: `Ok(false)` when it has keys and none
/// was accepted, `Err` when there is no agent or it has no key.
fn agent_login(session: &Session, user: &str) -> Result<bool, String> {
    if std::env::var_os("SSH_AUTH_SOCK").is_none_or(|s| s.is_empty()) {
        return Err("none is running (SSH_AUTH_SOCK is not set)".into());
    }
    let mut agent = session.agent().map_err(|e| e.message().to_owned())?;
    agent
        .connect()
        .map_err(|e| format!("cannot reach it: {}", e.message()))?;
    agent
        .list_identities()
        .map_err(|e| format!("cannot list its keys: {}", e.message()))?;
    let identities = agent.identities().map_err(|e| e.message().to_owned())?;
    if identities.is_empty() {
        return Err("it holds no key".into());
    }
    for identity in &identities {
        if agent.userauth(user, identity).is_ok() && session.authenticated() {
            let _ = agent.disconnect();
            return Ok(true);
        }
    }
    let _ = agent.disconnect();
    Ok(false)
}
