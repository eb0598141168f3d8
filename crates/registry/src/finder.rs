//! The registry: a checked launcher file prepared for finding, the finder's
//! rules, and the explanation of every decision.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use core_types::{Alternative, HostSpec, Requirement};
use matcher::{Mismatch, PreparedHost};
use serde::Serialize;

use crate::connector::{ConnectorConfig, LOCAL};
use crate::error::RegistryError;
use crate::file::{self, EntryKind, LauncherEntry};
use slurm_options::SlurmOptions;

/// A launcher file, checked and ready for finding.
///
/// Finding follows `docs/requirements.md` ("Finding a launcher"):
/// alternatives are tried in order; for the first alternative that some
/// eligible entry matches, the entry with the highest priority wins (the
/// earliest on ties). An entry is eligible when no tags were asked for, or
/// it carries one of them. A dynamic entry matches when one of its members
/// matches (whatever their tags).
#[derive(Debug, Clone)]
pub struct Registry {
    source: String,
    connectors: BTreeMap<String, ConnectorConfig>,
    entries: Vec<LauncherEntry>,
    /// For each entry, its members (dynamic entries).
    members: Vec<Vec<usize>>,
    /// For each entry with a host, that host prepared for matching.
    prepared: Vec<Option<PreparedHost>>,
    /// For each dynamic entry, the entries with a host it may reach through
    /// its members, each once.
    leaves: Vec<Vec<usize>>,
    /// Entry indices by priority, highest first, in file order on ties.
    order: Vec<usize>,
    has_dynamic: bool,
    /// The tokens and their counts.
    tokens: BTreeMap<String, u32>,
}

/// What the finder chose for a requirement.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The chosen entry's index in [`Registry::entries`].
    pub entry: usize,
    /// The index of the matched alternative.
    pub alternative: usize,
    /// For a slurm entry: its fixed options and those the match derives
    /// ([`slurm_options::derive`]); empty for other types.
    pub options: SlurmOptions,
    /// For a dynamic entry: its members that match the alternative (indices
    /// in [`Registry::entries`], in the order of its `members`); empty for
    /// other types.
    pub members: Vec<usize>,
}

impl Registry {
    /// Reads and checks a launcher file's text; `source_name` names it in
    /// errors (usually the file's path).
    pub fn from_toml_str(text: &str, source_name: &str) -> Result<Registry, RegistryError> {
        let checked = file::check(text, source_name)?;
        Ok(Registry::prepare(source_name, checked))
    }

