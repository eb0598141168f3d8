//! Integration tests of the direct launcher: real jobs, real processes.

mod full_disk;
mod ledger;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use connector_local::LocalConnector;
use core_types::job::{
    Connector, FailReason, Job, JobHandle, JobState, Launcher, SignalTarget, report,
};
use core_types::{
    AcceleratorKind, AcceleratorRequest, AcceleratorSpec, Alternative, HostSpec, MemSize, Walltime,
};
use launcher_direct::{DirectConfig, DirectLauncher, recover};

fn host(cores: u64, gpus: usize) -> HostSpec {
    HostSpec {
        cores,
        memory: MemSize::from_bytes(64 << 30),
        accelerators: vec![
            AcceleratorSpec {
                kind: AcceleratorKind::Cuda,
                memory: MemSize::from_bytes(16 << 30),
                min_memory: MemSize::ZERO,
                model: None,
                slurm_type: None,
            };
            gpus
        ],
        ..HostSpec::default()
    }
}

/// A ledger of its own, so that tests running at once do not wait for each
/// other's jobs (they would, on one machine, as they should).
fn own_ledger() -> PathBuf {
    static ROOT: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let root = ROOT.get_or_init(|| tempfile::tempdir().unwrap());
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    root.path().join(format!("ledger-{n}"))
}

fn launcher(cores: u64, gpus: usize) -> DirectLauncher {
    DirectLauncher::with_config(
        LocalConnector::shared(),
        host(cores, gpus),
        DirectConfig {
            grace: Duration::from_secs(1),
            ledger: Some(own_ledger()),
            ..DirectConfig::default()
        },
    )
    .unwrap()
}

fn sh(dir: &Path, script: &str) -> Job {
    Job::new(dir, ["sh", "-c", script])
}

/// `l.submit` of `sh -c SCRIPT` in `work/NAME`.
fn submit_sh(l: &DirectLauncher, work: &Path, name: &str, script: &str) -> Box<dyn JobHandle> {
    l.submit(sh(&work.join(name), script)).unwrap()
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// Whether a process exists and is not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !s[s.rfind(')').unwrap() + 2..].starts_with('Z'))
}

use test_support::eventually;

/// The pid of the supervisor of the job in `dir`, once it started the
/// command (waiting for it as `what`).
fn supervisor_once_started(what: &str, dir: &Path) -> u32 {
    eventually(what, || {
        std::fs::read_to_string(dir.join("pid")).is_ok_and(|p| p.ends_with("cend\n"))
    });
    read(dir.join("pid")).lines().next().unwrap()[4..]
        .parse()
        .unwrap()
}

/// SIGKILL to `target`: it dies without a word.
fn kill(target: SignalTarget) {
    LocalConnector::new()
        .signal(target, core_types::job::Signal::Kill)
        .unwrap();
}

#[test]
fn exit_codes_and_signals() {
    let work = tempfile::tempdir().unwrap();
    let l = launcher(2, 0);
    let ok = submit_sh(&l, work.path(), "ok", "echo out; echo err >&2");
    let three = submit_sh(&l, work.path(), "three", "exit 3");
    let killed = submit_sh(&l, work.path(), "killed", "kill -9 $$");
    let missing = l
        .submit(Job::new(work.path().join("missing"), ["/no/such/program"]))
        .unwrap();
    assert_eq!(ok.wait().unwrap(), JobState::Done);
    assert_eq!(read(work.path().join("ok/stdout")), "out\n");
    assert_eq!(read(work.path().join("ok/stderr")), "err\n");
    assert_eq!(
        three.wait().unwrap(),
        JobState::Failed(FailReason::ExitCode(3))
    );
    // A shell's status for a command killed by SIGKILL: 128 + 9.
    assert_eq!(
        killed.wait().unwrap(),
        JobState::Failed(FailReason::ExitCode(137))
    );
    assert_eq!(
        missing.wait().unwrap(),
        JobState::Failed(FailReason::ExitCode(127))
    );
    assert_eq!(read(work.path().join("three/state")).trim_end(), "exited 3");
    // The handles' view and the directories' agree.
    for name in ["ok", "three", "killed", "missing"] {
        let dir = work.path().join(name);
        let recovered = recover(LocalConnector::shared(), &dir).unwrap();
        let state = recovered.state().unwrap();
        assert!(state.is_final(), "{name}: {state}");
        assert_eq!(recovered.wait().unwrap(), state);
    }
}

