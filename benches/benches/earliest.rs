//! The earliest-start choice among 10 members: with a warm cache (every
//! answer kept: the choice alone, target < 10 µs), and with a cold cache
//! where each member takes ~50 ms to answer (asked in parallel: about the
//! slowest answer, not the 500 ms sum).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use core_types::job::{Job, Launcher, Start};
use criterion::{Criterion, criterion_group, criterion_main};
use launcher_dynamic::{DynamicLauncher, EarliestStart};
use test_support::queue::{Queue, Reply};

const MEMBERS: usize = 10;

/// Ten members, all starting in an hour or more but member 6 (now);
/// priorities 1..=10.
fn dynamic(delay: Duration, refresh: Duration) -> (DynamicLauncher, Arc<dyn Launcher>) {
    let now = SystemTime::now();
    let members: Vec<(String, Arc<dyn Launcher>)> = (0..MEMBERS)
        .map(|i| {
            let start = if i == 6 {
                Start::Now
            } else {
                Start::At(now + Duration::from_secs(3600 * (i as u64 + 1)))
            };
            let queue = Queue::new((i + 1) as f64, Reply::Start(start, "bench")).delay(delay);
            (format!("m{i}"), Arc::new(queue) as Arc<dyn Launcher>)
        })
        .collect();
    let six = Arc::clone(&members[6].1);
    let dynamic = DynamicLauncher::named(members)
        .expect("members")
        .earliest_start(EarliestStart::new().refresh(refresh).on_warning(|_| {}));
    (dynamic, six)
}

fn earliest(c: &mut Criterion) {
    let job = Job::new("/tmp/bench-job", ["true"]);
    let mut group = c.benchmark_group("earliest_start_10");

    let (warm, six) = dynamic(Duration::ZERO, Duration::from_hours(1));
    // Correct before fast.
    assert!(Arc::ptr_eq(&warm.select_for(&job).expect("chosen"), &six));
    group.bench_function("warm_cache", |b| {
        b.iter(|| black_box(warm.select_for(black_box(&job)).expect("chosen")));
    });

    // Cold: every choice asks all ten (refresh 0), each answering in 50 ms.
    let (cold, six) = dynamic(Duration::from_millis(50), Duration::ZERO);
    let started = Instant::now();
    assert!(Arc::ptr_eq(&cold.select_for(&job).expect("chosen"), &six));
    let once = started.elapsed();
    assert!(
        once < Duration::from_millis(250),
        "{once:?}: in parallel, about the slowest answer (50 ms), not the sum (500 ms)"
    );
    group.sample_size(10);
    group.bench_function("cold_cache_50ms_each", |b| {
        b.iter(|| black_box(cold.select_for(black_box(&job)).expect("chosen")));
    });
    group.finish();
}

criterion_group!(benches, earliest);
criterion_main!(benches);
