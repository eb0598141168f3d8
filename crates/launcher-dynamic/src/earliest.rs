//! The earliest-start policy: an update hook that asks each member when
//! the job would start there ([`Launcher::expected_start`]), keeps the
//! answers for a refresh time, and chooses the earliest; priority breaks
//! ties, then the members' order.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;

use core_types::job::{Job, Launcher, Start, StartEstimate, report};

use crate::{Members, Update};

pub use core_types::job::DEFAULT_REFRESH;

/// A member's answer to "when would the job start there".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Its estimate.
    Estimate(StartEstimate),
    /// Its kind of launcher cannot tell.
    CannotTell,
    /// Asking failed (the connection refused, the command failed): why.
    Failed(String),
}

impl Answer {
    /// The start, when it could be asked.
    pub fn start(&self) -> Option<Start> {
        match self {
            Answer::Estimate(e) => Some(e.start),
            Answer::CannotTell | Answer::Failed(_) => None,
        }
    }
}

/// What became of one member in a [`Decision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It was chosen.
    Chosen,
    /// It would start, but not first (or it lost a tie).
    Later,
    /// It would never start the job.
    Unavailable,
    /// It could not be asked, and was skipped.
    Skipped,
}

/// One choice of the earliest-start policy: every member's answer, the
/// one chosen, and why.
#[derive(Debug, Clone)]
pub struct Decision {
    /// When it was decided (the answers' times are read as of then).
    pub now: SystemTime,
    /// Each member (name, priority, answer), in the members' order.
    pub members: Vec<(String, f64, Arc<Answer>)>,
    /// The position of the chosen member.
    pub chosen: usize,
    /// Why it won, in words (`the earliest start`, `no member could be
    /// asked: the highest priority`, ...).
    pub reason: &'static str,
    /// Whether it fell back to priority (no member could be asked, or
    /// none can start the job).
    pub fallback: bool,
}

impl Decision {
    /// The chosen member's expected start (`Later` when it could not be
    /// asked: the policy fell back to priority).
    pub fn chosen_start(&self) -> Start {
        self.members
            .get(self.chosen)
            .and_then(|(_, _, a)| a.start())
            .unwrap_or(Start::Later)
    }

    /// The chosen member's name.
    pub fn chosen_name(&self) -> &str {
        self.members.get(self.chosen).map_or("", |m| m.0.as_str())
    }

    /// What became of member `index`.
    pub fn verdict(&self, index: usize) -> Verdict {
        if index == self.chosen {
            return Verdict::Chosen;
        }
        match self.members.get(index).and_then(|(_, _, a)| a.start()) {
            None => Verdict::Skipped,
            Some(Start::Never) => Verdict::Unavailable,
            Some(_) => Verdict::Later,
        }
    }

    /// One member's answer for people, as of the decision:
    /// `starts now (idle)`, `starts at 2026-12-04T10:00:00Z, in 50m
    /// (Resources)`, `never starts (partition pdown is down)`,
    /// `unavailable (connection refused)`.
    pub fn answer_text(&self, answer: &Answer) -> String {
        let (text, why) = match answer {
            Answer::Estimate(e) => {
                let text = match e.start {
                    Start::At(at) if at > self.now => format!(
                        "starts at {}, {}",
                        humantime::format_rfc3339_seconds(at),
                        e.start.describe(self.now)
                    ),
                    Start::Now | Start::At(_) => "starts now".to_owned(),
                    Start::Later => "starts later, unknown when".to_owned(),
                    Start::Never => "never starts".to_owned(),
                };
                (text, e.why.as_str())
            }
            Answer::CannotTell => (
                "unavailable".to_owned(),
                "it cannot tell when a job would start",
            ),
            Answer::Failed(why) => ("unavailable".to_owned(), why.as_str()),
        };
        if why.is_empty() {
            text
        } else {
            format!("{text} ({why})")
        }
    }
}

/// One line: ``chose `b`: the earliest start; a: starts at ..., in 50m
/// (Resources); b: starts now (idle)``; with `{:#}`, one line a member
/// under the first, the chosen one marked.
impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "chose `{}`: {}", self.chosen_name(), self.reason)?;
        for (i, (name, _, answer)) in self.members.iter().enumerate() {
            let text = self.answer_text(answer);
            if f.alternate() {
                let mark = if i == self.chosen { "  <- chosen" } else { "" };
                write!(f, "\n  {name}: {text}{mark}")?;
            } else {
                write!(f, "; {name}: {text}")?;
            }
        }
        Ok(())
    }
}

