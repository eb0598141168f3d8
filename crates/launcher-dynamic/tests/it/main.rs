//! Integration tests of the dynamic launcher, over real direct launchers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use connector_local::LocalConnector;
use core_types::HostSpec;
use core_types::job::{Job, JobState, Launcher, report};
use launcher_direct::{DirectConfig, DirectLauncher};
use launcher_dynamic::{DynamicError, DynamicLauncher, Members};

mod earliest;

fn direct(priority: f64) -> Arc<dyn Launcher> {
    let host = HostSpec {
        cores: 2,
        ..HostSpec::default()
    };
    let config = DirectConfig {
        priority,
        ..DirectConfig::default()
    };
    Arc::new(DirectLauncher::with_config(LocalConnector::shared(), host, config).unwrap())
}

fn key(l: &Arc<dyn Launcher>) -> usize {
    Arc::as_ptr(l).cast::<()>() as usize
}

/// How often each launcher is chosen in `draws` selections.
fn counts(dynamic: &DynamicLauncher, launchers: &[Arc<dyn Launcher>], draws: usize) -> Vec<usize> {
    let mut by_key: HashMap<usize, usize> = HashMap::new();
    for _ in 0..draws {
        *by_key.entry(key(&dynamic.select().unwrap())).or_default() += 1;
    }
    launchers
        .iter()
        .map(|l| by_key.get(&key(l)).copied().unwrap_or(0))
        .collect()
}

#[test]
fn the_highest_priority_wins() {
    let ls = vec![direct(1.0), direct(10.0), direct(5.0)];
    for seed in 0..5 {
        let d = DynamicLauncher::new(ls.clone()).unwrap().seed(seed);
        assert_eq!(counts(&d, &ls, 200), vec![0, 200, 0]);
    }
}

#[test]
fn ties_spread_uniformly() {
    let ls = vec![direct(3.0), direct(1.0), direct(3.0), direct(3.0)];
    let d = DynamicLauncher::new(ls.clone()).unwrap().seed(42);
    let c = counts(&d, &ls, 9_000);
    assert_eq!(c[1], 0, "a lower priority is never chosen");
    for i in [0, 2, 3] {
        // Expected 3,000 each, standard deviation about 45.
        assert!((2_700..3_300).contains(&c[i]), "{c:?}");
    }
}

#[test]
fn sampling_is_proportional_to_priority() {
    let ls = vec![direct(10.0), direct(1.0)];
    let d = DynamicLauncher::new(ls.clone())
        .unwrap()
        .sample(true)
        .seed(1);
    let c = counts(&d, &ls, 10_000);
    // 10/11 = 90.9%: expected 9,091, standard deviation about 29.
    assert!((8_950..9_230).contains(&c[0]), "{c:?}");
    assert_eq!(c[0] + c[1], 10_000);
    // The same seed gives the same choices.
    let again = DynamicLauncher::new(ls.clone())
        .unwrap()
        .sample(true)
        .seed(1);
    assert_eq!(counts(&again, &ls, 10_000), c);
}

#[test]
fn errors_for_an_empty_list_and_non_positive_priorities() {
    assert!(matches!(
        DynamicLauncher::new(Vec::new()),
        Err(DynamicError::Empty)
    ));
    let zero = direct(0.0);
    let d = DynamicLauncher::new(vec![direct(2.0), Arc::clone(&zero)]).unwrap();
    assert!(d.select().is_ok(), "0 is a fine priority without sampling");
    let sampled = DynamicLauncher::new(vec![direct(2.0), zero])
        .unwrap()
        .sample(true);
    let err = sampled.select().err().unwrap().to_string();
    assert!(
        err.contains("launcher 1") && err.contains("priority 0"),
        "{err}"
    );
    let negative = DynamicLauncher::new(vec![direct(-1.0)])
        .unwrap()
        .sample(true);
    assert!(negative.select().err().unwrap().to_string().contains("-1"));
    // Through the Launcher trait, the error says which launcher failed.
    let work = tempfile::tempdir().unwrap();
    let err = negative
        .submit(Job::new(work.path().join("j"), ["true"]))
        .unwrap_err();
    // The message names the launcher; its cause is the error's source.
    assert_eq!(err.to_string(), "dynamic launcher");
    let err = report(&err);
    assert!(err.starts_with("dynamic launcher:"), "{err}");
    // Removing the last launcher makes the next selection fail.
    let only = direct(1.0);
    let d = DynamicLauncher::new(vec![Arc::clone(&only)]).unwrap();
    assert!(d.remove(&only));
    assert!(!d.remove(&only));
    assert!(matches!(d.select(), Err(DynamicError::Empty)));
    let err = DynamicLauncher::new(vec![direct(1.0)])
        .unwrap()
        .with_priority(f64::NAN)
        .unwrap_err();
    assert!(err.to_string().contains("NaN"), "{err}");
}

