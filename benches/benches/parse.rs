//! Parsing speed. Target: at least 2,000,000 parses per second on one core.

use std::hint::black_box;

use benches::EXAMPLE;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn parse(c: &mut Criterion) {
    let req = reqparse::parse(EXAMPLE).expect("the example parses");
    assert_eq!(req.alternatives.len(), 2);
    assert_eq!(req.alternatives[0].accelerators.len(), 8);

    let mut group = c.benchmark_group("reqparse");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse example", |b| {
        b.iter(|| reqparse::parse(black_box(EXAMPLE)));
    });
    group.bench_function("display example", |b| {
        b.iter(|| black_box(&req).to_string());
    });
    group.bench_function("parse error", |b| {
        b.iter(|| reqparse::parse(black_box("cuda(mem=4g) * 2")));
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