    /// Reads and checks a launcher file.
    pub fn load(path: impl AsRef<Path>) -> Result<Registry, RegistryError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| RegistryError::Read {
            file: name.clone(),
            via: None,
            error,
        })?;
        Registry::from_toml_str(&text, &name)
    }

    /// The launcher file used when there is none: one direct launcher,
    /// `local`, on this machine, whose capacity is `host` (the file
    /// `launch generate local` writes for it).
    pub fn local_default(host: &HostSpec) -> Result<Registry, RegistryError> {
        let host = HostSpec {
            // The launcher's priority is the entry's, not the host's.
            priority: 0.0,
            ..host.clone()
        };
        if host.cores == 0 {
            return Err(crate::error::Source::new(crate::DEFAULT_SOURCE, "").error(
                None,
                crate::InvalidKind::BadValue,
                "launcher[0].host.cores",
                "0 cores detected on this machine: no job could ever run here",
            ));
        }
        let entry = LauncherEntry {
            name: "local".to_owned(),
            kind: EntryKind::Direct {
                connector: crate::LOCAL.to_owned(),
                host,
                ledger: None,
            },
            priority: 0.0,
            tags: Vec::new(),
            line: 0,
        };
        let checked = file::Checked {
            connectors: std::collections::BTreeMap::new(),
            entries: vec![entry],
            members: vec![Vec::new()],
            tokens: std::collections::BTreeMap::new(),
        };
        Ok(Registry::prepare(crate::DEFAULT_SOURCE, checked))
    }

    fn prepare(source: &str, checked: file::Checked) -> Registry {
        let file::Checked {
            connectors,
            entries,
            members,
            tokens,
        } = checked;
        let prepared: Vec<Option<PreparedHost>> = entries
            .iter()
            .map(|e| e.host().map(PreparedHost::new))
            .collect();
        let mut leaves = vec![Vec::new(); entries.len()];
        let mut seen = Stamps::new(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            if matches!(entry.kind, EntryKind::Dynamic { .. }) {
                leaves[i] = reachable_hosts(i, &members, &prepared, &mut seen);
            }
        }
        let mut order: Vec<usize> = (0..entries.len()).collect();
        // Stable: file order among equal priorities. Priorities are finite.
        order.sort_by(|&a, &b| entries[b].priority.total_cmp(&entries[a].priority));
        let has_dynamic = entries
            .iter()
            .any(|e| matches!(e.kind, EntryKind::Dynamic { .. }));
        Registry {
            source: source.to_owned(),
            connectors,
            entries,
            members,
            prepared,
            leaves,
            order,
            has_dynamic,
            tokens,
        }
    }

    /// The file (or source name) it was read from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether this is the default used when there is no launcher file.
    pub fn is_default(&self) -> bool {
        self.source == crate::DEFAULT_SOURCE
    }

    /// The launcher entries, in file order.
    pub fn entries(&self) -> &[LauncherEntry] {
        &self.entries
    }

    /// The entry named `name`, with its index.
    pub fn entry(&self, name: &str) -> Option<(usize, &LauncherEntry)> {
        self.entries
            .iter()
            .enumerate()
            .find(|(_, e)| e.name == name)
    }

    /// The members of entry `index` (indices in [`entries`](Self::entries));
    /// empty unless it is a dynamic entry.
    pub fn members(&self, index: usize) -> &[usize] {
        self.members.get(index).map_or(&[], Vec::as_slice)
    }

    /// The connectors the file defines (not the built-in `local`).
    pub fn connectors(&self) -> &BTreeMap<String, ConnectorConfig> {
        &self.connectors
    }

    /// The tokens (`[token.NAME]`, `count = N`) jobs may take.
    pub fn tokens(&self) -> &BTreeMap<String, u32> {
        &self.tokens
    }

    /// The connector named `name`: one of the file's, or `local`.
    pub fn connector(&self, name: &str) -> Option<&ConnectorConfig> {
        if name == LOCAL {
            Some(&ConnectorConfig::Local)
        } else {
            self.connectors.get(name)
        }
    }

    /// Finds the launcher for `requirement` among the entries eligible for
    /// `tags` (see [`Registry`] for the rules); `None` when none matches
    /// ([`explain`](Self::explain) says why).
    pub fn find<S: AsRef<str>>(&self, requirement: &Requirement, tags: &[S]) -> Option<Found> {
        let mut memo = Memo::new(if self.has_dynamic {
            self.entries.len()
        } else {
            0
        });
        for (a, alt) in requirement.alternatives.iter().enumerate() {
            memo.clear();
            for &e in &self.order {
                if self.entries[e].is_eligible(tags) && self.matches(e, alt, &mut memo) {
                    return Some(self.found(e, a, alt, &mut memo));
                }
            }
        }
        None
    }

    /// Whether entry `e` matches `alt` (dynamic: one of its hosts does).
    fn matches(&self, e: usize, alt: &Alternative, memo: &mut Memo) -> bool {
        match &self.prepared[e] {
            Some(host) => host.match_alternative(alt).is_some(),
            None => self.leaves[e].iter().any(|&leaf| {
                memo.get_or(leaf, || {
                    self.prepared[leaf]
                        .as_ref()
                        .is_some_and(|h| h.match_alternative(alt).is_some())
                })
            }),
        }
    }

    fn found(&self, entry: usize, alternative: usize, alt: &Alternative, memo: &mut Memo) -> Found {
        let (options, members) = match &self.entries[entry].kind {
            EntryKind::Slurm { options, host, .. } => (
                derive_on(options, alt, host, self.prepared[entry].as_ref()),
                Vec::new(),
            ),
            EntryKind::Dynamic { .. } => {
                (SlurmOptions::new(), self.matching_members(entry, alt, memo))
            }
            EntryKind::Direct { .. } => (SlurmOptions::new(), Vec::new()),
        };
        Found {
            entry,
            alternative,
            options,
            members,
        }
    }

    fn matching_members(&self, entry: usize, alt: &Alternative, memo: &mut Memo) -> Vec<usize> {
        self.members[entry]
            .iter()
            .copied()
            .filter(|&m| self.matches(m, alt, memo))
            .collect()
    }

    /// The members of dynamic entry `entry` that match `alt`, in the order
    /// of its `members` (empty for other entries).
    pub fn members_matching(&self, entry: usize, alt: &Alternative) -> Vec<usize> {
        if entry >= self.entries.len() {
            return Vec::new();
        }
        let mut memo = Memo::new(self.entries.len());
        self.matching_members(entry, alt, &mut memo)
    }

    /// Every decision the finder makes for `requirement` and `tags`: for
    /// each alternative it tries, each entry's verdict (in file order).
    /// Its [`found`](Explanation::found) is what [`find`](Self::find) returns.
    pub fn explain<S: AsRef<str>>(&self, requirement: &Requirement, tags: &[S]) -> Explanation {
        let found = self.find(requirement, tags);
        let tried = found
            .as_ref()
            .map_or(requirement.alternatives.len(), |f| f.alternative + 1);
        let mut alternatives = Vec::with_capacity(tried);
        for (a, alt) in requirement.alternatives.iter().enumerate().take(tried) {
            let winner = found
                .as_ref()
                .filter(|f| f.alternative == a)
                .map(|f| f.entry);
            let entries = self
                .entries
                .iter()
                .enumerate()
                .map(|(e, entry)| {
                    let verdict = if entry.is_eligible(tags) {
                        match (self.verdict(e, alt), winner) {
                            (None, Some(w)) if w == e => Verdict::Chosen {
                                members: found
                                    .as_ref()
                                    .map(|f| self.names(&f.members))
                                    .unwrap_or_default(),
                            },
                            (None, Some(w)) => Verdict::Outranked {
                                by: self.entries[w].name.clone(),
                                by_priority: self.entries[w].priority,
                                priority: entry.priority,
                            },
                            // Unreachable when `find` and `verdict` agree
                            // (a test checks it): say it matches.
                            (None, None) => Verdict::Chosen {
                                members: Vec::new(),
                            },
                            (Some(verdict), _) => verdict,
                        }
                    } else {
                        Verdict::NotEligible {
                            tags: entry.tags.clone(),
                        }
                    };
                    EntryReport {
                        name: entry.name.clone(),
                        verdict,
                    }
                })
                .collect();
            alternatives.push(AlternativeReport {
                index: a,
                alternative: alt.to_string(),
                entries,
            });
        }
        Explanation {
            source: self.source.clone(),
            tags: tags.iter().map(|t| t.as_ref().to_owned()).collect(),
            alternatives,
            found,
        }
    }

    /// Why entry `e` does not match `alt`, or `None` when it does.
    fn verdict(&self, e: usize, alt: &Alternative) -> Option<Verdict> {
        if let Some(host) = self.entries[e].host() {
            return matcher::explain_alternative(alt, host)
                .err()
                .map(Verdict::Mismatch);
        }
        let mut reports = Vec::new();
        for &m in &self.members[e] {
            let verdict = self.verdict(m, alt)?;
            reports.push(EntryReport {
                name: self.entries[m].name.clone(),
                verdict,
            });
        }
        Some(Verdict::NoMemberMatches(reports))
    }

    fn names(&self, indices: &[usize]) -> Vec<String> {
        indices
            .iter()
            .map(|&i| self.entries[i].name.clone())
            .collect()
    }
}

