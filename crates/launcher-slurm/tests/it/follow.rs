//! Following many jobs, arrays, a controller restart, requeues, recovery.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use core_types::job::{Connector, FailReason, Job, JobHandle, JobState, Launcher};
use launcher_slurm::SlurmOptions;

use crate::support::{self, Counting, read};

#[test]
fn an_array_of_twenty_jobs() {
    let Some((cluster, _guard)) = support::cluster() else {
        return;
    };
    let counting = Counting::local("array");
    let launcher = support::launcher_with(&cluster, Arc::clone(&counting) as Arc<dyn Connector>)
        .array_throttle(Some(8));
    let work = support::workdir("array");
    let jobs: Vec<Job> = (0..20)
        .map(|i| {
            Job::new(
                work.join(format!("task {i}")),
                [
                    "sh".to_owned(),
                    "-c".to_owned(),
                    "echo \"task $0 of array $SLURM_ARRAY_JOB_ID\"; exit \"$1\"".to_owned(),
                    i.to_string(),
                    if i == 7 { "7".into() } else { "0".into() },
                ],
            )
            .name("array-test")
        })
        .collect();
    let handles = launcher.submit_array(&jobs).unwrap();
    assert_eq!(counting.count("sbatch"), 1, "one submission for the array");
    assert_eq!(handles.len(), 20);
    let base = handles[0].slurm_id().split('_').next().unwrap().to_owned();
    for (i, handle) in handles.iter().enumerate() {
        assert_eq!(handle.slurm_id(), format!("{base}_{i}"));
    }
    let details = support::slurm(&cluster, "scontrol", &["show", "job", &base]);
    assert!(details.contains("ArrayTaskThrottle=8"), "{details}");
    for (i, handle) in handles.iter().enumerate() {
        let expected = if i == 7 {
            JobState::Failed(FailReason::ExitCode(7))
        } else {
            JobState::Done
        };
        assert_eq!(support::wait(handle), expected, "task {i}");
        assert_eq!(
            String::from_utf8_lossy(&read(&work.join(format!("task {i}")), "stdout")),
            format!("task {i} of array {base}\n")
        );
    }
    // Each task is recovered from its own directory.
    let again = launcher_slurm::recover(
        connector_local::LocalConnector::shared(),
        &work.join("task 7"),
    )
    .unwrap();
    assert_eq!(again.slurm_id(), format!("{base}_7"));
    assert_eq!(
        again.state().unwrap(),
        JobState::Failed(FailReason::ExitCode(7))
    );
}

#[test]
fn fifty_jobs_one_squeue_call_per_round() {
    let Some((cluster, _guard)) = support::cluster() else {
        return;
    };
    let counting = Counting::local("fifty");
    let launcher = support::launcher_with(&cluster, Arc::clone(&counting) as Arc<dyn Connector>);
    let work = support::workdir("fifty");
    let handles: Vec<_> = (0..50)
        .map(|i| {
            launcher
                .submit(Job::new(
                    work.join(i.to_string()),
                    ["sh", "-c", "sleep 1; exit $0", &(i % 3).to_string()],
                ))
                .unwrap()
        })
        .collect();
    for (i, handle) in handles.iter().enumerate() {
        let expected = match i % 3 {
            0 => JobState::Done,
            code => JobState::Failed(FailReason::ExitCode(i32::try_from(code).unwrap())),
        };
        assert_eq!(support::wait(handle.as_ref()), expected);
    }
    let rounds = launcher.watcher_rounds();
    let squeue = counting.count("squeue");
    assert!(rounds > 0);
    assert_eq!(
        squeue as u64, rounds,
        "one squeue call per round for all 50 jobs"
    );
    assert_eq!(counting.count("sbatch"), 50);
    // No accounting on the test cluster: sacct is asked once, then never.
    assert!(counting.count("sacct") <= 1, "{}", counting.count("sacct"));
}

