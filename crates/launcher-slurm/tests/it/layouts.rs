//! Discovery against real controllers, one per cluster layout (rebuilt
//! from the public documentation of university and national clusters and
//! from vendor deployment guides; sources in `tests/data/layouts/README.md`),
//! with no slurmd (nodes not responding, as a login node often sees them):
//! the entries generated and what the finder picks, checked against what
//! the layout gives by hand, and `sbatch --test-only`, as the unprivileged
//! user `nobody`, accepting every pick.

use std::sync::Arc;

use launcher_slurm::discover::{self, Generated, Settings};
use registry::Registry;
use test_support::slurm_layout::{Layout, bin_dir};

/// The university layout: CPU nodes with a 3 TB node among 190 GB ones and
/// the same features, GPU nodes whose features tell them apart, an H100
/// node with MIG slices beside whole GPUs mixed with A100 nodes and no
/// feature of its own, untyped `gpu:4` beside `gpu:2`, hidden, root-only,
/// group- and account-bound partitions, a down one, and `MaxTime` in every
/// Slurm form.
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

/// Cenaero's Lucia (its partition table): CPU partitions of 240 GB, 492 GB,
/// 2 TB and 4 TB nodes, A100 40 GB, A100 80 GB and T4 GPU partitions, debug
/// partitions on some of their nodes (fewer nodes here).
pub const LUCIA: &str = "
NodeName=cns[001-004] CPUs=128 RealMemory=240000
NodeName=cnm[001-002] CPUs=128 RealMemory=492000
NodeName=cnl001 CPUs=64 RealMemory=2000000
NodeName=cnx001 CPUs=64 RealMemory=4000000
NodeName=cna[001-002] CPUs=32 RealMemory=240000 Gres=gpu:a100:4
NodeName=cnia001 CPUs=64 RealMemory=2000000 Gres=gpu:a100_80gb:8
NodeName=cnv001 CPUs=32 RealMemory=492000 Gres=gpu:t4:4
PartitionName=batch Nodes=cns[002-004] Default=YES MaxTime=48:00:00 State=UP
PartitionName=medium Nodes=cnm[001-002] MaxTime=2-00:00:00 State=UP
PartitionName=large Nodes=cnl001 MaxTime=168:00:00 State=UP
PartitionName=xlarge Nodes=cnx001 MaxTime=7-0 State=UP
PartitionName=gpu Nodes=cna002 MaxTime=2-0:0 State=UP
PartitionName=ia Nodes=cnia001 MaxTime=2-00:00:00 State=UP
PartitionName=visu Nodes=cnv001 MaxTime=0-12:00:00 State=UP
PartitionName=debug Nodes=cns001 MaxTime=60 State=UP
PartitionName=debug-gpu Nodes=cna001 MaxTime=1:00:00 State=UP
";

/// Johns Hopkins' DSAI cluster (its partition table): A100 80 GB, L40S,
/// H100 and H100 NVL partitions, an interactive one on A100 nodes, and a
/// partition over every GPU node where only some nodes carry features
/// (A100 and H100 ones; the NVL nodes share `h100`).
pub const DSAI: &str = "
NodeName=c[001-002] CPUs=108 RealMemory=432000 Feature=spr
NodeName=g[011-012] CPUs=88 RealMemory=880000 Gres=gpu:nvidia_a100-sxm4-80gb:8 Feature=a100
NodeName=l[001-002] CPUs=124 RealMemory=744000 Gres=gpu:l40s:8
NodeName=h[001-002] CPUs=124 RealMemory=1488000 Gres=gpu:nvidia_h100_80gb_hbm3:4 Feature=h100
NodeName=n[001-002] CPUs=124 RealMemory=1488000 Gres=gpu:nvidia_h100_nvl:4 Feature=h100,nvl
PartitionName=cpu Nodes=c[001-002] Default=YES MaxTime=72:00:00 State=UP
PartitionName=interactive Nodes=g011 MaxTime=3-00:00:00 State=UP
PartitionName=a100 Nodes=g[011-012] MaxTime=72:00:00 State=UP
PartitionName=l40s Nodes=l[001-002] MaxTime=72:00:00 State=UP
PartitionName=h100 Nodes=h[001-002] MaxTime=72:00:00 State=UP
PartitionName=nvl Nodes=n[001-002] MaxTime=72:00:00 State=UP
PartitionName=gpu-all Nodes=g[011-012],l[001-002],h[001-002],n[001-002] MaxTime=1-00:00:00 State=UP
";