#[test]
fn the_update_hook_runs_before_each_selection() {
    let ls = vec![direct(1.0), direct(1.0)];
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    // The seed's cluster-aware example: each time, the other launcher is
    // "available" and gets priority 10.
    let d = DynamicLauncher::new(ls.clone())
        .unwrap()
        .with_update(move |m: &mut Members| {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            m.set_priority(n % 2, 10.0);
            m.set_priority((n + 1) % 2, 0.0);
        });
    for n in 0..10 {
        let chosen = d.select().unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), n + 1);
        assert_eq!(key(&chosen), key(&ls[n % 2]), "selection {n}");
    }
    // The hook may change the list itself.
    let extra = direct(100.0);
    let pending = Arc::new(Mutex::new(Some(Arc::clone(&extra))));
    let d = DynamicLauncher::new(vec![direct(1.0)])
        .unwrap()
        .with_update(move |m: &mut Members| {
            if let Some(l) = pending.lock().unwrap().take() {
                m.push(l);
            }
        });
    assert_eq!(key(&d.select().unwrap()), key(&extra));
    assert_eq!(d.launchers().len(), 2);
}

#[test]
fn launchers_are_listed_by_priority_without_reordering_the_list() {
    let ls = vec![direct(1.0), direct(5.0), direct(3.0), direct(5.0)];
    let d = DynamicLauncher::new(ls.clone()).unwrap();
    let sorted: Vec<usize> = d.launchers().iter().map(|m| key(&m.launcher)).collect();
    assert_eq!(
        sorted,
        vec![key(&ls[1]), key(&ls[3]), key(&ls[2]), key(&ls[0])]
    );
    let priorities: Vec<f64> = d.launchers().iter().map(|m| m.priority).collect();
    assert_eq!(priorities, vec![5.0, 5.0, 3.0, 1.0]);
    let added = direct(7.0);
    d.add(Arc::clone(&added));
    assert_eq!(key(&d.launchers()[0].launcher), key(&added));
    assert_eq!(key(&d.select().unwrap()), key(&added));
    assert!(d.remove(&added));
    // Ties between 1 and 3 again.
    let chosen = key(&d.select().unwrap());
    assert!(chosen == key(&ls[1]) || chosen == key(&ls[3]));
    assert_eq!(d.kind(), "dynamic");
    assert!(d.describe().contains("4 launcher(s)"), "{}", d.describe());
}

#[test]
fn jobs_run_on_the_chosen_launcher_and_are_recovered() {
    let work = tempfile::tempdir().unwrap();
    let d = DynamicLauncher::new(vec![direct(1.0), direct(2.0)])
        .unwrap()
        .with_priority(4.0)
        .unwrap();
    assert!((d.priority() - 4.0).abs() < f64::EPSILON);
    let dir = work.path().join("job");
    let handle = d.submit(Job::new(&dir, ["sh", "-c", "exit 4"])).unwrap();
    assert_eq!(
        handle.wait().unwrap(),
        JobState::Failed(core_types::job::FailReason::ExitCode(4))
    );
    let recovered = d.recover(&dir).unwrap();
    assert_eq!(recovered.state().unwrap(), handle.state().unwrap());
    let err = report(&d.recover(work.path()).unwrap_err());
    assert!(
        err.contains("no launcher") && err.contains("job.json"),
        "{err}"
    );
}
