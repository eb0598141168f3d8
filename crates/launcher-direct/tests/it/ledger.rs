//! The machine's ledger: jobs of several launchers (as several processes
//! would have), attached and detached, share one machine's cores, devices
//! and tokens. Gate files, never sleeps, say when a job may end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use connector_local::LocalConnector;
use core_types::job::{FailReason, Job, JobHandle, JobState, Launcher, SignalTarget, report};
use launcher_direct::{DirectConfig, DirectLauncher, recover};
use test_support::OpenOnDrop;

use super::{cuda_job, eventually, host, kill, read, sh, submit_sh, supervisor_once_started};

fn on(ledger: &Path, cores: u64, gpus: usize, tokens: &[(&str, u32)]) -> DirectLauncher {
    DirectLauncher::with_config(
        LocalConnector::shared(),
        host(cores, gpus),
        DirectConfig {
            grace: Duration::from_secs(1),
            ledger: Some(ledger.to_path_buf()),
            tokens: tokens
                .iter()
                .map(|&(n, c)| (n.to_owned(), c))
                .collect::<BTreeMap<_, _>>(),
            ..DirectConfig::default()
        },
    )
    .unwrap()
}

/// A job that holds until `gate` exists, after appending `tag` to `log`.
fn gated(dir: &Path, gate: &Path, log: &Path, tag: &str) -> Job {
    sh(
        dir,
        r#"echo "$TAG" >> "$LOG"; while [ ! -e "$GATE" ]; do [ -d "${GATE%/*}" ] || exit 9; sleep 0.01; done"#,
    )
    .env("GATE", gate)
    .env("LOG", log)
    .env("TAG", tag)
}

fn state(dir: &Path) -> JobState {
    recover(LocalConnector::shared(), dir)
        .unwrap()
        .state()
        .unwrap()
}

fn reason(dir: &Path) -> Option<String> {
    recover(LocalConnector::shared(), dir)
        .unwrap()
        .waiting_reason()
        .unwrap()
}

/// A work directory with the machine's ledger (`ledger`, not made yet)
/// and a directory of locks (`locks`) whose gate `go` opens when the last
/// value is dropped.
fn with_locks() -> (tempfile::TempDir, PathBuf, PathBuf, OpenOnDrop) {
    let work = tempfile::tempdir().unwrap();
    let ledger = work.path().join("ledger");
    let locks = work.path().join("locks");
    std::fs::create_dir(&locks).unwrap();
    let open = OpenOnDrop(locks.join("go"));
    (work, ledger, locks, open)
}

/// A work directory with the machine's ledger (`ledger`, not made yet), a
/// gate (`open`, opened when the last value is dropped) and a log (`log`)
/// for [`gated`] jobs.
fn with_gate() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf, OpenOnDrop) {
    let work = tempfile::tempdir().unwrap();
    let ledger = work.path().join("ledger");
    let (gate, log) = (work.path().join("open"), work.path().join("log"));
    let open = OpenOnDrop(gate.clone());
    (work, ledger, gate, log, open)
}

#[test]
fn jobs_of_several_launchers_never_share_a_device_nor_exceed_the_machine() {
    let (work, ledger, locks, _open) = with_locks();
    // Three launchers of one 2-GPU machine, as three processes would be.
    let launchers: Vec<_> = (0..3).map(|_| on(&ledger, 16, 2, &[])).collect();
    let mut dirs = Vec::new();
    let mut handles = Vec::new();
    for (i, l) in launchers.iter().enumerate() {
        for detach in [true, false] {
            let dir = work.path().join(format!("job{i}-{detach}"));
            handles.push(l.submit(cuda_job(&dir, &locks).detach(detach)).unwrap());
            dirs.push(dir);
        }
    }
    eventually("two jobs hold the two devices", || {
        dirs.iter().filter(|d| d.join("device").exists()).count() == 2
    });
    eventually("the others wait in the ledger", || {
        dirs.iter().filter(|d| d.join("ledger").exists()).count() == 4
    });
    let waiting = dirs
        .iter()
        .filter(|d| state(d) == JobState::Scheduled)
        .count();
    assert_eq!(waiting, 4, "the others wait");
    let waiter = dirs
        .iter()
        .find(|d| d.join("ledger").exists() && !d.join("device").exists())
        .expect("a job waiting in the ledger");
    assert_eq!(
        reason(waiter).unwrap(),
        "waiting for 1 accelerator: cuda:0, cuda:1 in use"
    );
    std::fs::write(locks.join("go"), "").unwrap();
    for (dir, h) in dirs.iter().zip(&handles) {
        let err = || read(dir.join("stderr"));
        assert_eq!(
            h.wait().unwrap(),
            JobState::Done,
            "{}: {}",
            dir.display(),
            err()
        );
    }
}

