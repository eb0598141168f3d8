//! Settings resolved through OpenSSH's configuration files: what the
//! launcher file (or a program) gives wins, then what the files say, then
//! the connector's defaults; where each value came from; what the files
//! ask for that the ssh2 transport cannot do.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{ConfigFiles, HostKeyPolicy, SshConfig, Transport, home};
use crate::ssh_config::{self, ConfigFs, HostEntry, Located, Query, SystemFs, Tokens};

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Given by the launcher file (or the program).
    Given,
    /// An OpenSSH configuration file's line.
    File {
        /// The file.
        file: PathBuf,
        /// The line.
        line: usize,
    },
    /// The connector's default.
    Default,
}

impl<T> From<&Located<T>> for Origin {
    fn from(l: &Located<T>) -> Self {
        Origin::File {
            file: l.file.clone(),
            line: l.line,
        }
    }
}

/// Something in the configuration files the connector does not do, named
/// with its place.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConfigWarning {
    /// The keyword, or what could not be used.
    pub what: String,
    /// Where.
    pub file: PathBuf,
    /// The line.
    pub line: usize,
    /// Why, and what to do.
    pub advice: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}:{}): {}",
            self.what,
            self.file.display(),
            self.line,
            self.advice
        )
    }
}

/// A connector's settings once the configuration files are read: the
/// target's, each jump host's (in order), where each value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The settings used to reach the target.
    pub config: SshConfig,
    /// The jump hosts, first first, each resolved on its own.
    pub hops: Vec<Resolved>,
    /// Each setting's origin (`host`, `user`, `port`, `identity`,
    /// `known_hosts`, `host_key_policy`, `connect_timeout`, `keepalive`,
    /// `proxy_jump`, `transport`), in that order.
    pub origins: Vec<(&'static str, Origin)>,
    /// Options of the files the connector does not honour, and lines it
    /// could not use: never ignored in silence.
    pub warnings: Vec<ConfigWarning>,
    /// Options of the files that change nothing for the connector
    /// (`SendEnv`, `HashKnownHosts`, ...).
    pub ignored: Vec<ConfigWarning>,
}

impl Resolved {
    /// Where `key`'s value came from.
    pub fn origin(&self, key: &str) -> Option<&Origin> {
        self.origins.iter().find(|(k, _)| *k == key).map(|(_, o)| o)
    }
}

/// This process's side of the lookup: the home directory and user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEnv {
    /// The home directory.
    pub home: Option<PathBuf>,
    /// The user's name.
    pub user: String,
}

impl LocalEnv {
    /// This process's (`$HOME`, `$USER`).
    pub fn from_process() -> LocalEnv {
        LocalEnv {
            home: home(),
            user: SshConfig::new("localhost").user_name().unwrap_or_default(),
        }
    }
}

/// One jump host of a `ProxyJump` value: `[user@]host[:port]`, or an
/// `ssh://` address.
pub fn parse_jump(hop: &str) -> Result<(Option<String>, String, Option<u16>), String> {
    let address = if hop.starts_with("ssh://") {
        hop.to_owned()
    } else {
        format!("ssh://{hop}")
    };
    let a = crate::SshAddress::parse(&address).map_err(|e| e.to_string())?;
    if a.path.is_some() {
        return Err(format!("the jump host `{hop}` has a path"));
    }
    Ok((a.user, a.host, a.port))
}

fn warning(l: &Located<String>, advice: impl Into<String>) -> ConfigWarning {
    ConfigWarning {
        what: l.value.clone(),
        file: l.file.clone(),
        line: l.line,
        advice: advice.into(),
    }
}

/// The files `files` names, and how many of them are the user's.
fn file_list(files: &ConfigFiles, home: Option<&Path>) -> (Vec<PathBuf>, usize) {
    match files {
        ConfigFiles::User => {
            let mut list = Vec::new();
            if let Some(home) = home {
                list.push(home.join(".ssh").join("config"));
            }
            let user = list.len();
            list.push(PathBuf::from("/etc/ssh/ssh_config"));
            (list, user)
        }
        ConfigFiles::None => (Vec::new(), 0),
        ConfigFiles::Only(path) => (vec![crate::expand_home(path, home)], 1),
    }
}

/// The policy a `StrictHostKeyChecking` value asks for, never weaker:
/// `no` and `off` become accept-new (a changed key is always refused),
/// `ask` strict (nobody is there to ask).
fn policy_of(value: &str) -> Option<HostKeyPolicy> {
    match value {
        "yes" | "ask" => Some(HostKeyPolicy::Strict),
        "accept-new" | "no" | "off" => Some(HostKeyPolicy::AcceptNew),
        _ => None,
    }
}

