//! The raw schema: what the TOML deserializer fills, spans kept.

use std::collections::BTreeMap;

use core_types::Walltime;
use hostspec::Priority;
use serde::Deserialize;
use slurm_options::SlurmValue;
use toml::Spanned;

use crate::error::did_you_mean;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    #[serde(default)]
    pub(super) connector: BTreeMap<String, Spanned<RawConnector>>,
    #[serde(default)]
    pub(super) launcher: Vec<Spanned<RawLauncher>>,
    #[serde(default)]
    pub(super) token: BTreeMap<String, Spanned<RawToken>>,
}

/// A `[token.NAME]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawToken {
    pub(super) count: Spanned<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConnector {
    #[serde(rename = "type")]
    pub(super) kind: Spanned<String>,
    pub(super) host: Option<Spanned<String>>,
    pub(super) port: Option<Spanned<i64>>,
    pub(super) user: Option<String>,
    pub(super) identity: Option<String>,
    pub(super) known_hosts: Option<String>,
    pub(super) timeout: Option<Spanned<Walltime>>,
    pub(super) keepalive: Option<Walltime>,
    pub(super) host_key_policy: Option<Spanned<String>>,
    pub(super) transport: Option<Spanned<String>>,
    pub(super) proxy_jump: Option<Spanned<String>>,
    pub(super) ssh_config: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLauncher {
    pub(super) name: Spanned<String>,
    #[serde(rename = "type")]
    pub(super) kind: Spanned<String>,
    pub(super) connector: Option<Spanned<String>>,
    pub(super) priority: Option<Priority>,
    pub(super) tags: Option<Vec<Spanned<String>>>,
    pub(super) host: Option<Spanned<hostspec::HostTable>>,
    pub(super) slurm: Option<Spanned<RawSlurm>>,
    pub(super) members: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) sample: Option<Spanned<bool>>,
    pub(super) choose: Option<Spanned<String>>,
    pub(super) refresh: Option<Spanned<Walltime>>,
    pub(super) ledger: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LauncherType {
    Direct,
    Slurm,
    Dynamic,
}

impl LauncherType {
    /// The type named `name`; `Err` says why not (with a hint).
    pub(super) fn from_name(name: &str) -> Result<LauncherType, String> {
        match name {
            "direct" => Ok(LauncherType::Direct),
            "slurm" => Ok(LauncherType::Slurm),
            "dynamic" => Ok(LauncherType::Dynamic),
            other => Err(format!(
                "unknown launcher type `{other}` (expected direct, slurm or dynamic){}",
                did_you_mean(other, ["direct", "slurm", "dynamic"])
            )),
        }
    }
}

/// The `slurm = { ... }` table, in file order.
pub(super) type RawSlurm = indexmap::IndexMap<Spanned<String>, Spanned<toml::Value>>;

/// An sbatch option value as written: a string, an integer, a boolean;
/// `Err` says what it is instead (`a float (1.5)`, `an array`).
pub(super) fn slurm_value(value: toml::Value) -> Result<SlurmValue, String> {
    match value {
        toml::Value::String(text) => Ok(SlurmValue::Text(text)),
        toml::Value::Integer(n) => Ok(SlurmValue::Integer(n)),
        toml::Value::Boolean(b) => Ok(SlurmValue::Flag(b)),
        toml::Value::Float(f) => Err(format!("a float ({f})")),
        toml::Value::Array(_) => Err("an array".to_owned()),
        toml::Value::Table(_) | toml::Value::Datetime(_) => Err("a table (or a date)".to_owned()),
    }
}
