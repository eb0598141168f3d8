//! Every mistake a launcher file can hold: the kind, the line, the key, and
//! the message (snapshots).

use registry::{InvalidKind, Registry, RegistryError};

use crate::data;

fn error_of(name: &str) -> RegistryError {
    let file = format!("errors/{name}.toml");
    let text = std::fs::read_to_string(data(&file)).unwrap();
    match Registry::from_toml_str(&text, &file) {
        Ok(_) => panic!("{file} was accepted"),
        Err(e) => e,
    }
}

/// (file, kind, line, key)
const CASES: &[(&str, InvalidKind, usize, &str)] = &[
    (
        "unknown-key",
        InvalidKind::UnknownKey,
        4,
        "launcher[0].prority",
    ),
    ("unknown-top-key", InvalidKind::UnknownKey, 1, "launchers"),
    (
        "unknown-host-key",
        InvalidKind::UnknownKey,
        4,
        "launcher[0].host.gpus",
    ),
    (
        "unknown-type",
        InvalidKind::UnknownType,
        3,
        "launcher[0].type",
    ),
    (
        "unknown-connector-type",
        InvalidKind::UnknownType,
        2,
        "connector.cluster.type",
    ),
    (
        "misplaced-key",
        InvalidKind::UnknownKey,
        5,
        "launcher[0].slurm",
    ),
    (
        "host-on-dynamic",
        InvalidKind::UnknownKey,
        10,
        "launcher[1].host",
    ),
    (
        "missing-host",
        InvalidKind::MissingKey,
        1,
        "launcher[0].host",
    ),
    ("missing-type", InvalidKind::MissingKey, 1, "launcher[0]"),
    (
        "dangling-connector",
        InvalidKind::DanglingConnector,
        8,
        "launcher[0].connector",
    ),
    (
        "dangling-member",
        InvalidKind::DanglingMember,
        9,
        "launcher[1].members[1]",
    ),
    (
        "duplicate-name",
        InvalidKind::DuplicateName,
        12,
        "launcher[2].name",
    ),
    (
        "duplicate-member",
        InvalidKind::DuplicateName,
        9,
        "launcher[1].members[1]",
    ),
    (
        "local-connector",
        InvalidKind::DuplicateName,
        1,
        "connector.local",
    ),
    ("cycle", InvalidKind::Cycle, 19, "launcher[3].members[1]"),
    (
        "self-cycle",
        InvalidKind::Cycle,
        4,
        "launcher[0].members[0]",
    ),
    (
        "bad-size",
        InvalidKind::BadValue,
        4,
        "launcher[0].host.memory",
    ),
    (
        "bad-duration",
        InvalidKind::BadValue,
        4,
        "launcher[0].host.max_duration",
    ),
    (
        "bad-count",
        InvalidKind::BadValue,
        4,
        "launcher[0].host.accelerators[0].count",
    ),
    (
        "bad-timeout",
        InvalidKind::BadValue,
        4,
        "connector.cluster.timeout",
    ),
    (
        "zero-timeout",
        InvalidKind::BadValue,
        4,
        "connector.cluster.timeout",
    ),
    (
        "bad-port",
        InvalidKind::BadValue,
        4,
        "connector.cluster.port",
    ),
    (
        "bad-host-key-policy",
        InvalidKind::BadValue,
        4,
        "connector.cluster.host_key_policy",
    ),
    (
        "ssh-without-host",
        InvalidKind::MissingKey,
        1,
        "connector.cluster.host",
    ),
    (
        "unknown-sbatch-option",
        InvalidKind::UnknownKey,
        5,
        "launcher[0].slurm.partiton",
    ),
    (
        "reserved-sbatch-option",
        InvalidKind::UnknownKey,
        5,
        "launcher[0].slurm.output",
    ),
    (
        "duplicate-sbatch-option",
        InvalidKind::DuplicateName,
        5,
        "launcher[0].slurm.gpus-per-node",
    ),
    (
        "bad-slurm-time",
        InvalidKind::BadValue,
        5,
        "launcher[0].slurm.time",
    ),
    (
        "bad-slurm-value",
        InvalidKind::BadValue,
        5,
        "launcher[0].slurm.nodes",
    ),
    (
        "sample-priority",
        InvalidKind::BadValue,
        16,
        "launcher[2].members[1]",
    ),
    ("bad-name", InvalidKind::BadValue, 2, "launcher[0].name"),
    (
        "zero-cores",
        InvalidKind::BadValue,
        4,
        "launcher[0].host.cores",
    ),
    (
        "host-priority",
        InvalidKind::BadValue,
        4,
        "launcher[0].host.priority",
    ),
    (
        "bad-priority",
        InvalidKind::BadValue,
        4,
        "launcher[0].priority",
    ),
    (
        "empty-members",
        InvalidKind::BadValue,
        4,
        "launcher[0].members",
    ),
    ("not-toml", InvalidKind::Syntax, 1, ""),
];

