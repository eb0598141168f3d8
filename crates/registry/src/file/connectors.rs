//! `[connector.NAME]` tables.

use std::collections::BTreeMap;
use std::time::Duration;

use ssh_settings::{ConfigFiles, HostKeyPolicy, SshAddress, SshConfig, Transport};
use toml::Spanned;

use super::launchers::check_name;
use super::schema::{RawConnector, RawLauncher};
use crate::connector::{ConnectorConfig, LOCAL};
use crate::error::{InvalidKind, RegistryError, Source, did_you_mean};

pub(super) fn check_connectors(
    source: &Source<'_>,
    raw: BTreeMap<String, Spanned<RawConnector>>,
) -> Result<BTreeMap<String, ConnectorConfig>, RegistryError> {
    let mut connectors = BTreeMap::new();
    for (name, spanned) in raw {
        let span = spanned.span();
        let c = spanned.into_inner();
        if name == LOCAL {
            return Err(source.error(
                Some(span),
                InvalidKind::DuplicateName,
                format!("connector.{name}"),
                "`local` is the built-in connector to this machine; give this one another name",
            ));
        }
        check_name(source, &name, span.clone(), &format!("connector.{name}"))?;
        let config = check_ssh(source, &name, span, c)?;
        connectors.insert(name, ConnectorConfig::Ssh(config));
    }
    Ok(connectors)
}

/// One `type = "ssh"` table's settings.
fn check_ssh(
    source: &Source<'_>,
    name: &str,
    span: std::ops::Range<usize>,
    c: RawConnector,
) -> Result<SshConfig, RegistryError> {
    let key = |field: &str| format!("connector.{name}.{field}");
    if c.kind.get_ref() != "ssh" {
        return Err(source.error(
            Some(c.kind.span()),
            InvalidKind::UnknownType,
            key("type"),
            format!(
                "unknown connector type `{}` (expected ssh; `local` is built in){}",
                c.kind.get_ref(),
                did_you_mean(c.kind.get_ref(), ["ssh"])
            ),
        ));
    }
    let Some(host) = c.host else {
        return Err(source.error(
            Some(span),
            InvalidKind::MissingKey,
            key("host"),
            "an ssh connector needs a `host` (the machine to connect to)",
        ));
    };
    if host.get_ref().trim().is_empty() {
        return Err(source.bad_value(host.span(), key("host"), "the host name is empty"));
    }
    let port = match c.port {
        None => None,
        Some(port) => u16::try_from(*port.get_ref())
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| {
                source.bad_value(
                    port.span(),
                    key("port"),
                    format!("{} is not a port number (1 to 65535)", port.get_ref()),
                )
            })
            .map(Some)?,
    };
    let timeout = match c.timeout {
        Some(t) if t.get_ref().is_zero() => {
            return Err(source.bad_value(
                t.span(),
                key("timeout"),
                "a timeout of 0 would never connect; give a duration such as \"30s\"",
            ));
        }
        Some(t) => Some(Duration::from_secs(t.get_ref().seconds())),
        None => None,
    };
    let host_key_policy = one_of(
        source,
        c.host_key_policy,
        &key("host_key_policy"),
        "host key policy",
        &[
            ("strict", HostKeyPolicy::Strict),
            ("accept-new", HostKeyPolicy::AcceptNew),
        ],
    )?;
    let transport = one_of(
        source,
        c.transport,
        &key("transport"),
        "transport",
        &[("ssh2", Transport::Ssh2), ("openssh", Transport::OpenSsh)],
    )?
    .unwrap_or_default();
    if let Some(jump) = &c.proxy_jump {
        check_proxy_jump(source, jump, &key("proxy_jump"))?;
    }
    // What the table does not say is left to ~/.ssh/config, then the
    // connector's defaults.
    let mut config = SshConfig::new(host.into_inner()).transport(transport);
    if let Some(port) = port {
        config = config.port(port);
    }
    if let Some(policy) = host_key_policy {
        config = config.host_key_policy(policy);
    }
    if let Some(timeout) = timeout {
        config = config.connect_timeout(timeout);
    }
    if let Some(keepalive) = c.keepalive {
        config = config.keepalive(Duration::from_secs(keepalive.seconds()));
    }
    config.user = c.user;
    config.identity = c.identity.map(Into::into);
    config.known_hosts = c.known_hosts.map(Into::into);
    config.proxy_jump = c.proxy_jump.map(Spanned::into_inner);
    match c.ssh_config.as_deref() {
        None => {}
        Some("none") => config.ssh_config = ConfigFiles::None,
        Some(path) => config.ssh_config = ConfigFiles::Only(path.into()),
    }
    Ok(config)
}

/// A value that is one of `choices`' names.
fn one_of<T: Copy>(
    source: &Source<'_>,
    value: Option<Spanned<String>>,
    key: &str,
    what: &str,
    choices: &[(&str, T)],
) -> Result<Option<T>, RegistryError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if let Some((_, v)) = choices.iter().find(|(n, _)| n == value.get_ref()) {
        return Ok(Some(*v));
    }
    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
    Err(source.bad_value(
        value.span(),
        key,
        format!(
            "unknown {what} `{}` (expected {}){}",
            value.get_ref(),
            names.join(" or "),
            did_you_mean(value.get_ref(), names.iter().copied())
        ),
    ))
}

