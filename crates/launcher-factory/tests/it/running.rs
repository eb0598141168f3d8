//! Launchers made from a file run real jobs: each requirement lands on the
//! launcher the file says, direct launchers are shared, dynamic launchers
//! pick among the members that match, finders written in code combine with
//! a file, and what this program cannot make is refused clearly.

use std::sync::Arc;

use core_types::Requirement;
use core_types::job::{Job, JobState, Launcher};
use launcher_factory::{
    BuildError, Choice, FindError, LauncherFinder, LauncherFinderExt, Launchers, LocalBackend,
};
use registry::Registry;

use crate::{chain, req};

const FILE: &str = include_str!("../data/running.toml");

fn launchers() -> Launchers<LocalBackend> {
    let registry = Registry::from_toml_str(FILE, "running.toml").unwrap();
    Launchers::new(registry, LocalBackend).seed(7)
}

fn tags(t: &[&str]) -> Vec<String> {
    t.iter().map(|&s| s.to_owned()).collect()
}

/// Runs a job that prints its CUDA devices; what it printed.
fn run_devices(choice: &Choice, requirement: &Requirement, dir: &std::path::Path) -> String {
    let alternative = choice.alternative_of(requirement).unwrap().clone();
    let job = Job::new(
        dir,
        ["sh", "-c", "printf '%s' \"${CUDA_VISIBLE_DEVICES-none}\""],
    )
    .alternative(alternative);
    let handle = choice.launcher.submit(job).unwrap();
    assert_eq!(handle.wait().unwrap(), JobState::Done);
    std::fs::read_to_string(dir.join("stdout")).unwrap()
}

#[test]
fn each_job_lands_on_the_launcher_the_file_says() {
    let work = tempfile::tempdir().unwrap();
    let l = launchers();
    let cases = [
        // No device of a kind: its variable is set, empty (never the
        // caller's).
        ("cpu(cores=1)", "small", ""),
        // `big` hides its devices from a job that asked for none.
        ("cpu(cores=4)", "big", ""),
        ("cuda(mem=16GiB) * 2", "big", "0,1"),
        ("cpu(cores=100) | cuda(mem=8GiB)", "big", "0"),
    ];
    for (i, (expr, name, devices)) in cases.into_iter().enumerate() {
        let requirement = req(expr);
        let choice = l.find_launcher(&requirement, &[]).unwrap();
        assert_eq!(choice.name, name, "{expr}");
        assert_eq!(choice.launcher.kind(), "direct");
        assert_eq!(
            choice.connector.as_ref().map(|c| c.name()).as_deref(),
            Some("local")
        );
        let printed = run_devices(&choice, &requirement, &work.path().join(format!("job{i}")));
        // The devices, in any order.
        let mut got: Vec<&str> = printed.split(',').collect();
        got.sort_unstable();
        assert_eq!(got.join(","), devices, "{expr}");
    }
}

#[test]
fn a_direct_launcher_is_made_once_and_shared() {
    let l = launchers();
    let a = l.find_launcher(&req("cpu(cores=1)"), &[]).unwrap();
    let b = l
        .find_launcher(&req("cpu(cores=1) | cpu(cores=2)"), &[])
        .unwrap();
    assert!(Arc::ptr_eq(&a.launcher, &b.launcher));
    let c = l.find_launcher(&req("cpu(cores=2)"), &[]).unwrap();
    assert!(!Arc::ptr_eq(&a.launcher, &c.launcher));
    assert_eq!(a.launcher.priority(), 2.0);
}

