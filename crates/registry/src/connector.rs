//! Connectors of a launcher file: how a launcher reaches its machine.

use ssh_settings::SshConfig;

/// A connector a launcher file names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(
    clippy::large_enum_variant,
    reason = "a file names a few connectors, read once: boxing would only cost readers"
)]
pub enum ConnectorConfig {
    /// This machine (the built-in connector `local`).
    Local,
    /// A machine reached over SSH: the connector's own settings, the
    /// file's values over the defaults.
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
