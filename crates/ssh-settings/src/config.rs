//! What an SSH connector connects to, and how.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::SettingsError;
use crate::address::SshAddress;

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

/// How an SSH connector reaches its machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Transport {
    /// libssh2 (the `ssh2` crate), in this process: one session per host,
    /// channels multiplexed on it (the default).
    #[default]
    Ssh2,
    /// The system's `ssh` binary through a control master: whatever
    /// OpenSSH supports (two-factor prompts once per master, FIDO keys,
    /// GSSAPI, `ProxyCommand`) works.
    OpenSsh,
}

impl Transport {
    /// The name in launcher files (`ssh2`, `openssh`).
    pub const fn name(self) -> &'static str {
        match self {
            Transport::Ssh2 => "ssh2",
            Transport::OpenSsh => "openssh",
        }
    }
}

/// Which OpenSSH client configuration files a connector reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum ConfigFiles {
    /// `~/.ssh/config`, then `/etc/ssh/ssh_config` (the default).
    #[default]
    User,
    /// None.
    None,
    /// This file only (as `ssh -F FILE`; `~/` is the home directory).
    Only(PathBuf),
}

/// The settings whose value was given (by the launcher file or a
/// program) rather than left to the configuration files and defaults;
/// those that are `Option`s are given when they are `Some`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "one flag per setting, each read on its own"
)]
struct Given {
    port: bool,
    host_key_policy: bool,
    connect_timeout: bool,
    keepalive: bool,
    identities_only: bool,
}

/// A secret (a key's passphrase): never shown by `Debug`, never part of a
/// message.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself, for the SSH library only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// An SSH connector's settings: what a launcher file's `[connector.NAME]`
/// table (`type = "ssh"`) says, with the defaults for what it does not.
///
/// Paths are kept as written: a leading `~` is expanded when they are used
/// ([`SshConfig::known_hosts_path`], [`expand_home`]). Two SSH connectors
/// built from equal settings share one session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SshConfig {
    /// The host name or address.
    pub host: String,
    /// The port (22).
    pub port: u16,
    /// The user (`$USER` of this process when `None`).
    pub user: Option<String>,
    /// A private key file (`~/` is the home directory), the only one
    /// tried. Without one, the SSH agent's keys (unless
    /// [`SshConfig::identities_only`]), then [`SshConfig::identity_files`],
    /// or when there are none `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`.
    pub identity: Option<PathBuf>,
    /// Key files of the OpenSSH configuration (`IdentityFile`), tried in
    /// order when no [`SshConfig::identity`] is set.
    pub identity_files: Vec<PathBuf>,
    /// Only key files, not the agent's keys (`IdentitiesOnly`).
    pub identities_only: bool,
    /// The identity file's passphrase, when it has one.
    pub passphrase: Option<Secret>,
    /// The known hosts file (`~/.ssh/known_hosts` when `None`).
    pub known_hosts: Option<PathBuf>,
    /// What to do with a host key not seen before.
    pub host_key_policy: HostKeyPolicy,
    /// How long connecting and logging in may take (10 s).
    pub connect_timeout: Duration,
    /// How long the server may take to answer a request before the session
    /// is taken for broken (30 s).
    pub timeout: Duration,
    /// How often an idle session is checked with a request, which keeps
    /// firewalls from dropping it and finds broken sessions (30 s; zero
    /// turns it off).
    pub keepalive: Duration,
    /// How long a broken session is re-opened for, with backoff, before
    /// operations fail (60 s).
    pub reconnect_timeout: Duration,
    /// Where processes run when they name no directory (the remote home
    /// when `None`; relative paths are under it).
    pub default_dir: Option<PathBuf>,
    /// Jump hosts, as OpenSSH's `ProxyJump` writes them:
    /// `[user@]host[:port]`, several separated by commas, or `none`.
    pub proxy_jump: Option<String>,
    /// How the machine is reached (ssh2).
    pub transport: Transport,
    /// Which OpenSSH configuration files are read.
    pub ssh_config: ConfigFiles,
    /// The host as given, when the configuration files named another
    /// (`Host mycluster` with `HostName login.example.org`): the name
    /// the connector is known by.
    pub alias: Option<String>,
    given: Given,
}

