//! The dynamic launcher's selection among 10,000 launchers, with sampling
//! off (highest priority, ties at random) and on (proportional to priority).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use connector_local::LocalConnector;
use core_types::HostSpec;
use core_types::job::Launcher;
use criterion::{Criterion, criterion_group, criterion_main};
use launcher_direct::{DirectConfig, DirectLauncher};
use launcher_dynamic::DynamicLauncher;

const LAUNCHERS: usize = 10_000;

fn launchers() -> Vec<Arc<dyn Launcher>> {
    let host = HostSpec {
        cores: 1,
        ..HostSpec::default()
    };
    (0..LAUNCHERS)
        .map(|i| {
            // Priorities 1..=100, so both modes have work to do: 100
            // launchers tie at the top.
            let config = DirectConfig {
                priority: (i % 100 + 1) as f64,
                ..DirectConfig::default()
            };
            Arc::new(
                DirectLauncher::with_config(LocalConnector::shared(), host.clone(), config)
                    .expect("a launcher"),
            ) as Arc<dyn Launcher>
        })
        .collect()
}

fn dynamic(c: &mut Criterion) {
    let list = launchers();
    let highest = DynamicLauncher::new(list.clone())
        .expect("non-empty")
        .seed(1);
    let sampled = DynamicLauncher::new(list)
        .expect("non-empty")
        .sample(true)
        .seed(1);
    // Correct before fast.
    for _ in 0..1000 {
        assert!((highest.select().expect("selection").priority() - 100.0).abs() < f64::EPSILON);
    }
    let top = (0..10_000)
        .filter(|_| sampled.select().expect("selection").priority() > 50.0)
        .count();
    // Priorities 51..=100 hold 3775/5050 = 74.8% of the weight.
    assert!((7_200..7_750).contains(&top), "{top}");

    let mut group = c.benchmark_group("dynamic_select_10000");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("highest_priority", |b| {
        b.iter(|| black_box(highest.select().expect("selection")));
    });
    group.bench_function("sampled", |b| {
        b.iter(|| black_box(sampled.select().expect("selection")));
    });
    // A hook that changes one priority before every selection: the
    // selection tables are rebuilt each time (the cost of a live update).
    let mut calls = 0_usize;
    let changing = DynamicLauncher::new(launchers())
        .expect("non-empty")
        .seed(1)
        .with_update(move |m: &mut launcher_dynamic::Members| {
            let index = calls % m.len();
            let bump = if (calls / m.len()).is_multiple_of(2) {
                0.5
            } else {
                0.25
            };
            calls += 1;
            m.set_priority(index, (index % 100 + 1) as f64 + bump);
        });
    group.bench_function("highest_priority_hook_changes_one", |b| {
        b.iter(|| black_box(changing.select().expect("selection")));
    });
    group.finish();
}

criterion_group!(benches, dynamic);
criterion_main!(benches);
