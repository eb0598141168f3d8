//! The launcher file format: reading the TOML text and checking it.
//!
//! Values are checked while they are deserialized where the deserializer
//! knows their position; references between entries (connectors, members,
//! names, cycles) are checked afterwards, with the spans kept for them.

use hostspec::Priority;
use std::collections::{BTreeMap, HashMap};

use std::ops::Range;
use std::time::Duration;

use core_types::{HostSpec, Walltime};
use serde::Deserialize;
use ssh_settings::{HostKeyPolicy, SshConfig};
use toml::Spanned;

use crate::connector::{ConnectorConfig, LOCAL};
use crate::error::{InvalidKind, RegistryError, Source, did_you_mean};
use slurm_options::{OptionError, SlurmOptions, SlurmValue, is_reserved_option, normalize_name};

/// A launcher's type and what only that type has.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryKind {
    /// Runs jobs as processes on its connector's machine, within `host`.
    Direct {
        /// The connector's name (`local` by default).
        connector: String,
        /// What the machine offers: the launcher never runs more at once.
        host: HostSpec,
    },
    /// Submits jobs to Slurm through its connector.
    Slurm {
        /// The connector's name (`local` by default).
        connector: String,
        /// What the partition's machines offer.
        host: HostSpec,
        /// The fixed sbatch options, names normalised (`_` → `-`).
        options: SlurmOptions,
    },
    /// Picks one of its members that match.
    Dynamic {
        /// The members' names, as the file lists them.
        members: Vec<String>,
        /// `true`: picks with probability proportional to priority;
        /// `false`: the highest priority, at random among ties.
        sample: bool,
    },
}

/// One `[[launcher]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LauncherEntry {
    /// Its name, unique in the file.
    pub name: String,
    /// Its type and what only that type has.
    pub kind: EntryKind,
    /// Higher is preferred (default 0).
    pub priority: f64,
    /// Its tags (default: none); `--tag T` keeps only entries carrying one
    /// of the tags asked for.
    pub tags: Vec<String>,
    /// The line of its `name` in the file.
    pub line: usize,
}

impl LauncherEntry {
    /// Its type's name: `direct`, `slurm` or `dynamic`.
    pub const fn type_name(&self) -> &'static str {
        match self.kind {
            EntryKind::Direct { .. } => "direct",
            EntryKind::Slurm { .. } => "slurm",
            EntryKind::Dynamic { .. } => "dynamic",
        }
    }

    /// What its machines offer (`None` for a dynamic launcher, whose host
    /// is that of the member it picks).
    pub fn host(&self) -> Option<&HostSpec> {
        match &self.kind {
            EntryKind::Direct { host, .. } | EntryKind::Slurm { host, .. } => Some(host),
            EntryKind::Dynamic { .. } => None,
        }
    }

    /// Its connector's name (`None` for a dynamic launcher).
    pub fn connector(&self) -> Option<&str> {
        match &self.kind {
            EntryKind::Direct { connector, .. } | EntryKind::Slurm { connector, .. } => {
                Some(connector)
            }
            EntryKind::Dynamic { .. } => None,
        }
    }

    /// Whether it may serve a request for `tags`: none asked, or it
    /// carries one of them.
    pub fn is_eligible<S: AsRef<str>>(&self, tags: &[S]) -> bool {
        tags.is_empty()
            || self
                .tags
                .iter()
                .any(|t| tags.iter().any(|a| a.as_ref() == t))
    }
}

/// A checked launcher file, before it is prepared for finding.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub(crate) connectors: BTreeMap<String, ConnectorConfig>,
    pub(crate) entries: Vec<LauncherEntry>,
    /// For each entry, the indices of its members (dynamic entries).
    pub(crate) members: Vec<Vec<usize>>,
}