impl SshConfig {
    /// These settings resolved through this machine's configuration files
    /// (see [`SshConfig::resolve_with`]).
    pub fn resolve(&self) -> Resolved {
        self.resolve_with(&SystemFs, &LocalEnv::from_process())
    }

    /// These settings resolved through the configuration files of
    /// [`SshConfig::ssh_config`], read through `fs`: a value given here
    /// wins, then the files' (`HostName`, `User`, `Port`, `IdentityFile`,
    /// `IdentitiesOnly`, `UserKnownHostsFile`, `StrictHostKeyChecking`,
    /// `ConnectTimeout`, `ServerAliveInterval`, `ProxyJump`), then the
    /// defaults. Each jump host is resolved the same way, for its own
    /// name; the identity file, known hosts file, host key policy and
    /// timeouts given here apply to it too.
    pub fn resolve_with(&self, fs: &dyn ConfigFs, env: &LocalEnv) -> Resolved {
        let (files, user_files) = file_list(&self.ssh_config, env.home.as_deref());
        let query = Query {
            host: &self.host,
            user: self.user.as_deref(),
            local_user: &env.user,
            home: env.home.as_deref(),
        };
        let entry = ssh_config::lookup(&files, user_files, &query, fs);
        self.apply(&entry, fs, env)
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one setting after another, in the order `launch check` shows them"
    )]
    fn apply(&self, entry: &HostEntry, fs: &dyn ConfigFs, env: &LocalEnv) -> Resolved {
        let mut c = self.clone();
        let mut origins: Vec<(&'static str, Origin)> = Vec::new();
        let mut warnings: Vec<ConfigWarning> = entry
            .problems
            .iter()
            .map(|p| warning(p, "this line is not used"))
            .map(|mut w| {
                std::mem::swap(&mut w.what, &mut w.advice);
                w.what = "a line of the configuration".into();
                w
            })
            .collect();
        let pick = |given: bool, located: Option<Origin>| {
            if given {
                Origin::Given
            } else {
                located.unwrap_or(Origin::Default)
            }
        };
        // The host.
        match &entry.hostname {
            Some(h) if h.value != self.host => {
                c.alias = Some(self.host.clone());
                c.host.clone_from(&h.value);
                origins.push(("host", h.into()));
            }
            _ => origins.push(("host", Origin::Given)),
        }
        if c.user.is_none() {
            c.user = entry.user.as_ref().map(|u| u.value.clone());
        }
        origins.push((
            "user",
            pick(self.user.is_some(), entry.user.as_ref().map(Origin::from)),
        ));
        if !self.port_given() {
            if let Some(p) = &entry.port {
                c.port = p.value;
            }
        }
        origins.push((
            "port",
            pick(self.port_given(), entry.port.as_ref().map(Origin::from)),
        ));
        let tokens = Tokens {
            host: c.host.clone(),
            original: self.host.clone(),
            port: c.port,
            remote_user: c.user.clone().unwrap_or_else(|| env.user.clone()),
            local_user: env.user.clone(),
            home: env
                .home
                .as_ref()
                .map_or_else(|| "~".into(), |h| h.display().to_string()),
        };
        let mut expand = |l: &Located<String>, text: &str| match ssh_config::expand(text, &tokens) {
            Ok(path) => Some(PathBuf::from(path)),
            Err(why) => {
                warnings.push(warning(l, why));
                None
            }
        };
        if self.identity.is_none() {
            c.identity_files = entry
                .identity_files
                .iter()
                .filter_map(|l| expand(l, &l.value))
                .collect();
        }
        origins.push((
            "identity",
            pick(
                self.identity.is_some(),
                entry.identity_files.first().map(Origin::from),
            ),
        ));
        if !self.given_identities_only() {
            if let Some(only) = &entry.identities_only {
                c.identities_only = only.value;
            }
        }
        if self.known_hosts.is_none() {
            if let Some(files) = &entry.known_hosts_files {
                let first = Located {
                    value: files.value.first().cloned().unwrap_or_default(),
                    file: files.file.clone(),
                    line: files.line,
                };
                c.known_hosts = expand(&first, &first.value);
                if files.value.len() > 1 {
                    let mut w = warning(&first, "");
                    w.what = "UserKnownHostsFile".into();
                    w.advice = format!(
                        "only its first file, `{}`, is read (transport = \"openssh\" reads them all)",
                        first.value
                    );
                    warnings.push(w);
                }
            }
        }
        origins.push((
            "known_hosts",
            pick(
                self.known_hosts.is_some(),
                entry.known_hosts_files.as_ref().map(Origin::from),
            ),
        ));
        let mut policy_origin = None;
        if !self.host_key_policy_given() {
            if let Some(s) = &entry.strict_host_key_checking {
                match policy_of(&s.value) {
                    Some(policy) => {
                        c.host_key_policy = policy;
                        policy_origin = Some(Origin::from(s));
                    }
                    None => warnings.push(warning(
                        s,
                        "is not a StrictHostKeyChecking value (yes, accept-new, no, ask): host keys stay strict",
                    )),
                }
            }
        }
        origins.push((
            "host_key_policy",
            pick(self.host_key_policy_given(), policy_origin),
        ));
        if !self.connect_timeout_given() {
            if let Some(t) = entry.connect_timeout.as_ref().filter(|t| t.value > 0) {
                c.connect_timeout = Duration::from_secs(t.value);
            }
        }
        origins.push((
            "connect_timeout",
            pick(
                self.connect_timeout_given(),
                entry
                    .connect_timeout
                    .as_ref()
                    .filter(|t| t.value > 0)
                    .map(Origin::from),
            ),
        ));
        if !self.keepalive_given() {
            if let Some(t) = &entry.server_alive_interval {
                c.keepalive = Duration::from_secs(t.value);
            }
        }
        origins.push((
            "keepalive",
            pick(
                self.keepalive_given(),
                entry.server_alive_interval.as_ref().map(Origin::from),
            ),
        ));
        if c.proxy_jump.is_none() {
            c.proxy_jump = entry.proxy_jump.as_ref().map(|j| j.value.clone());
        }
        origins.push((
            "proxy_jump",
            pick(
                self.proxy_jump.is_some(),
                entry.proxy_jump.as_ref().map(Origin::from),
            ),
        ));
        origins.push(("transport", Origin::Given));
        let openssh = c.transport == Transport::OpenSsh;
        if !openssh {
            for u in &entry.unsupported {
                warnings.push(warning(
                    u,
                    "is not supported by the ssh2 transport and is not used; set transport = \"openssh\" on this connector to have the system's ssh honour it",
                ));
            }
        }
        let ignored = entry
            .ignored
            .iter()
            .map(|i| warning(i, "changes nothing for the connector's sessions"))
            .collect();
        let hops = self.hops(&c, entry, fs, env, &mut warnings);
        Resolved {
            config: c,
            hops,
            origins,
            warnings,
            ignored,
        }
    }

    /// The jump hosts of `c` (resolved), each through the files for its
    /// own name.
    fn hops(
        &self,
        c: &SshConfig,
        entry: &HostEntry,
        fs: &dyn ConfigFs,
        env: &LocalEnv,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Vec<Resolved> {
        let Some(jump) = c.proxy_jump.as_deref() else {
            return Vec::new();
        };
        if jump.eq_ignore_ascii_case("none") || c.transport == Transport::OpenSsh {
            // OpenSSH follows its own ProxyJump.
            return Vec::new();
        }
        let place = entry.proxy_jump.clone().unwrap_or(Located {
            value: jump.to_owned(),
            file: PathBuf::from("the launcher file"),
            line: 0,
        });
        let mut hops = Vec::new();
        for hop in jump.split(',').map(str::trim) {
            match parse_jump(hop) {
                Ok((user, host, port)) => {
                    let mut h = SshConfig::new(host)
                        .proxy_jump("none")
                        .ssh_config(self.ssh_config.clone());
                    h.user = user;
                    if let Some(port) = port {
                        h = h.port(port);
                    }
                    if self.known_hosts.is_some() {
                        h.known_hosts.clone_from(&self.known_hosts);
                    }
                    if self.identity.is_some() {
                        h.identity.clone_from(&self.identity);
                        h.passphrase.clone_from(&self.passphrase);
                    }
                    if self.host_key_policy_given() {
                        h = h.host_key_policy(self.host_key_policy);
                    }
                    if self.connect_timeout_given() {
                        h = h.connect_timeout(self.connect_timeout);
                    }
                    h.timeout = self.timeout;
                    h.reconnect_timeout = self.reconnect_timeout;
                    hops.push(h.resolve_with(fs, env));
                }
                Err(why) => warnings.push(warning(
                    &place,
                    format!("ProxyJump `{hop}` is not a jump host: {why}"),
                )),
            }
        }
        hops
    }
}
