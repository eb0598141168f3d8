//! `[connector.NAME]` tables.

use std::collections::BTreeMap;
use std::time::Duration;

use ssh_settings::{HostKeyPolicy, SshConfig};
use toml::Spanned;

use super::launchers::check_name;
use super::schema::RawConnector;
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
        let key = |field: &str| format!("connector.{name}.{field}");
        if name == LOCAL {
            return Err(source.error(
                Some(span),
                InvalidKind::DuplicateName,
                format!("connector.{name}"),
                "`local` is the built-in connector to this machine; give this one another name",
            ));
        }
        check_name(source, &name, span.clone(), &format!("connector.{name}"))?;
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
            return Err(source.error(
                Some(host.span()),
                InvalidKind::BadValue,
                key("host"),
                "the host name is empty",
            ));
        }
        let port = match c.port {
            None => 22,
            Some(port) => u16::try_from(*port.get_ref())
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| {
                    source.error(
                        Some(port.span()),
                        InvalidKind::BadValue,
                        key("port"),
                        format!("{} is not a port number (1 to 65535)", port.get_ref()),
                    )
                })?,
        };
        let timeout = match c.timeout {
            Some(t) if t.get_ref().is_zero() => {
                return Err(source.error(
                    Some(t.span()),
                    InvalidKind::BadValue,
                    key("timeout"),
                    "a timeout of 0 would never connect; give a duration such as \"30s\"",
                ));
            }
            Some(t) => Some(Duration::from_secs(t.get_ref().seconds())),
            None => None,
        };
        let host_key_policy = match c.host_key_policy {
            None => HostKeyPolicy::default(),
            Some(p) => match p.get_ref().as_str() {
                "strict" => HostKeyPolicy::Strict,
                "accept-new" => HostKeyPolicy::AcceptNew,
                other => {
                    return Err(source.error(
                        Some(p.span()),
                        InvalidKind::BadValue,
                        key("host_key_policy"),
                        format!(
                            "unknown host key policy `{other}` (expected strict or accept-new){}",
                            did_you_mean(other, ["strict", "accept-new"])
                        ),
                    ));
                }
            },
        };
        // What the table does not say keeps the connector's default.
        let mut config = SshConfig::new(host.into_inner())
            .port(port)
            .host_key_policy(host_key_policy);
        config.user = c.user;
        config.identity = c.identity.map(Into::into);
        config.known_hosts = c.known_hosts.map(Into::into);
        config.connect_timeout = timeout.unwrap_or(config.connect_timeout);
        if let Some(keepalive) = c.keepalive {
            config.keepalive = Duration::from_secs(keepalive.seconds());
        }
        connectors.insert(name, ConnectorConfig::Ssh(config));
    }
    Ok(connectors)
}
