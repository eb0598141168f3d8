//! `launch check [--config FILE]`: validates a launcher file and prints
//! what it defines.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use core_types::HostSpec;
use core_types::job::Choose;
use registry::{ConfigSource, ConnectorConfig, DiscoveryEnv, EntryKind, Registry};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The launcher file (default: `$LAUNCH_CONFIG`, then
    /// `$XDG_CONFIG_HOME/launch/launchers.toml`, else this machine).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Connect each SSH connector and say what happened at each hop.
    #[arg(long)]
    connect: bool,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let (source, registry) = registry::load_discovered(args.config.as_deref())?;
    if source == ConfigSource::Default {
        let env = DiscoveryEnv::from_process();
        let xdg = env.xdg_path().map_or_else(
            || "no XDG path".to_owned(),
            |p| format!("no {}", p.display()),
        );
        outln!(
            "no launcher file (no --config, no $LAUNCH_CONFIG, {xdg}): \
             the default is a direct launcher on this machine"
        )?;
    } else {
        outln!("{source}: valid")?;
    }
    out!("{}", summary(&registry))?;
    let mut failed = false;
    for (name, config) in registry.connectors() {
        if let ConnectorConfig::Ssh(ssh) = config {
            out!("{}", ssh_settings_report(name, &ssh.resolve()))?;
            if args.connect {
                match connector_ssh::SshConnector::new(ssh.clone()) {
                    Ok(connector) => {
                        for hop in connector.probe() {
                            match hop.outcome {
                                Ok(what) => outln!("  connect {}: ok: {what}", hop.name)?,
                                Err(why) => {
                                    failed = true;
                                    outln!("  connect {}: failed: {why}", hop.name)?;
                                }
                            }
                        }
                    }
                    Err(e) => {
                        failed = true;
                        outln!("  connect: failed: {e}")?;
                    }
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Where each setting of an SSH connector came from, its jump hosts, and
/// what `~/.ssh/config` asks that it does not do.
fn ssh_settings_report(name: &str, resolved: &registry::Resolved) -> String {
    let mut out = String::new();
    let c = &resolved.config;
    let origin = |key: &str| match resolved.origin(key) {
        Some(registry::Origin::Given) | None => "launcher file".to_owned(),
        Some(registry::Origin::File { file, line }) => format!("{}:{line}", file.display()),
        Some(registry::Origin::Default) => "default".to_owned(),
    };
    let _ = writeln!(out, "connector {name} settings:");
    let user = c.user_name().unwrap_or_else(|_| "?".into());
    let identity = c.identity.as_ref().map_or_else(
        || {
            if c.identity_files.is_empty() {
                "agent, then ~/.ssh/id_*".to_owned()
            } else {
                c.identity_files
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        },
        |p| p.display().to_string(),
    );
    for (key, value) in [
        ("host", c.host.clone()),
        ("user", user),
        ("port", c.port.to_string()),
        ("identity", identity),
        ("known_hosts", c.known_hosts_path().display().to_string()),
        ("host_key_policy", c.host_key_policy.name().to_owned()),
        (
            "connect_timeout",
            format!("{}s", c.connect_timeout.as_secs()),
        ),
        ("keepalive", format!("{}s", c.keepalive.as_secs())),
        (
            "proxy_jump",
            c.proxy_jump.clone().unwrap_or_else(|| "none".into()),
        ),
        ("transport", c.transport.name().to_owned()),
    ] {
        let _ = writeln!(out, "  {key} = {value} ({})", origin(key));
    }
    for (i, hop) in resolved.hops.iter().enumerate() {
        let _ = writeln!(
            out,
            "  hop {}: {} ({}:{}, host from {})",
            i + 1,
            hop.config.name(),
            hop.config.host,
            hop.config.port,
            match hop.origin("host") {
                Some(registry::Origin::File { file, line }) => format!("{}:{line}", file.display()),
                _ => "the jump host's name".to_owned(),
            }
        );
    }
    for w in &resolved.warnings {
        let _ = writeln!(out, "  warning: {w}");
    }
    out
}

/// One line per connector and launcher.
fn summary(registry: &Registry) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} connector(s) besides `local`, {} launcher(s)",
        registry.connectors().len(),
        registry.entries().len()
    );
    for (name, config) in registry.connectors() {
        let _ = write!(out, "connector {name}: {}", config.describe());
        if let ConnectorConfig::Ssh(ssh) = config {
            let _ = write!(out, ", host keys {}", ssh.host_key_policy.name());
            if let Some(identity) = &ssh.identity {
                let _ = write!(out, ", identity {}", identity.display());
            }
        }
        out.push('\n');
    }
    for entry in registry.entries() {
        let _ = write!(out, "launcher {}", entry.name);
        if !registry.is_default() {
            let _ = write!(out, " (line {})", entry.line);
        }
        let _ = write!(out, ": {}, priority {}", entry.type_name(), entry.priority);
        if !entry.tags.is_empty() {
            let _ = write!(out, ", tags {}", entry.tags.join(", "));
        }
        match &entry.kind {
            EntryKind::Direct {
                connector, host, ..
            } => {
                let _ = write!(out, ", on {connector}: {}", host_summary(host));
            }
            EntryKind::Slurm {
                connector,
                host,
                options,
            } => {
                let _ = write!(out, ", on {connector}: {}", host_summary(host));
                if !options.is_empty() {
                    let _ = write!(out, "; sbatch {}", options.to_args().join(" "));
                }
            }
            EntryKind::Dynamic {
                members,
                choose,
                refresh,
            } => {
                let earliest;
                let how = match choose {
                    Choose::Sample => "in proportion to priority",
                    Choose::Priority => "highest priority first",
                    Choose::EarliestStart => {
                        earliest = format!(
                            "earliest expected start, answers kept {}",
                            core_types::Walltime::from_seconds(refresh.as_secs())
                        );
                        earliest.as_str()
                    }
                };
                let _ = write!(out, ", picks among {} ({how})", members.join(", "));
            }
        }
        out.push('\n');
    }
    out
}

/// `16 cores, 64GiB, 2 cuda 12GiB, at most 100h`.
fn host_summary(host: &HostSpec) -> String {
    let mut out = format!("{} cores, {}", host.cores, host.memory);
    let mut i = 0;
    while i < host.accelerators.len() {
        let first = &host.accelerators[i];
        let run = host.accelerators[i..]
            .iter()
            .take_while(|a| *a == first)
            .count();
        let _ = write!(out, ", {run} {} {}", first.kind.host_name(), first.memory);
        if let Some(model) = &first.model {
            let _ = write!(out, " ({model})");
        }
        i += run;
    }
    if !host.max_duration.is_zero() {
        let _ = write!(out, ", at most {}", host.max_duration);
    }
    out
}
