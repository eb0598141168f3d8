//! From a finder's choice to a launcher that runs jobs: the
//! [`LauncherFinder`] trait (a launcher file, or code, or both), and
//! [`Launchers`], which makes the launchers a file describes.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use core_types::job::{Choose, Connector, Job, JobError, JobHandle, Launcher, StartEstimate};
use core_types::{Alternative, Requirement};
use launcher_direct::{DirectConfig, DirectLauncher};
use launcher_dynamic::{Decision, DynamicLauncher, EarliestStart, StartCache};

use registry::{EntryKind, Explanation, Found, LauncherEntry, Registry};

use crate::backend::{Backend, SlurmRequest};
use crate::error::BuildError;

/// A launcher chosen for a requirement, ready to take jobs.
#[derive(Clone)]
pub struct Choice {
    /// The index of the matched alternative: the job runs with
    /// `requirement.alternatives[alternative]`.
    pub alternative: usize,
    /// The chosen launcher's name (a launcher file's entry name).
    pub name: String,
    /// The launcher.
    pub launcher: Arc<dyn Launcher>,
    /// The connector to the machine holding the jobs' directories, when
    /// there is one machine (a dynamic launcher whose members use several
    /// connectors has none).
    pub connector: Option<Arc<dyn Connector>>,
}

impl Choice {
    /// A choice of `launcher`, named `name`, for alternative `alternative`.
    pub fn new(alternative: usize, name: impl Into<String>, launcher: Arc<dyn Launcher>) -> Self {
        Choice {
            alternative,
            name: name.into(),
            launcher,
            connector: None,
        }
    }

    /// Says which connector reaches the jobs' directories.
    #[must_use]
    pub fn with_connector(mut self, connector: Arc<dyn Connector>) -> Self {
        self.connector = Some(connector);
        self
    }

    /// The alternative chosen in `requirement` (`None` when the index is
    /// not one of its alternatives).
    pub fn alternative_of<'r>(&self, requirement: &'r Requirement) -> Option<&'r Alternative> {
        requirement.alternatives.get(self.alternative)
    }
}

impl fmt::Debug for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Choice")
            .field("alternative", &self.alternative)
            .field("name", &self.name)
            .field("launcher", &self.launcher.describe())
            .field("connector", &self.connector.as_ref().map(|c| c.name()))
            .finish()
    }
}

/// Why a finder chose nothing.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    /// No launcher serves the requirement.
    #[error("no launcher{} matches `{requirement}`", Tagged(tags))]
    NoMatch {
        /// The requirement, in canonical form.
        requirement: String,
        /// The tags asked for.
        tags: Vec<String>,
        /// Every decision, when the finder explains them (a launcher file
        /// does; a closure does not).
        explanation: Option<Box<Explanation>>,
    },
    /// A launcher was chosen, but could not be made.
    #[error(transparent)]
    Build(#[from] BuildError),
}

struct Tagged<'a>(&'a [String]);

impl fmt::Display for Tagged<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, " tagged {}", self.0.join(" or "))
        }
    }
}

impl FindError {
    /// The "nothing matches" error for `requirement` and `tags`.
    pub fn no_match(requirement: &Requirement, tags: &[String]) -> Self {
        FindError::NoMatch {
            requirement: requirement.to_string(),
            tags: tags.to_vec(),
            explanation: None,
        }
    }

    /// Whether nothing matched (as opposed to a launcher that could not be
    /// made).
    pub fn is_no_match(&self) -> bool {
        matches!(self, FindError::NoMatch { .. })
    }
}

/// Finds the launcher for a requirement and tags, as `launchers.py`'s
/// `find_launcher(requirements, tags)` does.
///
/// [`Launchers`] finds with a launcher file; a closure
/// `Fn(&Requirement, &[String]) -> Option<Choice>` is a finder written in
/// code; [`LauncherFinderExt::or`] tries one finder, then another.
pub trait LauncherFinder: Send + Sync {
    /// The launcher for `requirement`, among those carrying one of `tags`
    /// (any launcher when `tags` is empty).
    fn find_launcher(
        &self,
        requirement: &Requirement,
        tags: &[String],
    ) -> Result<Choice, FindError>;
}

