//! `to_toml_string` writes what `from_toml_str` reads back.

use core_types::{AcceleratorSpec, HostSpec, MemSize, Walltime};
use proptest::prelude::*;

#[test]
fn groups_identical_consecutive_accelerators() {
    let host = hostspec::load("tests/data/mixed.toml").unwrap();
    let text = hostspec::to_toml_string(&host);
    assert_eq!(
        text,
        "cores = 64\n\
         memory = \"512GiB\"\n\
         max_duration = \"2d\"\n\
         priority = 2.5\n\
         min_gpu = 1\n\
         accelerators = [\n  \
           { kind = \"cuda\", memory = \"80GiB\", min_memory = \"40GiB\", count = 2 },\n  \
           { kind = \"generic\", memory = \"24GiB\" },\n  \
           { kind = \"rocm\", memory = \"64GiB\", count = 3 },\n\
         ]\n"
    );
}

#[test]
fn unlimited_and_empty() {
    let host = HostSpec {
        cores: 1,
        memory: MemSize::from_bytes(1000),
        ..HostSpec::default()
    };
    let text = hostspec::to_toml_string(&host);
    assert!(text.contains("max_duration = 0  # unlimited\n"), "{text}");
    assert!(text.contains("accelerators = []\n"), "{text}");
    assert_eq!(hostspec::from_toml_str(&text, "t.toml").unwrap(), host);
}

use test_support::accelerator_kind as kind;

fn accelerator() -> impl Strategy<Value = AcceleratorSpec> {
    (
        kind(),
        prop_oneof![any::<u64>(), (0u64..4).prop_map(|g| g << 30)],
        prop_oneof![Just(0u64), any::<u64>()],
        proptest::option::of("[ -~]{0,12}|\\PC{0,4}"),
    )
        .prop_map(|(kind, memory, min_memory, model)| AcceleratorSpec {
            kind,
            memory: MemSize::from_bytes(memory),
            min_memory: MemSize::from_bytes(min_memory),
            model,
            slurm_type: None,
        })
}

fn host() -> impl Strategy<Value = HostSpec> {
    // TOML integers are i64: counts past i64::MAX cannot be written.
    let count = 0..=i64::MAX as u64;
    (
        count.clone(),
        any::<u64>(),
        proptest::option::of(any::<u64>()),
        proptest::option::of(count.clone()),
        // Runs of equal accelerators, to exercise the grouping.
        proptest::collection::vec((accelerator(), 1usize..4), 0..5),
        any::<u64>(),
        prop_oneof![any::<i32>().prop_map(f64::from), -1e300f64..1e300],
        count,
    )
        .prop_map(
            |(cores, memory, mem_per_cpu, cpu_per_gpu, runs, max_duration, priority, min_gpu)| {
                HostSpec {
                    cores,
                    memory: MemSize::from_bytes(memory),
                    mem_per_cpu: mem_per_cpu.map(MemSize::from_bytes),
                    cpu_per_gpu,
                    accelerators: runs
                        .into_iter()
                        .flat_map(|(a, n)| std::iter::repeat_n(a, n))
                        .collect(),
                    max_duration: Walltime::from_seconds(max_duration),
                    priority,
                    min_gpu,
                }
            },
        )
}

proptest! {
    #[test]
    fn toml_round_trips(host in host()) {
        let text = hostspec::to_toml_string(&host);
        let back = hostspec::from_toml_str(&text, "p.toml");
        prop_assert_eq!(back.as_ref().ok(), Some(&host), "{}", text);
    }

    #[test]
    fn any_text_is_an_error_or_a_host(text in "\\PC{0,64}") {
        let _ = hostspec::from_toml_str(&text, "p.toml");
        let _ = hostspec::from_json_str(&text, "p.json");
    }
}
