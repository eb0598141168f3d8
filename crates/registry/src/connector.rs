//! Connectors of a launcher file: how a launcher reaches its machine.

use std::path::PathBuf;
use std::time::Duration;

/// How an SSH connector treats a host key it has not seen before. A key
/// that differs from the known one is always refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HostKeyPolicy {
    /// Only hosts already in `known_hosts` (the default).
    #[default]
    Strict,
    /// A host not yet in `known_hosts` is added on first connection.
    AcceptNew,
}

impl HostKeyPolicy {
    /// The name in launcher files (`strict`, `accept-new`).
    pub const fn name(self) -> &'static str {
        match self {
            HostKeyPolicy::Strict => "strict",
            HostKeyPolicy::AcceptNew => "accept-new",
        }
    }
}

/// An SSH connector's settings (`[connector.NAME]` with `type = "ssh"`).
///
/// Paths are kept as written: a leading `~` is the connector's to expand.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SshConfig {
    /// The host name or address.
    pub host: String,
    /// The port (default 22).
    pub port: u16,
    /// The user name (default: the SSH configuration's, else the local user).
    pub user: Option<String>,
    /// A private key file (default: the SSH agent).
    pub identity: Option<PathBuf>,
    /// The known hosts file (default `~/.ssh/known_hosts`); host keys are
    /// always verified.
    pub known_hosts: Option<PathBuf>,
    /// How long connecting may take (default: the connector's).
    pub timeout: Option<Duration>,
    /// How often to send keep-alive messages (default: the connector's; 0
    /// turns them off).
    pub keepalive: Option<Duration>,
    /// What to do with a host key not seen before.
    pub host_key_policy: HostKeyPolicy,
}

/// A connector a launcher file names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConnectorConfig {
    /// This machine (the built-in connector `local`).
    Local,
    /// A machine reached over SSH.
    Ssh(SshConfig),
}

impl ConnectorConfig {
    /// The connector's type (`local`, `ssh`).
    pub const fn type_name(&self) -> &'static str {
        match self {
            ConnectorConfig::Local => "local",
            ConnectorConfig::Ssh(_) => "ssh",
        }
    }

    /// A line for people: `local`, `ssh me@login.example.org:22`.
    pub fn describe(&self) -> String {
        match self {
            ConnectorConfig::Local => "local (this machine)".to_owned(),
            ConnectorConfig::Ssh(ssh) => {
                let user = ssh
                    .user
                    .as_deref()
                    .map_or_else(String::new, |u| format!("{u}@"));
                format!("ssh {user}{}:{}", ssh.host, ssh.port)
            }
        }
    }
}

/// The name of the built-in connector to this machine.
pub const LOCAL: &str = "local";
