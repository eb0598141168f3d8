//! Single jobs on the real test cluster: exit codes, time limits,
//! cancellation, fail-fast, GPUs, constraints, hostile arguments.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use core_types::job::{FailReason, Job, JobHandle, JobState, Launcher, report};
use core_types::{AcceleratorKind, AcceleratorRequest, Alternative, MemSize, Walltime};
use launcher_slurm::{SlurmError, SlurmOptions};

use crate::support::{self, read};

#[test]
fn exit_codes_and_output() {
    let Some((_, launcher, work, _guard)) = support::started("exit") else {
        return;
    };
    let ok = launcher
        .submit(support::sh_job(
            work.join("ok"),
            "echo out; echo err >&2; echo \"dir=$LAUNCH_JOB_DIR\"",
        ))
        .unwrap();
    let bad = launcher
        .submit(support::sh_job(work.join("bad"), "exit 3"))
        .unwrap();
    assert_eq!(support::wait(ok.as_ref()), JobState::Done);
    assert_eq!(
        support::wait(bad.as_ref()),
        JobState::Failed(FailReason::ExitCode(3))
    );
    assert_eq!(
        String::from_utf8_lossy(&read(&work.join("ok"), "stdout")),
        format!("out\ndir={}\n", work.join("ok").display())
    );
    assert_eq!(read(&work.join("ok"), "stderr"), b"err\n");
    // The job id is Slurm's, and the job wrote it when it started.
    assert!(ok.id().bytes().all(|b| b.is_ascii_digit()), "{}", ok.id());
    assert_eq!(
        String::from_utf8_lossy(&read(&work.join("ok"), "slurm-job")).trim(),
        ok.id()
    );
    assert_eq!(ok.state().unwrap(), JobState::Done);
}

#[test]
fn hostile_arguments_reach_the_job_verbatim() {
    let Some((cluster, _guard)) = support::cluster() else {
        return;
    };
    let comment = r#"a "b" 'c' \d $(e) `f` %j;g"#;
    let launcher = support::launcher(&cluster).options(SlurmOptions::default().comment(comment));
    let work = support::workdir("hostile");
    let dir = work.join("it's a \"dir\" $(x) %j");
    let hostile: Vec<OsString> = vec![
        "plain".into(),
        "two words".into(),
        "it's".into(),
        "\"dq\"".into(),
        "$(touch /tmp/pwned)".into(),
        "`id`".into(),
        "a\nnewline".into(),
        "*".into(),
        "--partition=short".into(),
        "".into(),
        OsString::from_vec(b"\xff\xfe bytes".to_vec()),
    ];
    let mut command: Vec<OsString> = vec![
        "sh".into(),
        "-c".into(),
        "printf '%s\\0' \"$@\"".into(),
        "sh".into(),
    ];
    command.extend(hostile.iter().cloned());
    let job = launcher
        .submit(Job::new(&dir, command).name("name with \"quotes\" and 'spaces'"))
        .unwrap();
    let details = support::slurm(&cluster, "scontrol", &["show", "job", &job.id()]);
    assert_eq!(support::wait(job.as_ref()), JobState::Done);
    let mut expected = Vec::new();
    for word in &hostile {
        expected.extend_from_slice(word.as_encoded_bytes());
        expected.push(0);
    }
    assert_eq!(read(&dir, "stdout"), expected);
    assert!(
        details.contains(&format!("Comment={comment}")),
        "the comment reached Slurm unchanged:\n{details}"
    );
    assert!(
        details.contains("JobName=name with \"quotes\" and 'spaces'"),
        "{details}"
    );
    assert!(!std::path::Path::new("/tmp/pwned").exists());
}

#[test]
fn the_duration_is_a_time_limit() {
    let Some((_, launcher, work, _guard)) = support::started("duration") else {
        return;
    };
    let alternative = Alternative {
        duration: Walltime::from_seconds(2),
        ..Alternative::default()
    };
    let job = launcher
        .submit(Job::new(work.join("j"), ["sleep", "120"]).alternative(alternative))
        .unwrap();
    assert_eq!(
        support::wait(job.as_ref()),
        JobState::Failed(FailReason::Timeout)
    );
    let script = String::from_utf8_lossy(&read(&work.join("j"), "job.sh")).into_owned();
    assert!(script.contains("#SBATCH --time=0:00:02\n"), "{script}");
}

#[test]
fn slurm_time_limit_is_a_timeout() {
    let Some((_, launcher, work, _guard)) = support::started("slurm-timeout") else {
        return;
    };
    // One minute, Slurm's smallest limit; Slurm itself stops the job.
    let launcher = launcher.options(SlurmOptions::default().time("1"));
    let job = launcher
        .submit(Job::new(work.join("j"), ["sleep", "600"]))
        .unwrap();
    assert_eq!(
        support::wait(job.as_ref()),
        JobState::Failed(FailReason::Timeout)
    );
    let recovered =
        launcher_slurm::recover(connector_local::LocalConnector::shared(), &work.join("j"))
            .unwrap();
    assert_eq!(
        recovered.state().unwrap(),
        JobState::Failed(FailReason::Timeout)
    );
}