/// A national system with AMD and Intel GPUs (LUMI's LUMI-G and LUMI-C
/// partitions: MI250X seen by Slurm as 8 GPUs of 64 GB a node, large-memory
/// CPU nodes of 1, 2 and 4 TB in one partition without features, A40
/// visualisation nodes; and Intel Max 1550 nodes as Cambridge's Dawn has).
pub const NATIONAL: &str = "
NodeName=nid[005000-005003] CPUs=56 RealMemory=491520 Gres=gpu:mi250:8
NodeName=nid[001000-001003] CPUs=128 RealMemory=229376
NodeName=nid[000101-000102] CPUs=128 RealMemory=983040
NodeName=nid000103 CPUs=128 RealMemory=1966080
NodeName=nid000104 CPUs=128 RealMemory=3932160
NodeName=nid[000016-000017] CPUs=128 RealMemory=491520 Gres=gpu:a40:8
NodeName=pvc-s-[01-02] CPUs=96 RealMemory=1000000 Gres=gpu:max1550:4
PartitionName=standard-g Nodes=nid[005000-005003] MaxTime=2-00:00:00 State=UP
PartitionName=small-g Nodes=nid[005000-005001] MaxTime=3-00:00:00 State=UP
PartitionName=dev-g Nodes=nid005003 MaxTime=03:00:00 State=UP
PartitionName=standard Nodes=nid[001000-001003] Default=YES MaxTime=2-00:00:00 State=UP
PartitionName=largemem Nodes=nid[000101-000104] MaxTime=1-00:00:00 State=UP
PartitionName=lumid Nodes=nid[000016-000017] MaxTime=1-00:00:00 State=UP
PartitionName=pvc Nodes=pvc-s-[01-02] MaxTime=36:00:00 State=UP
";

/// DGX systems split into MIG slices (as the DGX partitions of Centrale Supélec
/// give them: `nvidia_a100_1g.10gb`, `nvidia_a100_3g.40gb`, whole
/// `nvidia_a100-sxm4-80gb`), an H100 node with slices beside whole GPUs,
/// and one fully split into `3g.40gb`, `2g.20gb` and `1g.10gb`.
pub const DGX: &str = "
NodeName=dgx01 CPUs=256 RealMemory=1000000 Gres=gpu:nvidia_a100_1g.10gb:14,gpu:nvidia_a100_3g.40gb:4,gpu:nvidia_a100-sxm4-80gb:4
NodeName=dgx02 CPUs=256 RealMemory=1000000 Gres=gpu:nvidia_a100-sxm4-80gb:8
NodeName=dgx03 CPUs=256 RealMemory=1000000 Gres=gpu:3g.40gb:8,gpu:2g.20gb:8,gpu:1g.10gb:16
NodeName=hgx01 CPUs=112 RealMemory=2000000 Gres=gpu:nvidia_h100_80gb_hbm3:2,gpu:nvidia_h100_80gb_hbm3_1g.10gb:6
PartitionName=prod Nodes=dgx[01-02] Default=YES MaxTime=24:00:00 State=UP
PartitionName=interactive Nodes=dgx01 MaxTime=2:00:00 State=UP
PartitionName=split Nodes=dgx03 MaxTime=1-0 State=UP
PartitionName=h100 Nodes=hgx01 MaxTime=12:00:00 State=UP
";

fn nobody() -> discover::User {
    discover::User {
        name: "nobody".into(),
        uid: 65534,
        groups: vec!["nogroup".into()],
        accounts: None,
    }
}

fn discovery(layout: &Layout) -> discover::Discovery {
    let env = vec![("SLURM_CONF".into(), layout.conf().into_os_string())];
    let bin = bin_dir();
    let mut d = discover::discover(
        connector_local::LocalConnector::shared() as Arc<_>,
        Some(&bin),
        env,
    )
    .expect("discovery");
    // As the unprivileged user `sbatch --test-only` runs as.
    d.user = nobody();
    d
}

