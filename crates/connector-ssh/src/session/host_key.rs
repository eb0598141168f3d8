//! The host key check against the known hosts file (its rules are
//! [`crate::known_hosts`]'s), and recording a new key.

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use ssh2::Session;

use crate::known_hosts::{self, HostKeyStatus};
use crate::{HostKeyPolicy, SshConfig, SshError};

pub(super) fn read_known_hosts(path: &Path) -> Result<String, SshError> {
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

pub(super) fn check(
    session: &Session,
    config: &SshConfig,
    path: &Path,
    text: &str,
    name: &str,
) -> Result<(), SshError> {
    let Some((blob, _)) = session.host_key() else {
        return Err(SshError::Session {
            target: config.target(),
            what: "the server showed no host key".into(),
            source: None,
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