#[test]
fn cancel_running_and_pending_jobs() {
    let Some((cluster, launcher, work, _guard)) = support::started("cancel") else {
        return;
    };
    let running = launcher
        .submit(Job::new(work.join("running"), ["sleep", "600"]))
        .unwrap();
    let later = launcher.config(&SlurmOptions::default().begin("now+3600"));
    let pending = later
        .submit(Job::new(work.join("pending"), ["true"]))
        .unwrap();
    support::wait_running(running.as_ref());
    test_support::assert_cancels(running.as_ref());
    assert_eq!(pending.state().unwrap(), JobState::Scheduled);
    test_support::assert_cancels(pending.as_ref());
    for job in [&running, &pending] {
        let queue = support::squeue(&cluster, &job.id(), "%T", Some("all"));
        assert_eq!(queue, "CANCELLED", "Slurm confirms");
    }
    // Cancelling an ended job changes nothing.
    test_support::assert_cancels(running.as_ref());
}

#[test]
fn a_job_that_can_never_start_fails_fast() {
    let Some((cluster, launcher, work, _guard)) = support::started("fatal") else {
        return;
    };
    // More time than the short partition allows.
    let launcher = launcher.options(
        SlurmOptions::default()
            .partition("short")
            .time("1-00:00:00"),
    );
    let job = launcher.submit(Job::new(work.join("j"), ["true"])).unwrap();
    assert_eq!(
        support::wait(job.as_ref()),
        JobState::Failed(FailReason::Other("PartitionTimeLimit".into()))
    );
    let queued = support::squeue(&cluster, &job.id(), "%i", Some("PENDING,RUNNING"));
    assert_eq!(queued, "", "no longer in the queue");
    // A new process sees the same.
    let recovered =
        launcher_slurm::recover(connector_local::LocalConnector::shared(), &work.join("j"))
            .unwrap();
    assert_eq!(
        recovered.state().unwrap(),
        JobState::Failed(FailReason::Other("PartitionTimeLimit".into()))
    );
}

#[test]
fn gpus_granted_equal_the_request() {
    let Some((_, launcher, work, _guard)) = support::started("gpus") else {
        return;
    };
    let gpu = AcceleratorRequest {
        kind: AcceleratorKind::Cuda,
        memory: MemSize::from_bytes(40_000_000_000),
    };
    let mut handles = Vec::new();
    for count in [1usize, 3] {
        let alternative = Alternative {
            accelerators: vec![gpu; count],
            ..Alternative::default()
        };
        let dir = work.join(format!("gpus-{count}"));
        let job = launcher
            .submit(
                support::sh_job(&dir, "printf '%s' \"$CUDA_VISIBLE_DEVICES\"")
                    .alternative(alternative),
            )
            .unwrap();
        handles.push((count, dir, job));
    }
    for (count, dir, job) in handles {
        assert_eq!(support::wait(job.as_ref()), JobState::Done);
        let devices = String::from_utf8(read(&dir, "stdout")).unwrap();
        assert_eq!(devices.split(',').count(), count, "`{devices}`");
        let script = String::from_utf8_lossy(&read(&dir, "job.sh")).into_owned();
        assert!(
            script.contains(&format!("#SBATCH --gpus-per-node={count}\n")),
            "{script}"
        );
    }
}

#[test]
fn constraints_are_honoured() {
    let Some((cluster, _guard)) = support::cluster() else {
        return;
    };
    let work = support::workdir("constraint");
    let a100 =
        support::launcher(&cluster).options(SlurmOptions::default().constraint("a100&nvlink"));
    let job = a100
        .submit(Job::new(
            work.join("a100"),
            ["sh", "-c", "echo \"$SLURMD_NODENAME\""],
        ))
        .unwrap();
    let details = support::slurm(&cluster, "scontrol", &["show", "job", &job.id()]);
    assert!(details.contains("Features=a100&nvlink"), "{details}");
    assert_eq!(support::wait(job.as_ref()), JobState::Done);
    assert_eq!(read(&work.join("a100"), "stdout"), b"launchtest1\n");

    let h100 = support::launcher(&cluster).options(SlurmOptions::default().constraint("h100"));
    let err = h100
        .submit_job(&Job::new(work.join("h100"), ["true"]))
        .unwrap_err();
    let SlurmError::Submit {
        message, attempts, ..
    } = &err
    else {
        panic!("expected sbatch's refusal, got {err}");
    };
    assert_eq!(*attempts, 1, "a permanent failure is not retried");
    insta::assert_snapshot!(message, @"sbatch: error: Batch job submission failed: Invalid feature specification");
}