#[test]
fn the_controller_restarts_while_a_job_runs() {
    let Some((cluster, _guard)) = support::cluster_exclusive() else {
        return;
    };
    let launcher = support::launcher(&cluster);
    let work = support::workdir("restart");
    let job = launcher
        .submit(support::sh_job(work.join("j"), "sleep 6; exit 4"))
        .unwrap();
    support::wait_running(job.as_ref());
    support::slurm(&cluster, "scontrol", &["shutdown", "slurmctld"]);
    // Wait until it is down, then start it again (it recovers its state).
    wait_controller(&cluster, false);
    std::thread::sleep(Duration::from_secs(2));
    let conf = std::env::var_os("SLURM_CONF").expect("SLURM_CONF");
    let status = Command::new(cluster.sbin.join("slurmctld"))
        .arg("-f")
        .arg(&conf)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        support::wait(job.as_ref()),
        JobState::Failed(FailReason::ExitCode(4))
    );
    // The cluster is usable again for the other tests.
    let after = launcher
        .submit(Job::new(work.join("after"), ["true"]))
        .unwrap();
    assert_eq!(support::wait(after.as_ref()), JobState::Done);
}

#[test]
fn a_requeued_job_is_not_a_failure() {
    let Some((cluster, launcher, work, _guard)) = support::started("requeue") else {
        return;
    };
    let launcher = launcher.options(SlurmOptions::default().requeue(true));
    // The first run waits to be requeued; the second succeeds.
    let job = launcher
        .submit(support::sh_job(work.join("j"), "if [ \"${SLURM_RESTART_COUNT:-0}\" -gt 0 ]; then echo second; exit 0; fi; echo first; exec sleep 600"))
        .unwrap();
    support::wait_running(job.as_ref());
    support::slurm(&cluster, "scontrol", &["requeue", &job.id()]);
    let requeued = unix_seconds();
    // Slurm holds a requeued job back for a while: let it start now.
    for _ in 0..50 {
        if support::squeue(&cluster, &job.id(), "%T", None) == "PENDING" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!job.state().unwrap().is_final(), "{}", job.state().unwrap());
    // slurmd refuses to launch a job again with a credential made within
    // the second it revoked the first run's ("Job credential revoked": the
    // job fails, for real); Slurm's own hold exists for that. Started
    // early, it starts a second later at least.
    while unix_seconds() <= requeued {
        std::thread::sleep(Duration::from_millis(50));
    }
    support::slurm(
        &cluster,
        "scontrol",
        &["update", &format!("jobid={}", job.id()), "StartTime=now"],
    );
    assert_eq!(support::wait(job.as_ref()), JobState::Done);
    assert_eq!(read(&work.join("j"), "stdout"), b"second\n");
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn a_recovered_job_is_followed_to_its_end() {
    let Some((_, launcher, work, _guard)) = support::started("recover") else {
        return;
    };
    let dir = work.join("j");
    let id = launcher
        .submit(support::sh_job(&dir, "sleep 2; exit 5"))
        .unwrap()
        .id();
    // Another handle, from the directory alone (what `launch status` does
    // in a new process), through the launcher's recover.
    let again = launcher.recover(&dir).unwrap();
    assert_eq!(again.id(), id);
    assert!(!again.state().unwrap().is_final());
    assert_eq!(
        support::wait(again.as_ref()),
        JobState::Failed(FailReason::ExitCode(5))
    );
    let err = launcher.recover(&work).unwrap_err().to_string();
    assert!(err.contains("is not a job directory"), "{err}");
    let direct = work.join("direct");
    let direct_job = launcher_direct::DirectLauncher::local()
        .unwrap()
        .submit(Job::new(&direct, ["true"]))
        .unwrap();
    direct_job.wait().unwrap();
    let err = launcher.recover(&direct).unwrap_err().to_string();
    assert!(err.contains("the `direct` launcher"), "{err}");
}

#[test]
fn without_squeue_scontrol_follows_the_job() {
    let Some((cluster, _guard)) = support::cluster() else {
        return;
    };
    // The real commands, squeue left out (a cluster where it is missing).
    let bin = support::workdir("no-squeue-bin");
    for tool in ["sbatch", "scontrol", "scancel", "sacct"] {
        std::os::unix::fs::symlink(cluster.bin.join(tool), bin.join(tool)).unwrap();
    }
    let counting = Counting::local("no-squeue");
    let launcher =
        support::launcher_with(&cluster, Arc::clone(&counting) as Arc<dyn Connector>).bin(&bin);
    let work = support::workdir("no-squeue");
    let job = launcher
        .submit(support::sh_job(work.join("j"), "sleep 1; exit 6"))
        .unwrap();
    assert_eq!(
        support::wait(job.as_ref()),
        JobState::Failed(FailReason::ExitCode(6))
    );
    assert!(counting.count("scontrol") > 0, "scontrol followed it");
}

#[test]
fn sbatch_is_retried_while_the_controller_is_down() {
    let Some((cluster, _guard)) = support::cluster_exclusive() else {
        return;
    };
    support::slurm(&cluster, "scontrol", &["shutdown", "slurmctld"]);
    wait_controller(&cluster, false);
    // Back after sbatch's own wait for the controller (9 s here) ran out
    // once: the launcher's retry submits it.
    let restart = {
        let sbin = cluster.sbin.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(12));
            let conf = std::env::var_os("SLURM_CONF").expect("SLURM_CONF");
            Command::new(sbin.join("slurmctld"))
                .arg("-f")
                .arg(&conf)
                .status()
                .unwrap()
        })
    };
    let counting = Counting::local("retry");
    let launcher = support::launcher_with(&cluster, Arc::clone(&counting) as Arc<dyn Connector>);
    let work = support::workdir("retry");
    let job = launcher.submit(Job::new(work.join("j"), ["true"]));
    assert!(restart.join().unwrap().success());
    let job = job.expect("submitted once the controller was back");
    assert!(counting.count("sbatch") > 1, "sbatch was retried");
    assert_eq!(support::wait(job.as_ref()), JobState::Done);
}