#[test]
fn each_mistake_names_file_line_and_key() {
    let mut all = String::new();
    for &(name, kind, line, key) in CASES {
        let err = error_of(name);
        let text = err.to_string();
        assert_eq!(err.kind(), Some(kind), "{name}: {text}");
        assert_eq!(err.line(), Some(line), "{name}: {text}");
        assert_eq!(err.key(), key, "{name}: {text}");
        assert!(
            text.starts_with(&format!("errors/{name}.toml:{line}:")),
            "{name}: {text}"
        );
        all.push_str(&text);
        all.push('\n');
    }
    insta::assert_snapshot!("messages", all);
}

#[test]
fn every_error_file_is_tested() {
    let mut files: Vec<String> = std::fs::read_dir(data("errors"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".toml")
                .to_owned()
        })
        .collect();
    files.sort();
    let mut tested: Vec<String> = CASES.iter().map(|c| c.0.to_owned()).collect();
    tested.sort();
    assert_eq!(files, tested);
}

#[test]
fn reading_a_missing_file_names_it() {
    let err = Registry::load("/nonexistent/launchers.toml").unwrap_err();
    assert!(
        test_support::chain(&err)
            .starts_with("/nonexistent/launchers.toml: cannot read the launcher file: "),
        "{err}"
    );
    assert_eq!(err.kind(), None);
}

#[test]
fn an_empty_file_defines_nothing() {
    let registry = Registry::from_toml_str("# nothing yet\n", "empty.toml").unwrap();
    assert!(registry.entries().is_empty());
    assert!(registry.connectors().is_empty());
    let req = crate::req("cpu(cores=1)");
    assert!(registry.find(&req, crate::NO_TAGS).is_none());
    let why = registry.explain(&req, crate::NO_TAGS).to_string();
    assert!(why.contains("the file defines no launcher"), "{why}");
}

/// A file of `n` dynamic launchers, each a member of the next, over one
/// direct launcher.
fn chain(n: usize) -> String {
    let mut text = String::from(
        "[[launcher]]\nname = \"d0\"\ntype = \"direct\"\nhost = { cores = 1, memory = \"1GiB\" }\n",
    );
    for i in 1..=n {
        let _ = std::fmt::Write::write_fmt(
            &mut text,
            format_args!(
                "\n[[launcher]]\nname = \"d{i}\"\ntype = \"dynamic\"\nmembers = [\"d{}\"]\n",
                i - 1
            ),
        );
    }
    text
}