impl SshConfig {
    /// Settings for `host` with every default.
    pub fn new(host: impl Into<String>) -> Self {
        SshConfig {
            host: host.into(),
            port: 22,
            user: None,
            identity: None,
            passphrase: None,
            known_hosts: None,
            host_key_policy: HostKeyPolicy::Strict,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            keepalive: Duration::from_secs(30),
            reconnect_timeout: Duration::from_secs(60),
            default_dir: None,
            identity_files: Vec::new(),
            identities_only: false,
            proxy_jump: None,
            transport: Transport::Ssh2,
            ssh_config: ConfigFiles::User,
            alias: None,
            given: Given::default(),
        }
    }

    /// Settings from an `ssh://[user@]host[:port][/path]` address.
    pub fn from_address(address: &str) -> Result<Self, SettingsError> {
        let a = SshAddress::parse(address)?;
        let mut config = SshConfig::new(a.host);
        if let Some(port) = a.port {
            config = config.port(port);
        }
        config.user = a.user;
        config.default_dir = a.path;
        Ok(config)
    }

    /// Sets the port.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self.given.port = true;
        self
    }

    /// Sets the user.
    #[must_use]
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Sets the identity file.
    #[must_use]
    pub fn identity(mut self, path: impl Into<PathBuf>) -> Self {
        self.identity = Some(path.into());
        self
    }

    /// Sets the identity file's passphrase.
    #[must_use]
    pub fn passphrase(mut self, passphrase: Secret) -> Self {
        self.passphrase = Some(passphrase);
        self
    }

    /// Sets the known hosts file.
    #[must_use]
    pub fn known_hosts(mut self, path: impl Into<PathBuf>) -> Self {
        self.known_hosts = Some(path.into());
        self
    }

    /// Sets the host key policy.
    #[must_use]
    pub fn host_key_policy(mut self, policy: HostKeyPolicy) -> Self {
        self.host_key_policy = policy;
        self.given.host_key_policy = true;
        self
    }

    /// Sets the connection timeout.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self.given.connect_timeout = true;
        self
    }

    /// Sets how long a request may wait for its answer.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the keep-alive interval (zero: none).
    #[must_use]
    pub fn keepalive(mut self, interval: Duration) -> Self {
        self.keepalive = interval;
        self.given.keepalive = true;
        self
    }

    /// Sets how long a broken session is re-opened for.
    #[must_use]
    pub fn reconnect_timeout(mut self, timeout: Duration) -> Self {
        self.reconnect_timeout = timeout;
        self
    }

    /// Sets the default directory of processes.
    #[must_use]
    pub fn default_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.default_dir = Some(dir.into());
        self
    }

    /// Uses only key files, not the agent's keys.
    #[must_use]
    pub fn identities_only(mut self, only: bool) -> Self {
        self.identities_only = only;
        self.given.identities_only = true;
        self
    }

    /// Sets the jump hosts (`[user@]host[:port]`, comma-separated, or
    /// `none`).
    #[must_use]
    pub fn proxy_jump(mut self, hops: impl Into<String>) -> Self {
        self.proxy_jump = Some(hops.into());
        self
    }

    /// Sets the transport.
    #[must_use]
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Sets which OpenSSH configuration files are read.
    #[must_use]
    pub fn ssh_config(mut self, files: ConfigFiles) -> Self {
        self.ssh_config = files;
        self
    }

    /// Whether the port was given (rather than left to the configuration
    /// files and the default).
    pub fn port_given(&self) -> bool {
        self.given.port
    }

    /// Whether the host key policy was given.
    pub fn host_key_policy_given(&self) -> bool {
        self.given.host_key_policy
    }

    /// Whether the connection timeout was given.
    pub fn connect_timeout_given(&self) -> bool {
        self.given.connect_timeout
    }

    /// Whether the keep-alive interval was given.
    pub fn keepalive_given(&self) -> bool {
        self.given.keepalive
    }

    pub(crate) fn given_identities_only(&self) -> bool {
        self.given.identities_only
    }

    /// Checks what can be checked without connecting.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let bad = |key, reason: &str| {
            Err(SettingsError::Config {
                key,
                reason: reason.to_owned(),
            })
        };
        if self.host.trim().is_empty() {
            return bad("host", "the host name is empty");
        }
        if self.port == 0 {
            return bad("port", "0 is not a port number (1 to 65535)");
        }
        if self.user.as_deref().is_some_and(str::is_empty) {
            return bad("user", "the user name is empty");
        }
        if self.connect_timeout.is_zero() {
            return bad("timeout", "a timeout of 0 would never connect");
        }
        if self.timeout.is_zero() {
            return bad("timeout", "a request timeout of 0 would fail every request");
        }
        Ok(())
    }

    /// The user to log in as: the one set, else this process's (`$USER`,
    /// `$LOGNAME`, then the name of its uid).
    pub fn user_name(&self) -> Result<String, SettingsError> {
        if let Some(user) = &self.user {
            return Ok(user.clone());
        }
        ["USER", "LOGNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
            .or_else(|| {
                nix::unistd::User::from_uid(nix::unistd::getuid())
                    .ok()
                    .flatten()
                    .map(|u| u.name)
            })
            .ok_or_else(|| SettingsError::Config {
                key: "user",
                reason: "no user is set, and this process's user has no name".into(),
            })
    }

    /// `user@NAME:port`, the name the connector is known by: the host as
    /// given ([`SshConfig::alias`] when the configuration files named
    /// another), for addresses that other processes resolve again.
    pub fn name(&self) -> String {
        let user = self.user_name().unwrap_or_else(|_| "?".into());
        let host = self.alias.as_deref().unwrap_or(&self.host);
        if host.contains(':') {
            format!("{user}@[{host}]:{}", self.port)
        } else {
            format!("{user}@{host}:{}", self.port)
        }
    }

    /// `user@host:port`, for messages.
    pub fn target(&self) -> String {
        let user = self.user_name().unwrap_or_else(|_| "?".into());
        if self.host.contains(':') {
            format!("{user}@[{}]:{}", self.host, self.port)
        } else {
            format!("{user}@{}:{}", self.host, self.port)
        }
    }

    /// The known hosts file, `~` expanded.
    pub fn known_hosts_path(&self) -> PathBuf {
        let path = self
            .known_hosts
            .clone()
            .unwrap_or_else(|| PathBuf::from("~/.ssh/known_hosts"));
        expand_home(&path, home().as_deref())
    }
}

