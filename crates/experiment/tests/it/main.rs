//! Integration tests of experiments, with real launchers and processes.

use std::sync::Arc;

use connector_local::LocalConnector;
use core_types::job::{FailReason, JobState, Launcher};
use core_types::{HostSpec, Walltime};
use experiment::{Experiment, ExperimentError, Task};
use launcher_direct::DirectLauncher;
use launcher_dynamic::DynamicLauncher;

fn direct(cores: u64) -> Arc<dyn Launcher> {
    let host = HostSpec {
        cores,
        ..HostSpec::default()
    };
    Arc::new(DirectLauncher::new(LocalConnector::shared(), host).unwrap())
}

#[test]
fn jobs_go_to_the_default_or_the_named_launcher() {
    let work = tempfile::tempdir().unwrap();
    let default = direct(2);
    let other = Arc::new(
        DirectLauncher::new(
            LocalConnector::shared(),
            HostSpec {
                cores: 1,
                ..HostSpec::default()
            },
        )
        .unwrap(),
    );
    let other_dyn: Arc<dyn Launcher> = other.clone();
    let xp = Experiment::new(work.path(), default).unwrap();
    xp.submit(Task::new("a", ["sh", "-c", "echo $GREETING"]).env("GREETING", "hi"))
        .unwrap();
    let b = xp
        .submit_with(
            Task::new("b", ["sh", "-c", "while [ ! -e go ]; do sleep 0.02; done"]),
            &other_dyn,
        )
        .unwrap();
    // The other launcher (one core) runs b until it is told to go: c waits
    // behind it there.
    let c = xp
        .submit_with(Task::new("c", ["true"]), &other_dyn)
        .unwrap();
    assert_eq!(other.load(), (1, 1));
    assert_eq!(c.state().unwrap(), JobState::Scheduled);
    std::fs::write(b.dir().join("go"), "").unwrap();
    let limited = Task::new("limited", ["sleep", "30"]).alternative(core_types::Alternative {
        duration: Walltime::from_seconds(1),
        ..core_types::Alternative::default()
    });
    xp.submit(limited).unwrap();
    let outcomes = xp.wait_all().unwrap();
    let summary: Vec<(String, JobState)> = outcomes
        .iter()
        .map(|o| (o.name.clone(), o.state.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("a".into(), JobState::Done),
            ("b".into(), JobState::Done),
            ("c".into(), JobState::Done),
            ("limited".into(), JobState::Failed(FailReason::Timeout)),
        ]
    );
    assert_eq!(b.dir(), work.path().join("jobs/b"));
    assert_eq!(
        std::fs::read_to_string(work.path().join("jobs/a/stdout")).unwrap(),
        "hi\n"
    );
    assert_eq!(xp.len(), 4);
}

#[test]
fn names_are_unique_and_errors_name_the_task() {
    let work = tempfile::tempdir().unwrap();
    let xp = Experiment::new(work.path(), direct(1)).unwrap();
    xp.submit(Task::new("once", ["true"])).unwrap();
    let err = xp.submit(Task::new("once", ["true"])).unwrap_err();
    assert!(
        matches!(err, ExperimentError::DuplicateName(ref n) if n == "once"),
        "{err}"
    );
    let err = xp
        .submit(Task::new("../escape", ["true"]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("../escape"), "{err}");
    let err = xp
        .submit(Task::new("empty", Vec::<String>::new()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("task `empty`") && err.contains("empty"),
        "{err}"
    );
    // A refused task leaves its name free.
    xp.submit(Task::new("empty", ["true"])).unwrap();
    let err = Experiment::new("relative", direct(1))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("relative") && err.contains("absolute"),
        "{err}"
    );
}

#[test]
fn run_waits_for_every_job_even_when_the_body_fails() {
    let work = tempfile::tempdir().unwrap();
    let dynamic: Arc<dyn Launcher> = Arc::new(
        DynamicLauncher::new(vec![direct(1), direct(1)])
            .unwrap()
            .seed(3),
    );
    let result = Experiment::run(work.path(), dynamic, |xp| {
        xp.submit(Task::new(
            "first",
            ["sh", "-c", "sleep 0.2; echo done > out"],
        ))?;
        xp.submit(Task::new("first", ["true"]))?;
        Ok(())
    });
    assert!(matches!(result, Err(ExperimentError::DuplicateName(_))));
    // The first job was waited for before run returned.
    assert_eq!(
        std::fs::read_to_string(work.path().join("jobs/first/out")).unwrap(),
        "done\n"
    );
}
