//! The earliest-start policy: the earliest member wins, priority breaks
//! ties, a member that cannot be asked is skipped, and each member is
//! asked once per refresh, through one dynamic launcher or several
//! sharing a cache (counted).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use core_types::job::{Choose, Job, Launcher, Start};
use launcher_dynamic::{DynamicLauncher, EarliestStart, StartCache};
use parking_lot::Mutex;
use test_support::queue::{Queue, Reply};

fn job() -> Job {
    Job::new("/tmp/earliest-job", ["true"])
}

fn queue(priority: f64, reply: Reply) -> Arc<Queue> {
    Arc::new(Queue::new(priority, reply))
}

fn dynamic(members: &[(&str, &Arc<Queue>)], policy: EarliestStart) -> DynamicLauncher {
    let list = members
        .iter()
        .map(|(name, q)| ((*name).to_owned(), Arc::clone(*q) as Arc<dyn Launcher>))
        .collect();
    DynamicLauncher::named(list).unwrap().earliest_start(policy)
}

fn chosen(d: &DynamicLauncher, job: &Job) -> String {
    d.decide(job).unwrap().chosen_name().to_owned()
}

fn quiet() -> (EarliestStart, Arc<Mutex<Vec<String>>>) {
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&warnings);
    let policy = EarliestStart::new().on_warning(move |w| sink.lock().push(w.to_owned()));
    (policy, warnings)
}

#[test]
fn the_earliest_start_wins_then_priority() {
    let soon = SystemTime::now() + Duration::from_secs(3600);
    let busy = queue(10.0, Reply::Start(Start::At(soon), "Resources"));
    let idle = queue(1.0, Reply::Start(Start::Now, "idle"));
    let idle_too = queue(2.0, Reply::Start(Start::Now, "idle"));
    let (policy, _) = quiet();
    let d = dynamic(&[("busy", &busy), ("idle", &idle)], policy);
    assert_eq!(chosen(&d, &job()), "idle");
    assert!(Arc::ptr_eq(
        &d.select_for(&job()).unwrap(),
        &(Arc::clone(&idle) as Arc<dyn Launcher>)
    ));
    let (policy, _) = quiet();
    let d = dynamic(
        &[("busy", &busy), ("idle", &idle), ("idle-too", &idle_too)],
        policy,
    );
    let decision = d.decide(&job()).unwrap();
    assert_eq!(decision.chosen_name(), "idle-too");
    assert_eq!(
        decision.reason,
        "the earliest start, priority broke the tie"
    );
}

#[test]
fn members_that_cannot_be_asked_are_skipped_and_none_falls_back_to_priority() {
    let refused = queue(10.0, Reply::Fails("connection refused"));
    let later = queue(1.0, Reply::Start(Start::Later, "busy"));
    let (policy, warnings) = quiet();
    let d = dynamic(&[("refused", &refused), ("later", &later)], policy);
    assert_eq!(chosen(&d, &job()), "later", "never chosen blindly");
    assert!(
        warnings.lock()[0].contains("cannot ask launcher `refused`"),
        "{:?}",
        warnings.lock()
    );
    let also = queue(5.0, Reply::Fails("connection refused"));
    let (policy, warnings) = quiet();
    let d = dynamic(&[("refused", &refused), ("also", &also)], policy);
    let decision = d.decide(&job()).unwrap();
    assert!(decision.fallback);
    assert_eq!(decision.chosen_name(), "refused", "the highest priority");
    let all = warnings.lock().join("\n");
    assert!(
        all.contains(
            "no member could be asked: the highest priority: `refused` is chosen by priority"
        ),
        "{all}"
    );
}

/// An array or a loop of submissions through one dynamic launcher asks
/// each member once per refresh; a job of another shape is asked again.
#[test]
fn one_question_per_member_per_refresh_through_one_launcher() {
    let a = queue(1.0, Reply::Start(Start::Now, "idle"));
    let b = queue(2.0, Reply::Start(Start::Later, "busy"));
    let (policy, _) = quiet();
    let d = dynamic(
        &[("a", &a), ("b", &b)],
        policy.refresh(Duration::from_secs(600)),
    );
    for _ in 0..20 {
        assert_eq!(chosen(&d, &job()), "a");
        d.select_for(&job()).unwrap();
    }
    assert_eq!((a.asked(), b.asked()), (1, 1));
    let bigger = job().alternative(reqparse_alternative());
    d.select_for(&bigger).unwrap();
    assert_eq!((a.asked(), b.asked()), (2, 2), "another shape is asked");
}

fn reqparse_alternative() -> core_types::Alternative {
    let mut alternative = core_types::Alternative::default();
    alternative.cpu.cores = 4;
    alternative
}

/// A loop of finds makes a dynamic launcher (and its members) per job:
/// sharing one cache, they ask each member once per refresh, and again
/// once it has passed.
#[test]
fn one_question_per_member_per_refresh_across_launchers_sharing_a_cache() {
    let cache = StartCache::new();
    let (a, b) = (
        queue(1.0, Reply::Start(Start::Now, "idle")),
        queue(2.0, Reply::Start(Start::Later, "busy")),
    );
    let asked = || (a.asked(), b.asked());
    let refresh = Duration::from_millis(400);
    let started = Instant::now();
    for _ in 0..20 {
        // Members made anew each time, as a launcher file's Slurm entries are.
        let fresh_a = Arc::new(Queue {
            asked: Arc::clone(&a.asked),
            ..Queue::new(1.0, a.reply.clone())
        });
        let fresh_b = Arc::new(Queue {
            asked: Arc::clone(&b.asked),
            ..Queue::new(2.0, b.reply.clone())
        });
        let (policy, _) = quiet();
        let d = dynamic(
            &[("a", &fresh_a), ("b", &fresh_b)],
            policy.refresh(refresh).shared(cache.clone()),
        );
        assert_eq!(d.how(), Choose::EarliestStart);
        d.select_for(&job()).unwrap();
    }
    if started.elapsed() < refresh {
        assert_eq!(asked(), (1, 1));
    }
    std::thread::sleep(refresh);
    let (policy, _) = quiet();
    let d = dynamic(
        &[("a", &a), ("b", &b)],
        policy.refresh(refresh).shared(cache),
    );
    d.select_for(&job()).unwrap();
    assert!(asked().0 >= 2 && asked().1 >= 2, "{:?}", asked());
}

/// Ten members answering in 100 ms each are asked in parallel: the choice
/// takes about the slowest answer, not the sum.
#[test]
fn members_are_asked_in_parallel() {
    let queues: Vec<(String, Arc<Queue>)> = (0..10)
        .map(|i| {
            let reply = if i == 7 {
                Reply::Start(Start::Now, "idle")
            } else {
                Reply::Start(Start::Later, "busy")
            };
            (
                format!("m{i}"),
                Arc::new(Queue::new(1.0, reply).delay(Duration::from_millis(100))),
            )
        })
        .collect();
    let members: Vec<(&str, &Arc<Queue>)> = queues.iter().map(|(n, q)| (n.as_str(), q)).collect();
    let (policy, _) = quiet();
    let d = dynamic(&members, policy);
    let started = Instant::now();
    assert_eq!(chosen(&d, &job()), "m7");
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(600),
        "{took:?}: not the sum (1 s)"
    );
}