/// Waits until `scontrol ping` says the controller is up (or down).
fn wait_controller(cluster: &support::Cluster, up: bool) {
    for _ in 0..200 {
        let ping = Command::new(cluster.bin.join("scontrol"))
            .arg("ping")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&ping.stdout);
        if text.contains(if up { "UP" } else { "DOWN" }) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the controller is not {}", if up { "up" } else { "down" });
}

#[test]
fn unavailable_nodes_fail_the_job_once_it_lasts() {
    let Some((cluster, _guard)) = support::cluster_exclusive() else {
        return;
    };
    let launcher = support::launcher(&cluster)
        .options(SlurmOptions::default().nodelist("launchtest1"))
        .fail_on_unavailable_nodes(true, Duration::from_secs(1));
    let work = support::workdir("unavailable");
    support::slurm(
        &cluster,
        "scontrol",
        &[
            "update",
            "nodename=launchtest1",
            "state=drain",
            "reason=launch-test",
        ],
    );
    let job = launcher.submit(Job::new(work.join("j"), ["true"]));
    let state = job.as_ref().map(|job| support::wait(job.as_ref()));
    support::slurm(
        &cluster,
        "scontrol",
        &["update", "nodename=launchtest1", "state=resume"],
    );
    assert_eq!(
        state.unwrap(),
        JobState::Failed(FailReason::Other(
            "ReqNodeNotAvail (unavailable nodes: launchtest1)".into()
        ))
    );
    // The node is back for the other tests.
    let after = support::launcher(&cluster)
        .submit(Job::new(work.join("after"), ["true"]))
        .unwrap();
    assert_eq!(support::wait(after.as_ref()), JobState::Done);
}