#[test]
fn a_dynamic_launcher_picks_among_the_members_that_match() {
    let work = tempfile::tempdir().unwrap();
    let l = launchers();
    // Only `big` has CUDA devices.
    let requirement = req("cuda(mem=8GiB)");
    let choice = l.find_launcher(&requirement, &tags(&["any"])).unwrap();
    assert_eq!(
        (choice.name.as_str(), choice.launcher.kind()),
        ("either", "dynamic")
    );
    assert!(
        choice.launcher.describe().contains("over 1 launcher(s)"),
        "{}",
        choice.launcher.describe()
    );
    assert_eq!(
        run_devices(&choice, &requirement, &work.path().join("cuda")),
        "0"
    );
    // Both match: the highest priority, `small`, which has none.
    let requirement = req("cpu(cores=1)");
    let choice = l.find_launcher(&requirement, &tags(&["any"])).unwrap();
    assert!(choice.launcher.describe().contains("over 2 launcher(s)"));
    assert_eq!(
        run_devices(&choice, &requirement, &work.path().join("cpu")),
        ""
    );
    // Every member is on this machine: one connector.
    assert_eq!(choice.connector.map(|c| c.name()).as_deref(), Some("local"));
}

#[test]
fn what_this_program_cannot_make_is_refused_clearly() {
    let l = launchers();
    let err = refused(&l, "cpu(cores=32)", &["hpc"]);
    assert!(
        matches!(&err, FindError::Build(e @ BuildError::InLauncher { .. }) if e.is_not_available())
    );
    assert_eq!(
        chain(&err),
        "launcher `cluster`: Slurm launchers are not available in this program"
    );
    let err = refused(&l, "cpu(cores=1)", &["remote"]);
    assert_eq!(
        chain(&err),
        "launcher `remote`: connector `far`: ssh connectors are not available in this program \
         (ssh far.example.org:22)"
    );
}

#[test]
fn nothing_matches_with_the_reasons() {
    let l = launchers();
    let err = refused(&l, "cpu(cores=1000)", &["any"]);
    assert_eq!(
        chain(&err),
        "no launcher tagged any matches `cpu(cores=1000)`"
    );
    let FindError::NoMatch {
        explanation: Some(why),
        ..
    } = err
    else {
        panic!("no explanation")
    };
    assert!(
        why.to_string()
            .contains("either: no member matches (small: asks for 1000 cores, the host has 1;"),
        "{why}"
    );
}

#[test]
fn code_and_a_file_combine() {
    let l = launchers();
    let fallback = l.find_launcher(&req("cpu(cores=4)"), &[]).unwrap().launcher;
    // A finder in code, as `launchers.py` writes one: short jobs go to the
    // launcher it holds, others to the file.
    let short: Arc<dyn Launcher> = fallback;
    let code = move |requirement: &Requirement, _tags: &[String]| -> Option<Choice> {
        let i = requirement
            .alternatives
            .iter()
            .position(|a| !a.duration.is_zero() && a.duration.seconds() <= 60)?;
        Some(Choice::new(i, "short-jobs", Arc::clone(&short)))
    };
    let finder = code.or(l);
    let choice = finder
        .find_launcher(&req("cpu(cores=64) | duration=1m"), &[])
        .unwrap();
    assert_eq!(
        (choice.name.as_str(), choice.alternative),
        ("short-jobs", 1)
    );
    assert!(choice.connector.is_none());
    let choice = finder.find_launcher(&req("cpu(cores=1)"), &[]).unwrap();
    assert_eq!(choice.name, "small");
    let err = finder
        .find_launcher(&req("cpu(cores=1000)"), &[])
        .unwrap_err();
    assert!(err.is_no_match());
    // A closure alone says nothing matched, without reasons.
    let none = |_: &Requirement, _: &[String]| -> Option<Choice> { None };
    let err = none.find_launcher(&req("cpu()"), &[]).unwrap_err();
    assert!(matches!(
        err,
        FindError::NoMatch {
            explanation: None,
            ..
        }
    ));
}

/// What `l` answers for a requirement it cannot serve.
fn refused(l: &Launchers<LocalBackend>, text: &str, asked: &[&str]) -> FindError {
    l.find_launcher(&req(text), &tags(asked)).unwrap_err()
}