/// Where warnings go.
type Warn = Arc<dyn Fn(&str) + Send + Sync>;

/// Whose answer, for what job: a member (by name in a shared cache, else
/// the launcher object itself) and a hash of what the job asks (its
/// alternative and tokens: a job of another shape is asked again).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Launcher(usize, u64),
    Named(String, u64),
}

/// The members' answers, each kept with the time it was asked. Clones
/// share it: the dynamic launchers made one per find in one process (a
/// loop of submissions, an array's tasks) ask each member once per
/// refresh when they share one ([`EarliestStart::shared`]); such a cache
/// knows members by name, so the launchers sharing it name theirs
/// uniquely (a launcher file's entry names).
#[derive(Clone, Default)]
pub struct StartCache(Arc<Mutex<Answers>>);

/// Each answer with the time it was asked.
type Answers = HashMap<Key, (Instant, Arc<Answer>)>;

impl fmt::Debug for StartCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartCache")
            .field("answers", &self.0.lock().len())
            .finish()
    }
}

impl StartCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many answers it holds (fresh or not).
    pub fn len(&self) -> usize {
        self.0.lock().len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every answer: the next choice asks every member.
    pub fn clear(&self) {
        self.0.lock().clear();
    }
}

/// A hash of what `job` asks of a member.
fn shape(job: &Job) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    job.alternative.hash(&mut h);
    job.tokens.hash(&mut h);
    h.finish()
}

/// The earliest-start policy, an [`Update`] hook: before each submission
/// it asks each member when the job would start there (in parallel, one
/// thread a member, when several answers are due), keeps each answer for
/// its refresh time (one query per member per refresh, so that an array
/// or a loop of submissions does not ask per job), and chooses the
/// earliest start; priority breaks ties, then the members' order. A
/// member that cannot be asked is skipped with a warning, never chosen
/// blindly; when none can be asked, or none can start the job, it falls
/// back to the highest priority (the first listed among ties) with a
/// warning.
pub struct EarliestStart {
    refresh: Duration,
    cache: StartCache,
    /// Whether the cache is shared (members known by name).
    shared: bool,
    warn: Warn,
    last: Option<Decision>,
}

impl fmt::Debug for EarliestStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EarliestStart")
            .field("refresh", &self.refresh)
            .field("cached", &self.cache.len())
            .field("shared", &self.shared)
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl Default for EarliestStart {
    fn default() -> Self {
        Self::new()
    }
}

impl EarliestStart {
    /// The policy, answers kept [`DEFAULT_REFRESH`], warnings on stderr.
    pub fn new() -> Self {
        EarliestStart {
            refresh: DEFAULT_REFRESH,
            cache: StartCache::new(),
            shared: false,
            warn: Arc::new(|message: &str| eprintln!("warning: {message}")),
            last: None,
        }
    }

    /// Keeps each member's answer for `refresh` (zero: asks each time).
    #[must_use]
    pub fn refresh(mut self, refresh: Duration) -> Self {
        self.refresh = refresh;
        self
    }

    /// Keeps the answers in `cache`, shared with other policies (the
    /// dynamic launchers made one per find by a launcher file's
    /// launchers): members are known there by name, so each answer is
    /// asked once per refresh whichever of them asks.
    #[must_use]
    pub fn shared(mut self, cache: StartCache) -> Self {
        self.cache = cache;
        self.shared = true;
        self
    }

    /// Sends warnings (a member that cannot be asked, the fall back to
    /// priority) to `warn` instead of stderr.
    #[must_use]
    pub fn on_warning(mut self, warn: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.warn = Arc::new(warn);
        self
    }

    /// The last decision.
    pub fn last(&self) -> Option<&Decision> {
        self.last.as_ref()
    }