// ---------------------------------------------------------------------------
// The raw schema.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    connector: BTreeMap<String, Spanned<RawConnector>>,
    #[serde(default)]
    launcher: Vec<Spanned<RawLauncher>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnector {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    host: Option<Spanned<String>>,
    port: Option<Spanned<i64>>,
    user: Option<String>,
    identity: Option<String>,
    known_hosts: Option<String>,
    timeout: Option<Spanned<Walltime>>,
    keepalive: Option<Walltime>,
    host_key_policy: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLauncher {
    name: Spanned<String>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    connector: Option<Spanned<String>>,
    priority: Option<Priority>,
    tags: Option<Vec<Spanned<String>>>,
    host: Option<Spanned<hostspec::HostTable>>,
    slurm: Option<Spanned<RawSlurm>>,
    members: Option<Spanned<Vec<Spanned<String>>>>,
    sample: Option<Spanned<bool>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LauncherType {
    Direct,
    Slurm,
    Dynamic,
}

impl LauncherType {
    /// The type named `name`; `Err` says why not (with a hint).
    fn from_name(name: &str) -> Result<LauncherType, String> {
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
type RawSlurm = indexmap::IndexMap<Spanned<String>, Spanned<toml::Value>>;

/// An sbatch option value as written: a string, an integer, a boolean;
/// `Err` says what it is instead (`a float (1.5)`, `an array`).
fn slurm_value(value: toml::Value) -> Result<SlurmValue, String> {
    match value {
        toml::Value::String(text) => Ok(SlurmValue::Text(text)),
        toml::Value::Integer(n) => Ok(SlurmValue::Integer(n)),
        toml::Value::Boolean(b) => Ok(SlurmValue::Flag(b)),
        toml::Value::Float(f) => Err(format!("a float ({f})")),
        toml::Value::Array(_) => Err("an array".to_owned()),
        toml::Value::Table(_) | toml::Value::Datetime(_) => Err("a table (or a date)".to_owned()),
    }
}

// ---------------------------------------------------------------------------
// Loading and checking.

/// Reads and checks a launcher file's text.
pub(crate) fn check(text: &str, source_name: &str) -> Result<Checked, RegistryError> {
    let source = Source::new(source_name, text);
    let raw = parse(&source)?;
    let connectors = check_connectors(&source, raw.connector)?;
    let mut entries = Vec::with_capacity(raw.launcher.len());
    let mut raw_members = Vec::with_capacity(raw.launcher.len());
    let mut first_line: HashMap<String, usize> = HashMap::with_capacity(raw.launcher.len());
    for (index, launcher) in raw.launcher.into_iter().enumerate() {
        let (entry, members) = check_launcher(&source, index, launcher, &connectors)?;
        if let Some(line) = first_line.get(&entry.name) {
            return Err(source.error(
                Some(members.name_span.clone()),
                InvalidKind::DuplicateName,
                format!("launcher[{index}].name"),
                format!(
                    "`{}` is already the name of the launcher on line {line}",
                    entry.name
                ),
            ));
        }
        first_line.insert(entry.name.clone(), entry.line);
        entries.push(entry);
        raw_members.push(members);
    }
    let members = resolve_members(&source, &entries, &raw_members)?;
    check_cycles(&source, &entries, &members, &raw_members)?;
    check_sampling(&source, &entries, &members, &raw_members)?;
    Ok(Checked {
        connectors,
        entries,
        members,
    })
}

fn parse(source: &Source<'_>) -> Result<RawFile, RegistryError> {
    let deserializer = toml::Deserializer::parse(source.text).map_err(|err| {
        source.error(
            err.span(),
            InvalidKind::Syntax,
            "",
            err.message().trim().to_owned(),
        )
    })?;
    RawFile::deserialize(deserializer).map_err(|err| {
        let key = err
            .span()
            .map(|span| crate::keys::key_at(source.text, &span))
            .unwrap_or_default();
        let message = err.message().trim().to_owned();
        let kind = if message.starts_with("unknown field") {
            InvalidKind::UnknownKey
        } else if message.starts_with("missing field") {
            InvalidKind::MissingKey
        } else if message.starts_with("invalid type") || message.starts_with("invalid length") {
            InvalidKind::Syntax
        } else {
            InvalidKind::BadValue
        };
        source.error(err.span(), kind, key, message)
    })
}

fn check_connectors(
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

/// Names: letters, digits, `-`, `_`, `.`; not empty.
fn check_name(
    source: &Source<'_>,
    name: &str,
    span: Range<usize>,
    key: &str,
) -> Result<(), RegistryError> {
    if name == "." || name == ".." {
        // It would name another directory wherever names become paths.
        return Err(source.error(
            Some(span),
            InvalidKind::BadValue,
            key,
            format!("`{name}` is not a valid name (it names a directory, not a launcher)"),
        ));
    }
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(source.error(
            Some(span),
            InvalidKind::BadValue,
            key,
            format!("`{name}` is not a valid name (letters, digits, `-`, `_` and `.`, not empty)"),
        ))
    }
}

/// What checking one launcher keeps for the checks across entries.
#[derive(Debug)]
struct Spans {
    name_span: Range<usize>,
    /// The members, with their spans (dynamic entries).
    members: Vec<Spanned<String>>,
}

fn check_launcher(
    source: &Source<'_>,
    index: usize,
    spanned: Spanned<RawLauncher>,
    connectors: &BTreeMap<String, ConnectorConfig>,
) -> Result<(LauncherEntry, Spans), RegistryError> {
    let table_span = spanned.span();
    let raw = spanned.into_inner();
    let key = |field: &str| format!("launcher[{index}].{field}");
    let name_span = raw.name.span();
    let name = raw.name.get_ref().clone();
    check_name(source, &name, name_span.clone(), &key("name"))?;
    let kind = LauncherType::from_name(raw.kind.get_ref()).map_err(|why| {
        source.error(
            Some(raw.kind.span()),
            InvalidKind::UnknownType,
            key("type"),
            why,
        )
    })?;
    check_misplaced(source, index, &raw, kind)?;
    let tags = check_tags(source, index, raw.tags.unwrap_or_default())?;
    let priority = raw.priority.map_or(0.0, |p| p.0);
    let line = source.line_of(name_span.start);
    let mut spans = Spans {
        name_span,
        members: Vec::new(),
    };
    let entry_kind = if kind == LauncherType::Dynamic {
        let Some(members) = raw.members else {
            return Err(source.error(
                Some(table_span),
                InvalidKind::MissingKey,
                key("members"),
                format!("dynamic launcher `{name}` needs `members`: the launchers it picks from"),
            ));
        };
        let names = check_members(source, index, &name, &members)?;
        spans.members = members.into_inner();
        EntryKind::Dynamic {
            members: names,
            sample: raw.sample.is_some_and(Spanned::into_inner),
        }
    } else {
        let connector = match raw.connector {
            None => LOCAL.to_owned(),
            Some(c) => {
                check_connector_name(source, index, &c, connectors)?;
                c.into_inner()
            }
        };
        let Some(host) = raw.host else {
            return Err(source.error(
                Some(table_span),
                InvalidKind::MissingKey,
                key("host"),
                format!(
                    "launcher `{name}` needs a `host` table saying what its machines offer \
                     (cores, memory, accelerators; `launch generate local` writes this machine's)"
                ),
            ));
        };
        let host_span = host.span();
        let host = host.into_inner().into_host();
        check_host(source, &host, host_span, &key("host"))?;
        match (kind, raw.slurm) {
            (LauncherType::Slurm, slurm) => EntryKind::Slurm {
                connector,
                host,
                options: match slurm {
                    Some(slurm) => check_slurm(source, slurm.into_inner(), &key("slurm"))?,
                    None => SlurmOptions::new(),
                },
            },
            _ => EntryKind::Direct { connector, host },
        }
    };
    Ok((
        LauncherEntry {
            name,
            kind: entry_kind,
            priority,
            tags,
            line,
        },
        spans,
    ))
}

/// Keys that belong to other types of launcher.
fn check_misplaced(
    source: &Source<'_>,
    index: usize,
    raw: &RawLauncher,
    kind: LauncherType,
) -> Result<(), RegistryError> {
    let type_name = match kind {
        LauncherType::Direct => "direct",
        LauncherType::Slurm => "slurm",
        LauncherType::Dynamic => "dynamic",
    };
    let dynamic = kind == LauncherType::Dynamic;
    let misplaced: [(&str, Option<Range<usize>>, bool, &str); 5] = [
        (
            "slurm",
            raw.slurm.as_ref().map(Spanned::span),
            kind != LauncherType::Slurm,
            "Slurm options are for slurm launchers",
        ),
        (
            "members",
            raw.members.as_ref().map(Spanned::span),
            !dynamic,
            "members are for dynamic launchers",
        ),
        (
            "sample",
            raw.sample.as_ref().map(Spanned::span),
            !dynamic,
            "sampling is for dynamic launchers",
        ),
        (
            "host",
            raw.host.as_ref().map(Spanned::span),
            dynamic,
            "its host is that of the member it picks",
        ),
        (
            "connector",
            raw.connector.as_ref().map(Spanned::span),
            dynamic,
            "its members have their own connectors",
        ),
    ];
    for (field, span, refused, why) in misplaced {
        if let (Some(span), true) = (span, refused) {
            return Err(source.error(
                Some(span),
                InvalidKind::UnknownKey,
                format!("launcher[{index}].{field}"),
                format!("`{field}` does not belong to a {type_name} launcher ({why})"),
            ));
        }
    }
    Ok(())
}

/// Tags: not empty; duplicates dropped.
fn check_tags(
    source: &Source<'_>,
    index: usize,
    raw: Vec<Spanned<String>>,
) -> Result<Vec<String>, RegistryError> {
    let mut tags: Vec<String> = Vec::with_capacity(raw.len());
    for (i, tag) in raw.into_iter().enumerate() {
        if tag.get_ref().trim().is_empty() {
            return Err(source.error(
                Some(tag.span()),
                InvalidKind::BadValue,
                format!("launcher[{index}].tags[{i}]"),
                "a tag is empty",
            ));
        }
        let tag = tag.into_inner();
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Ok(tags)
}

fn check_connector_name(
    source: &Source<'_>,
    index: usize,
    name: &Spanned<String>,
    connectors: &BTreeMap<String, ConnectorConfig>,
) -> Result<(), RegistryError> {
    let wanted = name.get_ref();
    if wanted == LOCAL || connectors.contains_key(wanted) {
        return Ok(());
    }
    let known = std::iter::once(LOCAL).chain(connectors.keys().map(String::as_str));
    Err(source.error(
        Some(name.span()),
        InvalidKind::DanglingConnector,
        format!("launcher[{index}].connector"),
        format!(
            "no connector is named `{wanted}` (define it in a [connector.{wanted}] table; \
             `local` is built in){}",
            did_you_mean(wanted, known)
        ),
    ))
}

/// A dynamic launcher's `members`: not empty, each once.
fn check_members(
    source: &Source<'_>,
    index: usize,
    name: &str,
    members: &Spanned<Vec<Spanned<String>>>,
) -> Result<Vec<String>, RegistryError> {
    if members.get_ref().is_empty() {
        return Err(source.error(
            Some(members.span()),
            InvalidKind::BadValue,
            format!("launcher[{index}].members"),
            format!("dynamic launcher `{name}` has no members to pick from"),
        ));
    }
    let mut names: Vec<String> = Vec::with_capacity(members.get_ref().len());
    for (i, member) in members.get_ref().iter().enumerate() {
        if names.contains(member.get_ref()) {
            return Err(source.error(
                Some(member.span()),
                InvalidKind::DuplicateName,
                format!("launcher[{index}].members[{i}]"),
                format!("`{}` is listed twice", member.get_ref()),
            ));
        }
        names.push(member.get_ref().clone());
    }
    Ok(names)
}

fn check_host(
    source: &Source<'_>,
    host: &HostSpec,
    span: Range<usize>,
    key: &str,
) -> Result<(), RegistryError> {
    if host.cores == 0 {
        return Err(source.error(
            Some(span),
            InvalidKind::BadValue,
            format!("{key}.cores"),
            "0 cores: no job could ever run there",
        ));
    }
    if host.priority != 0.0 {
        return Err(source.error(
            Some(span),
            InvalidKind::BadValue,
            format!("{key}.priority"),
            "a launcher's priority is its `priority` key, next to `host`, not inside it",
        ));
    }
    Ok(())
}

fn check_slurm(
    source: &Source<'_>,
    raw: RawSlurm,
    key: &str,
) -> Result<SlurmOptions, RegistryError> {
    let mut options = SlurmOptions::new();
    for (name, value) in raw {
        let given = name.get_ref();
        let normal = normalize_name(given);
        let here = format!("{key}.{given}");
        let named = slurm_options::negated(&normal).map_or(normal.as_str(), |flag| flag.name);
        if is_reserved_option(&normal) {
            let error = OptionError::Reserved { name: normal };
            return Err(source.error(
                Some(name.span()),
                InvalidKind::UnknownKey,
                here,
                error.to_string(),
            ));
        }
        if !slurm_options::is_sbatch_option(named) {
            let error = OptionError::Unknown {
                name: given.clone(),
                hint: slurm_options::suggestion(&normal).map(str::to_owned),
            };
            return Err(source.error(
                Some(name.span()),
                InvalidKind::UnknownKey,
                here,
                error.to_string(),
            ));
        }
        if options.contains(named) {
            return Err(source.error(
                Some(name.span()),
                InvalidKind::DuplicateName,
                here,
                format!("`{normal}` is set twice (`-` and `_` are the same in option names)"),
            ));
        }
        let value_span = value.span();
        let value = match slurm_value(value.into_inner()) {
            Ok(value) => value,
            Err(what) => {
                return Err(source.error(
                    Some(value_span),
                    InvalidKind::BadValue,
                    here,
                    format!(
                        "an sbatch option value is a string, an integer or true/false, not {what}"
                    ),
                ));
            }
        };
        match options.set(&normal, value) {
            Ok(()) => {}
            Err(OptionError::InvalidValue { reason, .. }) => {
                return Err(source.error(Some(value_span), InvalidKind::BadValue, here, reason));
            }
            Err(other) => {
                return Err(source.error(
                    Some(value_span),
                    InvalidKind::BadValue,
                    here,
                    other.to_string(),
                ));
            }
        }
    }
    Ok(options)
}

fn resolve_members(
    source: &Source<'_>,
    entries: &[LauncherEntry],
    spans: &[Spans],
) -> Result<Vec<Vec<usize>>, RegistryError> {
    let index: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.as_str(), i))
        .collect();
    let mut all = Vec::with_capacity(entries.len());
    for (i, spans) in spans.iter().enumerate() {
        let mut members = Vec::with_capacity(spans.members.len());
        for (j, member) in spans.members.iter().enumerate() {
            let Some(&target) = index.get(member.get_ref().as_str()) else {
                return Err(source.error(
                    Some(member.span()),
                    InvalidKind::DanglingMember,
                    format!("launcher[{i}].members[{j}]"),
                    format!(
                        "no launcher is named `{}`{}",
                        member.get_ref(),
                        did_you_mean(member.get_ref(), entries.iter().map(|e| e.name.as_str()))
                    ),
                ));
            };
            members.push(target);
        }
        all.push(members);
    }
    Ok(all)
}

/// How deep dynamic launchers may nest (a dynamic entry whose members are
/// dynamic entries ...): far more than any real file needs, and a bound on
/// every walk over members.
pub(crate) const MAX_NESTING: usize = 64;

fn check_cycles(
    source: &Source<'_>,
    entries: &[LauncherEntry],
    members: &[Vec<usize>],
    spans: &[Spans],
) -> Result<(), RegistryError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut marks = vec![Mark::New; entries.len()];
    // How deep dynamic entries nest below each entry (0: not dynamic),
    // known once its members are done.
    let mut depth = vec![0usize; entries.len()];
    // Iterative depth-first search: (entry, next member to visit).
    for start in 0..entries.len() {
        if marks[start] != Mark::New {
            continue;
        }
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        marks[start] = Mark::OnPath;
        while let Some(top) = path.last_mut() {
            let (node, edge) = *top;
            top.1 += 1;
            if let Some(&target) = members[node].get(edge) {
                match marks[target] {
                    Mark::New => {
                        marks[target] = Mark::OnPath;
                        path.push((target, 0));
                    }
                    Mark::OnPath => {
                        let from = path.iter().position(|&(n, _)| n == target).unwrap_or(0);
                        let cycle: Vec<&str> = path[from..]
                            .iter()
                            .map(|&(n, _)| entries[n].name.as_str())
                            .chain(std::iter::once(entries[target].name.as_str()))
                            .collect();
                        return Err(source.error(
                            Some(spans[node].members[edge].span()),
                            InvalidKind::Cycle,
                            format!("launcher[{node}].members[{edge}]"),
                            format!("dynamic launchers form a cycle: {}", cycle.join(" → ")),
                        ));
                    }
                    Mark::Done => {}
                }
            } else {
                marks[node] = Mark::Done;
                path.pop();
                if !members[node].is_empty() {
                    depth[node] = 1 + members[node].iter().map(|&m| depth[m]).max().unwrap_or(0);
                    if depth[node] > MAX_NESTING {
                        return Err(source.error(
                            Some(spans[node].name_span.clone()),
                            InvalidKind::BadValue,
                            format!("launcher[{node}].members"),
                            format!(
                                "dynamic launchers nest more than {MAX_NESTING} deep below `{}`",
                                entries[node].name
                            ),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

fn check_sampling(
    source: &Source<'_>,
    entries: &[LauncherEntry],
    members: &[Vec<usize>],
    spans: &[Spans],
) -> Result<(), RegistryError> {
    for (i, entry) in entries.iter().enumerate() {
        if !matches!(entry.kind, EntryKind::Dynamic { sample: true, .. }) {
            continue;
        }
        for (j, &m) in members[i].iter().enumerate() {
            let member = &entries[m];
            if member.priority <= 0.0 {
                return Err(source.error(
                    Some(spans[i].members[j].span()),
                    InvalidKind::BadValue,
                    format!("launcher[{i}].members[{j}]"),
                    format!(
                        "`sample = true` picks members with probability proportional to their \
                         priority, so each needs a positive priority: `{}` (line {}) has {}",
                        member.name, member.line, member.priority
                    ),
                ));
            }
        }
    }
    Ok(())
}
