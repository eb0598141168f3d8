//! `launch` with a layout controller of its own (one slurmd): `generate
//! slurm` and `find` on a node with MIG slices beside whole GPUs and a
//! partition the user may not use, and `status` of a job pending on a
//! partition that is down.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use core_types::job::{Job, Launcher};
use test_support::slurm_layout::{Layout, bin_dir};

use crate::support::{json_lines, stderr};

const LAYOUT: &str = "
NodeName=hgx01 CPUs=16 RealMemory=64000 Gres=gpu:nvidia_h100_80gb_hbm3:2,gpu:nvidia_h100_80gb_hbm3_1g.10gb:6
PartitionName=gpu Nodes=hgx01 Default=YES MaxTime=1:00:00 State=UP
PartitionName=closed Nodes=hgx01 MaxTime=1:00:00 State=DOWN
PartitionName=staff Nodes=hgx01 MaxTime=1:00:00 AllowGroups=staffonly State=UP
";

fn launch(layout: &Layout, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_launch"))
        .args(args)
        .env_remove("LAUNCH_CONFIG")
        .env("SLURM_CONF", layout.conf())
        .env("LAUNCH_SLURM_BIN", bin_dir())
        .output()
        .expect("launch runs")
}

#[test]
fn generate_find_and_the_reason_a_job_waits() {
    let Some(layout) = Layout::start("launch", LAYOUT, "", &["hgx01"]) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("launchers.toml");
    let config_arg = config.to_str().unwrap();
    let out = launch(&layout, &["generate", "slurm", "-o", config_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&config).unwrap();
    // Root passes AllowGroups, as in Slurm: kept here (the tests run as
    // root); the comment lists nothing.
    assert!(text.contains("name = \"gpu\""), "{text}");
    let find = |expr: &str| {
        let out = launch(&layout, &["find", "--json", "--config", config_arg, expr]);
        assert!(out.status.success(), "{expr}: {}", stderr(&out));
        json_lines(&out).remove(0)
    };
    let whole = find("duration=10m & cuda(mem=40G)");
    assert_eq!(
        whole["options"]["gpus-per-node"], "nvidia_h100_80gb_hbm3:1",
        "{whole}"
    );
    let both = find("duration=10m & cuda(mem=40G) * 2 & cuda(mem=10G) * 2");
    assert_eq!(
        both["options"]["gres"], "gpu:nvidia_h100_80gb_hbm3:2,gpu:nvidia_h100_80gb_hbm3_1g.10gb:2",
        "{both}"
    );
    // A job pending on the down partition: `status` says why.
    let launcher = launcher_slurm::SlurmLauncher::new(connector_local::LocalConnector::shared())
        .bin(bin_dir())
        .env("SLURM_CONF", layout.conf())
        .options(launcher_slurm::SlurmOptions::new().partition("closed"));
    let dir = work.path().join("job");
    let handle = launcher.submit(Job::new(&dir, ["true"])).unwrap();
    let dir_arg = dir.to_str().unwrap();
    let start = Instant::now();
    let line = loop {
        let out = launch(&layout, &["status", "--json", dir_arg]);
        assert!(out.status.success(), "{}", stderr(&out));
        let line = json_lines(&out).remove(0);
        if !line["reason"].is_null() || start.elapsed() > Duration::from_secs(30) {
            break line;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(line["state"], "scheduled", "{line}");
    assert_eq!(line["reason"], "PartitionDown", "{line}");
    // The text form says it after the state, as for a direct job.
    let plain = launch(&layout, &["status", dir_arg]);
    assert_eq!(
        String::from_utf8_lossy(&plain.stdout),
        format!(
            "{}: scheduled (PartitionDown)\n",
            Path::new(dir_arg).display()
        )
    );
    handle.cancel().unwrap();
}
