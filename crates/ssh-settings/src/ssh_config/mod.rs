//! What OpenSSH's client configuration files (`~/.ssh/config`,
//! `/etc/ssh/ssh_config`) say for one host.
//!
//! Hand-written: the crates that parse these files need a newer Rust than
//! this workspace's, or keep no file and line per value (which `launch
//! check` shows), or lack `Match`, `Include` or the `%` tokens.
//!
//! The rules are OpenSSH's (`ssh_config(5)`): files in order, the first
//! value obtained for a keyword wins (`IdentityFile` accumulates),
//! directives before any `Host` apply to every host, `Host` takes patterns
//! (`*`, `?`, `!`), `Match` takes `all`, `host`, `originalhost`, `user`,
//! `localuser`, `final` (a single pass: `final` matches) and their
//! negations, and `Include` reads files (globs; relative to `~/.ssh` in the
//! user's file, to `/etc/ssh` in the system's) at its place, when the
//! block it is in applies. Reading files goes through [`ConfigFs`], so the
//! rules are tested on text.

mod parse;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parse::{Directive, list_match};
pub(crate) use parse::{Tokens, expand};

/// How configuration files are read: the real file system
/// ([`SystemFs`]), or a test's text.
pub trait ConfigFs {
    /// The file's text, `None` when it cannot be read.
    fn read(&self, path: &Path) -> Option<String>;
    /// The files a glob names, in order.
    fn glob(&self, pattern: &str) -> Vec<PathBuf>;
}

/// This machine's files.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemFs;

impl ConfigFs for SystemFs {
    fn read(&self, path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }

    fn glob(&self, pattern: &str) -> Vec<PathBuf> {
        let Ok(paths) = glob::glob(pattern) else {
            return Vec::new();
        };
        let mut found: Vec<PathBuf> = paths.flatten().filter(|p| p.is_file()).collect();
        found.sort();
        found
    }
}

/// Files given as text, by path (globs match their paths): for tests and
/// for programs that hold a configuration in memory.
#[derive(Debug, Clone, Default)]
pub struct TextFs(pub BTreeMap<PathBuf, String>);

impl TextFs {
    /// Files from `(path, text)` pairs.
    pub fn new<P: Into<PathBuf>, T: Into<String>>(files: impl IntoIterator<Item = (P, T)>) -> Self {
        TextFs(
            files
                .into_iter()
                .map(|(p, t)| (p.into(), t.into()))
                .collect(),
        )
    }
}

impl ConfigFs for TextFs {
    fn read(&self, path: &Path) -> Option<String> {
        self.0.get(path).cloned()
    }

    fn glob(&self, pattern: &str) -> Vec<PathBuf> {
        let Ok(p) = glob::Pattern::new(pattern) else {
            return Vec::new();
        };
        self.0
            .keys()
            .filter(|k| p.matches_path(k))
            .cloned()
            .collect()
    }
}

/// A value and the file and line it came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// The file.
    pub file: PathBuf,
    /// The line (1-based).
    pub line: usize,
}

impl<T> Located<T> {
    /// `file:line`.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// What the configuration files say for one host (values as written,
/// `%h` of `HostName` expanded; other tokens are expanded once the final
/// host, user and port are known).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostEntry {
    /// `HostName`.
    pub hostname: Option<Located<String>>,
    /// `User`.
    pub user: Option<Located<String>>,
    /// `Port`.
    pub port: Option<Located<u16>>,
    /// Every `IdentityFile`, in order.
    pub identity_files: Vec<Located<String>>,
    /// `IdentitiesOnly`.
    pub identities_only: Option<Located<bool>>,
    /// `UserKnownHostsFile` (its files).
    pub known_hosts_files: Option<Located<Vec<String>>>,
    /// `StrictHostKeyChecking` (lower case).
    pub strict_host_key_checking: Option<Located<String>>,
    /// `ConnectTimeout`, in seconds.
    pub connect_timeout: Option<Located<u64>>,
    /// `ServerAliveInterval`, in seconds.
    pub server_alive_interval: Option<Located<u64>>,
    /// `ProxyJump` (`none` included).
    pub proxy_jump: Option<Located<String>>,
    /// Options that matter for reaching the host and that the ssh2
    /// transport cannot honour (`ProxyCommand`, `LocalForward`, ...).
    pub unsupported: Vec<Located<String>>,
    /// Options that change nothing for the connector's non-interactive
    /// sessions (`SendEnv`, `HashKnownHosts`, ...).
    pub ignored: Vec<Located<String>>,
    /// Lines that could not be used, and why.
    pub problems: Vec<Located<String>>,
}

/// Whom the files are asked about.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    /// The host as given (an alias, a name, an address).
    pub host: &'a str,
    /// The remote user when it is already known (given by the launcher
    /// file), for `Match user`.
    pub user: Option<&'a str>,
    /// The local user, for `Match localuser` and `%u`.
    pub local_user: &'a str,
    /// The local home directory (`~`, `%d`, relative `Include`s).
    pub home: Option<&'a Path>,
}

