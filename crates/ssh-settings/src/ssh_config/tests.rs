//! The rules on a corpus of real-world configuration files
//! (`tests/data/ssh_config`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::{ConfigFiles, HostKeyPolicy, LocalEnv, Origin, SshConfig, Transport};

const DEBIAN: &str = include_str!("../../tests/data/ssh_config/debian_ssh_config");
const HPC: &str = include_str!("../../tests/data/ssh_config/hpc_bastion");
const MATCH: &str = include_str!("../../tests/data/ssh_config/match_blocks");
const INCLUDE_MAIN: &str = include_str!("../../tests/data/ssh_config/include_main");
const INCLUDE_WORK: &str = include_str!("../../tests/data/ssh_config/include_work");
const INCLUDE_HOME: &str = include_str!("../../tests/data/ssh_config/include_home");
const INCLUDE_EXTRA: &str = include_str!("../../tests/data/ssh_config/include_extra");

fn env() -> LocalEnv {
    LocalEnv {
        home: Some(PathBuf::from("/home/me")),
        user: "me".into(),
    }
}

/// The user's file is `user`, the system's Debian's.
fn fs(user: &str) -> TextFs {
    TextFs::new([
        ("/home/me/.ssh/config", user),
        ("/etc/ssh/ssh_config", DEBIAN),
    ])
}

fn resolve(host: &str, fs: &TextFs) -> crate::Resolved {
    SshConfig::new(host).resolve_with(fs, &env())
}

fn at(line: usize) -> Origin {
    Origin::File {
        file: "/home/me/.ssh/config".into(),
        line,
    }
}

#[test]
fn an_alias_behind_a_bastion() {
    let r = resolve("mycluster", &fs(HPC));
    let c = &r.config;
    assert_eq!(c.host, "login1.hpc.example.edu");
    assert_eq!(c.alias.as_deref(), Some("mycluster"));
    assert_eq!((c.port, c.user.as_deref()), (22, None));
    assert_eq!(
        c.proxy_jump.as_deref(),
        Some("bastion"),
        "the first value wins"
    );
    assert_eq!(c.keepalive, Duration::from_secs(60));
    assert_eq!(c.connect_timeout, Duration::from_secs(15));
    assert_eq!(c.host_key_policy, HostKeyPolicy::AcceptNew);
    assert!(c.identities_only);
    assert_eq!(
        c.identity_files,
        [
            PathBuf::from("/home/me/.ssh/id_ed25519"),
            PathBuf::from("/home/me/.ssh/id_me@login1.hpc.example.edu"),
        ]
    );
    assert_eq!(
        c.known_hosts.as_deref(),
        Some(Path::new("/home/me/.ssh/known_hosts"))
    );
    assert_eq!(r.origin("host"), Some(&at(9)));
    assert_eq!(r.origin("proxy_jump"), Some(&at(10)));
    assert_eq!(r.origin("port"), Some(&Origin::Default));
    assert_eq!(r.origin("user"), Some(&Origin::Default));
    // Only the first known hosts file is read: said, not silent.
    assert!(
        r.warnings
            .iter()
            .any(|w| w.what == "UserKnownHostsFile" && w.line == 29),
        "{:?}",
        r.warnings
    );
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    // Debian's defaults change nothing, and are listed as such.
    let ignored: Vec<&str> = r.ignored.iter().map(|w| w.what.as_str()).collect();
    assert_eq!(
        ignored,
        ["SendEnv", "HashKnownHosts", "GSSAPIAuthentication"]
    );

    // The hop, resolved for its own name.
    assert_eq!(r.hops.len(), 1);
    let hop = &r.hops[0].config;
    assert_eq!(hop.host, "gateway.hpc.example.edu");
    assert_eq!(hop.user.as_deref(), Some("jdoe"));
    assert_eq!(
        hop.identity_files,
        [
            PathBuf::from("/home/me/.ssh/id_hpc"),
            PathBuf::from("/home/me/.ssh/id_ed25519"),
            PathBuf::from("/home/me/.ssh/id_jdoe@gateway.hpc.example.edu"),
        ]
    );
    assert!(
        r.hops[0].hops.is_empty(),
        "a hop's own ProxyJump is not followed"
    );
}

