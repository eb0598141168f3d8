//! The dynamic launcher: a launcher that picks one of several launchers at
//! each submission (not later), by priority.
//!
//! By default it picks the highest priority, uniformly at random among
//! ties; with sampling on, it picks with probability proportional to
//! priority, and a priority that is not positive is an error at selection.
//! An update hook runs before each selection and may change priorities or
//! the list (say, to prefer a cluster whose queue is short). The
//! randomness is seedable, so a distribution can be checked exactly.
//!
//! ```
//! use std::sync::Arc;
//! use core_types::job::Launcher;
//! use core_types::HostSpec;
//! use launcher_direct::{DirectConfig, DirectLauncher};
//! use launcher_dynamic::DynamicLauncher;
//!
//! let direct = |priority| -> Arc<dyn Launcher> {
//!     let config = DirectConfig { priority, ..DirectConfig::default() };
//!     let host = HostSpec { cores: 1, ..HostSpec::default() };
//!     Arc::new(DirectLauncher::with_config(connector_local::LocalConnector::shared(), host, config).unwrap())
//! };
//! let (fast, slow) = (direct(10.0), direct(1.0));
//!
//! // Highest priority first.
//! let dynamic = DynamicLauncher::new(vec![Arc::clone(&slow), Arc::clone(&fast)])?;
//! assert!(dynamic.select()?.priority() == 10.0);
//!
//! // Proportional to priority: about 10 in 11.
//! let sampled = DynamicLauncher::new(vec![fast, slow])?.sample(true).seed(7);
//! let picks = (0..10_000).filter(|_| sampled.select().unwrap().priority() == 10.0).count();
//! assert!((8_800..9_400).contains(&picks), "{picks}");
//!
//! assert!(DynamicLauncher::new(Vec::new()).is_err());
//! # Ok::<(), launcher_dynamic::DynamicError>(())
//! ```

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use core_types::job::{Choose, Job, JobError, JobHandle, Launcher, StartEstimate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::Distribution;
use rand_distr::weighted::WeightedAliasIndex;

mod earliest;

pub use earliest::{Answer, DEFAULT_REFRESH, Decision, EarliestStart, StartCache, Verdict};

/// Why the dynamic launcher failed.
#[derive(Debug, thiserror::Error)]
pub enum DynamicError {
    /// There is no launcher to choose from.
    #[error("a dynamic launcher needs at least one launcher to choose from")]
    Empty,
    /// Sampling needs positive priorities.
    #[error(
        "sampling is proportional to priority, so every priority must be positive: launcher {index} ({launcher}) has priority {priority}"
    )]
    NonPositivePriority {
        /// Its position in the list.
        index: usize,
        /// What it is.
        launcher: String,
        /// Its priority.
        priority: f64,
    },
    /// A priority that is not a number (NaN or infinite).
    #[error("launcher {index} ({launcher}) has priority {priority}, which is not a finite number")]
    NotFinite {
        /// Its position in the list.
        index: usize,
        /// What it is.
        launcher: String,
        /// Its priority.
        priority: f64,
    },
    /// Its own priority is not a finite number.
    #[error("the dynamic launcher's own priority {0} is not a finite number")]
    OwnPriority(f64),
    /// No member launcher recognises the job directory.
    #[error("no launcher of this dynamic launcher can follow `{dir}`: {errors}")]
    NotRecovered {
        /// The directory.
        dir: String,
        /// Each member's answer, `; `-separated.
        errors: String,
    },
}

impl From<DynamicError> for JobError {
    fn from(e: DynamicError) -> JobError {
        JobError::Launcher {
            launcher: "dynamic",
            source: Box::new(e),
        }
    }
}

/// One launcher of a dynamic launcher, with the priority it is chosen by
/// (at first the launcher's own; the update hook may change it).
#[derive(Clone)]
pub struct Member {
    /// The launcher.
    pub launcher: Arc<dyn Launcher>,
    /// Its priority here.
    pub priority: f64,
    /// Its name for people (a launcher file's entry name; else what the
    /// launcher says it is).
    pub name: String,
}

