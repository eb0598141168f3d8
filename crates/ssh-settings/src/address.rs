//! `ssh://[user@]host[:port][/path]` addresses.

use std::fmt;
use std::path::PathBuf;

use crate::SettingsError;

/// A parsed `ssh://` address.
///
/// The path, when there is one, is the remote directory processes start in
/// when they name none: `ssh://me@login/scratch/me` runs them in
/// `/scratch/me`, `ssh://me@login/~/work` in `work` under the remote home.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SshAddress {
    /// The user name, when the address has one.
    pub user: Option<String>,
    /// The host name, or an IP address (without the brackets of IPv6).
    pub host: String,
    /// The port, when the address has one.
    pub port: Option<u16>,
    /// The directory part, when there is one (`/` alone is none).
    pub path: Option<PathBuf>,
}

fn bad(input: &str, reason: impl Into<String>) -> SettingsError {
    SettingsError::Address {
        input: shown(input),
        reason: reason.into(),
    }
}

/// The input as it may be shown: a password (`user:secret@`) replaced by
/// `***`.
fn shown(input: &str) -> String {
    let (scheme, rest) = match input.find("://") {
        Some(i) => input.split_at(i + 3),
        None => ("", input),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => match authority[..at].find(':') {
            Some(colon) => format!("{scheme}{}:***{}", &authority[..colon], &rest[at..]),
            None => input.to_owned(),
        },
        None => input.to_owned(),
    }
}

/// The host and port of `host[:port]` or `[v6][:port]`.
fn host_and_port<'a>(
    input: &str,
    hostport: &'a str,
) -> Result<(&'a str, Option<u16>), SettingsError> {
    let (host, port) = if let Some(after) = hostport.strip_prefix('[') {
        let end = after
            .find(']')
            .ok_or_else(|| bad(input, "`[` opens an IPv6 address that `]` never closes"))?;
        let host = &after[..end];
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(bad(input, format!("`{host}` is not an IPv6 address")));
        }
        let port = match &after[end + 1..] {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| bad(input, "after `]` comes `:PORT` or the path"))?,
            ),
        };
        (host, port)
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(bad(input, "the host is empty"));
    }
    if !hostport.starts_with('[') {
        if let Some(c) = host.chars().find(|&c| !host_char(c)) {
            return Err(bad(
                input,
                format!("`{host}` is not a host name (it holds `{c}`)"),
            ));
        }
    }
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| bad(input, format!("`{p}` is not a port number (1 to 65535)")))
        })
        .transpose()?;
    Ok((host, port))
}

fn host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
}

impl SshAddress {
    /// Parses `ssh://[user@]host[:port][/path]`; IPv6 hosts go in brackets
    /// (`ssh://[::1]:2222`). A password in the address is refused: it would
    /// end up in files and messages.
    pub fn parse(input: &str) -> Result<SshAddress, SettingsError> {
        let rest = input
            .strip_prefix("ssh://")
            .ok_or_else(|| bad(input, "an SSH address starts with `ssh://`"))?;
        if let Some(c) = rest.chars().find(|c| matches!(c, '?' | '#')) {
            return Err(bad(
                input,
                format!("`{c}` has no meaning in an SSH address"),
            ));
        }
        if let Some(c) = rest.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(
                input,
                format!("it contains {c:?}, which no host name or user name holds"),
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (user, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let user = match user {
            Some("") => return Err(bad(input, "the user name before `@` is empty")),
            Some(u) if u.contains(':') => {
                return Err(bad(
                    input,
                    "passwords in addresses are not supported (they would end up in files and messages); use a key or the SSH agent",
                ));
            }
            Some(u) if u.contains('@') => {
                return Err(bad(input, "the user name holds a second `@`"));
            }
            Some(u) => Some(u.to_owned()),
            None => None,
        };
        let (host, port) = host_and_port(input, hostport)?;
        let path = match path {
            "" | "/" => None,
            p => {
                let p = p
                    .strip_prefix("/~")
                    .map_or(p, |home| home.strip_prefix('/').unwrap_or(home));
                let trimmed = p.trim_end_matches('/');
                if trimmed.is_empty() {
                    None
                } else {
                    Some(PathBuf::from(trimmed))
                }
            }
        };
        Ok(SshAddress {
            user,
            host: host.to_owned(),
            port,
            path,
        })
    }
}

impl std::str::FromStr for SshAddress {
    type Err = SettingsError;
    fn from_str(s: &str) -> Result<Self, SettingsError> {
        SshAddress::parse(s)
    }
}

impl fmt::Display for SshAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ssh://")?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        match &self.path {
            Some(p) if p.is_absolute() => write!(f, "{}", p.display()),
            Some(p) => write!(f, "/~/{}", p.display()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> SshAddress {
        SshAddress::parse(s).unwrap()
    }

    #[test]
    fn full_and_minimal_addresses() {
        assert_eq!(
            parse("ssh://me@login.example.org:2222/scratch/me/"),
            SshAddress {
                user: Some("me".into()),
                host: "login.example.org".into(),
                port: Some(2222),
                path: Some("/scratch/me".into()),
            }
        );
        assert_eq!(
            parse("ssh://host"),
            SshAddress {
                user: None,
                host: "host".into(),
                port: None,
                path: None,
            }
        );
        assert_eq!(parse("ssh://host/").path, None);
        assert_eq!(parse("ssh://host/~/work").path, Some("work".into()));
        assert_eq!(parse("ssh://host/~").path, None);
    }

    #[test]
    fn ipv6_in_brackets() {
        let a = parse("ssh://u@[::1]:22/x");
        assert_eq!((a.host.as_str(), a.port), ("::1", Some(22)));
        assert_eq!(parse("ssh://[fe80::1]").port, None);
        assert_eq!(a.to_string(), "ssh://u@[::1]:22/x");
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "ssh://me@login.example.org:2222/scratch/me",
            "ssh://host",
            "ssh://a@b/~/work",
        ] {
            assert_eq!(parse(s).to_string(), s);
            assert_eq!(parse(&parse(s).to_string()), parse(s));
        }
    }

    #[test]
    fn bad_addresses_say_why() {
        for (input, needle) in [
            ("login.example.org", "starts with `ssh://`"),
            ("ssh://", "host is empty"),
            ("ssh://@host", "user name before `@` is empty"),
            ("ssh://host:0", "not a port"),
            ("ssh://host:65536", "not a port"),
            ("ssh://host:x", "not a port"),
            ("ssh://[::1", "never closes"),
            ("ssh://[zz]:2", "not an IPv6"),
            ("ssh://[::1]x", "`:PORT`"),
            ("ssh://ho$t", "holds `$`"),
            ("ssh://host?x=1", "`?`"),
            ("ssh://ho st", "contains ' '"),
        ] {
            let err = SshAddress::parse(input).unwrap_err().to_string();
            assert!(err.contains(needle), "{input}: {err}");
            assert!(err.contains(input), "{input}: {err}");
        }
    }

    #[test]
    fn the_password_never_shows() {
        for input in [
            "ssh://me:hunter2@host/x",
            "ssh://me:hunter2@host:2:2",
            "me:hunter2@h",
        ] {
            let err = SshAddress::parse(input).unwrap_err();
            assert!(!err.to_string().contains("hunter2"), "{err}");
            assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
            assert!(err.to_string().contains("me:***@h"), "{err}");
        }
        let err = SshAddress::parse("ssh://me:hunter2@host").unwrap_err();
        assert!(err.to_string().contains("passwords"), "{err}");
    }
}
