//! Checks across entries: members resolved, no cycles, bounded nesting,
//! sampling over positive priorities.

use std::collections::HashMap;

use super::EntryKind;
use super::LauncherEntry;
use super::launchers::Spans;
use crate::error::{InvalidKind, RegistryError, Source, did_you_mean};

pub(super) fn resolve_members(
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
pub(super) const MAX_NESTING: usize = 64;

pub(super) fn check_cycles(
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

/// Direct launchers on one machine (one connector) share one ledger, so
/// that they never give a device to two jobs: they name the same one.
pub(super) fn check_ledgers(
    source: &Source<'_>,
    entries: &[LauncherEntry],
    spans: &[Spans],
) -> Result<(), RegistryError> {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let EntryKind::Direct {
            connector, ledger, ..
        } = &entry.kind
        else {
            continue;
        };
        let Some(&j) = first.get(connector.as_str()) else {
            first.insert(connector, i);
            continue;
        };
        let EntryKind::Direct { ledger: other, .. } = &entries[j].kind else {
            continue;
        };
        if other != ledger {
            let say = |l: &Option<std::path::PathBuf>| {
                l.as_ref().map_or_else(
                    || "the default ledger".to_owned(),
                    |p| {
                        format!(
                            "the ledger `{}`",
                            core_types::text::printable(&p.to_string_lossy())
                        )
                    },
                )
            };
            return Err(source.error(
                Some(spans[i].name_span.clone()),
                InvalidKind::BadValue,
                format!("launcher[{i}].ledger"),
                format!(
                    "`{}` runs jobs on the machine of connector `{connector}` with {}, \
                     and `{}` (line {}) with {}: launchers of one machine share one ledger",
                    entry.name,
                    say(ledger),
                    entries[j].name,
                    entries[j].line,
                    say(other)
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn check_sampling(
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
