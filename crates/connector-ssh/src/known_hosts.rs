//! The `known_hosts` file, as OpenSSH writes and reads it: functions of its
//! text, so that every rule is tested without a server.
//!
//! A line is `[@marker] patterns keytype base64-key [comment]`. Patterns
//! are comma-separated host names with `*` and `?` wildcards and `!`
//! negations, `[host]:port` for ports other than 22, or one hashed name
//! (`|1|salt|hmac-sha1`, OpenSSH's `HashKnownHosts`). `@revoked` lines name
//! keys that are refused whatever else the file says; `@cert-authority`
//! lines are not used (host certificates are not supported).
//!
//! Hand-written rather than `ssh2::KnownHosts`: libssh2 knows no `@revoked`
//! marker nor `*`, `?`, `!` patterns, and cannot say which line holds a key.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The name a host goes by in `known_hosts`: `host` on port 22,
/// `[host]:port` on any other, lower case.
pub fn host_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// OpenSSH's fingerprint of a key: `SHA256:` and the unpadded base64 of the
/// SHA-256 of its blob.
pub fn fingerprint(blob: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(blob)))
}

/// The key type a key blob names (`ssh-ed25519`, `ssh-rsa`, ...): the
/// first string of the blob.
pub fn key_type(blob: &[u8]) -> Option<&str> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    let name = blob.get(4..4usize.checked_add(len)?)?;
    std::str::from_utf8(name).ok()
}

/// What the file says about a host's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyStatus {
    /// A line for this host holds this key (1-based line number).
    Known {
        /// The line.
        line: usize,
    },
    /// Lines for this host hold another key of the same type, none this one.
    Changed {
        /// The first such line.
        line: usize,
        /// The fingerprint of the key that line holds.
        known_fingerprint: String,
    },
    /// An `@revoked` line names this key.
    Revoked {
        /// The line.
        line: usize,
    },
    /// No line for this host holds a key of this type.
    Unknown {
        /// Key types the file knows for this host (other than this one).
        other_types: Vec<String>,
    },
}

#[derive(Debug, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
    CertAuthority,
    Other,
}

/// One usable line.
#[derive(Debug)]
struct Entry<'a> {
    line: usize,
    marker: Marker,
    hosts: &'a str,
    key_type: &'a str,
    blob: Vec<u8>,
}

fn entries(text: &str) -> impl Iterator<Item = Entry<'_>> {
    text.lines().enumerate().filter_map(|(i, raw)| {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let mut fields = line.split_ascii_whitespace();
        let mut first = fields.next()?;
        let marker = match first.strip_prefix('@') {
            Some("revoked") => Marker::Revoked,
            Some("cert-authority") => Marker::CertAuthority,
            Some(_) => Marker::Other,
            None => Marker::None,
        };
        if marker != Marker::None {
            first = fields.next()?;
        }
        let key_type = fields.next()?;
        // A line OpenSSH cannot read either (bad base64) is skipped, as
        // OpenSSH skips it.
        let blob = STANDARD.decode(fields.next()?).ok()?;
        Some(Entry {
            line: i + 1,
            marker,
            hosts: first,
            key_type,
            blob,
        })
    })
}

/// Whether a `*`/`?` pattern matches all of `name`.
fn wildcard(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| wildcard(rest, &name[skip..])),
        Some((b'?', rest)) => !name.is_empty() && wildcard(rest, &name[1..]),
        Some((c, rest)) => name
            .split_first()
            .is_some_and(|(n, name)| n.eq_ignore_ascii_case(c) && wildcard(rest, name)),
    }
}

