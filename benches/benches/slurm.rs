//! Following Slurm jobs: one `squeue` output for 1,000 tracked jobs, parsed
//! and mapped to states. Target: under 5 ms per round (it takes well under
//! a millisecond). The lines are in the format the launcher asks for, with
//! the states and reasons of output captured from the test cluster.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use launcher_slurm::{parse, state};

/// `squeue --noheader --array --states=all -o %i|%T|%r` for 1,000 jobs:
/// single jobs and array tasks, pending (some for reasons that mean never),
/// running, ended.
fn squeue_output(jobs: usize) -> String {
    let rows = [
        ("PENDING", "Priority"),
        ("PENDING", "Resources"),
        ("PENDING", "JobArrayTaskLimit"),
        ("PENDING", "ReqNodeNotAvail, UnavailableNodes:node[001-004]"),
        ("PENDING", "PartitionTimeLimit"),
        ("RUNNING", "None"),
        ("RUNNING", "None"),
        ("COMPLETING", "None"),
        ("COMPLETED", "None"),
        ("FAILED", "NonZeroExitCode"),
        ("TIMEOUT", "TimeLimit"),
        ("CANCELLED", "None"),
        ("SUSPENDED", "None"),
    ];
    let mut out = String::with_capacity(jobs * 32);
    for i in 0..jobs {
        let (state, reason) = rows[i % rows.len()];
        if i % 2 == 0 {
            let _ = writeln!(out, "{}|{state}|{reason}", 4_000_000 + i);
        } else {
            let _ = writeln!(out, "3999999_{i}|{state}|{reason}");
        }
    }
    out
}

fn polling(c: &mut Criterion) {
    let text = squeue_output(1000);
    let rows = parse::squeue(&text).expect("the output parses");
    assert_eq!(rows.len(), 1000);
    let mut group = c.benchmark_group("slurm");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("squeue parse, 1000 jobs", |b| {
        b.iter(|| parse::squeue(black_box(&text)));
    });
    group.bench_function("squeue parse and map, 1000 jobs", |b| {
        b.iter(|| {
            let rows = parse::squeue(black_box(&text)).expect("parses");
            rows.iter()
                .filter(|r| {
                    matches!(state::phase(&r.state), state::Phase::Waiting)
                        && state::fatal_reason(&r.reason, true).is_some()
                })
                .count()
        });
    });
    group.finish();
}

criterion_group!(benches, polling);
criterion_main!(benches);