#[test]
fn waiting_jobs_start_in_order_of_submission_and_say_why_they_wait() {
    let (work, ledger, gate, log, _open) = with_gate();
    let a = on(&ledger, 1, 0, &[]);
    let b = on(&ledger, 1, 0, &[]);
    let first = work.path().join("first");
    a.submit(gated(&first, &gate, &log, "first").detach(true))
        .unwrap();
    eventually("the first job runs", || log.exists());
    let dirs: Vec<PathBuf> = (0..5).map(|i| work.path().join(format!("w{i}"))).collect();
    for (i, dir) in dirs.iter().enumerate() {
        let l = if i % 2 == 0 { &a } else { &b };
        l.submit(gated(dir, &gate, &log, &i.to_string()).detach(true))
            .unwrap();
    }
    for dir in &dirs {
        assert_eq!(state(dir), JobState::Scheduled);
        assert_eq!(
            reason(dir).unwrap(),
            "waiting for 1 core: 1 of 1 in use",
            "{}",
            dir.display()
        );
    }
    std::fs::write(&gate, "").unwrap();
    let last = recover(LocalConnector::shared(), &dirs[4]).unwrap();
    assert_eq!(last.wait().unwrap(), JobState::Done);
    assert_eq!(read(&log), "first\n0\n1\n2\n3\n4\n");
    for dir in dirs.iter().chain([&first]) {
        assert_eq!(state(dir), JobState::Done);
    }
}

#[test]
fn a_cancelled_waiting_job_never_starts() {
    let (work, ledger, gate, log, _open) = with_gate();
    let l = on(&ledger, 1, 0, &[]);
    let holder = work.path().join("holder");
    let h = l
        .submit(gated(&holder, &gate, &log, "holder").detach(true))
        .unwrap();
    eventually("the holder runs", || log.exists());
    let waiter = work.path().join("waiter");
    l.submit(sh(&waiter, "touch ran").detach(true)).unwrap();
    assert_eq!(state(&waiter), JobState::Scheduled);
    // From its directory alone, as another process would.
    recover(LocalConnector::shared(), &waiter)
        .unwrap()
        .cancel()
        .unwrap();
    assert_eq!(state(&waiter), JobState::Failed(FailReason::Cancelled));
    std::fs::write(&gate, "").unwrap();
    assert_eq!(h.wait().unwrap(), JobState::Done);
    // The share it waited for goes to the next job.
    let next = submit_sh(&l, work.path(), "next", "true");
    assert_eq!(next.wait().unwrap(), JobState::Done);
    assert!(!waiter.join("ran").exists());
    assert_eq!(state(&waiter), JobState::Failed(FailReason::Cancelled));
}

#[test]
fn a_killed_holder_gives_its_share_back() {
    let work = tempfile::tempdir().unwrap();
    let ledger = work.path().join("ledger");
    let l = on(&ledger, 1, 0, &[]);
    let holder = work.path().join("holder");
    l.submit(sh(&holder, "sleep 300").detach(true)).unwrap();
    let supervisor = supervisor_once_started("the holder runs", &holder);
    let waiter = work.path().join("waiter");
    let w = on(&ledger, 1, 0, &[])
        .submit(sh(&waiter, "touch ran").detach(true))
        .unwrap();
    assert_eq!(w.state().unwrap(), JobState::Scheduled);
    // SIGKILL of the supervisor and its command: nobody says a word.
    kill(SignalTarget::Group(supervisor));
    assert_eq!(w.wait().unwrap(), JobState::Done);
    assert!(waiter.join("ran").exists());
    assert_eq!(state(&holder), JobState::Failed(FailReason::Lost));
}

#[test]
fn two_entries_on_one_machine_never_give_a_device_twice() {
    let (work, ledger, locks, _open) = with_locks();
    // Two descriptions of one machine: all of it, and its first GPU only.
    let all = on(&ledger, 16, 2, &[]);
    let first_gpu = on(&ledger, 4, 1, &[]);
    let mut handles = Vec::new();
    for i in 0..3 {
        for (name, l) in [("all", &all), ("one", &first_gpu)] {
            let dir = work.path().join(format!("{name}{i}"));
            handles.push((
                dir.clone(),
                l.submit(cuda_job(&dir, &locks).detach(true)).unwrap(),
            ));
        }
    }
    eventually("both devices are taken", || {
        handles
            .iter()
            .filter(|(d, _)| d.join("device").exists())
            .count()
            == 2
    });
    std::fs::write(locks.join("go"), "").unwrap();
    for (dir, h) in &handles {
        assert_eq!(
            h.wait().unwrap(),
            JobState::Done,
            "{}",
            read(dir.join("stderr"))
        );
        if dir
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("one")
        {
            assert_eq!(read(dir.join("device")).trim(), "0");
        }
    }
}