/// The entries with a host that `start` reaches through members, each once,
/// in depth-first order (the file is free of cycles).
fn reachable_hosts(
    start: usize,
    members: &[Vec<usize>],
    prepared: &[Option<PreparedHost>],
    seen: &mut Stamps,
) -> Vec<usize> {
    seen.next_round();
    let mut out = Vec::new();
    let mut stack: Vec<usize> = members[start].iter().rev().copied().collect();
    seen.mark(start);
    while let Some(e) = stack.pop() {
        if seen.mark(e) {
            continue;
        }
        if prepared[e].is_some() {
            out.push(e);
        } else {
            stack.extend(members[e].iter().rev().copied());
        }
    }
    out
}

/// Which entries a walk has seen, cleared in constant time between walks
/// (a round number per entry), so that walking from every dynamic entry
/// costs what the walks visit, not the file's size each time.
struct Stamps {
    round: u32,
    seen: Vec<u32>,
}

impl Stamps {
    fn new(len: usize) -> Self {
        Stamps {
            round: 0,
            seen: vec![0; len],
        }
    }

    fn next_round(&mut self) {
        self.round = self.round.wrapping_add(1);
        if self.round == 0 {
            self.seen.fill(0);
            self.round = 1;
        }
    }

    /// Marks `e` seen; whether it already was in this round.
    fn mark(&mut self, e: usize) -> bool {
        std::mem::replace(&mut self.seen[e], self.round) == self.round
    }
}

/// Per-alternative memory of which hosts match (for dynamic entries that
/// share members).
struct Memo {
    /// 0: not known, 1: matches, 2: does not.
    state: Vec<u8>,
}

impl Memo {
    fn new(len: usize) -> Self {
        Memo {
            state: vec![0; len],
        }
    }

    fn clear(&mut self) {
        self.state.fill(0);
    }

    fn get_or(&mut self, i: usize, compute: impl FnOnce() -> bool) -> bool {
        match self.state.get(i) {
            Some(1) => true,
            Some(2) => false,
            Some(_) => {
                let value = compute();
                self.state[i] = if value { 1 } else { 2 };
                value
            }
            None => compute(),
        }
    }
}

