//! Why the SSH connector failed. No message ever holds a secret: keys and
//! passphrases are only handed to libssh2, and a password in an address is
//! replaced by `***`.

use std::path::PathBuf;
use std::time::Duration;

/// Why the SSH connector failed.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// An `ssh://` address that does not parse.
    #[error("invalid SSH address `{input}`: {reason}")]
    Address {
        /// The address (a password in it replaced by `***`).
        input: String,
        /// What is wrong.
        reason: String,
    },
    /// A setting that cannot be used.
    #[error("invalid SSH setting `{key}`: {reason}")]
    Config {
        /// The setting.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The TCP connection could not be made.
    #[error("cannot connect to {host}:{port}: {source}")]
    Connect {
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The SSH protocol failed (handshake, key exchange, a broken session).
    #[error("SSH session with {target}: {message}")]
    Session {
        /// `user@host:port`.
        target: String,
        /// What libssh2 or the connector said.
        message: String,
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
    #[error("cannot {op} the known hosts file `{}`: {source}", path.display())]
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
}

impl SshError {
    /// Whether trying again later may work (the network, the server being
    /// restarted), as opposed to a refusal (host key, login, settings).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SshError::Connect { .. } | SshError::Session { .. } | SshError::Timeout { .. }
        )
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
}