#[test]
fn deep_chains_of_dynamic_launchers_are_refused_not_overflowed() {
    // 30,000 nested dynamic launchers once overflowed the stack.
    let err = Registry::from_toml_str(&chain(30_000), "chain.toml").unwrap_err();
    assert_eq!(err.kind(), Some(InvalidKind::BadValue));
    assert!(
        err.to_string()
            .contains("launcher[65].members: dynamic launchers nest more than 64 deep below `d65`"),
        "{err}"
    );
    // 64 levels are fine, and the top one finds the host at the bottom.
    let registry = Registry::from_toml_str(&chain(64), "chain.toml").unwrap();
    let found = registry
        .find(&crate::req("cpu(cores=1)"), &["x"; 0])
        .unwrap();
    assert_eq!(registry.entries()[found.entry].name, "d0");
    let top = registry.entry("d64").unwrap().0;
    let alt = &crate::req("cpu(cores=1)").alternatives[0];
    assert_eq!(
        registry.members_matching(top, alt),
        [registry.entry("d63").unwrap().0]
    );
    let why = registry.explain(&crate::req("cpu(cores=2)"), &["x"; 0]);
    assert!(why.found.is_none());
}

#[test]
fn an_sbatch_option_with_a_line_break_is_refused_at_load() {
    let file = "[[launcher]]\nname = \"s\"\ntype = \"slurm\"\nhost = { cores = 1, memory = \"1GiB\" }\nslurm = { comment = \"x\\n#SBATCH --uid=0\" }\n";
    let err = Registry::from_toml_str(file, "nl.toml").unwrap_err();
    assert_eq!(err.kind(), Some(InvalidKind::BadValue));
    assert_eq!(
        err.to_string(),
        "nl.toml:5:21: launcher[0].slurm.comment: a value cannot hold a line break or a NUL byte"
    );
}

#[test]
fn dot_dot_names_and_control_characters_are_refused_and_escaped() {
    let file = |name: &str| {
        format!(
            "[[launcher]]\nname = \"{name}\"\ntype = \"direct\"\nhost = {{ cores = 1, memory = 1 }}\n"
        )
    };
    let err = Registry::from_toml_str(&file(".."), "dots.toml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "dots.toml:2:8: launcher[0].name: `..` is not a valid name (it names a directory, not a launcher)"
    );
    assert!(Registry::from_toml_str(&file("."), "dot.toml").is_err());
    assert!(Registry::from_toml_str(&file("a..b"), "ok.toml").is_ok());
    // NUL, a line break and a right-to-left override, written as TOML escapes.
    let err = Registry::from_toml_str(&file("a\\u0000b\\nc\\u202Ed"), "ctl.toml").unwrap_err();
    let text = err.to_string();
    assert!(
        text.ends_with("`a\\0b\\nc\\u{202e}d` is not a valid name (letters, digits, `-`, `_` and `.`, not empty)"),
        "{text}"
    );
    assert!(
        !text.chars().any(|c| c.is_control() || c == '\u{202E}'),
        "{text:?}"
    );
}

#[test]
fn tokens_and_ledgers_are_read_and_checked() {
    let file = r#"
[token.license]
count = 2

[[launcher]]
name = "a"
type = "direct"
ledger = "/var/lib/launch"
host = { cores = 2, memory = "1GiB" }

[[launcher]]
name = "b"
type = "direct"
ledger = "/var/lib/launch"
host = { cores = 1, memory = "1GiB" }
"#;
    let registry = Registry::from_toml_str(file, "t.toml").unwrap();
    assert_eq!(registry.tokens().get("license"), Some(&2));
    assert!(matches!(
        &registry.entries()[0].kind,
        registry::EntryKind::Direct { ledger: Some(l), .. } if l == std::path::Path::new("/var/lib/launch")
    ));
    let bad = |text: &str| {
        Registry::from_toml_str(text, "t.toml")
            .unwrap_err()
            .to_string()
    };
    let host = "host = { cores = 1, memory = \"1GiB\" }";
    assert_eq!(
        bad("[token.x]\ncount = 0\n"),
        "t.toml:2:9: token.x.count: a token counts at least 1 (and at most 4294967295), not 0"
    );
    assert!(bad("[token.x]\ncont = 1\n").contains("unknown field `cont`"));
    assert!(bad("[token.\"a b\"]\ncount = 1\n").contains("not a valid name"));
    let relative =
        format!("[[launcher]]\nname = \"a\"\ntype = \"direct\"\nledger = \"rel\"\n{host}\n");
    assert!(
        bad(&relative)
            .contains("launcher[0].ledger: the ledger `rel` is not an absolute directory")
    );
    let misplaced =
        format!("[[launcher]]\nname = \"a\"\ntype = \"slurm\"\nledger = \"/l\"\n{host}\n");
    assert!(bad(&misplaced).contains("`ledger` does not belong to a slurm launcher"));
    let split = format!(
        "[[launcher]]\nname = \"a\"\ntype = \"direct\"\nledger = \"/l\"\n{host}\n\n\
         [[launcher]]\nname = \"b\"\ntype = \"direct\"\n{host}\n"
    );
    assert_eq!(
        bad(&split),
        "t.toml:8:8: launcher[1].ledger: `b` runs jobs on the machine of connector `local` with the \
         default ledger, and `a` (line 2) with the ledger `/l`: launchers of one machine share one ledger"
    );
}

