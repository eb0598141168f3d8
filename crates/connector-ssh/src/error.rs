//! Why the SSH connector failed. No message ever holds a secret: keys and
//! passphrases are only handed to libssh2, and a password in an address is
//! replaced by `***`.
//!
//! One enum for the whole crate: what callers see (settings, connecting,
//! host keys, logging in, timeouts), and what the connector's own code
//! passes around while it uses a session (one libssh2 call's failure, a
//! session that broke, a wait that ended); those turn into the
//! [`ConnectorError`](core_types::job::ConnectorError)s of the
//! [`Connector`](core_types::job::Connector) calls.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use libssh2_sys::LIBSSH2_ERROR_EAGAIN;
use ssh_settings::SettingsError;
use ssh2::ErrorCode;

/// Why the SSH connector failed.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// Settings, or an `ssh://` address, that cannot be used.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The TCP connection could not be made.
    #[error("cannot connect to {host}:{port}")]
    Connect {
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A jump host could not be reached, or refused us: which one.
    #[error("through jump host {name} (hop {index} of {count})")]
    Hop {
        /// Its place in the chain, from 1.
        index: usize,
        /// How many jump hosts there are.
        count: usize,
        /// `user@host:port` of the hop, as given.
        name: String,
        /// What failed there.
        #[source]
        source: Box<SshError>,
    },
    /// A jump host could not open a connection onwards.
    #[error("jump host {via} cannot open a connection to {host}:{port}")]
    Forward {
        /// The jump host.
        via: String,
        /// Where to.
        host: String,
        /// The port.
        port: u16,
        /// What it said.
        #[source]
        source: Box<SshError>,
    },
    /// The system's `ssh` (the OpenSSH transport) failed.
    #[error("ssh to {target} failed ({status}){}", if stderr.is_empty() { String::new() } else { format!(": {stderr}") })]
    OpenSsh {
        /// The connector's name.
        target: String,
        /// Its exit status.
        status: String,
        /// What it wrote on its standard error (trimmed).
        stderr: String,
    },
    /// The SSH protocol failed (handshake, key exchange, a broken session).
    #[error("SSH session with {target}: {what}")]
    Session {
        /// `user@host:port`.
        target: String,
        /// What failed, or what was being done when it did.
        what: String,
        /// What libssh2 or the socket said, when they did.
        #[source]
        source: Option<Box<SshError>>,
    },
    /// The host's key is in no line of the known hosts file.
    #[error(
        "the host key of {name} is not known: the server offers {offered}, and `{}` has no {key_type} key for {name}{others}; refusing to connect. Check the fingerprint with the machine's administrator, then add it (`ssh-keyscan{port_flag} {host} >> {}`) or set host_key_policy = \"accept-new\"",
        known_hosts.display(),
        known_hosts.display(),
        key_type = offered.split(' ').next().unwrap_or(offered),
        others = if other_types.is_empty() { String::new() } else { format!(" (it knows {} for it)", other_types.join(", ")) },
        port_flag = if name.starts_with('[') { format!(" -p {}", name.rsplit(':').next().unwrap_or("22")) } else { String::new() },
        host = name.trim_start_matches('[').split(']').next().unwrap_or(name),
    )]
    UnknownHostKey {
        /// The host as `known_hosts` names it (`[host]:port`).
        name: String,
        /// The key's type and fingerprint (`ssh-ed25519 SHA256:...`).
        offered: String,
        /// The known hosts file.
        known_hosts: PathBuf,
        /// Key types the file knows for the host.
        other_types: Vec<String>,
    },
    /// The host's key differs from the one on file.
    #[error(
        "HOST KEY CHANGED for {name}: the server offers {offered}, but line {line} of `{}` holds {known_fingerprint}; refusing to connect. Someone may be intercepting the connection, or the host's key was replaced: if its administrator confirms the new key, remove line {line} and connect again",
        known_hosts.display()
    )]
    ChangedHostKey {
        /// The host as `known_hosts` names it.
        name: String,
        /// The offered key's type and fingerprint.
        offered: String,
        /// The fingerprint of the key on file.
        known_fingerprint: String,
        /// The known hosts file.
        known_hosts: PathBuf,
        /// The line holding the key on file.
        line: usize,
    },
    /// The host's key is marked `@revoked`.
    #[error(
        "the host key of {name} ({fingerprint}) is revoked (line {line} of `{}`); refusing to connect",
        known_hosts.display()
    )]
    RevokedHostKey {
        /// The host as `known_hosts` names it.
        name: String,
        /// The key's fingerprint.
        fingerprint: String,
        /// The known hosts file.
        known_hosts: PathBuf,
        /// The `@revoked` line.
        line: usize,
    },
    /// The known hosts file cannot be read or written.
    #[error("cannot {op} the known hosts file `{}`", path.display())]
    KnownHosts {
        /// `read`, `record the new host key in`.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// No way of logging in worked.
    #[error("cannot log in to {target}: {}", tried.join("; "))]
    Auth {
        /// `user@host:port`.
        target: String,
        /// What was tried, and what each said.
        tried: Vec<String>,
    },
    /// The server did not answer in time.
    #[error("SSH session with {target}: no answer within {}s while {what}", after.as_secs_f64())]
    Timeout {
        /// `user@host:port`.
        target: String,
        /// What was being done.
        what: String,
        /// The time waited.
        after: Duration,
    },
    /// The session broke during an operation, and was dropped: the
    /// operation may be tried again on a new one. Shows as its cause.
    #[error(transparent)]
    Broken(Box<SshError>),
    /// The server would not open one more channel.
    #[error(
        "the server refused to open a channel; servers allow a few at once per connection (sshd's MaxSessions, 10 by default)"
    )]
    ChannelRefused {
        /// What libssh2 said.
        #[source]
        source: Box<SshError>,
    },
    /// One libssh2 call failed (the session itself may be fine): its
    /// message, and its code for the connector to act on.
    #[error("{}", .0.message())]
    Libssh2(ssh2::Error),
    /// A channel's or an SFTP file's stream failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The session a channel belonged to is gone, with the channel.
    #[error("the SSH session broke")]
    Lost,
    /// A wait's deadline passed.
    #[error("the deadline passed")]
    Deadline,
}