/// A `proxy_jump` value: `none`, or jump hosts separated by commas.
fn check_proxy_jump(
    source: &Source<'_>,
    jump: &Spanned<String>,
    key: &str,
) -> Result<(), RegistryError> {
    if jump.get_ref().eq_ignore_ascii_case("none") {
        return Ok(());
    }
    for hop in jump.get_ref().split(',').map(str::trim) {
        if let Err(why) = ssh_settings::parse_jump(hop) {
            return Err(source.bad_value(
                jump.span(),
                key,
                format!("`{hop}` is not a jump host ([user@]host[:port]): {why}"),
            ));
        }
    }
    Ok(())
}

/// The connectors that launchers name by address (`connector =
/// "ssh://[user@]host[:port][/path]"`), added under that address: an SSH
/// connector with that host, user and port and every other setting left
/// to `~/.ssh/config` and the defaults, as a `[connector]` table's `host`.
pub(super) fn address_connectors(
    source: &Source<'_>,
    launchers: &[Spanned<RawLauncher>],
    connectors: &mut BTreeMap<String, ConnectorConfig>,
) -> Result<(), RegistryError> {
    for (index, launcher) in launchers.iter().enumerate() {
        let Some(name) = launcher.get_ref().connector.as_ref() else {
            continue;
        };
        let text = name.get_ref();
        if !text.starts_with("ssh://") || connectors.contains_key(text) {
            continue;
        }
        let config = SshConfig::from_address(text).map_err(|e| {
            source.bad_value(
                name.span(),
                format!("launcher[{index}].connector"),
                e.to_string(),
            )
        })?;
        connectors.insert(text.clone(), ConnectorConfig::Ssh(config));
    }
    Ok(())
}

/// Whether `name` is an address rather than a connector's name.
pub(super) fn is_address(name: &str) -> bool {
    name.starts_with("ssh://") && SshAddress::parse(name).is_ok()
}

#[cfg(test)]
mod tests {
    use ssh_settings::{ConfigFiles, SshConfig, Transport};

    use crate::{ConnectorConfig, Registry};

    fn load(text: &str) -> Result<Registry, String> {
        Registry::from_toml_str(text, "t.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn ssh_addresses_name_connectors() {
        let r = load(
            "[[launcher]]\nname = \"a\"\ntype = \"direct\"\nconnector = \"ssh://me@mycluster:2222/scratch\"\nhost = { cores = 1, memory = 1 }\n\
             [[launcher]]\nname = \"b\"\ntype = \"slurm\"\nconnector = \"ssh://mycluster\"\nhost = { cores = 1, memory = 1 }\n",
        )
        .unwrap();
        let Some(ConnectorConfig::Ssh(a)) = r.connector("ssh://me@mycluster:2222/scratch") else {
            panic!("no connector for the address");
        };
        assert_eq!(
            (a.host.as_str(), a.port, a.user.as_deref()),
            ("mycluster", 2222, Some("me"))
        );
        assert!(a.port_given());
        assert_eq!(a.default_dir.as_deref(), Some("/scratch".as_ref()));
        assert_eq!(
            r.connector("ssh://mycluster"),
            Some(&ConnectorConfig::Ssh(SshConfig::new("mycluster")))
        );
        let err = load(
            "[[launcher]]\nname = \"a\"\ntype = \"direct\"\nconnector = \"ssh://me:pw@h\"\nhost = { cores = 1, memory = 1 }\n",
        )
        .unwrap_err();
        assert!(
            err.starts_with(
                "t.toml:4:13: launcher[0].connector: invalid SSH address `ssh://me:***@h`"
            ),
            "{err}"
        );
        assert!(!err.contains("pw@"), "{err}");
    }

    #[test]
    fn transport_proxy_jump_and_ssh_config() {
        let r = load(
            "[connector.c]\ntype = \"ssh\"\nhost = \"h\"\ntransport = \"openssh\"\nproxy_jump = \"me@bastion:2200,gw\"\nssh_config = \"none\"\n\
             [connector.d]\ntype = \"ssh\"\nhost = \"h\"\nssh_config = \"~/.ssh/cluster_config\"\n",
        )
        .unwrap();
        let Some(ConnectorConfig::Ssh(c)) = r.connector("c") else {
            panic!()
        };
        assert_eq!(c.transport, Transport::OpenSsh);
        assert_eq!(c.proxy_jump.as_deref(), Some("me@bastion:2200,gw"));
        assert_eq!(c.ssh_config, ConfigFiles::None);
        let Some(ConnectorConfig::Ssh(d)) = r.connector("d") else {
            panic!()
        };
        assert_eq!(
            d.ssh_config,
            ConfigFiles::Only("~/.ssh/cluster_config".into())
        );
        assert_eq!(d.transport, Transport::Ssh2);
        for (line, needle) in [
            ("transport = \"libssh\"", "unknown transport `libssh`"),
            ("transport = \"opensh\"", "did you mean `openssh`"),
            ("proxy_jump = \"me@:22\"", "`me@:22` is not a jump host"),
        ] {
            let err = load(&format!(
                "[connector.c]\ntype = \"ssh\"\nhost = \"h\"\n{line}\n"
            ))
            .unwrap_err();
            assert!(err.contains(needle), "{err}");
            assert!(err.starts_with("t.toml:4:"), "{err}");
        }
    }
}