#[test]
fn tokens_bound_the_jobs_that_take_them() {
    let (work, ledger, locks, _open) = with_locks();
    let tokens = [("one", 1), ("two", 2)];
    let l = on(&ledger, 16, 0, &tokens);
    let other = on(&ledger, 16, 0, &tokens);
    // Each job takes a slot directory of its token: a slot taken twice, or
    // more jobs at once than the token counts, makes a mkdir fail.
    let script = r#"
set -e
if mkdir "$LOCKS/$T-a" 2>/dev/null; then s=a; else mkdir "$LOCKS/$T-b"; s=b; fi
[ "$T" = two ] || [ "$s" = a ]
touch "$LAUNCH_JOB_DIR/started"
while [ ! -e "$LOCKS/go" ]; do [ -d "$LOCKS" ] || exit 9; sleep 0.01; done
rmdir "$LOCKS/$T-$s"
"#;
    let job = |name: &str, token: &str, count: u32, detach: bool| {
        sh(&work.path().join(name), script)
            .env("LOCKS", &locks)
            .env("T", token)
            .token(token, count)
            .detach(detach)
    };
    let mut handles = Vec::new();
    for i in 0..3 {
        let l = if i % 2 == 0 { &l } else { &other };
        handles.push(l.submit(job(&format!("two{i}"), "two", 1, i == 1)).unwrap());
        handles.push(l.submit(job(&format!("one{i}"), "one", 1, true)).unwrap());
    }
    eventually("one job of `one` and two of `two` run", || {
        let started = |p: &str| {
            (0..3)
                .filter(|i| work.path().join(format!("{p}{i}/started")).exists())
                .count()
        };
        started("one") == 1 && started("two") == 2
    });
    let waiting: Vec<String> = (0..3)
        .filter_map(|i| reason(&work.path().join(format!("one{i}"))))
        .collect();
    assert!(
        waiting
            .iter()
            .all(|r| r == "waiting for 1 token `one`: 1 of 1 in use"),
        "{waiting:?}"
    );
    std::fs::write(locks.join("go"), "").unwrap();
    for h in &handles {
        assert_eq!(
            h.wait().unwrap(),
            JobState::Done,
            "{}",
            read(h.dir().join("stderr"))
        );
    }
    // Taking both of `two` at once, and more than a token counts.
    let both = l.submit(job("both", "two", 2, false)).unwrap();
    assert_eq!(both.wait().unwrap(), JobState::Done);
    let err = report(&l.submit(job("three", "two", 3, false)).unwrap_err());
    assert!(
        err.contains("3 of the token `two`, which counts 2"),
        "{err}"
    );
    let err = report(&l.submit(job("typo", "tow", 1, false)).unwrap_err());
    assert!(err.contains("`tow`") && err.contains("one, two"), "{err}");
}

#[test]
fn requests_that_never_fit_are_refused_at_once() {
    let work = tempfile::tempdir().unwrap();
    let l = on(&work.path().join("ledger"), 2, 1, &[]);
    let two_gpus = test_support::cuda(2, 1);
    let err = l
        .submit(Job::new(work.path().join("big"), ["true"]).alternative(two_gpus))
        .unwrap_err();
    assert!(report(&err).contains("accelerator"), "{}", report(&err));
    assert!(!work.path().join("big/job.json").exists());
}

/// A supervisor whose launcher said nothing on its standard input (it died
/// between the start and its word) takes its place in the ledger itself,
/// and gives it back at its end.
#[test]
fn a_supervisor_told_nothing_takes_its_place_itself() {
    let work = tempfile::tempdir().unwrap();
    let ledger = work.path().join("ledger");
    let l = on(&ledger, 1, 0, &[]);
    let dir = work.path().join("job");
    assert_eq!(
        l.submit(sh(&dir, "echo once >> runs"))
            .unwrap()
            .wait()
            .unwrap(),
        JobState::Done
    );
    // Its script again, as its launcher starts it, told nothing.
    for name in ["pid", "state"] {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    let status = std::process::Command::new("sh")
        .args([
            dir.join("job.sh").as_os_str(),
            "spawned".as_ref(),
            "stdin".as_ref(),
        ])
        .stdin(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(read(dir.join("runs")), "once\nonce\n");
    assert_eq!(state(&dir), JobState::Done);
    // The share came back: the next job runs.
    let next = submit_sh(&l, work.path(), "next", "true");
    assert_eq!(next.wait().unwrap(), JobState::Done);
    let text = read(ledger.join("ledger"));
    assert!(text.contains("next 4\n"), "three tickets taken: {text}");
}