impl From<ssh2::Error> for SshError {
    fn from(e: ssh2::Error) -> Self {
        SshError::Libssh2(e)
    }
}

impl SshError {
    /// Whether trying again later may work (the network, the server being
    /// restarted), as opposed to a refusal (host key, login, settings).
    pub fn is_transient(&self) -> bool {
        match self {
            SshError::Connect { .. }
            | SshError::Session { .. }
            | SshError::Timeout { .. }
            | SshError::Forward { .. }
            | SshError::OpenSsh { .. } => true,
            SshError::Broken(inner) | SshError::Hop { source: inner, .. } => inner.is_transient(),
            _ => false,
        }
    }

    /// "Would block", for closures that found nothing to do yet.
    pub(crate) fn again() -> SshError {
        SshError::Libssh2(ssh2::Error::from_errno(ErrorCode::Session(
            LIBSSH2_ERROR_EAGAIN,
        )))
    }

    /// The SFTP status code, when the server answered with one.
    pub(crate) fn sftp_code(&self) -> Option<i32> {
        match self {
            SshError::Libssh2(e) => match e.code() {
                ErrorCode::SFTP(code) => Some(code),
                ErrorCode::Session(_) => None,
            },
            _ => None,
        }
    }

    /// The libssh2 session error code, when this is one.
    pub(crate) fn session_code(&self) -> Option<i32> {
        match self {
            SshError::Libssh2(e) => match e.code() {
                ErrorCode::Session(code) => Some(code),
                ErrorCode::SFTP(_) => None,
            },
            _ => None,
        }
    }