#[test]
fn arguments_and_environment_reach_the_command_verbatim() {
    let work = tempfile::tempdir().unwrap();
    let weird: Vec<OsString> = vec![
        "with space".into(),
        "'single' \"double\"".into(),
        "$(touch pwned) `touch pwned2` $HOME".into(),
        "a; rm -rf / ; b".into(),
        "line one\nline two".into(),
        OsString::from_vec(b"latin1 \xe9\xff end".to_vec()),
        "".into(),
        "\\ backslash \\'".into(),
    ];
    let mut command: Vec<OsString> = vec!["printf".into(), "%s\\0".into()];
    command.extend(weird.iter().cloned());
    let dir = work.path().join("it's a $dir");
    let job = Job::new(&dir, command)
        .env("WEIRD", OsString::from_vec(b"v'a\"l $(x)\n\xff".to_vec()))
        .cwd(work.path());
    let handle = launcher(1, 0).submit(job).unwrap();
    assert_eq!(handle.wait().unwrap(), JobState::Done);
    let mut expected = Vec::new();
    for w in &weird {
        expected.extend_from_slice(w.as_encoded_bytes());
        expected.push(0);
    }
    assert_eq!(std::fs::read(dir.join("stdout")).unwrap(), expected);
    assert!(!work.path().join("pwned").exists() && !work.path().join("pwned2").exists());

    let env_dir = work.path().join("env");
    let job = sh(&env_dir, "printf %s \"$WEIRD\"; pwd >&2")
        .env("WEIRD", OsString::from_vec(b"v'a\"l $(x)\n\xff".to_vec()))
        .cwd(work.path());
    assert_eq!(
        launcher(1, 0).submit(job).unwrap().wait().unwrap(),
        JobState::Done
    );
    assert_eq!(
        std::fs::read(env_dir.join("stdout")).unwrap(),
        b"v'a\"l $(x)\n\xff"
    );
    assert_eq!(
        read(env_dir.join("stderr")).trim(),
        work.path().canonicalize().unwrap().to_str().unwrap()
    );
}

#[test]
fn cancel_stops_the_job_and_its_children() {
    let work = tempfile::tempdir().unwrap();
    let l = launcher(2, 0);
    let dir = work.path().join("tree");
    let job = sh(
        &dir,
        "sleep 300 & echo $! > \"$LAUNCH_JOB_DIR/child\"; wait",
    );
    let handle = l.submit(job).unwrap();
    eventually("the child pid is written", || {
        std::fs::read_to_string(dir.join("child")).is_ok_and(|s| s.ends_with('\n'))
    });
    let child: u32 = read(dir.join("child")).trim().parse().unwrap();
    assert!(alive(child));
    assert_eq!(handle.state().unwrap(), JobState::Running);
    test_support::assert_cancels(handle.as_ref());
    eventually("the child is gone", || !alive(child));
    assert_eq!(
        recover(LocalConnector::shared(), &dir)
            .unwrap()
            .state()
            .unwrap(),
        JobState::Failed(FailReason::Cancelled)
    );
    // The job's stderr holds what the job wrote, no word of the shell.
    assert_eq!(read(dir.join("stderr")), "");
    // A job that ignores TERM is killed after the grace period.
    let stubborn = submit_sh(&l, work.path(), "stubborn", "trap '' TERM; sleep 300");
    eventually("it runs", || work.path().join("stubborn/pid").exists());
    stubborn.cancel().unwrap();
    assert_eq!(
        stubborn.wait().unwrap(),
        JobState::Failed(FailReason::Cancelled)
    );
    // Cancelling an ended job changes nothing.
    test_support::assert_cancels(stubborn.as_ref());
}

#[test]
fn the_time_limit_fires() {
    let work = tempfile::tempdir().unwrap();
    let l = launcher(2, 0);
    let one_second = Alternative {
        duration: Walltime::from_seconds(1),
        ..Alternative::default()
    };
    let slow = l
        .submit(sh(&work.path().join("slow"), "sleep 300").alternative(one_second.clone()))
        .unwrap();
    let stubborn = l
        .submit(
            sh(&work.path().join("stubborn"), "trap '' TERM; sleep 300")
                .alternative(one_second.clone()),
        )
        .unwrap();
    let quick = l
        .submit(sh(&work.path().join("quick"), "exit 0").alternative(one_second))
        .unwrap();
    assert_eq!(slow.wait().unwrap(), JobState::Failed(FailReason::Timeout));
    assert_eq!(
        stubborn.wait().unwrap(),
        JobState::Failed(FailReason::Timeout)
    );
    assert_eq!(quick.wait().unwrap(), JobState::Done);
    assert!(work.path().join("slow/timeout").exists());
    assert!(!work.path().join("quick/timeout").exists());
}