impl fmt::Debug for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Member")
            .field("launcher", &self.launcher.describe())
            .field("priority", &self.priority)
            .field("name", &self.name)
            .finish()
    }
}

/// The list an update hook sees and may change. Changes go through its
/// methods, so the selection tables are rebuilt only when something changed.
#[derive(Debug, Default)]
pub struct Members {
    list: Vec<Member>,
    changed: bool,
    /// The member chosen for this selection alone ([`Members::choose`]).
    pick: Option<usize>,
}

impl Members {
    /// How many launchers there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The launchers, in the order they were given.
    pub fn iter(&self) -> std::slice::Iter<'_, Member> {
        self.list.iter()
    }

    /// The launcher at `index`.
    pub fn get(&self, index: usize) -> Option<&Member> {
        self.list.get(index)
    }

    /// Sets a launcher's priority (an out-of-range index changes nothing
    /// and returns `false`).
    pub fn set_priority(&mut self, index: usize, priority: f64) -> bool {
        match self.list.get_mut(index) {
            Some(m) => {
                if m.priority.to_bits() != priority.to_bits() {
                    m.priority = priority;
                    self.changed = true;
                }
                true
            }
            None => false,
        }
    }

    /// Adds a launcher, with its own priority.
    pub fn push(&mut self, launcher: Arc<dyn Launcher>) {
        let priority = launcher.priority();
        self.push_with_priority(launcher, priority);
    }

    /// Adds a launcher with a priority of this list's own.
    pub fn push_with_priority(&mut self, launcher: Arc<dyn Launcher>, priority: f64) {
        let name = launcher.describe();
        self.push_member(Member {
            launcher,
            priority,
            name,
        });
    }

    /// Adds a member as it is.
    pub fn push_member(&mut self, member: Member) {
        self.list.push(member);
        self.changed = true;
    }

    /// Chooses the launcher at `index` for this selection alone, whatever
    /// the priorities say (what a policy such as [`EarliestStart`] does);
    /// `false` for an index out of range.
    pub fn choose(&mut self, index: usize) -> bool {
        let ok = index < self.list.len();
        if ok {
            self.pick = Some(index);
        }
        ok
    }

    /// Removes the launcher at `index`.
    pub fn remove(&mut self, index: usize) -> Option<Member> {
        (index < self.list.len()).then(|| {
            self.changed = true;
            self.list.remove(index)
        })
    }

    /// Removes a launcher (the same object); whether it was there.
    pub fn remove_launcher(&mut self, launcher: &Arc<dyn Launcher>) -> bool {
        let before = self.list.len();
        self.list
            .retain(|m| !std::ptr::addr_eq(Arc::as_ptr(&m.launcher), Arc::as_ptr(launcher)));
        let removed = self.list.len() != before;
        self.changed |= removed;
        removed
    }
}

impl<'a> IntoIterator for &'a Members {
    type Item = &'a Member;
    type IntoIter = std::slice::Iter<'a, Member>;

    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

/// Runs before each selection and may change the priorities or the list
/// (the seed's `update()`), or choose a member for this selection alone
/// ([`Members::choose`]). The default does nothing; a closure
/// `FnMut(&mut Members)` is one; [`EarliestStart`] is the ready policy
/// that sends each job where it is expected to start first.
pub trait Update: Send {
    /// Called before each selection.
    fn update(&mut self, members: &mut Members) {
        let _ = members;
    }

    /// Called before the selection for `job` (a submission): by default,
    /// [`update`](Update::update).
    fn update_for(&mut self, members: &mut Members, job: &Job) {
        let _ = job;
        self.update(members);
    }