/// A dynamic entry's `choose`, `sample` and `refresh`: read, and every
/// mistake named with its entry (snapshot).
#[test]
fn choose_and_refresh() {
    use core_types::job::{Choose, DEFAULT_REFRESH};
    use registry::EntryKind;
    let members = r#"
[[launcher]]
name = "a"
type = "direct"
priority = 2
host = { cores = 4, memory = "8GiB" }

[[launcher]]
name = "b"
type = "direct"
priority = 1
host = { cores = 4, memory = "8GiB" }
"#;
    let read = |keys: &str| {
        let text = format!(
            "{members}\n[[launcher]]\nname = \"d\"\ntype = \"dynamic\"\nmembers = [\"a\", \"b\"]\n{keys}\n"
        );
        Registry::from_toml_str(&text, "launchers.toml")
    };
    let kind = |keys: &str| {
        let r = read(keys).unwrap_or_else(|e| panic!("{keys}: {e}"));
        match &r.entries()[2].kind {
            EntryKind::Dynamic {
                choose, refresh, ..
            } => (*choose, *refresh),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(kind(""), (Choose::Priority, DEFAULT_REFRESH));
    assert_eq!(kind("sample = true"), (Choose::Sample, DEFAULT_REFRESH));
    assert_eq!(kind("choose = \"sample\"\nsample = true").0, Choose::Sample);
    assert_eq!(
        kind("choose = \"priority\"\nsample = false").0,
        Choose::Priority
    );
    assert_eq!(
        kind("choose = \"earliest-start\"\nrefresh = \"2m\""),
        (Choose::EarliestStart, std::time::Duration::from_secs(120))
    );
    assert_eq!(kind("choose = \"earliest-start\"").1, DEFAULT_REFRESH);
    let mut all = String::new();
    for keys in [
        "choose = \"earliest-start\"\nsample = true",
        "choose = \"sample\"\nsample = false",
        "choose = \"earliest\"",
        "choose = \"priority\"\nrefresh = \"30s\"",
        "choose = \"earliest-start\"\nrefresh = \"soon\"",
    ] {
        let err = read(keys).expect_err(keys);
        assert_eq!(err.kind(), Some(InvalidKind::BadValue), "{keys}: {err}");
        all.push_str(&err.to_string());
        all.push('\n');
    }
    let misplaced = Registry::from_toml_str(
        "[[launcher]]\nname = \"a\"\ntype = \"direct\"\nchoose = \"sample\"\nhost = { cores = 1, memory = \"1GiB\" }\n",
        "launchers.toml",
    )
    .unwrap_err();
    assert_eq!(misplaced.kind(), Some(InvalidKind::UnknownKey));
    all.push_str(&misplaced.to_string());
    all.push('\n');
    insta::assert_snapshot!("choose_messages", all);
}