/// This process's home directory: `$HOME`, else the user database's
/// (`std::env::home_dir`).
pub fn home() -> Option<PathBuf> {
    std::env::home_dir().filter(|h| !h.as_os_str().is_empty())
}

/// `~` and `~/...` under `home` (as is without one, or for other paths).
pub fn expand_home(path: &Path, home: Option<&Path>) -> PathBuf {
    let Some(home) = home else {
        return path.to_path_buf();
    };
    match path.strip_prefix("~") {
        Ok(rest) => home.join(rest),
        Err(_) => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_address_and_defaults() {
        let c = SshConfig::from_address("ssh://me@login:2222/scratch").unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.user.as_deref()),
            ("login", 2222, Some("me"))
        );
        assert_eq!(c.default_dir.as_deref(), Some(Path::new("/scratch")));
        let d = SshConfig::from_address("ssh://login").unwrap();
        assert_eq!(d.port, 22);
        assert_eq!(d, SshConfig::new("login"));
        assert_eq!(c.target(), "me@login:2222");
        assert_eq!(SshConfig::new("::1").user("u").target(), "u@[::1]:22");
    }

    #[test]
    fn home_expansion() {
        let home = Path::new("/home/me");
        assert_eq!(
            expand_home(Path::new("~/.ssh/id"), Some(home)),
            Path::new("/home/me/.ssh/id")
        );
        assert_eq!(expand_home(Path::new("~"), Some(home)), home);
        assert_eq!(
            expand_home(Path::new("/etc/x"), Some(home)),
            Path::new("/etc/x")
        );
        assert_eq!(
            expand_home(Path::new("~x/y"), Some(home)),
            Path::new("~x/y")
        );
        assert_eq!(expand_home(Path::new("~/y"), None), Path::new("~/y"));
    }

    #[test]
    fn validation_and_policies() {
        assert!(SshConfig::new("h").validate().is_ok());
        let err = SshConfig::new(" ").validate().unwrap_err().to_string();
        assert!(err.contains("`host`"), "{err}");
        let err = SshConfig::new("h")
            .port(0)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("`port`"), "{err}");
        let err = SshConfig::new("h")
            .connect_timeout(Duration::ZERO)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("never connect"), "{err}");
        assert_eq!(HostKeyPolicy::AcceptNew.name(), "accept-new");
    }

    #[test]
    fn secrets_do_not_show() {
        let c = SshConfig::new("h").passphrase(Secret::new("hunter2"));
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(c.passphrase.unwrap().expose(), "hunter2");
    }
}