#[test]
fn recovery_tells_running_from_lost_and_ignores_reused_pids() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("orphan");
    let l = launcher(1, 0);
    let handle = l.submit(sh(&dir, "sleep 300")).unwrap();
    eventually("it runs", || dir.join("pid").exists());
    let recovered = recover(LocalConnector::shared(), &dir).unwrap();
    assert_eq!(recovered.state().unwrap(), JobState::Running);
    let field = |file: &str, key: &str| -> u32 {
        read(dir.join(file))
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let supervisor = supervisor_once_started("the command is started", &dir);
    let command = field("pid", "cmd ");
    // The supervisor dies without a word: the command still runs.
    kill(SignalTarget::Process(supervisor));
    // Gone before the command is killed (on a busy machine a killed process
    // may take a while to be scheduled and die).
    eventually("the supervisor is gone", || !alive(supervisor));
    // The job lasts as long as its command, for both handles.
    assert_eq!(recovered.state().unwrap(), JobState::Running);
    assert_eq!(handle.wait_timeout(Duration::ZERO).unwrap(), None);
    // The command goes too: nobody wrote an exit code.
    kill(SignalTarget::Process(command));
    eventually("the command is gone", || !alive(command));
    assert_eq!(
        recovered.state().unwrap(),
        JobState::Failed(FailReason::Lost)
    );
    assert_eq!(handle.wait().unwrap(), JobState::Failed(FailReason::Lost));
    assert_eq!(l.load(), (0, 0), "the capacity is given back");

    // A pid file naming a live process that started at another time (a
    // reused pid) is not taken for the job.
    let fake = work.path().join("reused");
    std::fs::create_dir(&fake).unwrap();
    std::fs::write(fake.join("job.json"), r#"{"launcher": "direct"}"#).unwrap();
    let me = std::process::id();
    std::fs::write(
        fake.join("pid"),
        format!(
            "pid {me}\nboot \nstat {me} (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0\nend\n"
        ),
    )
    .unwrap();
    assert!(alive(me));
    let state = recover(LocalConnector::shared(), &fake)
        .unwrap()
        .state()
        .unwrap();
    assert_eq!(state, JobState::Failed(FailReason::Lost));
}

#[test]
fn the_time_limit_holds_without_the_supervisor() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("limited");
    let l = launcher(1, 0);
    let limit = Alternative {
        duration: Walltime::from_seconds(1),
        ..Alternative::default()
    };
    let handle = l.submit(sh(&dir, "sleep 300").alternative(limit)).unwrap();
    let supervisor = supervisor_once_started("the command is started", &dir);
    kill(SignalTarget::Process(supervisor));
    // The watchdog still stops the command, and says why.
    assert_eq!(
        handle.wait().unwrap(),
        JobState::Failed(FailReason::Timeout)
    );
    assert_eq!(
        recover(LocalConnector::shared(), &dir)
            .unwrap()
            .state()
            .unwrap(),
        JobState::Failed(FailReason::Timeout)
    );
    assert!(
        !jobdir::state_written(&std::fs::read(dir.join("state")).unwrap_or_default()),
        "nobody wrote an exit code"
    );
}

#[test]
fn queued_jobs_of_a_dead_submitter_are_lost() {
    let work = tempfile::tempdir().unwrap();
    let boot = read("/proc/sys/kernel/random/boot_id").trim().to_owned();
    let hostname = nix_hostname();
    let write = |name: &str, pid: u32, start: u64| -> PathBuf {
        let dir = work.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        let meta = format!(
            r#"{{"launcher": "direct", "submitter": {{"host": "{hostname}", "boot": "{boot}", "pid": {pid}, "start": {start}}}}}"#
        );
        std::fs::write(dir.join("job.json"), meta).unwrap();
        dir
    };
    let stat = read("/proc/self/stat");
    let my_start: u64 = stat[stat.rfind(')').unwrap() + 2..]
        .split(' ')
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let queued = write("queued", std::process::id(), my_start);
    let dead = write("dead", std::process::id(), my_start + 1);
    assert_eq!(
        recover(LocalConnector::shared(), &queued)
            .unwrap()
            .state()
            .unwrap(),
        JobState::Scheduled
    );
    assert_eq!(
        recover(LocalConnector::shared(), &dead)
            .unwrap()
            .state()
            .unwrap(),
        JobState::Failed(FailReason::Lost)
    );
}