/// The text without the nodes' states.
fn without_states(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("; state ") {
            Some(at) if l.starts_with("# Partition") => &l[..at],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Generates the launcher file with no slurmd (the nodes not
/// responding), then again with a slurmd per node (the same file, states
/// aside), and reads it back.
/// A layout's controller started, and its launcher file discovered and read
/// back (`None` without the test cluster's environment).
fn discovered(name: &str, conf: &str) -> Option<(Layout, Generated, Registry)> {
    let mut layout = Layout::start(name, conf, "", &[])?;
    let (generated, registry) = generate(&mut layout);
    Some((layout, generated, registry))
}

fn generate(layout: &mut Layout) -> (Generated, Registry) {
    let alone = discover::launcher_file(&discovery(layout), "local", Settings::default());
    let nodes = layout.nodes();
    layout.start_slurmds(&nodes);
    let generated = discover::launcher_file(&discovery(layout), "local", Settings::default());
    assert_eq!(without_states(&alone.text), without_states(&generated.text));
    let registry = Registry::from_toml_str(&generated.text, "generated.toml")
        .unwrap_or_else(|e| panic!("{e}\n{}", generated.text));
    (generated, registry)
}

/// What the finder picks for `expr`: the entry's name and its options.
fn pick(registry: &Registry, expr: &str) -> Option<(String, Vec<String>)> {
    let req = reqparse::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    let found = registry.find(&req, &[] as &[&str])?;
    Some((
        registry.entries()[found.entry].name.clone(),
        found.options.to_args(),
    ))
}

/// `expr` goes to `entry` with `options` among its options, and sbatch
/// (as `nobody`) accepts it.
fn expect(layout: &Layout, registry: &Registry, expr: &str, entry: &str, options: &[&str]) {
    let (name, args) = pick(registry, expr).unwrap_or_else(|| panic!("{expr}: nothing found"));
    assert_eq!(name, entry, "{expr}: {args:?}");
    for o in options {
        assert!(args.iter().any(|a| a == o), "{expr}: {o} not in {args:?}");
    }
    if let Err(e) = layout.test_only_as_nobody(&args) {
        panic!("{expr} -> {name} {args:?}: sbatch --test-only refused: {e}");
    }
}

fn entry_text<'a>(text: &'a str, name: &str) -> &'a str {
    let at = text
        .find(&format!("name = \"{name}\"\n"))
        .unwrap_or_else(|| panic!("no entry `{name}`:\n{text}"));
    let end = text[at..].find("\n\n").map_or(text.len(), |e| at + e);
    &text[at..end]
}

#[test]
#[allow(clippy::too_many_lines)] // one layout, checked in full
fn university() {
    let Some((layout, generated, registry)) = discovered("university", UNIVERSITY) else {
        return;
    };
    let text = &generated.text;
    let names: Vec<&str> = registry.entries().iter().map(|e| e.name.as_str()).collect();
    // Left out: hidden, root-only, groups and accounts that exclude nobody.
    let left: Vec<&str> = generated.left_out.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(left, ["admin", "maint", "physics", "paid"], "{text}");
    assert!(text.contains("#   maint: RootOnly=YES"), "{text}");
    for name in [
        "cpu-1", "cpu-2", "gpu-1", "gpu-2", "hgx-1", "hgx-2", "old-1", "old-2", "debug-1",
        "debug-2", "closed",
    ] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    assert_eq!(names.len(), 11, "{names:?}");
    // The 3 TB node is an entry of its own, the same features as the others:
    // Slurm places its jobs by the memory they ask.
    assert!(
        entry_text(text, "cpu-1").contains("memory = \"3000000MiB\""),
        "{text}"
    );
    assert!(text.contains("no GPUs: Slurm places its jobs by the cores and memory they ask"));
    // Features tell the A100 from the V100 nodes.
    assert!(entry_text(text, "gpu-1").contains("constraint = \"a100&amd\""));
    assert!(entry_text(text, "gpu-2").contains("constraint = \"intel&v100\""));
    // `v100-sxm2` does not say 32 GB: the 16 GB card.
    assert!(entry_text(text, "gpu-2").contains("memory = \"16G\""));
    // The H100 node shares `amd` with the A100 nodes: typed GPU requests.
    assert!(entry_text(text, "hgx-2").contains("slurm = { partition = \"hgx\" }"));
    assert!(text.contains("selected by typed GPU requests"));
    // Untyped GPUs, no features: the other nodes excluded.
    assert!(entry_text(text, "old-1").contains("exclude = \"old03\""));
    assert!(entry_text(text, "old-2").contains("exclude = \"old[01-02]\""));
    // MaxTime in each form.
    for (name, limit) in [
        ("cpu-1", "7d"),
        ("gpu-1", "2d"),
        ("hgx-1", "1d"),
        ("old-1", "12h"),
        ("debug-1", "30m"),
        ("closed", "1h"),
    ] {
        assert!(
            entry_text(text, name).contains(&format!("max_duration = \"{limit}\"")),
            "{name}"
        );
    }
    // What the finder picks, and sbatch accepts.
    expect(
        &layout,
        &registry,
        "duration=2d & cpu(cores=16, mem=1T)",
        "cpu-1",
        &["--partition=cpu", "--mem=953675"],
    );
    expect(
        &layout,
        &registry,
        "duration=3h & cpu(cores=4)",
        "old-2",
        &["--partition=old"],
    );
    expect(
        &layout,
        &registry,
        "duration=10m & cuda(mem=40G) * 2",
        "debug-2",
        &[
            "--partition=debug",
            "--constraint=a100&amd",
            "--gpus-per-node=a100:2",
        ],
    );
    expect(
        &layout,
        &registry,
        "duration=20h & cuda(mem=80G) * 2",
        "hgx-2",
        &["--partition=hgx", "--gpus-per-node=nvidia_h100_80gb_hbm3:2"],
    );
    expect(
        &layout,
        &registry,
        "duration=20h & cuda(mem=10G) * 6",
        "hgx-2",
        &["--partition=hgx"],
    );
    expect(
        &layout,
        &registry,
        "duration=36h & cuda(mem=16G) * 4 & cpu(cores=40)",
        "gpu-2",
        &["--constraint=intel&v100", "--gpus-per-node=v100-sxm2:4"],
    );
    expect(
        &layout,
        &registry,
        "duration=11h & cuda() * 4",
        "old-1",
        &["--exclude=old03", "--gpus-per-node=4"],
    );
    assert_eq!(
        pick(&registry, "duration=1d & cuda(mem=20G) * 4 & cpu(cores=40)"),
        None
    );
    assert_eq!(pick(&registry, "duration=8d"), None);
    // A refused partition is refused by sbatch too.
    for partition in ["maint", "physics"] {
        assert!(
            layout
                .test_only_as_nobody(&[format!("--partition={partition}")])
                .is_err(),
            "{partition}"
        );
    }
    // --all-partitions keeps them.
    let all = discover::launcher_file(
        &discovery(&layout),
        "local",
        Settings {
            all_partitions: true,
        },
    );
    assert!(
        all.text.contains("name = \"maint-1\"") && all.text.contains("(kept: --all-partitions)")
    );
}

#[test]
fn lucia() {
    let Some((layout, generated, registry)) = discovered("lucia", LUCIA) else {
        return;
    };
    assert_eq!(generated.entries, 9, "{}", generated.text);
    assert!(generated.left_out.is_empty());
    assert!(generated.warnings.is_empty(), "{:?}", generated.warnings);
    expect(
        &layout,
        &registry,
        "duration=30m & cuda(mem=40G) * 4",
        "debug-gpu",
        &["--gpus-per-node=a100:4"],
    );
    expect(
        &layout,
        &registry,
        "duration=2d & cuda(mem=80G) * 8",
        "ia",
        &["--partition=ia", "--gpus-per-node=a100_80gb:8"],
    );
    expect(
        &layout,
        &registry,
        "duration=40h & cuda(mem=41G)",
        "ia",
        &["--gpus-per-node=a100_80gb:1"],
    );
    expect(
        &layout,
        &registry,
        "duration=10h & cuda(mem=16G)",
        "visu",
        &["--gpus-per-node=t4:1"],
    );
    expect(
        &layout,
        &registry,
        "duration=3d & cpu(cores=64, mem=3T)",
        "xlarge",
        &["--partition=xlarge"],
    );
    expect(
        &layout,
        &registry,
        "duration=3d & cpu(cores=64, mem=1T)",
        "large",
        &["--partition=large"],
    );
    expect(
        &layout,
        &registry,
        "duration=30h & cpu(cores=128, mem=400G)",
        "medium",
        &["--partition=medium"],
    );
    expect(
        &layout,
        &registry,
        "duration=20m & cpu(cores=8)",
        "debug",
        &["--partition=debug"],
    );
    expect(
        &layout,
        &registry,
        "duration=30h & cpu(cores=8)",
        "batch",
        &["--partition=batch"],
    );
}

#[test]
fn dsai() {
    let Some((layout, generated, registry)) = discovered("dsai", DSAI) else {
        return;
    };
    let text = &generated.text;
    // gpu-all: four kinds; the A100 and NVL nodes by their features, the
    // H100 nodes (whose `h100` the NVL nodes share) and the L40S ones (no
    // features) by typed GPUs.
    let kinds: Vec<&str> = registry
        .entries()
        .iter()
        .map(|e| e.name.as_str())
        .filter(|n| n.starts_with("gpu-all-"))
        .collect();
    assert_eq!(kinds.len(), 4, "{text}");
    assert!(
        entry_text(text, "gpu-all-1").contains("constraint = \"a100\""),
        "{text}"
    );
    assert!(
        entry_text(text, "gpu-all-2").contains("slurm = { partition = \"gpu-all\" }"),
        "{text}"
    );
    assert!(
        entry_text(text, "gpu-all-3").contains("slurm = { partition = \"gpu-all\" }"),
        "{text}"
    );
    assert!(
        entry_text(text, "gpu-all-4").contains("constraint = \"h100&nvl\""),
        "{text}"
    );
    // `nvidia_h100_nvl` does not say its memory: the smallest H100.
    assert!(
        text.contains("memory = \"64G\", model = \"nvidia_h100_nvl\""),
        "{text}"
    );
    expect(
        &layout,
        &registry,
        "duration=20h & cuda(mem=80G) * 8",
        "gpu-all-1",
        &[
            "--partition=gpu-all",
            "--constraint=a100",
            "--gpus-per-node=nvidia_a100-sxm4-80gb:8",
        ],
    );
    expect(
        &layout,
        &registry,
        "duration=20h & cuda(mem=45G) * 8 & cpu(cores=100)",
        "gpu-all-3",
        &["--gpus-per-node=l40s:8"],
    );
    expect(
        &layout,
        &registry,
        "duration=20h & cuda(mem=70G) * 4 & cpu(cores=100)",
        "gpu-all-2",
        &["--gpus-per-node=nvidia_h100_80gb_hbm3:4"],
    );
    // H100 and NVL nodes serve it alike: file order.
    expect(
        &layout,
        &registry,
        "duration=20h & cuda(mem=60G) * 4",
        "gpu-all-2",
        &["--gpus-per-node=nvidia_h100_80gb_hbm3:4"],
    );
    // The NVL entry by its tag.
    let req = reqparse::parse("duration=20h & cuda(mem=60G) * 4").unwrap();
    let found = registry.find(&req, &["nvl"]).expect("the nvl entries");
    let args = found.options.to_args();
    assert_eq!(
        registry.entries()[found.entry].name,
        "gpu-all-4",
        "{args:?}"
    );
    assert!(
        args.contains(&"--constraint=h100&nvl".to_owned())
            && args.contains(&"--gpus-per-node=nvidia_h100_nvl:4".to_owned()),
        "{args:?}"
    );
    layout.test_only_as_nobody(&args).unwrap();
    expect(
        &layout,
        &registry,
        "duration=2d & cuda(mem=80G) * 8",
        "interactive",
        &["--gpus-per-node=nvidia_a100-sxm4-80gb:8"],
    );
    assert_eq!(pick(&registry, "cuda(mem=90G)"), None);
    expect(
        &layout,
        &registry,
        "duration=2d & cpu(cores=100)",
        "cpu",
        &["--partition=cpu"],
    );
}

#[test]
fn national() {
    let Some((layout, generated, registry)) = discovered("national", NATIONAL) else {
        return;
    };
    let text = &generated.text;
    // Intel GPUs: unknown memory, said so, not CUDA.
    assert_eq!(generated.warnings.len(), 1, "{:?}", generated.warnings);
    assert!(
        generated.warnings[0].contains("max1550"),
        "{:?}",
        generated.warnings
    );
    assert!(
        text.contains("{ kind = \"generic\", memory = \"0B\", model = \"max1550\""),
        "{text}"
    );
    // MI250X: eight GPUs of 64 GB, ROCm.
    assert!(text.contains("{ kind = \"rocm\", memory = \"64G\", model = \"mi250\", slurm_type = \"mi250\", count = 8 }"), "{text}");
    // largemem: three kinds of CPU node, no features.
    assert!(text.contains("name = \"largemem-3\""), "{text}");
    expect(
        &layout,
        &registry,
        "duration=2h & rocm(mem=64G) * 8",
        "dev-g",
        &["--gpus-per-node=mi250:8"],
    );
    expect(
        &layout,
        &registry,
        "duration=40h & rocm(mem=32G) * 2",
        "standard-g",
        &["--gpus-per-node=mi250:2"],
    );
    expect(
        &layout,
        &registry,
        "duration=60h & rocm() * 1",
        "small-g",
        &["--gpus-per-node=mi250:1"],
    );
    expect(
        &layout,
        &registry,
        "duration=10h & cuda(mem=40G) * 2",
        "lumid",
        &["--gpus-per-node=a40:2"],
    );
    expect(
        &layout,
        &registry,
        "duration=10h & cpu(cores=64, mem=1500G)",
        "largemem-2",
        &["--partition=largemem"],
    );
    expect(
        &layout,
        &registry,
        "duration=10h & cpu(cores=64, mem=3T)",
        "largemem-3",
        &["--partition=largemem"],
    );
    expect(
        &layout,
        &registry,
        "duration=30h & gpu() * 4",
        "pvc",
        &["--gpus-per-node=max1550:4"],
    );
    assert_eq!(pick(&registry, "rocm(mem=65G)"), None);
}

#[test]
fn dgx() {
    let Some((layout, generated, registry)) = discovered("dgx", DGX) else {
        return;
    };
    let text = &generated.text;
    assert!(generated.warnings.is_empty(), "{:?}", generated.warnings);
    // prod: a split DGX and a whole one, told apart by typed GPUs.
    assert!(
        text.contains("name = \"prod-1\"") && text.contains("name = \"prod-2\""),
        "{text}"
    );
    expect(
        &layout,
        &registry,
        "duration=1h & cuda(mem=40G) * 2",
        "interactive",
        &["--gpus-per-node=nvidia_a100-sxm4-80gb:2"],
    );
    expect(
        &layout,
        &registry,
        "duration=1h & cuda(mem=30G) * 8",
        "interactive",
        &["--gres=gpu:nvidia_a100-sxm4-80gb:4,gpu:nvidia_a100_3g.40gb:4"],
    );
    expect(
        &layout,
        &registry,
        "duration=5h & cuda(mem=80G) * 8",
        "prod-2",
        &["--gpus-per-node=nvidia_a100-sxm4-80gb:8"],
    );
    expect(
        &layout,
        &registry,
        "duration=10h & cuda(mem=40G) * 2",
        "h100",
        &["--gpus-per-node=nvidia_h100_80gb_hbm3:2"],
    );
    expect(
        &layout,
        &registry,
        "duration=20h & cuda(mem=20G) * 16",
        "split",
        &["--gres=gpu:3g.40gb:8,gpu:2g.20gb:8"],
    );
    // Eight whole GPUs rank before a node of 32 slices.
    expect(
        &layout,
        &registry,
        "duration=20h & cuda(mem=40G) * 8",
        "prod-2",
        &["--gpus-per-node=nvidia_a100-sxm4-80gb:8"],
    );
    expect(
        &layout,
        &registry,
        "duration=20h & cuda(mem=20G) * 10",
        "split",
        &["--gres=gpu:3g.40gb:8,gpu:2g.20gb:2"],
    );
    assert_eq!(pick(&registry, "duration=20h & cuda(mem=40G) * 9"), None);
    assert_eq!(pick(&registry, "duration=20h & cuda(mem=81G)"), None);
}
