//! Property tests: the canonical form round-trips; nothing panics.

use core_types::{AcceleratorRequest, Alternative, CpuRequest, MemSize, Requirement, Walltime};
use proptest::prelude::*;

fn size() -> impl Strategy<Value = MemSize> {
    let units = core_types::SIZE_UNITS
        .iter()
        .map(|&(_, v)| v)
        .collect::<Vec<_>>();
    (0u64..100_000, proptest::sample::select(units))
        .prop_map(|(n, unit)| MemSize::from_bytes(n.saturating_mul(unit)))
}

use test_support::accelerator_kind as kind;

fn alternative() -> impl Strategy<Value = Alternative> {
    (
        0u64..10_000_000,
        0u64..512,
        size(),
        proptest::collection::vec((kind(), size(), 1usize..4), 0..5),
    )
        .prop_map(|(secs, cores, memory, accels)| {
            let mut alt = Alternative {
                duration: Walltime::from_seconds(secs),
                cpu: CpuRequest {
                    cores,
                    memory: if cores == 0 { MemSize::ZERO } else { memory },
                },
                accelerators: Vec::new(),
            };
            for (kind, memory, n) in accels {
                alt.add_accelerators(&vec![AcceleratorRequest { kind, memory }; n])
                    .unwrap();
            }
            alt
        })
}

proptest! {
    #[test]
    fn display_then_parse_is_identity(alts in proptest::collection::vec(alternative(), 1..4)) {
        let req = Requirement { alternatives: alts };
        let text = req.to_string();
        let back = reqparse::parse(&text);
        prop_assert!(back.is_ok(), "{text}: {}", back.unwrap_err());
        prop_assert_eq!(back.unwrap(), req);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
        if let Err(e) = reqparse::parse(&text) {
            prop_assert!(e.offset() <= text.len());
            let _ = e.to_string();
        }
    }

    #[test]
    fn language_like_text_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("cpu("), Just("cuda("), Just("mps("), Just("gpu("), Just("duration="),
                Just("mem="), Just("cores="), Just(")"), Just("&"), Just("|"), Just("*"),
                Just(" "), Just("\t"), Just(","), Just("4"), Just("99999999999999999999"),
                Just("G"), Just("GiB"), Just("h"), Just("days"), Just("0"),
            ],
            0..30,
        )
    ) {
        let text: String = parts.concat();
        match reqparse::parse(&text) {
            Ok(req) => prop_assert_eq!(reqparse::parse(&req.to_string()).unwrap(), req),
            Err(e) => { let _ = e.to_string(); }
        }
    }
}

#[test]
fn huge_inputs_do_not_overflow_the_stack() {
    let deep = "cpu(cores=1)&".repeat(100_000) + "cpu()";
    assert!(reqparse::parse(&deep).is_ok());
    let wide = "cpu()|".repeat(100_000) + "cpu()";
    assert_eq!(reqparse::parse(&wide).unwrap().alternatives.len(), 100_001);
    let parens = "(".repeat(1 << 20);
    assert!(reqparse::parse(&parens).is_err());
    let nuls = "\0".repeat(1 << 20);
    assert!(reqparse::parse(&nuls).is_err());
}
