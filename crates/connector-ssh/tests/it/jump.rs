//! Through a jump host: the test sshd's bastion (`cargo xtask sshd up`
//! starts it beside the target, at `LogLevel DEBUG1`), the client set up
//! only through a test `.ssh/config` (aliases, `ProxyJump`), on both
//! transports.

use std::ffi::OsString;
use std::fs;
use std::path::PathBuf;

use connector_ssh::{ConfigFiles, SshConfig, SshConnector, Transport};
use core_types::job::{Connector, ConnectorError, ProcessSpec, StdioSpec};

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
    let Some(server) = server() else { return };
    let Some(bastion) = bastion_port(&server) else {
        return;
    };
    let home = tempdir();
    let config = ssh_config(
        &server,
        bastion,
        home.path(),
        &server.dir.join("known_hosts"),
    );
    let log = server.dir.join("bastion.log");
    for transport in [Transport::Ssh2, Transport::OpenSsh] {
        let before = fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("direct-tcpip")
            .count();
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
        let out = ssh
            .run(
                &ProcessSpec::new("printf")
                    .args(["%s\\0"])
                    .args(words.clone()),
            )
            .unwrap();
        let mut expected = Vec::new();
        for w in &words {
            expected.extend_from_slice(w.as_encoded_bytes());
            expected.push(0);
        }
        assert_eq!(out.stdout, expected, "{transport:?}");
        let err = ssh
            .run(&ProcessSpec::new("sh").args(["-c", "exit 7"]))
            .unwrap_err();
        assert!(
            matches!(&err, ConnectorError::Failed { status, .. } if status == "exit code 7"),
            "{transport:?}: {err}"
        );
        // A watched process and a detached one.
        let dir = tempdir();
        let mut p = ssh
            .spawn(
                &ProcessSpec::new("sh")
                    .args(["-c", "echo out; exit 3"])
                    .stdio(
                        StdioSpec::Null,
                        StdioSpec::File(dir.path().join("out")),
                        StdioSpec::Null,
                    ),
            )
            .unwrap();
        assert_eq!(p.wait().unwrap().code, Some(3), "{transport:?}");
        assert_eq!(ssh.read_file(&dir.path().join("out")).unwrap(), b"out\n");
        let mut d = ssh
            .spawn(&ProcessSpec::new("sleep").args(["0.2"]).detached(true))
            .unwrap();
        d.wait().unwrap();
        ssh.write_file(&dir.path().join("f"), b"bytes").unwrap();
        assert!(ssh.exists(&dir.path().join("f")).unwrap());
        let after = fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("direct-tcpip")
            .count();
        assert!(
            after > before,
            "{transport:?}: the bastion's log names no forwarded connection"
        );
    }
}

#[test]
fn a_broken_hop_is_named() {
    let Some(server) = server() else { return };
    let Some(bastion) = bastion_port(&server) else {
        return;
    };
    let home = tempdir();
    let config = ssh_config(
        &server,
        bastion,
        home.path(),
        &server.dir.join("known_hosts"),
    );
    // The bastion down.
    let err = chain(
        &connector(&config, "viadead", Transport::Ssh2)
            .connect()
            .unwrap_err(),
    );
    assert!(
        err.contains("through jump host") && err.contains("deadbastion"),
        "{err}"
    );
    assert!(err.contains("hop 1 of 1"), "{err}");
    // The target down.
    let err = chain(
        &connector(&config, "deadtarget", Transport::Ssh2)
            .connect()
            .unwrap_err(),
    );
    assert!(
        err.contains(&format!(
            "jump host {}@bastion:{bastion} cannot open a connection",
            user()
        )),
        "{err}"
    );
    let err = chain(
        &connector(&config, "viadead", Transport::OpenSsh)
            .connect()
            .unwrap_err(),
    );
    assert!(err.contains("ssh to"), "{err}");
}

#[test]
fn a_changed_host_key_at_the_hop_is_refused() {
    let Some(server) = server() else { return };
    let Some(bastion) = bastion_port(&server) else {
        return;
    };
    let home = tempdir();
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
    let err = chain(
        &connector(&config, "target", Transport::Ssh2)
            .connect()
            .unwrap_err(),
    );
    assert!(
        err.contains("hop 1 of 1") && err.contains("HOST KEY CHANGED"),
        "{err}"
    );
    let err = chain(
        &connector(&config, "target", Transport::OpenSsh)
            .connect()
            .unwrap_err(),
    );
    assert!(err.contains("ssh to"), "{err}");
}