    /// Each member's answer for `job`: from the cache while fresh, else
    /// asked (in parallel when several are due); whether any was asked.
    fn answers(&mut self, members: &Members, job: &Job) -> (Vec<Arc<Answer>>, bool) {
        let now = Instant::now();
        let shape = shape(job);
        let keys: Vec<Key> = members
            .iter()
            .map(|m| {
                if self.shared {
                    Key::Named(m.name.clone(), shape)
                } else {
                    Key::Launcher(Arc::as_ptr(&m.launcher).cast::<()>() as usize, shape)
                }
            })
            .collect();
        let mut answers: Vec<Option<Arc<Answer>>> = {
            let cache = self.cache.0.lock();
            keys.iter()
                .map(|k| {
                    cache
                        .get(k)
                        .filter(|(at, _)| now.duration_since(*at) < self.refresh)
                        .map(|(_, a)| Arc::clone(a))
                })
                .collect()
        };
        let due: Vec<usize> = (0..answers.len())
            .filter(|&i| answers[i].is_none())
            .collect();
        let asked = !due.is_empty();
        let fresh: Vec<(usize, Answer)> = if due.len() == 1 {
            vec![(due[0], ask(&members.list[due[0]].launcher, job))]
        } else {
            std::thread::scope(|scope| {
                let threads: Vec<_> = due
                    .iter()
                    .map(|&i| {
                        let launcher = &members.list[i].launcher;
                        (i, scope.spawn(move || ask(launcher, job)))
                    })
                    .collect();
                threads
                    .into_iter()
                    .map(|(i, t)| {
                        let answer = t
                            .join()
                            .unwrap_or_else(|_| Answer::Failed("asking it panicked".into()));
                        (i, answer)
                    })
                    .collect()
            })
        };
        let at = Instant::now();
        let mut cache = self.cache.0.lock();
        for (i, answer) in fresh {
            let member = &members.list[i];
            match &answer {
                Answer::CannotTell => (self.warn)(&format!(
                    "launcher `{}` cannot tell when the job would start: it is skipped",
                    member.name
                )),
                Answer::Failed(why) => (self.warn)(&format!(
                    "cannot ask launcher `{}` when the job would start ({why}): it is skipped",
                    member.name
                )),
                Answer::Estimate(_) => {}
            }
            let answer = Arc::new(answer);
            cache.insert(keys[i].clone(), (at, Arc::clone(&answer)));
            answers[i] = Some(answer);
        }
        drop(cache);
        let answers = answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|| Arc::new(Answer::CannotTell)))
            .collect();
        (answers, asked)
    }
}

fn ask(launcher: &Arc<dyn Launcher>, job: &Job) -> Answer {
    match launcher.expected_start(job) {
        None => Answer::CannotTell,
        Some(Ok(estimate)) => Answer::Estimate(estimate),
        Some(Err(e)) => Answer::Failed(report(&e)),
    }
}

/// The choice among `starts` (`None`: not asked) and `priorities`, as of
/// `now`: the position, why, and whether it fell back to priority.
fn choose(
    starts: &[Option<Start>],
    priorities: &[f64],
    now: SystemTime,
) -> (usize, &'static str, bool) {
    let by_priority = |candidates: &mut dyn Iterator<Item = usize>| {
        candidates.fold(None, |best: Option<usize>, i| match best {
            Some(b) if priorities[b].total_cmp(&priorities[i]).is_ge() => Some(b),
            _ => Some(i),
        })
    };
    let possible: Vec<(usize, Start)> = starts
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.filter(Start::is_possible).map(|s| (i, s)))
        .collect();
    let Some(&(_, earliest)) = possible.iter().min_by(|a, b| a.1.cmp_at(&b.1, now)) else {
        let all = by_priority(&mut (0..priorities.len())).unwrap_or(0);
        let reason = if starts.iter().all(Option::is_none) {
            "no member could be asked: the highest priority"
        } else {
            "no member can start the job: the highest priority"
        };
        return (all, reason, true);
    };
    let tied: Vec<usize> = possible
        .iter()
        .filter(|(_, s)| s.cmp_at(&earliest, now).is_eq())
        .map(|&(i, _)| i)
        .collect();
    let best = by_priority(&mut tied.iter().copied()).unwrap_or(tied[0]);
    let reason = if tied.len() == 1 {
        "the earliest start"
    } else if tied
        .iter()
        .filter(|&&i| priorities[i].total_cmp(&priorities[best]).is_eq())
        .count()
        == 1
    {
        "the earliest start, priority broke the tie"
    } else {
        "the earliest start, tied on priority too: the first listed"
    };
    (best, reason, false)
}

impl Update for EarliestStart {
    /// Without a job there is nothing to ask: the priorities decide.
    fn update(&mut self, members: &mut Members) {
        let _ = members;
    }

    fn update_for(&mut self, members: &mut Members, job: &Job) {
        if members.is_empty() {
            return;
        }
        let (answers, asked) = self.answers(members, job);
        let now = SystemTime::now();
        let starts: Vec<Option<Start>> = answers.iter().map(|a| a.start()).collect();
        let priorities: Vec<f64> = members.iter().map(|m| m.priority).collect();
        let (chosen, reason, fallback) = choose(&starts, &priorities, now);
        if fallback && asked {
            (self.warn)(&format!(
                "{reason}: `{}` is chosen by priority",
                members.list[chosen].name
            ));
        }
        members.choose(chosen);
        self.last = Some(Decision {
            now,
            members: members
                .iter()
                .zip(answers)
                .map(|(m, a)| (m.name.clone(), m.priority, a))
                .collect(),
            chosen,
            reason,
            fallback,
        });
    }

