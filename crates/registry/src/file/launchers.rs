//! One `[[launcher]]` entry: its name, type, keys, host and Slurm options.

use std::collections::BTreeMap;
use std::ops::Range;

use std::time::Duration;

use core_types::HostSpec;
use core_types::job::{Choose, DEFAULT_REFRESH};
use slurm_options::{OptionError, SlurmOptions, is_reserved_option, normalize_name};
use toml::Spanned;

use super::EntryKind;
use super::LauncherEntry;
use super::schema::{LauncherType, RawLauncher, RawSlurm, slurm_value};
use crate::connector::{ConnectorConfig, LOCAL};
use crate::error::{InvalidKind, RegistryError, Source, did_you_mean};

/// Names: letters, digits, `-`, `_`, `.`; not empty.
pub(super) fn check_name(
    source: &Source<'_>,
    name: &str,
    span: Range<usize>,
    key: &str,
) -> Result<(), RegistryError> {
    if name == "." || name == ".." {
        // It would name another directory wherever names become paths.
        return Err(source.bad_value(
            span,
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
        Err(source.bad_value(
            span,
            key,
            format!("`{name}` is not a valid name (letters, digits, `-`, `_` and `.`, not empty)"),
        ))
    }
}

/// What checking one launcher keeps for the checks across entries.
#[derive(Debug)]
pub(super) struct Spans {
    pub(super) name_span: Range<usize>,
    /// The members, with their spans (dynamic entries).
    pub(super) members: Vec<Spanned<String>>,
}

pub(super) fn check_launcher(
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
        let (choose, refresh) = check_choose(
            source,
            index,
            &name,
            raw.choose.as_ref(),
            raw.sample.as_ref(),
            raw.refresh.as_ref(),
        )?;
        EntryKind::Dynamic {
            members: names,
            choose,
            refresh,
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
            _ => EntryKind::Direct {
                connector,
                host,
                ledger: match raw.ledger {
                    Some(dir) => Some(check_ledger(source, &dir, &key("ledger"))?),
                    None => None,
                },
            },
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
pub(super) fn check_misplaced(
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
    let misplaced: [(&str, Option<Range<usize>>, bool, &str); 8] = [
        (
            "ledger",
            raw.ledger.as_ref().map(Spanned::span),
            kind != LauncherType::Direct,
            "the machine's ledger is for direct launchers",
        ),
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
            "choose",
            raw.choose.as_ref().map(Spanned::span),
            !dynamic,
            "choosing among members is for dynamic launchers",
        ),
        (
            "refresh",
            raw.refresh.as_ref().map(Spanned::span),
            !dynamic,
            "it says how long a dynamic launcher keeps its members' expected starts",
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

/// A dynamic entry's `choose` (or the older `sample`) and `refresh`.
fn check_choose(
    source: &Source<'_>,
    index: usize,
    name: &str,
    choose: Option<&Spanned<String>>,
    sample: Option<&Spanned<bool>>,
    refresh: Option<&Spanned<core_types::Walltime>>,
) -> Result<(Choose, Duration), RegistryError> {
    let key = |field: &str| format!("launcher[{index}].{field}");
    let choose = match choose {
        Some(text) => Some(
            text.get_ref()
                .parse::<Choose>()
                .map_err(|why| source.bad_value(text.span(), key("choose"), why))?,
        ),
        None => None,
    };
    let choose = match (choose, sample) {
        (None, None) => Choose::Priority,
        (Some(c), None) => c,
        (None, Some(sample)) => {
            if *sample.get_ref() {
                Choose::Sample
            } else {
                Choose::Priority
            }
        }
        (Some(c), Some(sample)) => {
            let agrees = *sample.get_ref() == (c == Choose::Sample);
            if !agrees {
                return Err(source.bad_value(
                    sample.span(),
                    key("sample"),
                    format!(
                        "dynamic launcher `{name}` says both `choose = \"{c}\"` and `sample = {}`, \
                         which disagree (`sample = true` is the older `choose = \"sample\"`: keep one)",
                        sample.get_ref()
                    ),
                ));
            }
            c
        }
    };
    let refresh = match refresh {
        None => DEFAULT_REFRESH,
        Some(r) if choose == Choose::EarliestStart => r.get_ref().as_std(),
        Some(r) => {
            return Err(source.bad_value(
                r.span(),
                key("refresh"),
                format!(
                    "dynamic launcher `{name}` chooses by {choose}: `refresh` says how long the \
                     members' expected starts are kept, which only `choose = \"earliest-start\"` asks"
                ),
            ));
        }
    };
    Ok((choose, refresh))
}

/// A direct launcher's `ledger`: an absolute directory of its machine.
fn check_ledger(
    source: &Source<'_>,
    dir: &Spanned<String>,
    key: &str,
) -> Result<std::path::PathBuf, RegistryError> {
    let path = std::path::PathBuf::from(dir.get_ref());
    if path.is_absolute() && !dir.get_ref().contains(['\n', '\0']) {
        return Ok(path);
    }
    Err(source.bad_value(
        dir.span(),
        key,
        format!(
            "the ledger `{}` is not an absolute directory of the launcher's machine",
            core_types::text::printable(dir.get_ref())
        ),
    ))
}

/// The `[token.NAME]` tables: valid names, a count of at least 1.
pub(super) fn check_tokens(
    source: &Source<'_>,
    raw: BTreeMap<String, Spanned<super::schema::RawToken>>,
) -> Result<BTreeMap<String, u32>, RegistryError> {
    let mut tokens = BTreeMap::new();
    for (name, table) in raw {
        let span = table.span();
        check_name(source, &name, span, &format!("token.{name}"))?;
        let count = &table.get_ref().count;
        let Some(n) = u32::try_from(*count.get_ref()).ok().filter(|&n| n >= 1) else {
            return Err(source.bad_value(
                count.span(),
                format!("token.{name}.count"),
                format!(
                    "a token counts at least 1 (and at most {}), not {}",
                    u32::MAX,
                    count.get_ref()
                ),
            ));
        };
        tokens.insert(name, n);
    }
    Ok(tokens)
}

/// Tags: not empty; duplicates dropped.
pub(super) fn check_tags(
    source: &Source<'_>,
    index: usize,
    raw: Vec<Spanned<String>>,
) -> Result<Vec<String>, RegistryError> {
    let mut tags: Vec<String> = Vec::with_capacity(raw.len());
    for (i, tag) in raw.into_iter().enumerate() {
        if tag.get_ref().trim().is_empty() {
            return Err(source.bad_value(
                tag.span(),
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

pub(super) fn check_connector_name(
    source: &Source<'_>,
    index: usize,
    name: &Spanned<String>,
    connectors: &BTreeMap<String, ConnectorConfig>,
) -> Result<(), RegistryError> {
    let wanted = name.get_ref();
    if wanted == LOCAL || connectors.contains_key(wanted) {
        return Ok(());
    }
    if wanted.starts_with("ssh://") && !super::connectors::is_address(wanted) {
        let why = ssh_settings::SshAddress::parse(wanted)
            .err()
            .map_or_else(String::new, |e| e.to_string());
        return Err(source.bad_value(name.span(), format!("launcher[{index}].connector"), why));
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
pub(super) fn check_members(
    source: &Source<'_>,
    index: usize,
    name: &str,
    members: &Spanned<Vec<Spanned<String>>>,
) -> Result<Vec<String>, RegistryError> {
    if members.get_ref().is_empty() {
        return Err(source.bad_value(
            members.span(),
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

pub(super) fn check_host(
    source: &Source<'_>,
    host: &HostSpec,
    span: Range<usize>,
    key: &str,
) -> Result<(), RegistryError> {
    if host.cores == 0 {
        return Err(source.bad_value(
            span,
            format!("{key}.cores"),
            "0 cores: no job could ever run there",
        ));
    }
    if host.priority != 0.0 {
        return Err(source.bad_value(
            span,
            format!("{key}.priority"),
            "a launcher's priority is its `priority` key, next to `host`, not inside it",
        ));
    }
    Ok(())
}

pub(super) fn check_slurm(
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
                return Err(source.bad_value(
                    value_span,
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
                return Err(source.bad_value(value_span, here, other.to_string()));
            }
        }
    }
    Ok(options)
}