/// Keywords read.
const SUPPORTED: [&str; 10] = [
    "hostname",
    "user",
    "port",
    "identityfile",
    "identitiesonly",
    "userknownhostsfile",
    "stricthostkeychecking",
    "connecttimeout",
    "serveraliveinterval",
    "proxyjump",
];

/// Keywords that change nothing for the connector's sessions.
const HARMLESS: [&str; 40] = [
    "sendenv",
    "setenv",
    "hashknownhosts",
    "forwardx11",
    "forwardx11trusted",
    "forwardx11timeout",
    "forwardagent",
    "visualhostkey",
    "loglevel",
    "addkeystoagent",
    "usekeychain",
    "ignoreunknown",
    "serveralivecountmax",
    "compression",
    "tcpkeepalive",
    "gssapiauthentication",
    "gssapidelegatecredentials",
    "checkhostip",
    "updatehostkeys",
    "requesttty",
    "controlmaster",
    "controlpath",
    "controlpersist",
    "preferredauthentications",
    "pubkeyauthentication",
    "passwordauthentication",
    "kbdinteractiveauthentication",
    "challengeresponseauthentication",
    "batchmode",
    "escapechar",
    "globalknownhostsfile",
    "hostkeyalgorithms",
    "ciphers",
    "macs",
    "kexalgorithms",
    "pubkeyacceptedalgorithms",
    "pubkeyacceptedkeytypes",
    "addressfamily",
    "protocol",
    "exitonforwardfailure",
];

/// How deep `Include`s nest at most (OpenSSH's limit).
const MAX_INCLUDE_DEPTH: usize = 16;

struct Walk<'a> {
    fs: &'a dyn ConfigFs,
    query: &'a Query<'a>,
    entry: HostEntry,
}

fn yes_no(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        _ => None,
    }
}

/// Seconds of `10`, `10s`, `2m`, `1h`.
fn seconds(value: &str) -> Option<u64> {
    let lower = value.to_ascii_lowercase();
    let (digits, unit) = match lower.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => lower.split_at(i),
        None => (lower.as_str(), ""),
    };
    let n: u64 = digits.parse().ok()?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return None,
    };
    n.checked_mul(factor)
}