fn nix_hostname() -> String {
    let out = LocalConnector::new()
        .run(&core_types::job::ProcessSpec::new("hostname"))
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    out.unwrap_or_else(|_| read("/proc/sys/kernel/hostname").trim().to_owned())
}

fn cuda_job(dir: &Path, locks: &Path) -> Job {
    // Each job takes a lock directory per device it was given (mkdir is
    // atomic) and one of two run slots: sharing a device, or a third job
    // running at once, makes a mkdir fail and the job exit non-zero.
    let script = r#"
set -e
test -n "$CUDA_VISIBLE_DEVICES"
test "$LAUNCH_ACCELERATORS" = "cuda:$CUDA_VISIBLE_DEVICES"
mkdir "$LOCKS/device-$CUDA_VISIBLE_DEVICES"
if mkdir "$LOCKS/slot-a" 2>/dev/null; then slot=a; else mkdir "$LOCKS/slot-b"; slot=b; fi
echo "$CUDA_VISIBLE_DEVICES" > "$LAUNCH_JOB_DIR/device"
while [ ! -e "$LOCKS/go" ]; do [ -d "$LOCKS" ] || exit 9; sleep 0.01; done
sleep 0.1
rmdir "$LOCKS/slot-$slot" "$LOCKS/device-$CUDA_VISIBLE_DEVICES"
"#;
    sh(dir, script)
        .env("LOCKS", locks)
        .alternative(Alternative {
            accelerators: vec![AcceleratorRequest {
                kind: AcceleratorKind::Cuda,
                memory: MemSize::from_bytes(1_000_000_000),
            }],
            ..Alternative::default()
        })
}

#[test]
fn two_gpus_run_two_jobs_at_once_on_their_own_devices() {
    let work = tempfile::tempdir().unwrap();
    let locks = work.path().join("locks");
    std::fs::create_dir(&locks).unwrap();
    let l = launcher(16, 2);
    let handles: Vec<_> = (0..6)
        .map(|i| {
            l.submit(cuda_job(&work.path().join(format!("job{i}")), &locks))
                .unwrap()
        })
        .collect();
    // The first two hold until told to go: the others wait for them.
    assert_eq!(l.load(), (2, 4));
    for h in &handles[2..] {
        assert_eq!(h.state().unwrap(), JobState::Scheduled);
    }
    std::fs::write(locks.join("go"), "").unwrap();
    let mut devices = Vec::new();
    for (i, h) in handles.iter().enumerate() {
        let state = h.wait().unwrap();
        let err = read(work.path().join(format!("job{i}/stderr")));
        assert_eq!(state, JobState::Done, "job{i}: {err}");
        devices.push(
            read(work.path().join(format!("job{i}/device")))
                .trim()
                .to_owned(),
        );
    }
    devices.sort();
    devices.dedup();
    assert_eq!(devices, vec!["0", "1"]);
    assert_eq!(l.load(), (0, 0));
}

#[test]
fn jobs_without_accelerators_see_none() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("cpu");
    let h = launcher(2, 2)
        .submit(
            sh(
                &dir,
                "printf '[%s][%s]' \"${CUDA_VISIBLE_DEVICES-unset}\" \"$LAUNCH_ACCELERATORS\"",
            )
            // A job cannot grant itself devices.
            .env("CUDA_VISIBLE_DEVICES", "0,1"),
        )
        .unwrap();
    assert_eq!(h.wait().unwrap(), JobState::Done);
    assert_eq!(read(dir.join("stdout")), "[][]");
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let work = tempfile::tempdir().unwrap();
    let l = launcher(2, 1);
    let err = l.submit(Job::new("relative/dir", ["true"])).unwrap_err();
    let err = report(&err);
    assert!(
        err.contains("relative/dir") && err.contains("absolute"),
        "{err}"
    );
    let big = test_support::cuda(2, 1);
    let err = l
        .submit(
            Job::new(work.path().join("big"), ["true"])
                .name("big-one")
                .alternative(big),
        )
        .unwrap_err();
    let err = report(&err);
    assert!(
        err.contains("big-one") && err.contains("accelerator"),
        "{err}"
    );
    let dir = work.path().join("once");
    l.submit(Job::new(&dir, ["true"])).unwrap().wait().unwrap();
    let err = report(&l.submit(Job::new(&dir, ["true"])).unwrap_err());
    assert!(err.contains("already holds a job"), "{err}");
    let err = l
        .submit(Job::new(work.path().join("e"), ["true"]).env("NOT-A-NAME", "x"))
        .unwrap_err();
    let err = report(&err);
    assert!(err.contains("NOT-A-NAME"), "{err}");
    let err = recover(LocalConnector::shared(), work.path()).unwrap_err();
    let err = report(&err);
    assert!(
        err.contains("job.json") && err.contains(work.path().to_str().unwrap()),
        "{err}"
    );
    let err = recover(LocalConnector::shared(), &work.path().join("nope")).unwrap_err();
    let err = report(&err);
    assert!(err.contains("does not exist"), "{err}");
    let err = DirectLauncher::new(LocalConnector::shared(), HostSpec::default()).unwrap_err();
    let err = report(&err);
    assert!(err.contains("0 cores"), "{err}");
}

