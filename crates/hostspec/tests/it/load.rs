use core_types::{AcceleratorKind, MemSize};

#[test]
fn full_toml_and_json_agree() {
    let toml = hostspec::load("tests/data/full.toml").unwrap();
    let json = hostspec::load("tests/data/full.json").unwrap();
    assert_eq!(toml, json);
    assert_eq!(toml.cores, 16);
    assert_eq!(toml.memory.bytes(), 32 << 30);
    assert_eq!(toml.mem_per_cpu, Some(MemSize::from_bytes(2 << 30)));
    assert_eq!(toml.cpu_per_gpu, Some(4));
    assert_eq!(toml.max_duration.seconds(), 10 * 86_400);
    assert_eq!(toml.accelerators.len(), 4);
    for acc in &toml.accelerators {
        assert_eq!(acc.kind, AcceleratorKind::Cuda);
        assert_eq!(acc.memory.bytes(), 32 << 30);
        assert!(acc.min_memory.is_zero());
        assert_eq!(acc.model.as_deref(), Some("A100"));
    }
}

#[test]
fn mixed_kinds_tables_and_defaults() {
    let host = hostspec::load("tests/data/mixed.toml").unwrap();
    assert_eq!(host.max_duration.seconds(), 172_800);
    assert!((host.priority - 2.5).abs() < f64::EPSILON);
    assert_eq!(host.min_gpu, 1);
    let kinds: Vec<_> = host.accelerators.iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [
            AcceleratorKind::Cuda,
            AcceleratorKind::Cuda,
            AcceleratorKind::Generic,
            AcceleratorKind::Rocm,
            AcceleratorKind::Rocm,
            AcceleratorKind::Rocm
        ]
    );
    assert_eq!(host.accelerators[0].min_memory.bytes(), 40 << 30);
    assert_eq!(host.accelerators[5].memory.bytes(), 64 << 30);
}

#[test]
fn minimal_json_defaults() {
    let host = hostspec::load("tests/data/minimal.json").unwrap();
    assert_eq!(host.memory.bytes(), 4_000_000_000);
    assert!(host.max_duration.is_zero());
    assert!(host.priority.abs() < f64::EPSILON);
    assert_eq!(host.min_gpu, 0);
    assert!(host.accelerators.is_empty());
    assert_eq!(host.mem_per_cpu, None);
}

#[test]
fn load_refuses_unknown_extensions_and_missing_files() {
    let err = hostspec::load("tests/data/host.yaml").unwrap_err();
    assert!(matches!(err, hostspec::HostSpecError::UnknownFormat { .. }));
    let err = hostspec::load("tests/data/does-not-exist.toml").unwrap_err();
    assert!(matches!(err, hostspec::HostSpecError::Read { .. }));
    assert!(
        err.to_string()
            .starts_with("tests/data/does-not-exist.toml: cannot read the host file"),
        "{err}"
    );
}

#[test]
fn load_reads_a_written_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("host.toml");
    let host = hostspec::load("tests/data/mixed.toml").unwrap();
    std::fs::write(&path, hostspec::to_toml_string(&host)).unwrap();
    assert_eq!(hostspec::load(&path).unwrap(), host);
}

#[test]
fn detect_round_trips_through_toml() {
    let host = hostspec::detect();
    let text = hostspec::to_toml_string(&host);
    assert_eq!(
        hostspec::from_toml_str(&text, "detected.toml").unwrap(),
        host
    );
}