/// Whether a hashed name (`|1|salt|hash`) is `name`'s.
fn hashed_match(field: &str, name: &str) -> bool {
    let mut parts = field.strip_prefix("|1|").unwrap_or("").split('|');
    let (Some(salt), Some(hash), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (STANDARD.decode(salt), STANDARD.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// Whether the host field of a line names `name` (OpenSSH's rules: a
/// matching negated pattern excludes the host whatever else matches).
fn hosts_match(hosts: &str, name: &str) -> bool {
    if hosts.starts_with("|1|") {
        return hashed_match(hosts, name);
    }
    let mut matched = false;
    for pattern in hosts.split(',') {
        if let Some(negated) = pattern.strip_prefix('!') {
            if wildcard(negated.as_bytes(), name.as_bytes()) {
                return false;
            }
        } else if wildcard(pattern.as_bytes(), name.as_bytes()) {
            matched = true;
        }
    }
    matched
}

/// What `text` (a `known_hosts` file) says about the key `blob` offered by
/// the host known as `name` ([`host_name`]).
pub fn check(text: &str, name: &str, blob: &[u8]) -> HostKeyStatus {
    let offered_type = key_type(blob).unwrap_or("");
    let mut changed: Option<(usize, String)> = None;
    let mut known: Option<usize> = None;
    let mut other_types: Vec<String> = Vec::new();
    for entry in entries(text) {
        if !hosts_match(entry.hosts, name) {
            continue;
        }
        match entry.marker {
            Marker::Revoked if entry.blob == blob => {
                return HostKeyStatus::Revoked { line: entry.line };
            }
            Marker::None => {}
            _ => continue,
        }
        let entry_type = key_type(&entry.blob).unwrap_or(entry.key_type);
        if entry.blob == blob {
            known.get_or_insert(entry.line);
        } else if entry_type == offered_type {
            changed.get_or_insert((entry.line, fingerprint(&entry.blob)));
        } else if !other_types.iter().any(|t| t == entry_type) {
            other_types.push(entry_type.to_owned());
        }
    }
    match (known, changed) {
        (Some(line), _) => HostKeyStatus::Known { line },
        (None, Some((line, known_fingerprint))) => HostKeyStatus::Changed {
            line,
            known_fingerprint,
        },
        (None, None) => HostKeyStatus::Unknown { other_types },
    }
}

/// The key types `text` knows for `name`, in the file's order.
pub fn known_types(text: &str, name: &str) -> Vec<String> {
    let mut types: Vec<String> = Vec::new();
    for entry in entries(text) {
        if entry.marker == Marker::None && hosts_match(entry.hosts, name) {
            let t = key_type(&entry.blob).unwrap_or(entry.key_type);
            if !types.iter().any(|k| k == t) {
                types.push(t.to_owned());
            }
        }
    }
    types
}

/// The host key algorithms to offer, most wanted first: those of the key
/// types already known for the host (so that a server with several keys
/// shows the one on file), then the others libssh2 supports, in its order.
/// `None` when nothing is known (libssh2's own order then).
pub fn hostkey_preference(known: &[String], supported: &[&str]) -> Option<String> {
    let mut order: Vec<&str> = Vec::new();
    for t in known {
        let algorithms: &[&str] = match t.as_str() {
            "ssh-rsa" => &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
            other => &[other][..],
        };
        for a in algorithms {
            if let Some(s) = supported.iter().find(|s| *s == a) {
                if !order.contains(s) {
                    order.push(s);
                }
            }
        }
    }
    if order.is_empty() {
        return None;
    }
    for s in supported {
        if !order.contains(s) {
            order.push(s);
        }
    }
    Some(order.join(","))
}

/// The line that records `blob` for `name`, with its newline.
pub fn entry_line(name: &str, blob: &[u8]) -> String {
    let mut line = String::new();
    let _ = writeln!(
        line,
        "{name} {} {}",
        key_type(blob).unwrap_or("unknown"),
        STANDARD.encode(blob)
    );
    line
}

/// What to append to a file whose text is `existing` to record `blob` for
/// `name`: the entry line, after a newline when the file does not end with
/// one.
pub fn append_text(existing: &[u8], name: &str, blob: &[u8]) -> String {
    let mut text = String::new();
    if existing.last().is_some_and(|&b| b != b'\n') {
        text.push('\n');
    }
    text.push_str(&entry_line(name, blob));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blob of the given type (the type string, then some key bytes).
    fn blob(kind: &str, key: &[u8]) -> Vec<u8> {
        let mut b = (kind.len() as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind.as_bytes());
        b.extend_from_slice(&(key.len() as u32).to_be_bytes());
        b.extend_from_slice(key);
        b
    }

    fn line(hosts: &str, key: &[u8]) -> String {
        format!(
            "{hosts} {} {}\n",
            key_type(key).unwrap(),
            STANDARD.encode(key)
        )
    }

    #[test]
    fn names_and_types() {
        assert_eq!(host_name("Login.Example.org", 22), "login.example.org");
        assert_eq!(host_name("127.0.0.1", 2222), "[127.0.0.1]:2222");
        let k = blob("ssh-ed25519", &[1; 32]);
        assert_eq!(key_type(&k), Some("ssh-ed25519"));
        assert_eq!(key_type(&[0, 0, 0, 9, b'x']), None);
        assert_eq!(key_type(&[]), None);
    }

    #[test]
    fn fingerprint_is_openssh_s() {
        // `ssh-keygen -lf` on this public key says
        // SHA256:Z9ChdqFCBRElD8ea7ziQlb7eDdAMswGKxx/S73kBqSA.
        let key = STANDARD
            .decode("AAAAC3NzaC1lZDI1NTE5AAAAIIkD8U2Ic2OIaTuV20pkhFpfoFamkB3bLmzjq9x6KH1+")
            .unwrap();
        assert_eq!(
            fingerprint(&key),
            "SHA256:Z9ChdqFCBRElD8ea7ziQlb7eDdAMswGKxx/S73kBqSA"
        );
        assert_eq!(key_type(&key), Some("ssh-ed25519"));
    }

    #[test]
    fn known_changed_unknown() {
        let ours = blob("ssh-ed25519", &[1; 32]);
        let theirs = blob("ssh-ed25519", &[2; 32]);
        let rsa = blob("ssh-rsa", &[3; 64]);
        let text = format!(
            "# comment\n\n{}{}{}",
            line("other.example.org", &theirs),
            line("login.example.org,10.0.0.1", &rsa),
            line("[login.example.org]:2222", &ours),
        );
        assert_eq!(
            check(&text, "[login.example.org]:2222", &ours),
            HostKeyStatus::Known { line: 5 }
        );
        assert_eq!(
            check(&text, "login.example.org", &ours),
            HostKeyStatus::Unknown {
                other_types: vec!["ssh-rsa".into()]
            }
        );
        let changed = format!("{text}{}", line("login.example.org", &theirs));
        assert_eq!(
            check(&changed, "login.example.org", &ours),
            HostKeyStatus::Changed {
                line: 6,
                known_fingerprint: fingerprint(&theirs)
            }
        );
        // A host may have several keys of a type (rotation): one is enough.
        let both = format!("{changed}{}", line("login.example.org", &ours));
        assert_eq!(
            check(&both, "login.example.org", &ours),
            HostKeyStatus::Known { line: 7 }
        );
        assert_eq!(
            check("", "x", &ours),
            HostKeyStatus::Unknown {
                other_types: vec![]
            }
        );
    }

    #[test]
    fn patterns_wildcards_and_negation() {
        let k = blob("ssh-ed25519", &[7; 32]);
        let text = line("*.example.org,!bad.example.org,host?", &k);
        let known = |name: &str| matches!(check(&text, name, &k), HostKeyStatus::Known { .. });
        assert!(known("login.example.org"));
        assert!(known("LOGIN.EXAMPLE.ORG"));
        assert!(!known("bad.example.org"));
        assert!(known("host1"));
        assert!(!known("host12"));
        assert!(!known("example.org"));
        assert!(!known("[login.example.org]:2222"));
        assert!(wildcard(b"[*]:2222", b"[a.b]:2222"));
    }

    #[test]
    fn hashed_names() {
        // `ssh-keygen -H` writes |1|base64(salt)|base64(HMAC-SHA1(salt, name)).
        let salt = [9u8; 20];
        let mut mac = Hmac::<Sha1>::new_from_slice(&salt).unwrap();
        mac.update(b"[127.0.0.1]:2222");
        let hash = mac.finalize().into_bytes();
        let field = format!("|1|{}|{}", STANDARD.encode(salt), STANDARD.encode(hash));
        let k = blob("ssh-ed25519", &[5; 32]);
        let text = line(&field, &k);
        assert_eq!(
            check(&text, "[127.0.0.1]:2222", &k),
            HostKeyStatus::Known { line: 1 }
        );
        assert!(matches!(
            check(&text, "[127.0.0.1]:2223", &k),
            HostKeyStatus::Unknown { .. }
        ));
        // A line `ssh-keygen -H` wrote.
        let real = "|1|6iOgetplkX8gVRnP+ZsoAYaBZbM=|rneIDAIGDq37gGI9XW+HCtS3D3E= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIkD8U2Ic2OIaTuV20pkhFpfoFamkB3bLmzjq9x6KH1+";
        let key = STANDARD
            .decode("AAAAC3NzaC1lZDI1NTE5AAAAIIkD8U2Ic2OIaTuV20pkhFpfoFamkB3bLmzjq9x6KH1+")
            .unwrap();
        assert_eq!(
            check(real, "[127.0.0.1]:2222", &key),
            HostKeyStatus::Known { line: 1 }
        );
        assert_eq!(known_types(real, "[127.0.0.1]:2222"), vec!["ssh-ed25519"]);
        assert!(known_types(real, "127.0.0.1").is_empty());
        assert!(!hashed_match("|1|@@@|@@@", "x"));
        assert!(!hashed_match("|1|only", "x"));
    }

    #[test]
    fn markers_and_garbage() {
        let k = blob("ssh-ed25519", &[4; 32]);
        let revoked = format!(
            "{}@revoked * {}",
            line("host", &k),
            line("", &k).trim_start()
        );
        assert_eq!(
            check(&revoked, "host", &k),
            HostKeyStatus::Revoked { line: 2 }
        );
        let ca = format!("@cert-authority *{}", &line("", &k));
        assert!(matches!(
            check(&ca, "host", &k),
            HostKeyStatus::Unknown { .. }
        ));
        let garbage = "host ssh-ed25519 !!!notbase64\nhost\n@revoked\n   \n";
        assert!(matches!(
            check(garbage, "host", &k),
            HostKeyStatus::Unknown { .. }
        ));
    }

    #[test]
    fn key_types_and_preferences() {
        let text = format!(
            "{}{}{}",
            line("h", &blob("ecdsa-sha2-nistp256", &[1; 65])),
            line("h", &blob("ssh-rsa", &[1; 65])),
            line("other", &blob("ssh-ed25519", &[1; 32])),
        );
        let known = known_types(&text, "h");
        assert_eq!(known, vec!["ecdsa-sha2-nistp256", "ssh-rsa"]);
        let supported = [
            "ssh-ed25519",
            "ecdsa-sha2-nistp256",
            "rsa-sha2-512",
            "ssh-rsa",
        ];
        assert_eq!(
            hostkey_preference(&known, &supported).unwrap(),
            "ecdsa-sha2-nistp256,rsa-sha2-512,ssh-rsa,ssh-ed25519"
        );
        assert_eq!(hostkey_preference(&[], &supported), None);
        assert_eq!(hostkey_preference(&["ssh-foo".into()], &supported), None);
    }

    #[test]
    fn recording_lines() {
        let k = blob("ssh-ed25519", &[6; 32]);
        let entry = entry_line("[h]:2", &k);
        assert!(entry.starts_with("[h]:2 ssh-ed25519 AAAA"), "{entry}");
        assert!(entry.ends_with('\n'));
        assert_eq!(check(&entry, "[h]:2", &k), HostKeyStatus::Known { line: 1 });
        assert_eq!(append_text(b"x y z", "[h]:2", &k), format!("\n{entry}"));
        assert_eq!(append_text(b"x y z\n", "[h]:2", &k), entry);
        assert_eq!(append_text(b"", "[h]:2", &k), entry);
    }
}