    fn decision(&self) -> Option<&Decision> {
        self.last.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_then_priority_then_order() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let later = Some(Start::At(now + Duration::from_secs(600)));
        let (i, why, fallback) = choose(&[later, Some(Start::Now)], &[10.0, 1.0], now);
        assert_eq!((i, why, fallback), (1, "the earliest start", false));
        let past = Some(Start::At(now - Duration::from_secs(1)));
        let (i, why, _) = choose(&[Some(Start::Now), past], &[1.0, 5.0], now);
        assert_eq!((i, why), (1, "the earliest start, priority broke the tie"));
        let (i, why, _) = choose(
            &[Some(Start::Now), None, Some(Start::Now)],
            &[2.0, 9.0, 2.0],
            now,
        );
        assert_eq!(
            (i, why),
            (
                0,
                "the earliest start, tied on priority too: the first listed"
            )
        );
        let (i, _, fallback) = choose(&[None, None, None], &[1.0, 3.0, 3.0], now);
        assert_eq!((i, fallback), (1, true));
        let (i, why, fallback) = choose(&[Some(Start::Never), None], &[1.0, 3.0], now);
        assert_eq!(
            (i, why, fallback),
            (1, "no member can start the job: the highest priority", true)
        );
        let (i, _, _) = choose(&[Some(Start::Later), later], &[9.0, 1.0], now);
        assert_eq!(i, 1, "a known time before an unknown one");
    }

    /// What `launch find --explain` and `launch run`'s first line show.
    #[test]
    fn decisions_for_people() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_378_400 - 3001);
        let at = |secs| Start::At(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
        let estimate =
            |start, why: &str| Arc::new(Answer::Estimate(StartEstimate::new(start, why)));
        let members = vec![
            (
                "gpu-short".to_owned(),
                1.0,
                estimate(Start::Now, "on qa01 in partition pa"),
            ),
            (
                "gpu-long".to_owned(),
                5.0,
                estimate(at(1_796_378_400), "on qb01 in partition pb"),
            ),
            (
                "ws".to_owned(),
                2.0,
                Arc::new(Answer::Failed("connection refused".into())),
            ),
            (
                "old".to_owned(),
                1.0,
                estimate(Start::Never, "partition pdown is down"),
            ),
            (
                "busy".to_owned(),
                1.0,
                estimate(Start::Later, "the ledger holds 4 of 4 cores"),
            ),
            ("custom".to_owned(), 1.0, Arc::new(Answer::CannotTell)),
        ];
        let starts: Vec<Option<Start>> = members.iter().map(|m| m.2.start()).collect();
        let priorities: Vec<f64> = members.iter().map(|m| m.1).collect();
        let (chosen, reason, fallback) = choose(&starts, &priorities, now);
        let decision = Decision {
            now,
            members,
            chosen,
            reason,
            fallback,
        };
        assert_eq!(decision.verdict(0), Verdict::Chosen);
        assert_eq!(decision.verdict(1), Verdict::Later);
        assert_eq!(decision.verdict(2), Verdict::Skipped);
        assert_eq!(decision.verdict(3), Verdict::Unavailable);
        insta::assert_snapshot!("explained", format!("{decision:#}\n{decision}"));
        let tie = Decision {
            members: vec![
                ("a".to_owned(), 1.0, estimate(Start::Now, "idle")),
                ("b".to_owned(), 3.0, estimate(Start::Now, "idle")),
            ],
            chosen: 1,
            reason: choose(&[Some(Start::Now); 2], &[1.0, 3.0], now).1,
            ..decision.clone()
        };
        let none = Decision {
            members: vec![
                (
                    "a".to_owned(),
                    1.0,
                    Arc::new(Answer::Failed("connection refused".into())),
                ),
                ("b".to_owned(), 3.0, Arc::new(Answer::CannotTell)),
            ],
            chosen: 1,
            reason: choose(&[None, None], &[1.0, 3.0], now).1,
            fallback: true,
            ..decision
        };
        insta::assert_snapshot!("tie_and_fallback", format!("{tie:#}\n{none:#}"));
    }
}
