//! Host keys and logins: unknown keys refused or recorded, changed keys
//! always refused, wrong client keys refused, with messages that say so.

use connector_ssh::{HostKeyPolicy, SshConnector, SshError};
use core_types::job::{Connector, ProcessSpec};

use crate::support::{self, redact, server};

fn connect(config: connector_ssh::SshConfig) -> Result<SshConnector, SshError> {
    let ssh = SshConnector::new(config)?;
    ssh.connect()?;
    Ok(ssh)
}

#[test]
fn an_unknown_host_key_is_refused_unless_accept_new_records_it() {
    let Some(server) = server() else { return };
    let temp = support::tempdir();
    let known = temp.path().join("ssh/known_hosts");
    let config = server.config().known_hosts(&known);

    let err = connect(config.clone()).unwrap_err();
    assert!(matches!(err, SshError::UnknownHostKey { .. }), "{err:?}");
    let host_fingerprint = support::fingerprint(&server.dir.join("host_ed25519.pub"));
    assert!(err.to_string().contains(&host_fingerprint), "{err}");
    insta::assert_snapshot!(
        "unknown_host_key",
        redact(&err.to_string(), &server.dir, server.port, temp.path())
    );
    assert!(!known.exists(), "strict never writes the file");

    let accept = config.clone().host_key_policy(HostKeyPolicy::AcceptNew);
    let ssh = connect(accept).unwrap();
    assert_eq!(ssh.run(&ProcessSpec::new("true")).unwrap().stdout, b"");
    let recorded = std::fs::read_to_string(&known).unwrap();
    assert_eq!(
        recorded,
        format!("[127.0.0.1]:{} {}\n", server.port, server.host_key())
    );
    // Now known: the strict policy lets it in, and nothing more is written.
    connect(config).unwrap();
    assert_eq!(std::fs::read_to_string(&known).unwrap(), recorded);
}

#[test]
fn a_changed_host_key_is_always_refused() {
    let Some(server) = server() else { return };
    let temp = support::tempdir();
    let known = temp.path().join("known_hosts");
    // The file holds another ed25519 key for this host and port.
    let other = std::fs::read_to_string(server.dir.join("other_ed25519.pub")).unwrap();
    let other: Vec<&str> = other.split_whitespace().take(2).collect();
    std::fs::write(
        &known,
        format!(
            "# a comment\nexample.org {}\n[127.0.0.1]:{} {}\n",
            server.host_key(),
            server.port,
            other.join(" ")
        ),
    )
    .unwrap();
    for policy in [HostKeyPolicy::Strict, HostKeyPolicy::AcceptNew] {
        let config = server.config().known_hosts(&known).host_key_policy(policy);
        let err = connect(config).unwrap_err();
        assert!(
            matches!(err, SshError::ChangedHostKey { line: 3, .. }),
            "{err:?}"
        );
        let shown = err.to_string();
        let offered = support::fingerprint(&server.dir.join("host_ed25519.pub"));
        let on_file = support::fingerprint(&server.dir.join("other_ed25519.pub"));
        assert!(
            shown.contains(&format!("offers ssh-ed25519 {offered}, but line 3")),
            "{shown}"
        );
        assert!(shown.contains(&format!("holds {on_file};")), "{shown}");
        insta::assert_snapshot!(
            "changed_host_key",
            redact(&err.to_string(), &server.dir, server.port, temp.path())
        );
    }
    assert_eq!(std::fs::read_to_string(&known).unwrap().lines().count(), 3);
}

#[test]
fn a_wrong_key_is_refused_with_a_clear_error() {
    let Some(server) = server() else { return };
    let temp = support::tempdir();
    let config = server.config().identity(server.dir.join("other_ed25519"));
    let err = connect(config).unwrap_err();
    assert!(matches!(err, SshError::Auth { .. }), "{err:?}");
    insta::assert_snapshot!(
        "wrong_key",
        redact(&err.to_string(), &server.dir, server.port, temp.path())
    );

    let config = server.config().identity(temp.path().join("absent"));
    let err = connect(config).unwrap_err().to_string();
    assert!(err.contains("does not exist"), "{err}");

    // Through the connector's own operations, the same refusal.
    let ssh =
        SshConnector::new(server.config().identity(server.dir.join("other_ed25519"))).unwrap();
    let err = support::chain(&ssh.run(&ProcessSpec::new("true")).unwrap_err());
    assert!(err.contains("the server refused the key"), "{err}");
    let err = support::chain(&ssh.read_file("/etc/hostname".as_ref()).unwrap_err());
    assert!(err.contains("cannot log in"), "{err}");
}

#[test]
fn nothing_listens() {
    let port = test_support::ports::free_port();
    let ssh = SshConnector::new(
        connector_ssh::SshConfig::new("127.0.0.1")
            .port(port)
            .user("nobody"),
    )
    .unwrap();
    let err = ssh.connect().unwrap_err().to_string();
    assert!(
        err.contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{err}"
    );
    let err = support::chain(&ssh.exists("/".as_ref()).unwrap_err());
    assert!(err.contains("refused"), "{err}");
}

#[test]
fn passphrases_never_show() {
    let Some(server) = server() else { return };
    let temp = support::tempdir();
    let key = temp.path().join("locked_ed25519");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "correct horse battery", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(made.success());
    for (passphrase, needle) in [
        ("hunter2-wrong", "passphrase"),
        ("correct horse battery", "the server refused the key"),
    ] {
        let config = server
            .config()
            .identity(&key)
            .passphrase(connector_ssh::Secret::new(passphrase));
        let shown = format!("{config:?}");
        assert!(!shown.contains(passphrase), "{shown}");
        let err = connect(config).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(text.contains(needle), "{text}");
        assert!(!text.contains(passphrase), "{text}");
        assert!(!text.contains("correct horse"), "{text}");
    }
}

/// A private key that others may read is refused as OpenSSH refuses it,
/// with its advice; the same key made private logs in.
#[test]
fn an_identity_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let Some(server) = server() else { return };
    let temp = support::tempdir();
    let key = temp.path().join("id_ed25519");
    std::fs::copy(server.dir.join("id_ed25519"), &key).unwrap();
    for mode in [0o644, 0o666, 0o640] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = connect(server.config().identity(&key)).unwrap_err();
        assert!(matches!(err, SshError::Auth { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("its permissions {mode:04o} are too open"))
                && text.contains("chmod 600"),
            "{text}"
        );
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    connect(server.config().identity(&key)).unwrap();
}