impl<F> LauncherFinder for F
where
    F: Fn(&Requirement, &[String]) -> Option<Choice> + Send + Sync,
{
    fn find_launcher(
        &self,
        requirement: &Requirement,
        tags: &[String],
    ) -> Result<Choice, FindError> {
        self(requirement, tags).ok_or_else(|| FindError::no_match(requirement, tags))
    }
}

/// Combinators of finders.
pub trait LauncherFinderExt: LauncherFinder + Sized {
    /// Tries `self`, then `other` when `self` finds nothing (an error in
    /// making a launcher is not "nothing" and is returned as is).
    fn or<G: LauncherFinder>(self, other: G) -> Or<Self, G> {
        Or(self, other)
    }
}

impl<F: LauncherFinder> LauncherFinderExt for F {}

/// `first.or(second)`: see [`LauncherFinderExt::or`].
#[derive(Debug, Clone)]
pub struct Or<F, G>(F, G);

impl<F: LauncherFinder, G: LauncherFinder> LauncherFinder for Or<F, G> {
    fn find_launcher(
        &self,
        requirement: &Requirement,
        tags: &[String],
    ) -> Result<Choice, FindError> {
        match self.0.find_launcher(requirement, tags) {
            Err(e) if e.is_no_match() => self.1.find_launcher(requirement, tags),
            other => other,
        }
    }
}

/// The launchers of a launcher file: finds with the file's rules and makes
/// the chosen launcher, through a [`Backend`] for connectors and Slurm.
///
/// Connectors are made once per name, and direct launchers once per entry,
/// so that every job found for a direct launcher shares its capacity (it
/// never runs more at once than its host can hold), whichever dynamic
/// launcher led to it; across processes, the machine's ledger (the
/// entry's `ledger`, else the per-user default) counts what every job
/// holds, and the file's tokens. The expected starts that dynamic
/// entries choosing the earliest start ask are kept in one cache for all
/// of them, members known by entry name: a loop of finds and submissions
/// in one process asks each member once per refresh.
pub struct Launchers<B> {
    registry: Registry,
    backend: B,
    connectors: Mutex<HashMap<String, Arc<dyn Connector>>>,
    direct: Mutex<HashMap<usize, Arc<DirectLauncher>>>,
    starts: StartCache,
    warn: Option<Warn>,
    seed: Option<u64>,
}

/// Where the earliest-start choice's warnings go.
type Warn = Arc<dyn Fn(&str) + Send + Sync>;

