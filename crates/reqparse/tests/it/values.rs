//! Table-driven cases of the values the language gives.

use core_types::{AcceleratorKind, MemSize, Walltime};

#[test]
fn extensions_parse() {
    let cases: &[(&str, &str)] = &[
        ("cpu()", "cpu(cores=1)"),
        ("cuda()", "cuda()"),
        ("rocm(mem=16GiB) * 2", "rocm(mem=16GiB) * 2"),
        ("gpu(mem=1TiB)", "gpu(mem=1TiB)"),
        ("cuda(mem=512KiB)", "cuda(mem=512KiB)"),
        ("cuda(mem=3K)", "cuda(mem=3K)"),
        ("duration=90s", "duration=90s"),
        ("duration=120 seconds", "duration=2m"),
        ("duration=1 week", "duration=7d"),
        ("duration=3 minutes", "duration=3m"),
        ("duration=1w & duration=2days", "duration=7d"),
    ];
    for (input, canonical) in cases {
        let req = reqparse::parse(input).unwrap_or_else(|e| panic!("{input}:\n{e}"));
        assert_eq!(req.to_string(), *canonical, "{input}");
    }
}

#[test]
fn terms_combine() {
    let req = reqparse::parse(
        "cpu(mem=1G, cores=2) & cuda(mem=4G) & duration=2h & cpu(mem=2G) & gpu(mem=8G) & duration=1h & cuda(mem=8G)",
    )
    .unwrap();
    let alt = &req.alternatives[0];
    assert_eq!(alt.cpu.cores, 2);
    assert_eq!(alt.cpu.memory, MemSize::from_bytes(2_000_000_000));
    assert_eq!(alt.duration, Walltime::from_seconds(7200));
    let kinds: Vec<_> = alt
        .accelerators
        .iter()
        .map(|a| (a.kind, a.memory.bytes()))
        .collect();
    // Largest first, stable among equal memory (gpu before cuda as written).
    assert_eq!(
        kinds,
        [
            (AcceleratorKind::Generic, 8_000_000_000),
            (AcceleratorKind::Cuda, 8_000_000_000),
            (AcceleratorKind::Cuda, 4_000_000_000)
        ]
    );
}

#[test]
fn repeated_cpu_arguments_last_wins_and_no_cpu_means_zero() {
    let req = reqparse::parse("cpu(cores=8, cores=2, mem=4G, mem=1G) | cuda(mem=1G)").unwrap();
    assert_eq!(req.alternatives[0].cpu.cores, 2);
    assert_eq!(req.alternatives[0].cpu.memory.bytes(), 1_000_000_000);
    assert_eq!(req.alternatives[1].cpu.cores, 0);
    assert!(req.alternatives[1].cpu.memory.is_zero());
}

#[test]
fn whitespace_everywhere_but_inside_sizes() {
    let spaced =
        reqparse::parse(" \tduration \n= 4 d\r\n& cuda ( mem = 4G ) * 2 | cpu ( ) ").unwrap();
    let tight = reqparse::parse("duration=4d&cuda(mem=4G)*2|cpu()").unwrap();
    assert_eq!(spaced, tight);
}

#[test]
fn multiply_duration_rounds_up() {
    let req = reqparse::parse("duration=1h & cuda(mem=1G) | duration=3s").unwrap();
    let twice = reqparse::multiply_duration(&req, 2.0).unwrap();
    assert_eq!(twice.alternatives[0].duration.seconds(), 7200);
    let half = reqparse::multiply_duration(&req, 0.5).unwrap();
    assert_eq!(half.alternatives[1].duration.seconds(), 2);
    // The original is untouched.
    assert_eq!(req.alternatives[0].duration.seconds(), 3600);
    assert!(reqparse::multiply_duration(&req, -1.0).is_err());
}

#[test]
fn expr_is_fromstr_and_display() {
    let e: reqparse::Expr = "cuda(mem=8GiB) * 2 | mps(mem=8GiB)".parse().unwrap();
    assert_eq!(e.to_string(), "cuda(mem=8GiB) * 2 | mps(mem=8GiB)");
    assert_eq!(e.alternatives.len(), 2);
}

#[test]
fn the_accelerator_bound_holds_per_alternative() {
    assert!(reqparse::parse("cuda(mem=1G) * 1024").is_ok());
    assert!(reqparse::parse("cuda(mem=1G) * 1024 | cuda(mem=1G) * 1024").is_ok());
    let err = reqparse::parse("cuda(mem=1G) * 1000 & gpu() * 25").unwrap_err();
    assert_eq!(err.offset(), 22);
    assert!(err.to_string().contains("at most 1024"), "{err}");
}