    /// Why the last selection for a job chose what it chose, when the
    /// policy says (`launch find --explain`, `launch run`'s first line).
    fn decision(&self) -> Option<&Decision> {
        None
    }
}

impl<F: FnMut(&mut Members) + Send> Update for F {
    fn update(&mut self, members: &mut Members) {
        self(members);
    }
}

/// What selection needs, built once per change of the list.
enum Table {
    /// The positions sharing the highest priority.
    Ties(Vec<usize>),
    /// Sampling proportional to priority, O(1) per draw.
    Weighted(WeightedAliasIndex<f64>),
}

struct State {
    members: Members,
    hook: Option<Box<dyn Update>>,
    rng: StdRng,
    table: Option<Table>,
}

/// Picks one of several launchers at each submission.
pub struct DynamicLauncher {
    priority: f64,
    choose: Choose,
    state: Mutex<State>,
}

impl fmt::Debug for DynamicLauncher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicLauncher")
            .field("priority", &self.priority)
            .field("choose", &self.choose)
            .field("members", &self.lock().members.list)
            .finish_non_exhaustive()
    }
}

impl DynamicLauncher {
    /// A dynamic launcher over `launchers` (not empty), each with its own
    /// priority; highest-priority selection; priority 0; seeded from the
    /// operating system.
    pub fn new(launchers: Vec<Arc<dyn Launcher>>) -> Result<Self, DynamicError> {
        if launchers.is_empty() {
            return Err(DynamicError::Empty);
        }
        let mut members = Members::default();
        for launcher in launchers {
            members.push(launcher);
        }
        Ok(Self::of(members))
    }

    /// A dynamic launcher over these members, by priority.
    fn of(members: Members) -> Self {
        DynamicLauncher {
            priority: 0.0,
            choose: Choose::Priority,
            state: Mutex::new(State {
                members,
                hook: None,
                rng: StdRng::from_os_rng(),
                table: None,
            }),
        }
    }

    /// A dynamic launcher over `launchers`, each named (a launcher file's
    /// entry names), with its own priority.
    pub fn named(launchers: Vec<(String, Arc<dyn Launcher>)>) -> Result<Self, DynamicError> {
        if launchers.is_empty() {
            return Err(DynamicError::Empty);
        }
        let mut members = Members::default();
        for (name, launcher) in launchers {
            let priority = launcher.priority();
            members.push_member(Member {
                launcher,
                priority,
                name,
            });
        }
        Ok(Self::of(members))
    }

    /// Samples with probability proportional to priority (`true`), or takes
    /// the highest priority (`false`, the default).
    #[must_use]
    pub fn sample(self, sample: bool) -> Self {
        self.choose(if sample {
            Choose::Sample
        } else {
            Choose::Priority
        })
    }

    /// How it chooses. [`Choose::EarliestStart`] sets the
    /// [`EarliestStart`] policy with its default refresh time as the
    /// update hook (see [`earliest_start`](Self::earliest_start) for
    /// another); when no member can be asked, it falls back to priority.
    #[must_use]
    pub fn choose(mut self, how: Choose) -> Self {
        self.choose = how;
        let state = self.state.get_mut();
        state.table = None;
        if how == Choose::EarliestStart {
            state.hook = Some(Box::new(EarliestStart::new()));
        }
        self
    }

    /// Chooses the earliest expected start with `policy` (its refresh
    /// time, its warnings).
    #[must_use]
    pub fn earliest_start(mut self, policy: EarliestStart) -> Self {
        self.choose = Choose::EarliestStart;
        let state = self.state.get_mut();
        state.table = None;
        state.hook = Some(Box::new(policy));
        self
    }

    /// How it chooses.
    pub fn how(&self) -> Choose {
        self.choose
    }

    /// Its own priority, when it is itself a member of a dynamic launcher.
    pub fn with_priority(mut self, priority: f64) -> Result<Self, DynamicError> {
        if !priority.is_finite() {
            return Err(DynamicError::OwnPriority(priority));
        }
        self.priority = priority;
        Ok(self)
    }

    /// Seeds the randomness (for reproducible choices).
    #[must_use]
    pub fn seed(self, seed: u64) -> Self {
        self.lock().rng = StdRng::seed_from_u64(seed);
        self
    }

