//! Property tests: the matcher against a reference written from the rules,
//! with a brute-force search for the accelerator assignment.

use core_types::{
    AcceleratorRequest, AcceleratorSpec, Alternative, CpuRequest, HostSpec, MemSize, Requirement,
    Walltime,
};
use proptest::prelude::*;

const GIB: u64 = 1 << 30;

use test_support::accelerator_kind as kind;

fn gib(values: &'static [u64]) -> impl Strategy<Value = MemSize> {
    proptest::sample::select(values).prop_map(|g| MemSize::from_bytes(g * GIB))
}

fn device() -> impl Strategy<Value = AcceleratorSpec> {
    (
        kind(),
        gib(&[8, 16, 24, 32, 40, 80]),
        gib(&[0, 0, 0, 8, 16, 24, 40]),
    )
        .prop_map(|(kind, memory, min_memory)| AcceleratorSpec {
            kind,
            memory,
            min_memory,
            model: None,
            slurm_type: None,
        })
}

fn request() -> impl Strategy<Value = AcceleratorRequest> {
    (kind(), gib(&[0, 4, 8, 12, 16, 20, 24, 32, 40, 64]))
        .prop_map(|(kind, memory)| AcceleratorRequest { kind, memory })
}

fn host() -> impl Strategy<Value = HostSpec> {
    (
        proptest::collection::vec(device(), 0..7),
        1u64..33,
        gib(&[16, 32, 64, 128]),
        proptest::sample::select(&[0u64, 0, 3600, 86_400][..]),
        proptest::sample::select(&[0u64, 0, 0, 1, 2][..]),
        proptest::sample::select(&[0.0, 1.0, 2.0, 5.0][..]),
    )
        .prop_map(
            |(accelerators, cores, memory, max_duration, min_gpu, priority)| HostSpec {
                cores,
                memory,
                accelerators,
                max_duration: Walltime::from_seconds(max_duration),
                priority,
                min_gpu,
                ..HostSpec::default()
            },
        )
}

/// An alternative as the parser makes them (accelerators sorted by memory,
/// largest first), or, now and then, unsorted as one built by hand.
fn alternative() -> impl Strategy<Value = Alternative> {
    (
        proptest::collection::vec(request(), 0..6),
        any::<bool>(),
        0u64..40,
        gib(&[0, 1, 16, 40, 100]),
        proptest::sample::select(&[0u64, 1800, 3600, 7200, 172_800][..]),
    )
        .prop_map(|(mut accelerators, sort, cores, memory, duration)| {
            if sort {
                accelerators.sort_by_key(|a| std::cmp::Reverse(a.memory));
            }
            Alternative {
                duration: Walltime::from_seconds(duration),
                cpu: CpuRequest { cores, memory },
                accelerators,
            }
        })
}

/// The rules, one by one, as the specification words them.
fn reference(alt: &Alternative, host: &HostSpec) -> bool {
    let n = alt.accelerators.len();
    let unified = alt
        .unified_memory()
        .and_then(|m| m.checked_add(alt.cpu.memory));
    n <= host.accelerators.len()
        && crate::brute_force(&alt.accelerators, &host.accelerators)
        && n as u64 >= host.min_gpu
        && host.cores >= alt.cpu.cores
        && host.memory >= alt.cpu.memory
        && unified.is_some_and(|total| total <= host.memory)
        && (host.max_duration.is_zero() || alt.duration <= host.max_duration)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn matcher_follows_the_rules(alt in alternative(), host in host()) {
        let found = matcher::match_alternative(&alt, &host);
        prop_assert_eq!(found.is_some(), reference(&alt, &host));
        if let Some(found) = &found {
            crate::assert_valid(&alt.accelerators, &host.accelerators, &found.assignment.to_vec());
            prop_assert!((found.score - host.priority).abs() < f64::EPSILON);
        }
        // Explanations agree with the matcher.
        let explained = matcher::explain_alternative(&alt, &host);
        prop_assert_eq!(explained.as_ref().ok(), found.as_ref());
        prop_assert_eq!(matcher::mismatches(&alt, &host).is_empty(), found.is_some());
        if let Err(why) = explained {
            prop_assert!(!why.to_string().is_empty());
        }
    }

    #[test]
    fn greedy_result_is_kept_when_greedy_succeeds(alt in alternative(), host in host()) {
        let found = matcher::match_alternative(&alt, &host);
        if let (Some(found), Some(greedy)) = (
            &found,
            matcher::greedy_assignment(&alt.accelerators, &host.accelerators),
        ) {
            prop_assert!(found.assignment.is_greedy());
            prop_assert_eq!(found.assignment.to_vec(), greedy);
        }
        if let Some(found) = &found {
            if !found.assignment.is_greedy() {
                prop_assert!(
                    matcher::greedy_assignment(&alt.accelerators, &host.accelerators).is_none()
                );
            }
        }
    }

    #[test]
    fn bipartite_agrees_with_brute_force(
        requests in proptest::collection::vec(request(), 0..6),
        devices in proptest::collection::vec(device(), 0..7),
    ) {
        let exists = requests.len() <= devices.len() && crate::brute_force(&requests, &devices);
        let found = matcher::bipartite_assignment(&requests, &devices);
        prop_assert_eq!(found.is_some(), exists);
        if let Some(found) = found {
            crate::assert_valid(&requests, &devices, &found);
        }
        if let Some(greedy) = matcher::greedy_assignment(&requests, &devices) {
            prop_assert!(exists);
            crate::assert_valid(&requests, &devices, &greedy);
        }
    }

    #[test]
    fn many_hosts_best_first(
        alternatives in proptest::collection::vec(alternative(), 1..4),
        hosts in proptest::collection::vec(host(), 0..8),
    ) {
        let requirement = Requirement { alternatives };
        let best = matcher::match_hosts(&requirement, &hosts);
        let prepared = matcher::PreparedHosts::new(&hosts);
        prop_assert_eq!(prepared.match_requirement(&requirement), best.clone());
        // The reference: every host's first matching alternative, then the
        // highest score, the earliest host on ties.
        let mut want: Option<(usize, usize, f64)> = None;
        for (h, host) in hosts.iter().enumerate() {
            if let Some(a) = requirement.alternatives.iter().position(|alt| reference(alt, host)) {
                if want.is_none_or(|(_, _, s)| host.priority > s) {
                    want = Some((h, a, host.priority));
                }
            }
        }
        prop_assert_eq!(best.map(|b| (b.host, b.alternative, b.score)), want);
    }

    #[test]
    fn large_hosts_agree_with_hopcroft_karp(
        requests in proptest::collection::vec(request(), 20..70),
        devices in proptest::collection::vec(device(), 40..90),
    ) {
        // Up to 64 devices the matcher uses Kuhn's algorithm on bit masks,
        // past 64 Hopcroft–Karp; whatever it returns must be valid, and it
        // must agree with the (Hopcroft–Karp) helper.
        let mut requests = requests;
        requests.sort_by_key(|a| std::cmp::Reverse(a.memory));
        let host = HostSpec {
            cores: 1,
            memory: MemSize::MAX,
            accelerators: devices,
            ..HostSpec::default()
        };
        let alt = Alternative { accelerators: requests, ..Alternative::default() };
        let found = matcher::match_alternative(&alt, &host);
        let helper = matcher::bipartite_assignment(&alt.accelerators, &host.accelerators);
        prop_assert_eq!(found.is_some(), helper.is_some());
        if let Some(found) = found {
            crate::assert_valid(&alt.accelerators, &host.accelerators, &found.assignment.to_vec());
        }
    }
}