#[test]
fn patterns_negation_and_jump_forms() {
    let fs = fs(HPC);
    let r = resolve("login-3", &fs);
    assert_eq!(r.config.host, "login-3.hpc.example.edu", "%h in HostName");
    let hop = &r.hops[0];
    assert_eq!(
        (
            hop.config.host.as_str(),
            hop.config.port,
            hop.config.user.as_deref()
        ),
        ("gateway.hpc.example.edu", 2222, Some("jdoe"))
    );
    assert_eq!(hop.origin("port"), Some(&Origin::Given));
    // `!login-9` excludes it from the block: only `Host *` applies.
    let r = resolve("login-9", &fs);
    assert_eq!(r.config.host, "login-9");
    assert_eq!(r.config.alias, None);
    assert_eq!(r.config.proxy_jump.as_deref(), Some("bastion"));
    // Two hops.
    let r = resolve("db.internal", &fs);
    let hops: Vec<(String, u16)> = r
        .hops
        .iter()
        .map(|h| (h.config.host.clone(), h.config.port))
        .collect();
    assert_eq!(
        hops,
        [
            ("gateway.hpc.example.edu".into(), 22),
            ("hop2.example.edu".into(), 2022)
        ]
    );
    // `none` wins over the later `Host *`.
    let r = resolve("direct-1", &fs);
    assert!(r.hops.is_empty());
    assert_eq!(r.config.proxy_jump.as_deref(), Some("none"));
}

#[test]
fn the_launcher_file_wins() {
    let given = SshConfig::new("mycluster")
        .port(2200)
        .user("root")
        .identity("~/.ssh/other")
        .known_hosts("/tmp/kh")
        .host_key_policy(HostKeyPolicy::Strict)
        .connect_timeout(Duration::from_secs(3))
        .keepalive(Duration::ZERO)
        .proxy_jump("none");
    let r = given.resolve_with(&fs(HPC), &env());
    let c = &r.config;
    assert_eq!(c.host, "login1.hpc.example.edu");
    assert_eq!((c.port, c.user.as_deref()), (2200, Some("root")));
    assert!(c.identity_files.is_empty());
    assert_eq!(c.known_hosts.as_deref(), Some(Path::new("/tmp/kh")));
    assert_eq!(c.host_key_policy, HostKeyPolicy::Strict);
    assert_eq!(c.connect_timeout, Duration::from_secs(3));
    assert_eq!(c.keepalive, Duration::ZERO);
    assert!(r.hops.is_empty());
    for key in [
        "user",
        "port",
        "identity",
        "known_hosts",
        "host_key_policy",
        "connect_timeout",
        "keepalive",
        "proxy_jump",
    ] {
        assert_eq!(r.origin(key), Some(&Origin::Given), "{key}");
    }
    // What neither says keeps the defaults.
    let r = SshConfig::new("plain").resolve_with(&fs(""), &env());
    assert_eq!(r.config, SshConfig::new("plain"));
    assert!(
        r.origins
            .iter()
            .skip(1)
            .all(|(k, o)| *o == Origin::Default || *k == "transport")
    );
    assert!(r.warnings.is_empty());
}

