//! The launcher file. Targets: finding among 1,000 launcher entries for a
//! 3-alternative requirement in under 50 µs; loading a 1,000-entry file in
//! under 20 ms.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use registry::Registry;

/// A launcher file of `n` entries: direct and slurm launchers with varied
/// hosts, tags and priorities, and a dynamic launcher every 100 entries.
fn launcher_file(n: u32) -> String {
    let mut text = String::from(
        "[connector.cluster]\ntype = \"ssh\"\nhost = \"login.example.org\"\nuser = \"me\"\n",
    );
    for k in 0..n {
        let priority = k % 13;
        let _ = writeln!(
            text,
            "\n[[launcher]]\nname = \"l{k}\"\npriority = {priority}"
        );
        if k % 100 == 99 {
            let _ = writeln!(
                text,
                "type = \"dynamic\"\ntags = [\"pool\"]\nmembers = [\"l{}\", \"l{}\", \"l{}\"]",
                k - 1,
                k - 2,
                k - 3
            );
            continue;
        }
        let cores = 16 + k % 48;
        let memory = 64 + k % 512;
        let card = 16 + k % 32;
        let host = format!(
            "host = {{ cores = {cores}, memory = \"{memory}GiB\", max_duration = \"100h\", \
             accelerators = [{{ kind = \"cuda\", memory = \"{card}GiB\", count = 8, model = \"m{card}\" }}] }}"
        );
        if k % 3 == 0 {
            let _ = writeln!(
                text,
                "type = \"slurm\"\nconnector = \"cluster\"\ntags = [\"gpu\", \"batch\"]\n{host}\n\
                 slurm = {{ partition = \"p{}\", qos = \"normal\", exclusive = true }}",
                k % 7
            );
        } else {
            let _ = writeln!(text, "type = \"direct\"\ntags = [\"gpu\"]\n{host}");
        }
    }
    text
}

/// Neither of the first two alternatives matches any entry, so every entry
/// is tried three times; the third matches a few.
const REQUIREMENT: &str = "cuda(mem=200GiB) * 8 \
    | duration=1000h & cpu(cores=4096) \
    | duration=10h & cuda(mem=40GiB) * 2 & cpu(mem=32GiB, cores=8)";

fn finder(c: &mut Criterion) {
    let text = launcher_file(1000);
    let registry = Registry::from_toml_str(&text, "bench.toml").expect("the file loads");
    assert_eq!(registry.entries().len(), 1000);

    let req = reqparse::parse(REQUIREMENT).unwrap();
    let no_tags: &[&str] = &[];
    let found = registry.find(&req, no_tags).expect("a launcher");
    assert_eq!(found.alternative, 2);
    let entry = &registry.entries()[found.entry];
    // The highest priority (12) among the entries with cards of 40GiB or
    // more (k % 32 >= 24), the earliest in the file.
    assert_eq!(entry.name, "l25");
    let why = registry.explain(&req, no_tags);
    assert_eq!(why.found.as_ref(), Some(&found));
    let tagged = registry.find(&req, &["batch"]).expect("a slurm launcher");
    assert_eq!(registry.entries()[tagged.entry].type_name(), "slurm");
    assert_eq!(
        tagged.options.get("time"),
        Some(&slurm_options::SlurmValue::from("10:00:00"))
    );
    let none = reqparse::parse("cuda(mem=200GiB) | cpu(cores=4096) | duration=101h").unwrap();
    assert!(registry.find(&none, no_tags).is_none());

    let mut group = c.benchmark_group("finder");
    group.bench_function("find_1000_entries_3_alternatives", |b| {
        b.iter(|| registry.find(black_box(&req), black_box(no_tags)));
    });
    group.bench_function("find_1000_entries_3_alternatives_tagged", |b| {
        b.iter(|| registry.find(black_box(&req), black_box(&["batch"])));
    });
    group.bench_function("find_1000_entries_none_match", |b| {
        b.iter(|| registry.find(black_box(&none), black_box(no_tags)));
    });
    group.bench_function("load_1000_entries", |b| {
        b.iter(|| Registry::from_toml_str(black_box(&text), "bench.toml"));
    });
    group.finish();
}

criterion_group!(benches, finder);
criterion_main!(benches);
