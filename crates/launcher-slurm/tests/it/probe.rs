//! `SlurmLauncher::start_estimate` (what the earliest-start choice asks)
//! on a layout of its own: partitions up, down and drained, a node busy
//! with a long job.

use std::time::{Duration, SystemTime};

use connector_local::LocalConnector;
use core_types::job::{Job, Start};
use launcher_slurm::{SlurmLauncher, SlurmOptions};
use test_support::slurm_layout::{Layout, bin_dir};

const LAYOUT: &str = "
NodeName=qa01 CPUs=2 RealMemory=2000
NodeName=qb01 CPUs=2 RealMemory=2000
PartitionName=pa Nodes=qa01 Default=YES MaxTime=1:00:00 State=UP
PartitionName=pb Nodes=qb01 MaxTime=1:00:00 State=UP
PartitionName=pdown Nodes=qb01 MaxTime=1:00:00 State=DOWN
PartitionName=pdrain Nodes=qb01 MaxTime=1:00:00 State=DRAIN
";

#[test]
fn expected_starts() {
    let Some(layout) = Layout::start("probe", LAYOUT, "", &["qa01", "qb01"]) else {
        return;
    };
    let on = |partition: &str| {
        SlurmLauncher::new(LocalConnector::shared())
            .bin(bin_dir())
            .env("SLURM_CONF", layout.conf())
            .options(SlurmOptions::new().partition(partition))
    };
    let job = Job::new("/tmp/probe-job", ["true"])
        .alternative(reqparse::parse("duration=10m").unwrap().alternatives[0].clone());
    let now = on("pa").start_estimate(&job).unwrap();
    assert_eq!(now.start, Start::Now, "{now:?}");
    assert_eq!(now.why, "on qa01 in partition pa");
    for partition in ["pdown", "pdrain", "nosuch"] {
        let never = on(partition).start_estimate(&job).unwrap();
        assert_eq!(never.start, Start::Never, "{partition}: {never:?}");
    }
    let down = on("pdown").start_estimate(&job).unwrap();
    assert_eq!(down.why, "partition pdown is down");
    // A long job on qa01: pa waits for it, pb does not.
    layout.occupy("pa");
    let busy = (0..100)
        .find_map(|_| {
            let e = on("pa").start_estimate(&job).unwrap();
            if matches!(e.start, Start::At(_)) {
                Some(e)
            } else {
                std::thread::sleep(Duration::from_millis(200));
                None
            }
        })
        .expect("pa busy");
    let Start::At(at) = busy.start else {
        unreachable!()
    };
    let wait = at.duration_since(SystemTime::now()).unwrap();
    assert!(wait > Duration::from_secs(40 * 60), "{wait:?}");
    assert_eq!(on("pb").start_estimate(&job).unwrap().start, Start::Now);
    let _ = layout.client("scancel").arg("--partition=pa").output();
}