#[test]
fn match_blocks_and_unsupported_options() {
    let r = resolve("gpu1", &fs(MATCH));
    let c = &r.config;
    assert_eq!(c.host, "gpu1.example.org");
    assert_eq!(
        c.user.as_deref(),
        Some("researcher"),
        "originalhost and !user"
    );
    assert_eq!(c.port, 22, "`Match host` saw gpu1 before HostName");
    assert_eq!(
        c.connect_timeout,
        Duration::from_secs(7),
        "after HostName it matches"
    );
    let named: Vec<(String, usize)> = r
        .warnings
        .iter()
        .map(|w| (w.what.clone(), w.line))
        .collect();
    assert_eq!(
        named,
        [("ProxyCommand".into(), 15), ("LocalForward".into(), 16)]
    );
    assert!(r.warnings[0].advice.contains("transport = \"openssh\""));
    assert!(
        r.warnings[0]
            .to_string()
            .contains("/home/me/.ssh/config:15")
    );
    // `!user root`: a given root user does not match.
    let r = SshConfig::new("gpu1")
        .user("root")
        .resolve_with(&fs(MATCH), &env());
    assert_eq!(r.config.user.as_deref(), Some("root"));
    // The OpenSSH transport honours them: no warning.
    let r = SshConfig::new("gpu1")
        .transport(Transport::OpenSsh)
        .resolve_with(&fs(MATCH), &env());
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn includes_with_globs_and_nesting() {
    let fs = TextFs::new([
        ("/home/me/.ssh/config", INCLUDE_MAIN),
        ("/home/me/.ssh/config.d/10-work", INCLUDE_WORK),
        ("/home/me/.ssh/config.d/20-home", INCLUDE_HOME),
        ("/home/me/.ssh/extra", INCLUDE_EXTRA),
        ("/etc/ssh/ssh_config", DEBIAN),
    ]);
    let r = resolve("work", &fs);
    let c = &r.config;
    assert_eq!(
        (c.host.as_str(), c.port, c.user.as_deref()),
        ("work.example.com", 2022, Some("alice"))
    );
    assert_eq!(c.identity_files, [PathBuf::from("/home/me/.ssh/work_key")]);
    assert_eq!(
        r.origin("port"),
        Some(&Origin::File {
            file: "/home/me/.ssh/config.d/10-work".into(),
            line: 4
        })
    );
    let r = resolve("home", &fs);
    assert_eq!(r.config.host, "home.example.net");
    assert_eq!(r.config.user.as_deref(), Some("fallback"));
    assert!(
        r.config.identity_files.is_empty(),
        "the Include of `work` only"
    );
    // A missing file named without a glob is said.
    let fs = TextFs::new([("/home/me/.ssh/config", "Include nothere\n")]);
    let r = resolve("x", &fs);
    assert!(r.warnings[0].advice.contains("nothere"), "{:?}", r.warnings);
    // Include loops stop.
    let fs = TextFs::new([("/home/me/.ssh/config", "Include config\n")]);
    let r = resolve("x", &fs);
    assert!(r.warnings.iter().any(|w| w.advice.contains("too deep")));
}

#[test]
fn strict_host_key_checking_is_never_weakened() {
    for (value, policy) in [
        ("yes", HostKeyPolicy::Strict),
        ("ask", HostKeyPolicy::Strict),
        ("accept-new", HostKeyPolicy::AcceptNew),
        ("no", HostKeyPolicy::AcceptNew),
        ("off", HostKeyPolicy::AcceptNew),
        ("bogus", HostKeyPolicy::Strict),
    ] {
        let text = format!("StrictHostKeyChecking {value}\n");
        let r = resolve("h", &fs(&text));
        assert_eq!(r.config.host_key_policy, policy, "{value}");
    }
    let r = SshConfig::new("h")
        .ssh_config(ConfigFiles::None)
        .resolve_with(&fs("Port 1\n"), &env());
    assert_eq!(r.config.port, 22, "no files read");
    let r = SshConfig::new("h")
        .ssh_config(ConfigFiles::Only("~/other".into()))
        .resolve_with(&TextFs::new([("/home/me/other", "Port 1\n")]), &env());
    assert_eq!(r.config.port, 1);
}

#[test]
fn an_unsupported_option_is_named_once() {
    let fs = TextFs::new([(
        "/home/me/.ssh/config",
        "Host cl\n  HostName 127.0.0.9\n  ProxyJump me@gw:2200\n  ProxyCommand nc %h %p\n",
    )]);
    let r = resolve("cl", &fs);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
}

#[test]
fn system_files_once() {
    let dir = std::env::temp_dir().join(format!("ssh-settings-once-{}", std::process::id()));
    std::fs::create_dir_all(dir.join(".ssh")).unwrap();
    std::fs::write(
        dir.join(".ssh/config"),
        "Host cl\n  ProxyCommand nc %h %p\n",
    )
    .unwrap();
    let env = LocalEnv {
        home: Some(dir.clone()),
        user: "me".into(),
    };
    let r = SshConfig::new("cl").resolve_with(&SystemFs, &env);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
}