    /// Sets the hook run before each selection.
    #[must_use]
    pub fn with_update(self, hook: impl Update + 'static) -> Self {
        self.lock().hook = Some(Box::new(hook));
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// The launchers by priority, highest first (the order given among
    /// equal priorities); the list itself keeps its order.
    pub fn launchers(&self) -> Vec<Member> {
        let mut list = self.lock().members.list.clone();
        list.sort_by(|a, b| b.priority.total_cmp(&a.priority));
        list
    }

    /// Adds a launcher, with its own priority.
    pub fn add(&self, launcher: Arc<dyn Launcher>) {
        self.lock().members.push(launcher);
    }

    /// Removes a launcher (the same object); whether it was there. A
    /// dynamic launcher left with none fails its next selection.
    pub fn remove(&self, launcher: &Arc<dyn Launcher>) -> bool {
        self.lock().members.remove_launcher(launcher)
    }

    /// Runs the update hook, then chooses a launcher.
    pub fn select(&self) -> Result<Arc<dyn Launcher>, DynamicError> {
        self.select_with(None)
    }

    /// Runs the update hook for `job`, then chooses a launcher for it.
    pub fn select_for(&self, job: &Job) -> Result<Arc<dyn Launcher>, DynamicError> {
        self.select_with(Some(job))
    }

    /// What the update hook says of its choice for `job` (running it, as
    /// a submission would, without submitting): each member's expected
    /// start and why the chosen one won. `None` when the hook does not
    /// explain itself (priority, sampling, most custom hooks).
    pub fn decide(&self, job: &Job) -> Option<Decision> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let hook = state.hook.as_mut()?;
        hook.update_for(&mut state.members, job);
        state.members.pick = None;
        hook.decision().cloned()
    }

    fn select_with(&self, job: Option<&Job>) -> Result<Arc<dyn Launcher>, DynamicError> {
        let mut guard = self.lock();
        let state = &mut *guard;
        state.members.pick = None;
        if let Some(hook) = state.hook.as_mut() {
            match job {
                Some(job) => hook.update_for(&mut state.members, job),
                None => hook.update(&mut state.members),
            }
        }
        if let Some(index) = state.members.pick.take() {
            if let Some(m) = state.members.list.get(index) {
                return Ok(Arc::clone(&m.launcher));
            }
        }
        if state.members.changed || state.table.is_none() {
            state.table = Some(build_table(
                &state.members.list,
                self.choose == Choose::Sample,
            )?);
            state.members.changed = false;
        }
        let index = match state.table.as_ref().expect("built above") {
            Table::Ties(ties) => match ties.len() {
                1 => ties[0],
                n => ties[state.rng.random_range(0..n)],
            },
            Table::Weighted(weights) => weights.sample(&mut state.rng),
        };
        Ok(Arc::clone(&state.members.list[index].launcher))
    }
}

fn build_table(list: &[Member], sample: bool) -> Result<Table, DynamicError> {
    if list.is_empty() {
        return Err(DynamicError::Empty);
    }
    for (index, m) in list.iter().enumerate() {
        if !m.priority.is_finite() {
            return Err(DynamicError::NotFinite {
                index,
                launcher: m.launcher.describe(),
                priority: m.priority,
            });
        }
        if sample && m.priority <= 0.0 {
            return Err(DynamicError::NonPositivePriority {
                index,
                launcher: m.launcher.describe(),
                priority: m.priority,
            });
        }
    }
    if sample {
        let weights = list.iter().map(|m| m.priority).collect();
        let table =
            WeightedAliasIndex::new(weights).map_err(|e| DynamicError::NonPositivePriority {
                index: 0,
                launcher: format!("the weights as a whole ({e})"),
                priority: list[0].priority,
            })?;
        return Ok(Table::Weighted(table));
    }
    let max = list
        .iter()
        .map(|m| m.priority)
        .fold(f64::NEG_INFINITY, f64::max);
    Ok(Table::Ties(
        list.iter()
            .enumerate()
            .filter(|(_, m)| m.priority.total_cmp(&max).is_eq())
            .map(|(i, _)| i)
            .collect(),
    ))
}