#[test]
fn sbatch_errors_carry_slurms_message() {
    let Some((cluster, _guard)) = support::cluster() else {
        return;
    };
    let work = support::workdir("refused");
    let launcher = support::launcher(&cluster).options(SlurmOptions::default().partition("nosuch"));
    let err = report(
        &launcher
            .submit(Job::new(work.join("j"), ["true"]))
            .unwrap_err(),
    );
    let first = err.lines().take(2).collect::<Vec<_>>().join("\n");
    insta::assert_snapshot!(first, @r"
    slurm launcher: sbatch refused the job: sbatch: error: invalid partition specified: nosuch
    sbatch: error: Batch job submission failed: Invalid partition name specified
    ");
}

#[test]
fn config_keeps_everything_else() {
    let Some((cluster, _guard)) = support::cluster() else {
        return;
    };
    let base = support::launcher(&cluster)
        .options(SlurmOptions::default().partition("main").nodes("1"))
        .priority(10.0)
        .env("LAUNCH_TEST_MARK", "from-the-launcher");
    let derived = base.config(&SlurmOptions::default().cpus_per_task(2));
    assert!((Launcher::priority(&derived) - 10.0).abs() < f64::EPSILON);
    assert_eq!(derived.bin_dir(), base.bin_dir());
    assert_eq!(derived.command_env(), base.command_env());
    assert_eq!(
        derived.slurm_options().to_args(),
        ["--partition=main", "--nodes=1", "--cpus-per-task=2"]
    );
    let work = support::workdir("config");
    let job = derived
        .submit(support::sh_job(
            work.join("j"),
            "echo \"$LAUNCH_TEST_MARK $SLURM_CPUS_PER_TASK $SLURM_JOB_PARTITION\"",
        ))
        .unwrap();
    assert_eq!(support::wait(job.as_ref()), JobState::Done);
    assert_eq!(
        read(&work.join("j"), "stdout"),
        b"from-the-launcher 2 main\n"
    );
}

#[test]
fn time_left_inside_a_job() {
    let Some((cluster, launcher, work, _guard)) = support::started("time-left") else {
        return;
    };
    let launcher = launcher.options(SlurmOptions::default().time("10"));
    let squeue = cluster.bin.join("squeue");
    let job = launcher
        .submit(Job::new(
            work.join("j"),
            [
                "sh".into(),
                "-c".into(),
                "\"$0\" --noheader --format=%L --jobs=\"$SLURM_JOB_ID\"".into(),
                squeue.into_os_string(),
            ],
        ))
        .unwrap();
    assert_eq!(support::wait(job.as_ref()), JobState::Done);
    let printed = String::from_utf8(read(&work.join("j"), "stdout")).unwrap();
    let left = launcher_slurm::time_left(&printed).unwrap().unwrap();
    assert!(
        left <= std::time::Duration::from_secs(600) && left >= std::time::Duration::from_secs(60),
        "{printed:?} -> {left:?}"
    );
}

/// What a submitter killed after `sbatch` answered and before the id was
/// saved leaves in `dir`: no id, and a process that is gone.
fn forget_the_id(dir: &std::path::Path) {
    let meta_path = dir.join("job.json");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    meta["slurm"]["job_id"] = serde_json::Value::Null;
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    meta["submitter"]["pid"] = gone.id().into();
    std::fs::write(&meta_path, meta.to_string()).unwrap();
}

/// The submitter killed after `sbatch` answered and before the id was
/// saved (`job_id: null`, its process gone): any process finds the job by
/// its tag, follows it and cancels it; it is never said lost.
#[test]
fn a_job_whose_id_was_never_saved_is_found_by_its_tag() {
    let Some((cluster, launcher, work, _guard)) = support::started("unsaved") else {
        return;
    };
    let later = launcher.config(&SlurmOptions::default().begin("now+3600"));
    let job = later.submit(Job::new(work.join("j"), ["true"])).unwrap();
    let id = job.id();
    forget_the_id(&work.join("j"));
    let recovered =
        launcher_slurm::recover(connector_local::LocalConnector::shared(), &work.join("j"))
            .unwrap();
    assert_eq!(recovered.id(), id, "found by its tag");
    assert_eq!(recovered.state().unwrap(), JobState::Scheduled);
    recovered.cancel().unwrap();
    assert_eq!(
        support::squeue(&cluster, &id, "%T", Some("all")),
        "CANCELLED",
        "scancel was sent"
    );
    assert_eq!(
        recovered.state().unwrap(),
        JobState::Failed(FailReason::Cancelled)
    );
}

/// `sbatch` missing: the submission fails, and the directory says so
/// (not "lost").
#[test]
fn a_submission_that_failed_says_so() {
    let work = support::workdir("nosbatch");
    let empty = work.join("no-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let launcher = launcher_slurm::SlurmLauncher::new(connector_local::LocalConnector::shared())
        .bin(&empty)
        .retry(launcher_slurm::RetryPolicy {
            attempts: 1,
            ..launcher_slurm::RetryPolicy::default()
        });
    let err = launcher
        .submit(Job::new(work.join("j"), ["true"]))
        .unwrap_err();
    assert!(report(&err).contains("sbatch"), "{}", report(&err));
    let recovered =
        launcher_slurm::recover(connector_local::LocalConnector::shared(), &work.join("j"))
            .unwrap();
    let state = recovered.state().unwrap();
    let JobState::Failed(FailReason::Other(why)) = &state else {
        panic!("{state}");
    };
    assert!(
        why.starts_with("submission failed: ") && why.contains("sbatch"),
        "{why}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(work.join("j"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp") || n.starts_with(".launch-write"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Nor the reservation of the state of a job that never ran.
    assert_eq!(
        test_support::leftovers(&work.join("j")),
        Vec::<String>::new()
    );
}

/// A backslash in a job directory's path: Slurm reads its filename
/// patterns back with `\` as an escape, and the job still runs there, on
/// its own and in an array.
#[test]
fn a_directory_with_a_backslash_runs_there() {
    let Some((cluster, _guard)) = support::cluster() else {
        return;
    };
    let launcher = support::launcher(&cluster);
    let work = support::workdir("backslash");
    let dir = work.join("a\\b %j\\\\c");
    let job = launcher
        .submit(Job::new(&dir, ["sh", "-c", "pwd; exit 4"]))
        .unwrap();
    assert_eq!(
        support::wait(job.as_ref()),
        JobState::Failed(FailReason::ExitCode(4))
    );
    assert_eq!(
        String::from_utf8_lossy(&read(&dir, "stdout")),
        format!("{}\n", dir.display())
    );
    assert!(
        dir.join("slurm.out").exists(),
        "Slurm's own output is there"
    );
    // The state says which run wrote it (the first: 0).
    assert_eq!(
        read(&dir, "state"),
        format!("{:<63}\n", "exited 4\nrun 0").into_bytes()
    );
    let dirs = [work.join("array\\0 %a"), work.join("array\\1 %a")];
    let jobs: Vec<Job> = dirs
        .iter()
        .map(|d| Job::new(d, ["sh", "-c", "pwd"]))
        .collect();
    for (handle, dir) in launcher.submit_array(&jobs).unwrap().iter().zip(&dirs) {
        assert_eq!(support::wait(handle), JobState::Done);
        assert_eq!(
            String::from_utf8_lossy(&read(dir, "stdout")),
            format!("{}\n", dir.display())
        );
    }
    assert!(
        dirs[0].join("array.out").exists(),
        "the array's output is there"
    );
}

/// A directory used again (removed, then given to a new job) while Slurm
/// still shows the job that ran there: a new job whose id was never saved
/// is found by its tag, never taken for the old one. A job with a comment
/// of its own is found by its directory.
#[test]
fn a_reused_directory_is_never_taken_for_the_job_that_ran_there_before() {
    let Some((_cluster, launcher, work, _guard)) = support::started("reused") else {
        return;
    };
    let later = launcher.config(&SlurmOptions::default().begin("now+3600"));
    let dir = work.join("j");
    let old = later.submit(Job::new(&dir, ["true"])).unwrap();
    old.cancel().unwrap();
    let new = later.submit(Job::new(&dir, ["true"])).unwrap_err();
    // Not empty: refused (the job directory is the job's alone).
    assert!(
        report(&new).contains(dir.to_str().unwrap()),
        "{}",
        report(&new)
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let new = later.submit(Job::new(&dir, ["true"])).unwrap();
    assert_ne!(new.id(), old.id());
    forget_the_id(&dir);
    let recovered =
        launcher_slurm::recover(connector_local::LocalConnector::shared(), &dir).unwrap();
    assert_eq!(
        recovered.id(),
        new.id(),
        "the new job, not the cancelled one"
    );
    assert_eq!(recovered.state().unwrap(), JobState::Scheduled);
    recovered.cancel().unwrap();

    // A comment of the user's: the directory is the key.
    let own = launcher.config(&SlurmOptions::default().begin("now+3600").comment("mine"));
    let other = work.join("k");
    let job = own.submit(Job::new(&other, ["true"])).unwrap();
    forget_the_id(&other);
    let recovered =
        launcher_slurm::recover(connector_local::LocalConnector::shared(), &other).unwrap();
    assert_eq!(recovered.id(), job.id(), "found by its directory");
    recovered.cancel().unwrap();
}
