//! Checks across entries: members resolved, no cycles, bounded nesting,
//! sampling over positive priorities.

use std::collections::HashMap;

use core_types::job::Choose;

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

/// The entries, their members (resolved to indices) and where the file
/// says each: what the checks across entries read.
#[derive(Clone, Copy)]
pub(super) struct Graph<'a> {
    pub(super) source: &'a Source<'a>,
    pub(super) entries: &'a [LauncherEntry],
    pub(super) members: &'a [Vec<usize>],
    pub(super) spans: &'a [Spans],
}

impl Graph<'_> {
    /// Every check across entries: no cycles, bounded nesting, positive
    /// priorities to sample, one ledger a machine.
    pub(super) fn check(self) -> Result<(), RegistryError> {
        self.check_cycles()?;
        self.check_sampling()?;
        self.check_ledgers()
    }

    fn check_cycles(self) -> Result<(), RegistryError> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnPath,
            Done,
        }
        let mut marks = vec![Mark::New; self.entries.len()];
        // How deep dynamic entries nest below each entry (0: not dynamic),
        // known once its members are done.
        let mut depth = vec![0usize; self.entries.len()];
        // Iterative depth-first search: (entry, next member to visit).
        for start in 0..self.entries.len() {
            if marks[start] != Mark::New {
                continue;
            }
            let mut path: Vec<(usize, usize)> = vec![(start, 0)];
            marks[start] = Mark::OnPath;
            while let Some(top) = path.last_mut() {
                let (node, edge) = *top;
                top.1 += 1;
                if let Some(&target) = self.members[node].get(edge) {
                    match marks[target] {
                        Mark::New => {
                            marks[target] = Mark::OnPath;
                            path.push((target, 0));
                        }
                        Mark::OnPath => {
                            let from = path.iter().position(|&(n, _)| n == target).unwrap_or(0);
                            let cycle: Vec<&str> = path[from..]
                                .iter()
                                .map(|&(n, _)| self.entries[n].name.as_str())
                                .chain(std::iter::once(self.entries[target].name.as_str()))
                                .collect();
                            return Err(self.source.error(
                                Some(self.spans[node].members[edge].span()),
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
                    if !self.members[node].is_empty() {
                        depth[node] = 1 + self.members[node]
                            .iter()
                            .map(|&m| depth[m])
                            .max()
                            .unwrap_or(0);
                        if depth[node] > MAX_NESTING {
                            return Err(self.source.bad_value(
                            self.spans[node].name_span.clone(),
                            format!("launcher[{node}].members"),
                            format!(
                                "dynamic launchers nest more than {MAX_NESTING} deep below `{}`",
                                self.entries[node].name
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
    fn check_ledgers(self) -> Result<(), RegistryError> {
        let mut first: HashMap<&str, usize> = HashMap::new();
        for (i, entry) in self.entries.iter().enumerate() {
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
            let EntryKind::Direct { ledger: other, .. } = &self.entries[j].kind else {
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
                return Err(self.source.bad_value(
                    self.spans[i].name_span.clone(),
                    format!("launcher[{i}].ledger"),
                    format!(
                        "`{}` runs jobs on the machine of connector `{connector}` with {}, \
                     and `{}` (line {}) with {}: launchers of one machine share one ledger",
                        entry.name,
                        say(ledger),
                        self.entries[j].name,
                        self.entries[j].line,
                        say(other)
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_sampling(self) -> Result<(), RegistryError> {
        for (i, entry) in self.entries.iter().enumerate() {
            if !matches!(
                entry.kind,
                EntryKind::Dynamic {
                    choose: Choose::Sample,
                    ..
                }
            ) {
                continue;
            }
            for (j, &m) in self.members[i].iter().enumerate() {
                let member = &self.entries[m];
                if member.priority <= 0.0 {
                    return Err(self.source.bad_value(
                        self.spans[i].members[j].span(),
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
}
