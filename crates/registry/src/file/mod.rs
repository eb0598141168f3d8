//! The launcher file format: reading the TOML text and checking it.
//!
//! Values are checked while they are deserialized where the deserializer
//! knows their position; references between entries (connectors, members,
//! names, cycles) are checked afterwards, with the spans kept for them.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use core_types::HostSpec;
use core_types::job::Choose;
use serde::Deserialize;

mod connectors;
mod graph;
mod launchers;
mod schema;

use connectors::check_connectors;
use graph::{Graph, resolve_members};
use launchers::{check_launcher, check_tokens};
use schema::RawFile;

use crate::connector::ConnectorConfig;
use crate::error::{InvalidKind, RegistryError, Source};
use slurm_options::SlurmOptions;

/// A launcher's type and what only that type has.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryKind {
    /// Runs jobs as processes on its connector's machine, within `host`.
    Direct {
        /// The connector's name (`local` by default).
        connector: String,
        /// What the machine offers: the launcher never runs more at once.
        host: HostSpec,
        /// The directory of the machine's ledger, on that machine (`None`:
        /// the per-user default there).
        ledger: Option<PathBuf>,
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
        /// How it chooses: the highest priority (at random among ties),
        /// in proportion to priority (`choose = "sample"`, or the older
        /// `sample = true`), or the earliest expected start.
        choose: Choose,
        /// How long the members' answers to "when would it start" are
        /// kept (`refresh`, default 30 s; `earliest-start` only).
        refresh: Duration,
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
    /// The tokens (`[token.NAME]`) and their counts.
    pub(crate) tokens: BTreeMap<String, u32>,
}

/// Reads and checks a launcher file's text.
pub(crate) fn check(text: &str, source_name: &str) -> Result<Checked, RegistryError> {
    let source = Source::new(source_name, text);
    let raw = parse(&source)?;
    let mut connectors = check_connectors(&source, raw.connector)?;
    connectors::address_connectors(&source, &raw.launcher, &mut connectors)?;
    let tokens = check_tokens(&source, raw.token)?;
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
    Graph {
        source: &source,
        entries: &entries,
        members: &members,
        spans: &raw_members,
    }
    .check()?;
    Ok(Checked {
        connectors,
        entries,
        members,
        tokens,
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