impl Launcher for DynamicLauncher {
    fn kind(&self) -> &'static str {
        "dynamic"
    }

    fn describe(&self) -> String {
        let members = self.launchers();
        let list: Vec<String> = members
            .iter()
            .map(|m| format!("{} (priority {})", m.launcher.describe(), m.priority))
            .collect();
        format!(
            "dynamic ({}) over {} launcher(s): {}",
            match self.choose {
                Choose::Sample => "sampled by priority",
                Choose::Priority => "highest priority",
                Choose::EarliestStart => "earliest expected start",
            },
            members.len(),
            list.join("; ")
        )
    }

    fn priority(&self) -> f64 {
        self.priority
    }

    fn submit(&self, job: Job) -> Result<Box<dyn JobHandle>, JobError> {
        self.select_for(&job)?.submit(job)
    }

    /// The chosen member's expected start, with the whole decision as its
    /// `why`, when the update hook explains itself (earliest start).
    fn expected_start(&self, job: &Job) -> Option<Result<StartEstimate, JobError>> {
        let decision = self.decide(job)?;
        let start = decision.chosen_start();
        Some(Ok(StartEstimate::new(start, decision.to_string())))
    }

    fn recover(&self, dir: &Path) -> Result<Box<dyn JobHandle>, JobError> {
        let mut errors = Vec::new();
        for member in self.launchers() {
            match member.launcher.recover(dir) {
                Ok(handle) => return Ok(handle),
                Err(e) => errors.push(core_types::job::report(&e)),
            }
        }
        Err(DynamicError::NotRecovered {
            dir: dir.display().to_string(),
            errors: errors.join("; "),
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use launcher_direct::DirectLauncher;

    fn direct() -> Arc<dyn Launcher> {
        let host = core_types::HostSpec {
            cores: 1,
            ..core_types::HostSpec::default()
        };
        Arc::new(DirectLauncher::new(connector_local::LocalConnector::shared(), host).unwrap())
    }

    fn members(priorities: &[f64]) -> Members {
        let mut m = Members::default();
        for &p in priorities {
            m.push_with_priority(direct(), p);
        }
        m.changed = false;
        m
    }

    #[test]
    fn only_real_changes_mark_the_list() {
        let mut m = members(&[1.0, 2.0]);
        assert!(m.set_priority(0, 1.0));
        assert!(!m.changed, "same value");
        assert!(!m.set_priority(5, 1.0));
        assert!(!m.changed, "no such launcher");
        assert!(m.set_priority(1, 4.0));
        assert!(m.changed);
        m.changed = false;
        let other = direct();
        assert!(!m.remove_launcher(&other));
        assert!(!m.changed);
        let first = Arc::clone(&m.get(0).unwrap().launcher);
        assert!(m.remove_launcher(&first));
        assert!(m.changed && m.len() == 1);
    }

    #[test]
    fn tables() {
        let m = members(&[1.0, 3.0, 3.0, 2.0]);
        match build_table(&m.list, false).unwrap() {
            Table::Ties(ties) => assert_eq!(ties, vec![1, 2]),
            Table::Weighted(_) => panic!("not sampling"),
        }
        assert!(matches!(
            build_table(&m.list, true).unwrap(),
            Table::Weighted(_)
        ));
        let zero = members(&[1.0, 0.0]);
        let err = build_table(&zero.list, true).err().unwrap();
        assert!(
            matches!(err, DynamicError::NonPositivePriority { index: 1, .. }),
            "{err}"
        );
        assert!(
            build_table(&zero.list, false).is_ok(),
            "0 is fine without sampling"
        );
        let nan = members(&[f64::NAN]);
        assert!(matches!(
            build_table(&nan.list, false),
            Err(DynamicError::NotFinite { .. })
        ));
        assert!(matches!(build_table(&[], false), Err(DynamicError::Empty)));
    }
}