#[test]
fn cancelling_a_queued_job_never_starts_it() {
    let work = tempfile::tempdir().unwrap();
    let l = launcher(1, 0);
    let first = submit_sh(&l, work.path(), "first", "sleep 300");
    let second = submit_sh(&l, work.path(), "second", "touch ran");
    assert_eq!(second.state().unwrap(), JobState::Scheduled);
    assert_eq!(
        recover(LocalConnector::shared(), &work.path().join("second"))
            .unwrap()
            .state()
            .unwrap(),
        JobState::Scheduled
    );
    test_support::assert_cancels(second.as_ref());
    // A recovered handle cancels too.
    let recovered = l.recover(&work.path().join("first")).unwrap();
    recovered.cancel().unwrap();
    assert_eq!(
        first.wait().unwrap(),
        JobState::Failed(FailReason::Cancelled)
    );
    assert!(!work.path().join("second/ran").exists());
    assert!(!work.path().join("second/pid").exists());
    assert_eq!(l.load(), (0, 0));
    let _: Arc<dyn Connector> = LocalConnector::shared();
}

#[test]
fn attached_jobs_run_in_a_process_group_of_their_own() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("attached");
    let h = launcher(1, 0)
        .submit(sh(&dir, "ps -o pgid= -p $$ > pgid"))
        .unwrap();
    assert_eq!(h.wait().unwrap(), JobState::Done);
    let supervisor = read(dir.join("pid")).lines().next().unwrap()[4..].to_owned();
    assert_eq!(read(dir.join("pgid")).trim(), supervisor);
    let mine = read("/proc/self/stat");
    let my_group = mine[mine.rfind(')').unwrap() + 2..]
        .split(' ')
        .nth(2)
        .unwrap();
    assert_ne!(my_group, supervisor, "not the submitter's group");
}

#[test]
fn detached_jobs_run_in_a_session_of_their_own() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("detached");
    let h = launcher(1, 0)
        .submit(sh(&dir, "ps -o sid=,pgid= -p $$ > ids").detach(true))
        .unwrap();
    assert_eq!(h.wait().unwrap(), JobState::Done);
    let pid = read(dir.join("pid"));
    let supervisor = pid.lines().next().unwrap().strip_prefix("pid ").unwrap();
    let stat_line = pid.lines().find_map(|l| l.strip_prefix("stat ")).unwrap();
    let session = stat_line[stat_line.rfind(')').unwrap() + 2..]
        .split(' ')
        .nth(3)
        .unwrap();
    assert_eq!(session, supervisor, "the supervisor leads its session");
    let ids: Vec<String> = read(dir.join("ids"))
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(ids, vec![supervisor, supervisor], "the command is in both");
}

#[test]
fn a_job_cancelled_as_it_starts_is_cancelled_without_an_error() {
    // The supervisor may see the marker before its command and end by
    // itself while the canceller looks at it.
    let work = tempfile::tempdir().unwrap();
    let l = launcher(1, 0);
    for i in 0..20 {
        let name = format!("j{i}");
        let job = submit_sh(&l, work.path(), &name, "sleep 300");
        let recovered = l.recover(&work.path().join(&name)).unwrap();
        recovered.cancel().unwrap();
        assert_eq!(job.wait().unwrap(), JobState::Failed(FailReason::Cancelled));
    }
}