impl<B> fmt::Debug for Launchers<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Launchers")
            .field("registry", &self.registry.source())
            .field("entries", &self.registry.entries().len())
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Launchers<B> {
    /// The launchers of `registry`, made through `backend`.
    pub fn new(registry: Registry, backend: B) -> Self {
        Launchers {
            registry,
            backend,
            connectors: Mutex::new(HashMap::new()),
            direct: Mutex::new(HashMap::new()),
            starts: StartCache::new(),
            warn: None,
            seed: None,
        }
    }

    /// Seeds the dynamic launchers' choices (reproducible picks).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sends the warnings of the earliest-start choice (a member that
    /// cannot be asked, the fall back to priority) to `warn` instead of
    /// stderr.
    #[must_use]
    pub fn on_warning(mut self, warn: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.warn = Some(Arc::new(warn));
        self
    }

    /// The expected starts its dynamic entries have asked (shared by
    /// every launcher it makes).
    pub fn start_cache(&self) -> &StartCache {
        &self.starts
    }

    /// The launcher file.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The connector named `name` (made on first use, then shared).
    pub fn connector(&self, name: &str) -> Result<Arc<dyn Connector>, BuildError> {
        if let Some(c) = self.connectors.lock().get(name) {
            return Ok(Arc::clone(c));
        }
        let config = self
            .registry
            .connector(name)
            .ok_or_else(|| BuildError::NotAvailable(format!("no connector is named `{name}`")))?;
        let made = self.backend.connector(name, config)?;
        Ok(Arc::clone(
            self.connectors
                .lock()
                .entry(name.to_owned())
                .or_insert(made),
        ))
    }

    /// Makes the launcher of a match ([`Registry::find`]).
    pub fn make(&self, found: &Found, alternative: &Alternative) -> Result<Choice, BuildError> {
        let entry = &self.registry.entries()[found.entry];
        let launcher = self.make_entry(found.entry, alternative, Some(found))?;
        let connector = self
            .common_connector(found.entry)
            .map_err(|e| e.in_launcher(&entry.name))?;
        Ok(Choice {
            alternative: found.alternative,
            name: entry.name.clone(),
            launcher,
            connector,
        })
    }

    /// Entry `index` made for `alternative`; `found` when the finder chose
    /// it (its derived Slurm options and, for a dynamic entry, its members
    /// that match, computed once there).
    fn make_entry(
        &self,
        index: usize,
        alternative: &Alternative,
        found: Option<&Found>,
    ) -> Result<Arc<dyn Launcher>, BuildError> {
        let entry = &self.registry.entries()[index];
        self.make_kind(index, entry, alternative, found)
            .map_err(|e| e.in_launcher(&entry.name))
    }

    fn make_kind(
        &self,
        index: usize,
        entry: &LauncherEntry,
        alternative: &Alternative,
        found: Option<&Found>,
    ) -> Result<Arc<dyn Launcher>, BuildError> {
        match &entry.kind {
            EntryKind::Direct {
                connector,
                host,
                ledger,
            } => {
                if let Some(made) = self.direct.lock().get(&index) {
                    return Ok(Arc::clone(made) as Arc<dyn Launcher>);
                }
                let connector = self.connector(connector)?;
                // Shares of the machine are counted in its ledger, with
                // every other process's jobs; the file's tokens are
                // counted there too.
                let config = DirectConfig {
                    priority: entry.priority,
                    ledger: ledger.clone(),
                    tokens: self.registry.tokens().clone(),
                    ..DirectConfig::default()
                };
                let made = DirectLauncher::with_config(connector, host.clone(), config)
                    .map_err(|e| BuildError::Failed(Box::new(e)))?;
                let made = Arc::clone(
                    self.direct
                        .lock()
                        .entry(index)
                        .or_insert_with(|| Arc::new(made)),
                );
                Ok(made as Arc<dyn Launcher>)
            }
            EntryKind::Slurm {
                connector,
                host,
                options,
            } => {
                let connector = self.connector(connector)?;
                let options = match found {
                    Some(found) => found.options.clone(),
                    None => registry::derive_on(options, alternative, host, None),
                };
                let made = self.backend.slurm(SlurmRequest {
                    entry,
                    connector,
                    host,
                    options,
                })?;
                Ok(Arc::new(Prioritized {
                    launcher: made,
                    priority: entry.priority,
                }))
            }
            EntryKind::Dynamic { .. } => Ok(Arc::new(self.make_dynamic(
                index,
                entry,
                alternative,
                found,
            )?)),
        }
    }

    /// Dynamic entry `index` made for `alternative` (its members that
    /// match: `found`'s, else computed).
    fn make_dynamic(
        &self,
        index: usize,
        entry: &LauncherEntry,
        alternative: &Alternative,
        found: Option<&Found>,
    ) -> Result<DynamicLauncher, BuildError> {
        let EntryKind::Dynamic {
            choose, refresh, ..
        } = &entry.kind
        else {
            return Err(BuildError::NotAvailable(format!(
                "launcher `{}` is not dynamic",
                entry.name
            )));
        };
        let matching = match found {
            Some(found) => found.members.clone(),
            None => self.registry.members_matching(index, alternative),
        };
        let mut launchers = Vec::with_capacity(matching.len());
        for m in matching {
            let name = self.registry.entries()[m].name.clone();
            launchers.push((name, self.make_entry(m, alternative, None)?));
        }
        let failed = |e: launcher_dynamic::DynamicError| BuildError::Failed(Box::new(e));
        let mut dynamic = DynamicLauncher::named(launchers)
            .map_err(failed)?
            .with_priority(entry.priority)
            .map_err(failed)?;
        dynamic = match choose {
            Choose::EarliestStart => {
                let mut policy = EarliestStart::new()
                    .refresh(*refresh)
                    .shared(self.starts.clone());
                if let Some(warn) = &self.warn {
                    let warn = Arc::clone(warn);
                    policy = policy.on_warning(move |w| warn(w));
                }
                dynamic.earliest_start(policy)
            }
            other => dynamic.choose(*other),
        };
        if let Some(seed) = self.seed {
            dynamic = dynamic.seed(seed);
        }
        Ok(dynamic)
    }

    /// For a match of a dynamic entry choosing the earliest start: each
    /// member's expected start for `job` and why the chosen one won
    /// (asked as a submission would, through the shared cache, without
    /// submitting); `None` for any other entry.
    pub fn decide(&self, found: &Found, job: &Job) -> Result<Option<Decision>, BuildError> {
        let entry = &self.registry.entries()[found.entry];
        if !matches!(
            entry.kind,
            EntryKind::Dynamic {
                choose: Choose::EarliestStart,
                ..
            }
        ) {
            return Ok(None);
        }
        let dynamic = self
            .make_dynamic(found.entry, entry, &job.alternative, Some(found))
            .map_err(|e| e.in_launcher(&entry.name))?;
        Ok(dynamic.decide(job))
    }

    /// The connector every machine of entry `index` is reached through,
    /// when there is one.
    fn common_connector(&self, index: usize) -> Result<Option<Arc<dyn Connector>>, BuildError> {
        let mut name: Option<&str> = None;
        let mut stack = vec![index];
        while let Some(e) = stack.pop() {
            match self.registry.entries()[e].connector() {
                Some(c) if name.is_none_or(|n| n == c) => name = Some(c),
                Some(_) => return Ok(None),
                None => stack.extend_from_slice(self.registry.members(e)),
            }
        }
        name.map(|n| self.connector(n)).transpose()
    }
}

