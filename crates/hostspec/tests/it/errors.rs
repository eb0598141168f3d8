//! Error messages, fixed by snapshots: file, position, key and reason.

fn load_err(path: &str) -> String {
    match hostspec::load(path) {
        Ok(host) => panic!("{path} loaded: {host:?}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn count_zero() {
    insta::assert_snapshot!(load_err("tests/data/bad-count-zero.toml"));
}

#[test]
fn count_huge() {
    insta::assert_snapshot!(load_err("tests/data/bad-count-huge.json"));
}

#[test]
fn other_errors() {
    let all: Vec<String> = [
        "tests/data/bad-unknown-key.toml",
        "tests/data/bad-kind.json",
        "tests/data/bad-syntax.toml",
        "tests/data/bad-size.toml",
        "tests/data/host.yaml",
    ]
    .iter()
    .map(|p| load_err(p))
    .collect();
    insta::assert_snapshot!(all.join("\n"));
}

#[test]
fn every_message_names_the_file() {
    for text in [
        "",
        "{",
        "cores = [",
        "\u{0}",
        "accelerators = 3",
        "[[accelerators]]\nkind = 1",
    ] {
        let err = hostspec::from_toml_str(text, "x.toml").unwrap_err();
        assert!(err.to_string().starts_with("x.toml"), "{err}");
        let err = hostspec::from_json_str(text, "x.json").unwrap_err();
        assert!(err.to_string().starts_with("x.json"), "{err}");
    }
}
