//! Through a jump host: the test sshd's bastion (`cargo xtask sshd up`
//! starts it beside the target, at `LogLevel DEBUG1`), the client set up
//! only through a test `.ssh/config` (aliases, `ProxyJump`), on both
//! transports.

use std::ffi::OsString;
use std::fs;
use std::path::PathBuf;

use connector_ssh::{ConfigFiles, SshConfig, SshConnector, Transport};
use core_types::job::{Connector, ConnectorError, ProcessSpec, StdioSpec};
use tempfile::TempDir;
use test_support::spec::{nul_terminated, printf_words, sh_with_stdout};

use crate::support::{Server, chain, server, tempdir, user};

/// The bastion's port, when the test server has one.
fn bastion_port(server: &Server) -> Option<u16> {
    let port = fs::read_to_string(server.dir.join("bastion_port"))
        .ok()
        .and_then(|p| p.trim().parse().ok());
    if port.is_none() {
        eprintln!("note: skipped, the test sshd has no bastion (cargo xtask sshd up starts one)");
    }
    port
}

/// A `.ssh/config` with `bastion` and `target` aliases (and dead ones),
/// absolute paths only (OpenSSH does not read `$HOME`).
fn ssh_config(
    server: &Server,
    bastion: u16,
    home: &std::path::Path,
    known_hosts: &std::path::Path,
) -> PathBuf {
    let dir = home.join(".ssh");
    fs::create_dir_all(&dir).unwrap();
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = format!(
        "Host bastion\n  HostName 127.0.0.1\n  Port {bastion}\n\
         Host deadbastion\n  HostName 127.0.0.1\n  Port {dead}\n\
         Host target\n  HostName 127.0.0.1\n  Port {port}\n  ProxyJump bastion\n\
         Host viadead\n  HostName 127.0.0.1\n  Port {port}\n  ProxyJump deadbastion\n\
         Host deadtarget\n  HostName 127.0.0.1\n  Port {dead}\n  ProxyJump bastion\n\
         Host *\n  User {user}\n  IdentityFile {key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {kh}\n  StrictHostKeyChecking yes\n",
        port = server.port,
        user = user(),
        key = server.dir.join("id_ed25519").display(),
        kh = known_hosts.display(),
    );
    let path = dir.join("config");
    fs::write(&path, text).unwrap();
    path
}

/// The test server with its bastion, and a home for the client's
/// `.ssh/config`; `None` (the test skipped) without them.
fn with_bastion() -> Option<(Server, u16, TempDir)> {
    let server = server()?;
    let bastion = bastion_port(&server)?;
    Some((server, bastion, tempdir()))
}

/// As [`with_bastion`], with the `.ssh/config` of [`ssh_config`] that
/// trusts the test server's host keys.
fn configured() -> Option<(Server, u16, TempDir, PathBuf)> {
    let (server, bastion, home) = with_bastion()?;
    let known_hosts = server.dir.join("known_hosts");
    let config = ssh_config(&server, bastion, home.path(), &known_hosts);
    Some((server, bastion, home, config))
}

/// How often the bastion's log names a forwarded connection.
fn forwarded(log: &std::path::Path) -> usize {
    fs::read_to_string(log)
        .unwrap_or_default()
        .matches("direct-tcpip")
        .count()
}

/// Why connecting to `host` failed, with its causes.
fn connect_error(config: &std::path::Path, host: &str, transport: Transport) -> String {
    chain(&connector(config, host, transport).connect().unwrap_err())
}

fn connector(config: &std::path::Path, host: &str, transport: Transport) -> SshConnector {
    SshConnector::new(
        SshConfig::new(host)
            .ssh_config(ConfigFiles::Only(config.to_path_buf()))
            .transport(transport),
    )
    .unwrap()
}

#[test]
fn jobs_go_through_the_bastion_on_both_transports() {
    let Some((server, _bastion, _home, config)) = configured() else {
        return;
    };
    let log = server.dir.join("bastion.log");
    for transport in [Transport::Ssh2, Transport::OpenSsh] {
        let before = forwarded(&log);
        let ssh = connector(&config, "target", transport);
        assert_eq!(
            ssh.name(),
            format!("ssh://{}@target:{}", user(), server.port)
        );
        assert!(ssh.warnings().is_empty(), "{:?}", ssh.warnings());
        let words = vec![
            OsString::from("a b"),
            OsString::from("it's $(id) `x`"),
            OsString::from("line\nbreak"),
            OsString::new(),
        ];
        let out = ssh.run(&printf_words(&words)).unwrap();
        assert_eq!(out.stdout, nul_terminated(&words), "{transport:?}");
        let err = ssh
            .run(&ProcessSpec::new("sh").args(["-c", "exit 7"]))
            .unwrap_err();
        assert!(
            matches!(&err, ConnectorError::Failed { status, .. } if status == "exit code 7"),
            "{transport:?}: {err}"
        );
        // A watched process and a detached one.
        let dir = tempdir();
        let to_file = StdioSpec::File(dir.path().join("out"));
        let mut p = ssh
            .spawn(&sh_with_stdout("echo out; exit 3", to_file))
            .unwrap();
        assert_eq!(p.wait().unwrap().code, Some(3), "{transport:?}");
        assert_eq!(ssh.read_file(&dir.path().join("out")).unwrap(), b"out\n");
        let mut d = ssh
            .spawn(&ProcessSpec::new("sleep").args(["0.2"]).detached(true))
            .unwrap();
        d.wait().unwrap();
        ssh.write_file(&dir.path().join("f"), b"bytes").unwrap();
        assert!(ssh.exists(&dir.path().join("f")).unwrap());
        assert!(
            forwarded(&log) > before,
            "{transport:?}: the bastion's log names no forwarded connection"
        );
    }
}

#[test]
fn a_broken_hop_is_named() {
    let Some((_server, bastion, _home, config)) = configured() else {
        return;
    };
    // The bastion down.
    let err = connect_error(&config, "viadead", Transport::Ssh2);
    assert!(
        err.contains("through jump host") && err.contains("deadbastion"),
        "{err}"
    );
    assert!(err.contains("hop 1 of 1"), "{err}");
    // The target down.
    let err = connect_error(&config, "deadtarget", Transport::Ssh2);
    assert!(
        err.contains(&format!(
            "jump host {}@bastion:{bastion} cannot open a connection",
            user()
        )),
        "{err}"
    );
    let err = connect_error(&config, "viadead", Transport::OpenSsh);
    assert!(err.contains("ssh to"), "{err}");
}

#[test]
fn a_changed_host_key_at_the_hop_is_refused() {
    let Some((server, bastion, home)) = with_bastion() else {
        return;
    };
    let other = fs::read_to_string(server.dir.join("other_ed25519.pub")).unwrap();
    let other: Vec<&str> = other.split_whitespace().take(2).collect();
    let known = home.path().join("known_hosts");
    fs::write(
        &known,
        format!(
            "[127.0.0.1]:{bastion} {}\n[127.0.0.1]:{} {}\n",
            other.join(" "),
            server.port,
            server.host_key()
        ),
    )
    .unwrap();
    let config = ssh_config(&server, bastion, home.path(), &known);
    let err = connect_error(&config, "target", Transport::Ssh2);
    assert!(
        err.contains("hop 1 of 1") && err.contains("HOST KEY CHANGED"),
        "{err}"
    );
    let err = connect_error(&config, "target", Transport::OpenSsh);
    assert!(err.contains("ssh to"), "{err}");
}