impl<B: Backend> LauncherFinder for Launchers<B> {
    fn find_launcher(
        &self,
        requirement: &Requirement,
        tags: &[String],
    ) -> Result<Choice, FindError> {
        let Some(found) = self.registry.find(requirement, tags) else {
            return Err(FindError::NoMatch {
                requirement: requirement.to_string(),
                tags: tags.to_vec(),
                explanation: Some(Box::new(self.registry.explain(requirement, tags))),
            });
        };
        let alternative = &requirement.alternatives[found.alternative];
        Ok(self.make(&found, alternative)?)
    }
}

/// A launcher with the priority of its launcher file entry.
#[derive(Debug)]
struct Prioritized {
    launcher: Arc<dyn Launcher>,
    priority: f64,
}

impl Launcher for Prioritized {
    fn kind(&self) -> &'static str {
        self.launcher.kind()
    }
    fn describe(&self) -> String {
        self.launcher.describe()
    }
    fn priority(&self) -> f64 {
        self.priority
    }
    fn submit(&self, job: Job) -> Result<Box<dyn JobHandle>, JobError> {
        self.launcher.submit(job)
    }
    fn recover(&self, dir: &Path) -> Result<Box<dyn JobHandle>, JobError> {
        self.launcher.recover(dir)
    }
    fn submit_array(
        &self,
        jobs: Vec<(u64, Job)>,
        throttle: Option<u32>,
    ) -> Option<core_types::job::ArraySubmission> {
        self.launcher.submit_array(jobs, throttle)
    }
    fn expected_start(&self, job: &Job) -> Option<Result<StartEstimate, JobError>> {
        self.launcher.expected_start(job)
    }
}