/// Every decision of the finder for one requirement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The launcher file.
    pub source: String,
    /// The tags asked for.
    pub tags: Vec<String>,
    /// The alternatives tried, in order: up to the one that matched, or
    /// all of them when none did.
    pub alternatives: Vec<AlternativeReport>,
    /// What the finder chose.
    #[serde(skip)]
    pub found: Option<Found>,
}

/// The verdicts for one alternative.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlternativeReport {
    /// Its index in the requirement.
    pub index: usize,
    /// Its canonical form.
    pub alternative: String,
    /// Each entry's verdict, in file order.
    pub entries: Vec<EntryReport>,
}

/// One entry's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryReport {
    /// The entry's name.
    pub name: String,
    /// What the finder decided about it.
    #[serde(serialize_with = "verdict_text")]
    pub verdict: Verdict,
}

fn verdict_text<S: serde::Serializer>(verdict: &Verdict, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(verdict)
}

/// What the finder decided about one entry for one alternative.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// It matches and was chosen; for a dynamic entry, its members that
    /// match.
    Chosen {
        /// The members that match (dynamic entries).
        members: Vec<String>,
    },
    /// It matches, but another entry comes first: a higher priority, or
    /// the same priority and earlier in the file.
    Outranked {
        /// The chosen entry.
        by: String,
        /// The chosen entry's priority.
        by_priority: f64,
        /// This entry's priority.
        priority: f64,
    },
    /// Tags were asked for and it carries none of them.
    NotEligible {
        /// Its tags.
        tags: Vec<String>,
    },
    /// The first rule the host fails.
    Mismatch(Mismatch),
    /// A dynamic entry none of whose members matches: each member's verdict.
    NoMemberMatches(Vec<EntryReport>),
}

impl Verdict {
    /// Whether the entry matches the alternative (chosen or outranked).
    pub fn matches(&self) -> bool {
        matches!(self, Verdict::Chosen { .. } | Verdict::Outranked { .. })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Chosen { members } if members.is_empty() => f.write_str("chosen"),
            Verdict::Chosen { members } => {
                write!(f, "chosen; its members that match: {}", members.join(", "))
            }
            Verdict::Outranked {
                by,
                by_priority,
                priority,
            } => {
                if by_priority > priority {
                    write!(
                        f,
                        "matches, but `{by}` comes first (priority {by_priority} over {priority})"
                    )
                } else {
                    write!(
                        f,
                        "matches, but `{by}` comes first (same priority {priority}, earlier in the file)"
                    )
                }
            }
            Verdict::NotEligible { tags } if tags.is_empty() => {
                f.write_str("not eligible: it has no tags, and tags were asked for")
            }
            Verdict::NotEligible { tags } => write!(
                f,
                "not eligible: its tags ({}) are none of those asked for",
                tags.join(", ")
            ),
            Verdict::Mismatch(why) => write!(f, "{why}"),
            Verdict::NoMemberMatches(members) => {
                f.write_str("no member matches (")?;
                for (i, m) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{}: {}", m.name, m.verdict)?;
                }
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for EntryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.verdict)
    }
}

/// One line per alternative tried, then one indented line per entry:
/// `gpu-fast: asks for 2 cuda accelerators of 40GiB, the host has ...`.
impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tags.is_empty() {
            writeln!(f, "launchers of {}:", self.source)?;
        } else {
            writeln!(
                f,
                "launchers of {} tagged {}:",
                self.source,
                self.tags.join(" or ")
            )?;
        }
        if self.alternatives.is_empty() {
            writeln!(f, "  the requirement has no alternative")?;
        }
        for report in &self.alternatives {
            writeln!(f, "alternative {} ({}):", report.index, report.alternative)?;
            if report.entries.is_empty() {
                writeln!(f, "  the file defines no launcher")?;
            }
            for entry in &report.entries {
                writeln!(f, "  {entry}")?;
            }
        }
        Ok(())
    }
}

/// The options of a Slurm entry for `alt`: derived, with the GRES type
/// (`slurm_type`) of the host accelerator the matcher gives each request,
/// so that the GPU option is typed when the types are known.
pub fn derive_on(
    options: &SlurmOptions,
    alt: &Alternative,
    host: &HostSpec,
    prepared: Option<&PreparedHost>,
) -> SlurmOptions {
    let fresh;
    let prepared = if let Some(p) = prepared {
        p
    } else {
        fresh = PreparedHost::new(host);
        &fresh
    };
    let types: Vec<Option<&str>> = prepared
        .match_alternative(alt)
        .map(|m| {
            m.assignment
                .iter()
                .map(|i| {
                    host.accelerators
                        .get(i)
                        .and_then(|a| a.slurm_type.as_deref())
                })
                .collect()
        })
        .unwrap_or_default();
    slurm_options::derive_typed(options, alt, &types)
}
