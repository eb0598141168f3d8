//! Real jobs on a layout controller with a slurmd: a node with MIG slices
//! beside whole GPUs, the whole GPUs busy (the job matched on whole GPUs
//! waits for one, never gets a slice), and a partition that is down (the
//! job waits, and says why).

use std::sync::Arc;
use std::time::{Duration, Instant};

use core_types::job::{Job, JobState, Launcher};
use launcher_slurm::SlurmLauncher;
use launcher_slurm::discover::{self, Settings};
use registry::Registry;
use test_support::slurm_layout::{Layout, bin_dir};

use crate::support;

const MIG: &str = "
NodeName=hgx01 CPUs=16 RealMemory=64000 Gres=gpu:nvidia_h100_80gb_hbm3:2,gpu:nvidia_h100_80gb_hbm3_1g.10gb:6
PartitionName=gpu Nodes=hgx01 Default=YES MaxTime=1:00:00 State=UP
PartitionName=closed Nodes=hgx01 MaxTime=1:00:00 State=DOWN
";

/// `scontrol show job -d ID`.
fn show(layout: &Layout, id: &str) -> String {
    let out = layout
        .client("scontrol")
        .args(["show", "job", "-d", id])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `sbatch --parsable ARGS`: the job id.
fn sbatch(layout: &Layout, args: &[&str]) -> String {
    let out = layout
        .client("sbatch")
        .arg("--parsable")
        .args(args)
        .current_dir("/tmp")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn wait_for(layout: &Layout, id: &str, want: &str) -> String {
    let start = Instant::now();
    loop {
        let text = show(layout, id);
        if text.contains(&format!("JobState={want} ")) {
            return text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "job {id} not {want}: {text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn launcher(layout: &Layout) -> SlurmLauncher {
    SlurmLauncher::new(connector_local::LocalConnector::shared())
        .bin(bin_dir())
        .env("SLURM_CONF", layout.conf())
        .poll_interval(Duration::from_millis(200))
        .retry(support::fast_retry())
}

#[test]
fn a_whole_gpu_job_never_gets_a_slice_and_a_down_partition_says_so() {
    let Some(layout) = Layout::start("mig", MIG, "", &["hgx01"]) else {
        return;
    };
    let env = vec![("SLURM_CONF".into(), layout.conf().into_os_string())];
    let mut discovery = discover::discover(
        connector_local::LocalConnector::shared() as Arc<_>,
        Some(&bin_dir()),
        env,
    )
    .unwrap();
    discovery.user.uid = 65534;
    let generated = discover::launcher_file(&discovery, "local", Settings::default());
    let registry = Registry::from_toml_str(&generated.text, "generated.toml").unwrap();
    let req = reqparse::parse("duration=10m & cuda(mem=40G)").unwrap();
    let found = registry.find(&req, &[] as &[&str]).unwrap();
    assert_eq!(registry.entries()[found.entry].name, "gpu");
    assert_eq!(
        found.options.to_args(),
        [
            "--partition=gpu",
            "--time=0:10:00",
            "--gpus-per-node=nvidia_h100_80gb_hbm3:1"
        ]
    );
    // The whole GPUs busy.
    let blocker = sbatch(
        &layout,
        &[
            "--gres=gpu:nvidia_h100_80gb_hbm3:2",
            "--output=/dev/null",
            "--wrap=sleep 300",
        ],
    );
    wait_for(&layout, &blocker, "RUNNING");
    // An untyped request is given a slice (what a job that asked 40 GB got).
    let untyped = sbatch(
        &layout,
        &[
            "--gpus-per-node=1",
            "--output=/dev/null",
            "--wrap=sleep 300",
        ],
    );
    let text = wait_for(&layout, &untyped, "RUNNING");
    assert!(
        text.contains("gpu:nvidia_h100_80gb_hbm3_1g.10gb:1"),
        "{text}"
    );
    // The typed one waits for a whole GPU.
    let work = support::workdir("mig");
    let slurm = launcher(&layout).config(&found.options);
    let job = Job {
        alternative: req.alternatives[0].clone(),
        ..support::sh_job(work.join("whole"), "sleep 5")
    };
    let handle = slurm.submit(job).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(handle.state().unwrap(), JobState::Scheduled);
    // Slurm gives the reason once its scheduler has looked at the job
    // (later on a busy machine).
    test_support::eventually("the job waits for Resources or Priority", || {
        assert_eq!(handle.state().unwrap(), JobState::Scheduled);
        matches!(
            handle.pending_reason().as_deref(),
            Some("Resources" | "Priority")
        )
    });
    let id = handle.id();
    let pending = show(&layout, &id);
    assert!(pending.contains("JobState=PENDING"), "{pending}");
    // The whole GPUs free: it gets one.
    let _ = layout.client("scancel").arg(&blocker).status();
    let text = wait_for(&layout, &id, "RUNNING");
    assert!(
        text.contains("gpu:nvidia_h100_80gb_hbm3:1") && !text.contains("1g.10gb"),
        "{text}"
    );
    assert_eq!(support::wait(handle.as_ref()), JobState::Done);
    let _ = layout.client("scancel").arg(&untyped).status();

    // A down partition: scheduled, and why.
    let closed = launcher(&layout).config(&launcher_slurm::SlurmOptions::new().partition("closed"));
    let handle = closed
        .submit(Job::new(work.join("closed"), ["true"]))
        .unwrap();
    let start = Instant::now();
    while handle.pending_reason().is_none() && start.elapsed() < Duration::from_secs(30) {
        assert_eq!(handle.state().unwrap(), JobState::Scheduled);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(handle.pending_reason().as_deref(), Some("PartitionDown"));
    handle.cancel().unwrap();
}
