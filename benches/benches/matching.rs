//! Matching speed. Targets: the README's requirement against a host with 8
//! accelerators at 20,000,000 matches per second or more; against 1,000
//! hosts in under 50 µs.

use std::hint::black_box;

use benches::EXAMPLE;
use core_types::{AcceleratorKind, AcceleratorSpec, HostSpec, MemSize, Walltime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use matcher::{PreparedHost, PreparedHosts};

fn gib(n: u64) -> MemSize {
    MemSize::from_bytes(n << 30)
}

fn host(cores: u64, memory_gib: u64, cards: usize, card_gib: u64, priority: f64) -> HostSpec {
    HostSpec {
        cores,
        memory: gib(memory_gib),
        accelerators: vec![
            AcceleratorSpec {
                kind: AcceleratorKind::Cuda,
                memory: gib(card_gib),
                min_memory: MemSize::ZERO,
                model: None,
                slurm_type: None,
            };
            cards
        ],
        max_duration: Walltime::from_seconds(100 * 3600),
        priority,
        ..HostSpec::default()
    }
}

fn matching(c: &mut Criterion) {
    let req = reqparse::parse(EXAMPLE).unwrap();

    // One host of 8 cards that serves the first alternative.
    let big = host(64, 1024, 8, 40, 1.0);
    let prepared = PreparedHost::new(&big);
    let found = prepared
        .match_requirement(&req)
        .expect("the big host matches");
    assert_eq!((found.alternative, found.score), (0, 1.0));

    // One host of 8 cards too small for both alternatives (a full rejection).
    let small = PreparedHost::new(&host(16, 64, 8, 24, 0.0));
    assert!(small.match_requirement(&req).is_none());

    // 1,000 hosts: mostly too small, a few that fit with varied priorities.
    let hosts: Vec<HostSpec> = (0..1000u32)
        .map(|k| {
            if k % 97 == 0 {
                host(64, 1024, 8, 40, f64::from(k % 7))
            } else {
                host(
                    16 + u64::from(k % 48),
                    64 + u64::from(k % 512),
                    8,
                    16 + u64::from(k % 16),
                    0.0,
                )
            }
        })
        .collect();
    let many = PreparedHosts::new(&hosts);
    let best = many.match_requirement(&req).expect("some host fits");
    assert_eq!(
        (best.host, best.score),
        (97, 6.0),
        "the first host of the highest priority"
    );

    // The worst case: every host must be tried and none fits.
    let none_fit: Vec<HostSpec> = hosts
        .iter()
        .enumerate()
        .filter(|(k, _)| k % 97 != 0)
        .map(|(_, h)| h.clone())
        .cycle()
        .take(1000)
        .collect();
    let none = PreparedHosts::new(&none_fit);
    assert!(none.match_requirement(&req).is_none());

    let mut group = c.benchmark_group("matcher");
    group.throughput(Throughput::Elements(1));
    group.bench_function("example vs 8-card host (match)", |b| {
        b.iter(|| {
            black_box(&prepared)
                .match_requirement(black_box(&req))
                .is_some()
        });
    });
    group.bench_function("example vs 8-card host (no match)", |b| {
        b.iter(|| {
            black_box(&small)
                .match_requirement(black_box(&req))
                .is_some()
        });
    });
    group.bench_function("example vs 1000 hosts", |b| {
        b.iter(|| {
            black_box(&many)
                .match_requirement(black_box(&req))
                .map(|m| m.host)
        });
    });
    group.bench_function("example vs 1000 hosts (none fits)", |b| {
        b.iter(|| {
            black_box(&none)
                .match_requirement(black_box(&req))
                .is_some()
        });
    });
    group.finish();
}

criterion_group!(benches, matching);
criterion_main!(benches);
