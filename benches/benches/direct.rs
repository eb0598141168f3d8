//! The direct launcher's throughput: submitting 1,000 jobs of `true` and
//! waiting for all of them, on the detected local machine (as `launch run`
//! does with no launcher file).

use std::hint::black_box;

use core_types::job::{Job, JobHandle, JobState, Launcher};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use launcher_direct::{DirectConfig, DirectLauncher};

const JOBS: usize = 1000;

fn run_batch(launcher: &DirectLauncher, root: &std::path::Path) -> usize {
    // Job directories stay until the bench ends: deleting thousands of
    // files between iterations makes ext4's inode allocator skip the
    // recently deleted ones, one by one, for the next iteration's files.
    let work = tempfile::Builder::new()
        .prefix("batch-")
        .tempdir_in(root)
        .expect("a temporary directory")
        .keep();
    let handles: Vec<Box<dyn JobHandle>> = (0..JOBS)
        .map(|i| {
            launcher
                .submit(Job::new(work.join(i.to_string()), ["true"]))
                .expect("submission")
        })
        .collect();
    handles
        .iter()
        .filter(|h| h.wait().expect("wait") == JobState::Done)
        .count()
}

fn direct(c: &mut Criterion) {
    let root = tempfile::tempdir().expect("a temporary directory");
    // A private ledger: the bench measures the jobs, not the size of the
    // user's shared machine ledger.
    let launcher = DirectLauncher::with_config(
        connector_local::LocalConnector::shared(),
        DirectLauncher::local().expect("the local launcher").host(),
        DirectConfig {
            ledger: Some(root.path().join("ledger")),
            ..DirectConfig::default()
        },
    )
    .expect("the local launcher");
    // Correct before fast: every job ends done.
    assert_eq!(run_batch(&launcher, root.path()), JOBS);
    let mut group = c.benchmark_group("direct");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(JOBS as u64));
    group.bench_function("submit_and_wait_1000_true", |b| {
        b.iter(|| black_box(run_batch(&launcher, root.path())));
    });
    group.finish();
}

criterion_group!(benches, direct);
criterion_main!(benches);