    /// The kind of I/O error this is for a caller: [`io::ErrorKind::NotFound`]
    /// for a missing file, [`io::ErrorKind::PermissionDenied`] for a
    /// refused host key or login, `TimedOut`, `ConnectionAborted`, ...
    fn kind(&self) -> io::ErrorKind {
        use libssh2_sys::{
            LIBSSH2_FX_DIR_NOT_EMPTY, LIBSSH2_FX_FILE_ALREADY_EXISTS, LIBSSH2_FX_NO_SUCH_FILE,
            LIBSSH2_FX_NO_SUCH_PATH, LIBSSH2_FX_NOT_A_DIRECTORY, LIBSSH2_FX_PERMISSION_DENIED,
            LIBSSH2_FX_WRITE_PROTECT,
        };
        match self {
            SshError::Timeout { .. } | SshError::Deadline => io::ErrorKind::TimedOut,
            SshError::Connect { source, .. } => source.kind(),
            SshError::Session { .. } | SshError::Lost | SshError::OpenSsh { .. } => {
                io::ErrorKind::ConnectionAborted
            }
            SshError::UnknownHostKey { .. }
            | SshError::ChangedHostKey { .. }
            | SshError::RevokedHostKey { .. }
            | SshError::Auth { .. } => io::ErrorKind::PermissionDenied,
            SshError::Broken(inner) | SshError::Hop { source: inner, .. } => inner.kind(),
            SshError::Forward { .. } => io::ErrorKind::ConnectionRefused,
            SshError::Io(e) => e.kind(),
            SshError::Libssh2(e) => match e.code() {
                ErrorCode::SFTP(LIBSSH2_FX_NO_SUCH_FILE | LIBSSH2_FX_NO_SUCH_PATH) => {
                    io::ErrorKind::NotFound
                }
                ErrorCode::SFTP(LIBSSH2_FX_PERMISSION_DENIED | LIBSSH2_FX_WRITE_PROTECT) => {
                    io::ErrorKind::PermissionDenied
                }
                ErrorCode::SFTP(LIBSSH2_FX_FILE_ALREADY_EXISTS) => io::ErrorKind::AlreadyExists,
                ErrorCode::SFTP(LIBSSH2_FX_NOT_A_DIRECTORY) => io::ErrorKind::NotADirectory,
                ErrorCode::SFTP(LIBSSH2_FX_DIR_NOT_EMPTY) => io::ErrorKind::DirectoryNotEmpty,
                _ => io::ErrorKind::Other,
            },
            SshError::Settings(_)
            | SshError::KnownHosts { .. }
            | SshError::ChannelRefused { .. } => io::ErrorKind::Other,
        }
    }

    /// As an I/O error of [`SshError::kind`]'s kind; the error itself stays
    /// inside, with its causes (an I/O error is itself).
    pub(crate) fn into_io(self) -> io::Error {
        match self {
            SshError::Io(e) => e,
            other => io::Error::new(other.kind(), other),
        }
    }

    /// As an I/O error for a stream of a channel: [`SshError::Lost`] as an
    /// error of `kind` with the message `lost` gives, a passed deadline as
    /// `TimedOut`, anything else as [`SshError::into_io`].
    pub(crate) fn into_stream_io(
        self,
        kind: io::ErrorKind,
        lost: impl FnOnce() -> String,
    ) -> io::Error {
        match self {
            SshError::Lost => io::Error::new(kind, lost()),
            SshError::Deadline => io::ErrorKind::TimedOut.into(),
            fail => fail.into_io(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_key_messages() {
        let unknown = SshError::UnknownHostKey {
            name: "[127.0.0.1]:2222".into(),
            offered: "ssh-ed25519 SHA256:abc".into(),
            known_hosts: "/home/me/.ssh/known_hosts".into(),
            other_types: vec!["ssh-rsa".into()],
        };
        insta::assert_snapshot!("unknown_host_key", unknown.to_string());
        let unknown22 = SshError::UnknownHostKey {
            name: "login.example.org".into(),
            offered: "ssh-ed25519 SHA256:abc".into(),
            known_hosts: "/home/me/.ssh/known_hosts".into(),
            other_types: vec![],
        };
        insta::assert_snapshot!("unknown_host_key_22", unknown22.to_string());
        let changed = SshError::ChangedHostKey {
            name: "login.example.org".into(),
            offered: "ssh-ed25519 SHA256:new".into(),
            known_fingerprint: "SHA256:old".into(),
            known_hosts: "/home/me/.ssh/known_hosts".into(),
            line: 3,
        };
        insta::assert_snapshot!("changed_host_key", changed.to_string());
        assert!(!unknown.is_transient() && !changed.is_transient());
    }

    #[test]
    fn causes_are_sources_not_text() {
        use std::error::Error as _;
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        let cause = refused.to_string();
        let err = SshError::Connect {
            host: "h".into(),
            port: 22,
            source: refused,
        };
        assert_eq!(err.to_string(), "cannot connect to h:22");
        assert_eq!(err.source().map(ToString::to_string), Some(cause));
        assert!(err.is_transient());
        // As an I/O error: the kind for callers, the chain kept.
        let io = err.into_io();
        assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(io.to_string(), "cannot connect to h:22");
        assert!(io.source().is_some());

        let broken = SshError::Broken(Box::new(SshError::Session {
            target: "u@h:22".into(),
            what: "reading a file".into(),
            source: Some(Box::new(SshError::Io(io::Error::other("gone")))),
        }));
        assert_eq!(
            broken.to_string(),
            "SSH session with u@h:22: reading a file"
        );
        assert_eq!(
            broken.source().map(ToString::to_string).as_deref(),
            Some("gone")
        );
        assert!(broken.is_transient());
        assert_eq!(broken.into_io().kind(), io::ErrorKind::ConnectionAborted);
    }
}