impl Walk<'_> {
    fn located<T>(value: T, file: &Path, d: &Directive) -> Located<T> {
        Located {
            value,
            file: file.to_path_buf(),
            line: d.line,
        }
    }

    fn problem(&mut self, file: &Path, d: &Directive, why: String) {
        let p = Self::located(why, file, d);
        self.entry.problems.push(p);
    }

    /// The host name as known so far (`HostName` once set).
    fn current_host(&self) -> String {
        self.entry
            .hostname
            .as_ref()
            .map_or_else(|| self.query.host.to_owned(), |h| h.value.clone())
    }

    fn remote_user(&self) -> String {
        self.query
            .user
            .map(str::to_owned)
            .or_else(|| self.entry.user.as_ref().map(|u| u.value.clone()))
            .unwrap_or_else(|| self.query.local_user.to_owned())
    }

    /// Whether a `Match` line applies.
    fn match_applies(&mut self, file: &Path, d: &Directive) -> bool {
        let mut args = d.args.iter();
        let mut all = true;
        let mut any = false;
        while let Some(raw) = args.next() {
            any = true;
            let (negated, criterion) = match raw.strip_prefix('!') {
                Some(c) => (true, c.to_ascii_lowercase()),
                None => (false, raw.to_ascii_lowercase()),
            };
            let result = match criterion.as_str() {
                "all" | "final" => true,
                "canonical" => false,
                "host" | "originalhost" | "user" | "localuser" | "exec" | "tagged"
                | "localnetwork" => {
                    let Some(arg) = args.next() else {
                        self.problem(file, d, format!("`Match {criterion}` needs an argument"));
                        return false;
                    };
                    let patterns = arg.split(',');
                    match criterion.as_str() {
                        "host" => list_match(patterns, &self.current_host()),
                        "originalhost" => list_match(patterns, self.query.host),
                        "user" => list_match(patterns, &self.remote_user()),
                        "localuser" => list_match(patterns, self.query.local_user),
                        other => {
                            self.problem(
                                file,
                                d,
                                format!(
                                    "`Match {other}` is not supported: the block is taken not to apply (transport = \"openssh\" honours it)"
                                ),
                            );
                            false
                        }
                    }
                }
                other => {
                    self.problem(file, d, format!("unknown `Match` criterion `{other}`"));
                    return false;
                }
            };
            all &= result != negated;
        }
        any && all
    }

    fn include(&mut self, file: &Path, d: &Directive, user_file: bool, depth: usize) {
        if depth >= MAX_INCLUDE_DEPTH {
            self.problem(file, d, "`Include` nests too deep (16 levels)".into());
            return;
        }
        for arg in &d.args {
            let expanded = match self.query.home {
                Some(home) if arg == "~" || arg.starts_with("~/") => {
                    format!("{}{}", home.display(), &arg[1..])
                }
                _ => arg.clone(),
            };
            let full = if Path::new(&expanded).is_absolute() {
                PathBuf::from(expanded)
            } else if user_file {
                match self.query.home {
                    Some(home) => home.join(".ssh").join(expanded),
                    None => continue,
                }
            } else {
                Path::new("/etc/ssh").join(expanded)
            };
            let Some(pattern) = full.to_str() else {
                continue;
            };
            let has_glob = pattern.contains(['*', '?', '[']);
            let files = if has_glob {
                self.fs.glob(pattern)
            } else {
                vec![full.clone()]
            };
            for path in files {
                match self.fs.read(&path) {
                    Some(text) => self.file(&path, &text, user_file, depth + 1),
                    None if has_glob => {}
                    None => self.problem(
                        file,
                        d,
                        format!("cannot read the included file `{}`", path.display()),
                    ),
                }
            }
        }
    }

    fn file(&mut self, path: &Path, text: &str, user_file: bool, depth: usize) {
        let (directives, bad) = parse::directives(text);
        for (line, why) in bad {
            self.entry.problems.push(Located {
                value: why,
                file: path.to_path_buf(),
                line,
            });
        }
        let mut active = true;
        for d in &directives {
            match d.key().as_str() {
                "host" => {
                    active = list_match(d.args.iter().map(String::as_str), self.query.host);
                }
                "match" => active = self.match_applies(path, d),
                _ if !active => {}
                "include" => self.include(path, d, user_file, depth),
                _ => self.directive(path, d),
            }
        }
    }

    fn directive(&mut self, file: &Path, d: &Directive) {
        let key = d.key();
        let Some(first) = d.args.first().cloned() else {
            self.problem(file, d, format!("`{}` has no value", d.keyword));
            return;
        };
        let e = &mut self.entry;
        match key.as_str() {
            "hostname" if e.hostname.is_none() => {
                let value = first.replace("%h", self.query.host).replace("%%", "%");
                self.entry.hostname = Some(Self::located(value, file, d));
            }
            "user" if e.user.is_none() => e.user = Some(Self::located(first, file, d)),
            "port" if e.port.is_none() => match first.parse::<u16>() {
                Ok(p) if p > 0 => e.port = Some(Self::located(p, file, d)),
                _ => self.problem(file, d, format!("`{first}` is not a port number")),
            },
            "identityfile" => {
                if first.eq_ignore_ascii_case("none") {
                    return;
                }
                e.identity_files.push(Self::located(first, file, d));
            }
            "identitiesonly" if e.identities_only.is_none() => match yes_no(&first) {
                Some(b) => e.identities_only = Some(Self::located(b, file, d)),
                None => self.problem(file, d, format!("`{first}` is not yes or no")),
            },
            "userknownhostsfile" if e.known_hosts_files.is_none() => {
                e.known_hosts_files = Some(Self::located(d.args.clone(), file, d));
            }
            "stricthostkeychecking" if e.strict_host_key_checking.is_none() => {
                e.strict_host_key_checking =
                    Some(Self::located(first.to_ascii_lowercase(), file, d));
            }
            "connecttimeout" if e.connect_timeout.is_none() => match seconds(&first) {
                Some(s) => e.connect_timeout = Some(Self::located(s, file, d)),
                None => self.problem(file, d, format!("`{first}` is not a number of seconds")),
            },
            "serveraliveinterval" if e.server_alive_interval.is_none() => match seconds(&first) {
                Some(s) => e.server_alive_interval = Some(Self::located(s, file, d)),
                None => self.problem(file, d, format!("`{first}` is not a number of seconds")),
            },
            "proxyjump" if e.proxy_jump.is_none() => {
                e.proxy_jump = Some(Self::located(first, file, d));
            }
            k if SUPPORTED.contains(&k) => {}
            k if HARMLESS.contains(&k) => {
                e.ignored.push(Self::located(d.keyword.clone(), file, d));
            }
            _ => e
                .unsupported
                .push(Self::located(d.keyword.clone(), file, d)),
        }
    }
}

/// What `files` (the user's first, as OpenSSH reads them) say for the host
/// of `query`. A file that cannot be read is skipped: none is an empty
/// configuration. `user_files` says how many of the first files are the
/// user's (relative `Include`s are under `~/.ssh` in those, `/etc/ssh`
/// in the others).
pub fn lookup(
    files: &[PathBuf],
    user_files: usize,
    query: &Query<'_>,
    fs: &dyn ConfigFs,
) -> HostEntry {
    let mut walk = Walk {
        fs,
        query,
        entry: HostEntry::default(),
    };
    for (i, path) in files.iter().enumerate() {
        if let Some(text) = fs.read(path) {
            walk.file(path, &text, i < user_files, 0);
        }
    }
    walk.entry
}

#[cfg(test)]
mod tests;
