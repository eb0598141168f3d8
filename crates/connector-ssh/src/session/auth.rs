//! Logging in: the identity file set, else the SSH agent's keys, then
//! the default identity files; the error says what each said.

use std::path::Path;

use libssh2_sys::{
    LIBSSH2_ERROR_AUTHENTICATION_FAILED, LIBSSH2_ERROR_FILE, LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED,
};
use ssh2::{ErrorCode, Session};

use crate::{Secret, SshConfig, SshError, expand_home};

/// Why a key was not accepted, for people.
fn key_refusal(e: &ssh2::Error) -> String {
    match e.code() {
        ErrorCode::Session(
            LIBSSH2_ERROR_AUTHENTICATION_FAILED | LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED,
        ) => "the server refused the key".into(),
        ErrorCode::Session(LIBSSH2_ERROR_FILE) => format!(
            "the key cannot be used (a wrong or missing passphrase, or a format libssh2 cannot read): {}",
            e.message()
        ),
        _ => e.message().to_owned(),
    }
}

/// Why OpenSSH would ignore a private key file of this user's that others
/// may read or write (mode bits 077), in its words; `None` when it is fine.
fn too_open(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    let mode = meta.mode() & 0o7777;
    (meta.uid() == nix::unistd::getuid().as_raw() && mode & 0o077 != 0).then(|| {
        format!(
            "its permissions {mode:04o} are too open: a private key must not be accessible by \
             others, and OpenSSH ignores it too (chmod 600 it)"
        )
    })
}

pub(super) fn authenticate(
    session: &Session,
    config: &SshConfig,
    user: &str,
    target: &str,
) -> Result<(), SshError> {
    let mut tried = Vec::new();
    let fail = |tried| SshError::Auth {
        target: target.to_owned(),
        tried,
    };
    let try_key = |path: &Path, passphrase: Option<&Secret>, tried: &mut Vec<String>| match session
        .userauth_pubkey_file(user, None, path, passphrase.map(Secret::expose))
    {
        Ok(()) if session.authenticated() => true,
        Ok(()) => {
            tried.push(format!(
                "identity file `{}`: more authentication is required, which is not supported",
                path.display()
            ));
            false
        }
        Err(e) => {
            tried.push(format!(
                "identity file `{}`: {}",
                path.display(),
                key_refusal(&e)
            ));
            false
        }
    };
    let try_file = |path: &Path, passphrase: Option<&Secret>, tried: &mut Vec<String>| {
        if let Some(why) = too_open(path) {
            tried.push(format!("identity file `{}`: {why}", path.display()));
            return false;
        }
        try_key(path, passphrase, tried)
    };
    let home = ssh_settings::home();
    // A key file the settings name (`from` says where, in messages).
    let try_named = |file: &Path, from: &str, tried: &mut Vec<String>| {
        let path = expand_home(file, home.as_deref());
        if !path.is_file() {
            tried.push(format!(
                "identity file `{}`{from}: it does not exist",
                path.display()
            ));
            return false;
        }
        try_file(&path, config.passphrase.as_ref(), tried)
    };
    if let Some(identity) = &config.identity {
        if try_named(identity, "", &mut tried) {
            return Ok(());
        }
        return Err(fail(tried));
    }
    if config.identities_only {
        tried.push("the SSH agent: not asked (IdentitiesOnly)".into());
    } else {
        match agent_login(session, user) {
            Ok(true) => return Ok(()),
            Ok(false) => tried.push("the SSH agent: the server refused each of its keys".into()),
            Err(why) => tried.push(format!("the SSH agent: {why}")),
        }
    }
    if !config.identity_files.is_empty() {
        for file in &config.identity_files {
            if try_named(file, " (IdentityFile)", &mut tried) {
                return Ok(());
            }
        }
        return Err(fail(tried));
    }
    let mut defaults = 0;
    for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
        let Some(path) = home.as_ref().map(|h| h.join(".ssh").join(name)) else {
            break;
        };
        if path.is_file() {
            defaults += 1;
            if try_file(&path, None, &mut tried) {
                return Ok(());
            }
        }
    }
    if defaults == 0 {
        tried.push(
            "no identity file is set and ~/.ssh has no id_ed25519, id_ecdsa or id_rsa".into(),
        );
    }
    Err(fail(tried))
}

/// Logs in with the agent's keys: `Ok(false)` when it has keys and none
/// was accepted, `Err` when there is no agent or it has no key.
fn agent_login(session: &Session, user: &str) -> Result<bool, String> {
    if std::env::var_os("SSH_AUTH_SOCK").is_none_or(|s| s.is_empty()) {
        return Err("none is running (SSH_AUTH_SOCK is not set)".into());
    }
    let mut agent = session.agent().map_err(|e| e.message().to_owned())?;
    agent
        .connect()
        .map_err(|e| format!("cannot reach it: {}", e.message()))?;
    agent
        .list_identities()
        .map_err(|e| format!("cannot list its keys: {}", e.message()))?;
    let identities = agent.identities().map_err(|e| e.message().to_owned())?;
    if identities.is_empty() {
        return Err("it holds no key".into());
    }
    for identity in &identities {
        if agent.userauth(user, identity).is_ok() && session.authenticated() {
            let _ = agent.disconnect();
            return Ok(true);
        }
    }
    let _ = agent.disconnect();
    Ok(false)
}
