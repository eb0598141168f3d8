//! The finder's rules, from the files of `tests/data`: priorities and ties,
//! alternatives in order, tags, dynamic entries, derived options, and the
//! explanation of every decision.

use std::time::Duration;

use registry::{ConnectorConfig, EntryKind, HostKeyPolicy, Registry, Verdict};
use slurm_options::{SlurmOptions, SlurmValue};

use crate::{NO_TAGS, registry, req};

/// The chosen entry's name and the alternative, or `None`.
fn chosen<S: AsRef<str>>(registry: &Registry, expr: &str, tags: &[S]) -> Option<(String, usize)> {
    registry
        .find(&req(expr), tags)
        .map(|f| (registry.entries()[f.entry].name.clone(), f.alternative))
}

fn is(name: &str, alternative: usize) -> (String, usize) {
    (name.to_owned(), alternative)
}

#[test]
fn the_specification_example_loads() {
    let r = registry("full.toml");
    let Some(ConnectorConfig::Ssh(ssh)) = r.connector("cluster") else {
        panic!("no ssh connector");
    };
    assert_eq!(ssh.host, "login.example.org");
    assert_eq!(ssh.port, 22);
    assert_eq!(ssh.user.as_deref(), Some("me"));
    assert_eq!(ssh.identity.as_deref(), Some("~/.ssh/id_ed25519".as_ref()));
    assert_eq!(ssh.connect_timeout, Duration::from_secs(30));
    assert_eq!(ssh.keepalive, Duration::from_secs(60));
    assert_eq!(ssh.host_key_policy, HostKeyPolicy::AcceptNew);
    assert_eq!(r.connector("local"), Some(&ConnectorConfig::Local));
    assert_eq!(r.connector("nope"), None);

    let names: Vec<(&str, &str)> = r
        .entries()
        .iter()
        .map(|e| (e.name.as_str(), e.type_name()))
        .collect();
    assert_eq!(
        names,
        [
            ("gpu-fast", "slurm"),
            ("workstation", "direct"),
            ("any-gpu", "dynamic")
        ]
    );
    let (_, fast) = r.entry("gpu-fast").unwrap();
    assert_eq!(fast.priority, 10.0);
    assert_eq!(fast.tags, ["gpu"]);
    assert_eq!(fast.connector(), Some("cluster"));
    assert_eq!(fast.line, 14);
    let host = fast.host().unwrap();
    assert_eq!((host.cores, host.accelerators.len()), (32, 8));
    assert_eq!(host.accelerators[0].model.as_deref(), Some("A5000"));
    let EntryKind::Slurm { options, .. } = &fast.kind else {
        panic!("not slurm");
    };
    let fixed: SlurmOptions = [
        ("partition", "fast"),
        ("qos", "normal"),
        ("constraint", "A5000"),
    ]
    .into_iter()
    .collect();
    assert_eq!(options, &fixed);
    let (_, ws) = r.entry("workstation").unwrap();
    assert_eq!((ws.connector(), ws.priority), (Some("local"), 0.0));
    assert!(ws.tags.is_empty());
    let (i, any) = r.entry("any-gpu").unwrap();
    assert_eq!(
        any.kind,
        EntryKind::Dynamic {
            members: vec!["gpu-fast".into(), "workstation".into()],
            choose: core_types::job::Choose::Priority,
            refresh: core_types::job::DEFAULT_REFRESH,
        }
    );
    assert_eq!(r.members(i), [0, 1]);
    assert!(any.host().is_none() && any.connector().is_none());
}

#[test]
fn the_highest_priority_wins_and_the_earliest_on_ties() {
    let r = registry("priorities.toml");
    // All four serve it: big-a and big-b share the highest priority.
    assert_eq!(chosen(&r, "cpu(cores=2)", NO_TAGS), Some(is("big-a", 0)));
    // Only big-b has accelerators.
    assert_eq!(
        chosen(&r, "rocm(mem=32GiB) * 2", NO_TAGS),
        Some(is("big-b", 0))
    );
    // Only the negative priority has 128 cores.
    assert_eq!(
        chosen(&r, "cpu(cores=100)", NO_TAGS),
        Some(is("negative", 0))
    );
    assert_eq!(chosen(&r, "duration=2h & cpu(cores=100)", NO_TAGS), None);

    assert_eq!(
        first_verdicts(&r, "cpu(cores=2)", NO_TAGS),
        [
            "small: matches, but `big-a` comes first (priority 5 over 1)",
            "big-a: chosen",
            "big-b: matches, but `big-a` comes first (same priority 5, earlier in the file)",
            "negative: matches, but `big-a` comes first (priority 5 over -2.5)",
        ]
    );
}

#[test]
fn alternatives_are_tried_in_order_before_priorities() {
    let r = registry("priorities.toml");
    // The first alternative only the lowest priority serves; it still wins
    // over the second, which a higher priority serves.
    assert_eq!(
        chosen(&r, "cpu(cores=100) | cpu(cores=2)", NO_TAGS),
        Some(is("negative", 0))
    );
    // The first alternative nobody serves: the second decides.
    assert_eq!(
        chosen(
            &r,
            "cpu(cores=1000) | cuda(mem=1GiB) | cpu(cores=8)",
            NO_TAGS
        ),
        Some(is("big-a", 2))
    );
    let why = r.explain(
        &req("cpu(cores=1000) | cpu(cores=8) | cpu(cores=1)"),
        NO_TAGS,
    );
    // Tried up to the one that matched, not further.
    assert_eq!(why.alternatives.len(), 2);
    assert!(
        why.alternatives[0]
            .entries
            .iter()
            .all(|e| !e.verdict.matches())
    );
    assert_eq!(
        why.alternatives[0].entries[0].to_string(),
        "small: asks for 1000 cores, the host has 4"
    );
}

#[test]
fn tags_select_the_eligible_entries() {
    let r = registry("tags.toml");
    assert_eq!(chosen(&r, "cpu(cores=1)", NO_TAGS), Some(is("laptop", 0)));
    assert_eq!(
        chosen(&r, "cpu(cores=1)", &["batch"]),
        Some(is("gpu-box", 0))
    );
    assert_eq!(
        chosen(&r, "cpu(cores=1)", &["nope", "gpu"]),
        Some(is("gpu-box", 0))
    );
    assert_eq!(chosen(&r, "mps(mem=8GiB)", &["batch"]), None);
    assert_eq!(
        chosen(&r, "mps(mem=8GiB)", &["interactive"]),
        Some(is("laptop", 0))
    );
    assert_eq!(
        chosen(&r, "duration=3d & cpu(cores=100)", &["batch"]),
        Some(is("cpu-farm", 0))
    );
    assert_eq!(chosen(&r, "cpu(cores=1)", &["nope"]), None);

    assert_eq!(
        first_verdicts(&r, "cpu(cores=1)", &["nope"]),
        [
            "laptop: not eligible: its tags (interactive) are none of those asked for",
            "gpu-box: not eligible: its tags (gpu, batch) are none of those asked for",
            "cpu-farm: not eligible: its tags (batch) are none of those asked for",
            "untagged: not eligible: it has no tags, and tags were asked for",
        ]
    );
}

#[test]
fn derived_slurm_options_fill_what_is_not_fixed() {
    let r = registry("full.toml");
    let found = r
        .find(
            &req("duration=4h & cuda(mem=20GiB) * 2 & cpu(mem=10G, cores=4)"),
            NO_TAGS,
        )
        .unwrap();
    assert_eq!(r.entries()[found.entry].name, "gpu-fast");
    let json = serde_json::to_string(&found.options).unwrap();
    assert_eq!(
        json,
        r#"{"partition":"fast","qos":"normal","constraint":"A5000","time":"4:00:00","gpus-per-node":2,"mem":9537,"cpus-per-task":4}"#
    );
    // Fixed options win, and displace the options they stand for.
    let r = registry("tags.toml");
    let found = r
        .find(&req("duration=3d & cpu(mem=100GiB, cores=100)"), &["batch"])
        .unwrap();
    assert_eq!(
        found.options.to_args(),
        [
            "--partition=cpu",
            "--mem-per-cpu=4G",
            "--exclusive",
            "--time=3-00:00:00",
            "--cpus-per-task=100"
        ]
    );
    assert_eq!(
        found.options.get("exclusive"),
        Some(&SlurmValue::Flag(true))
    );
    // Other types have none.
    let found = r.find(&req("cpu(cores=1)"), NO_TAGS).unwrap();
    assert!(found.options.is_empty() && found.members.is_empty());
}

#[test]
fn dynamic_entries_match_when_a_member_does() {
    let r = registry("dynamic.toml");
    let names = |indices: &[usize]| -> Vec<String> {
        indices
            .iter()
            .map(|&i| r.entries()[i].name.clone())
            .collect()
    };
    // Through `pool`: `fast` (a host) and `cpus` (a dynamic) both match.
    let found = r.find(&req("cpu(cores=4)"), &["pool"]).unwrap();
    assert_eq!(r.entries()[found.entry].name, "pool");
    assert_eq!(names(&found.members), ["fast", "cpus"]);
    assert!(found.options.is_empty());
    // Too long for `fast`: only `cpus`, through its members.
    let found = r
        .find(&req("duration=3h & cpu(cores=4)"), &["pool"])
        .unwrap();
    assert_eq!(names(&found.members), ["cpus"]);
    let found = r.find(&req("cpu(cores=12)"), &["cpus"]).unwrap();
    assert_eq!(names(&found.members), ["cpu-b"]);
    // A member's own tags do not matter.
    assert_eq!(
        chosen(&r, "cuda(mem=40GiB)", &["pool"]),
        Some(is("pool", 0))
    );
    assert_eq!(chosen(&r, "cuda(mem=40GiB)", &["cpus"]), None);

    let why = r.explain(&req("duration=3h & cpu(cores=32)"), &["pool"]);
    assert_eq!(
        why.alternatives[0].entries[0].to_string(),
        "pool: no member matches (fast: asks for 3h, the host allows at most 2h; \
         cpus: no member matches (cpu-a: asks for 32 cores, the host has 8; \
         cpu-b: asks for 32 cores, the host has 16))"
    );
    let why = r.explain(&req("cpu(cores=4)"), &["pool"]);
    assert_eq!(
        why.alternatives[0].entries[0].to_string(),
        "pool: chosen; its members that match: fast, cpus"
    );
    // Without tags the entries with hosts compete too: `fast` has the highest priority.
    assert_eq!(chosen(&r, "cpu(cores=4)", NO_TAGS), Some(is("fast", 0)));
}

#[test]
fn the_explanation_agrees_with_the_finder() {
    let files = ["full.toml", "priorities.toml", "tags.toml", "dynamic.toml"];
    let exprs = [
        "cpu(cores=1)",
        "cpu(cores=100) | cpu(cores=2)",
        "duration=3h & cpu(cores=4)",
        "cuda(mem=40GiB) | cuda(mem=12GiB) * 2",
        "mps(mem=8GiB) | rocm(mem=8GiB) | gpu(mem=64GiB) * 4",
        "duration=3d & cpu(mem=100GiB, cores=100)",
        "duration=1w & cpu(cores=4096)",
    ];
    let tag_sets: [&[&str]; 5] = [&[], &["gpu"], &["batch"], &["pool", "cpus"], &["nope"]];
    for file in files {
        let r = registry(file);
        for expr in exprs {
            let requirement = req(expr);
            for tags in tag_sets {
                let found = r.find(&requirement, tags);
                let why = r.explain(&requirement, tags);
                assert_eq!(why.found, found, "{file} {expr} {tags:?}");
                let chosen: Vec<(usize, &str)> = why
                    .alternatives
                    .iter()
                    .flat_map(|a| {
                        a.entries
                            .iter()
                            .filter(|e| matches!(e.verdict, Verdict::Chosen { .. }))
                            .map(move |e| (a.index, e.name.as_str()))
                    })
                    .collect();
                if let Some(f) = &found {
                    assert_eq!(
                        chosen,
                        [(f.alternative, r.entries()[f.entry].name.as_str())],
                        "{file} {expr} {tags:?}"
                    );
                    // Nothing matched an earlier alternative.
                    for a in &why.alternatives[..f.alternative] {
                        assert!(a.entries.iter().all(|e| !e.verdict.matches()));
                    }
                } else {
                    assert!(chosen.is_empty(), "{file} {expr} {tags:?}");
                    assert_eq!(why.alternatives.len(), requirement.alternatives.len());
                }
            }
        }
    }
}

#[test]
fn explanation_in_words() {
    let r = registry("full.toml");
    let why = r.explain(
        &req("cuda(mem=40GiB) * 2 | duration=200h & cuda(mem=12GiB) | cpu(cores=20) & cuda(mem=8GiB)"),
        NO_TAGS,
    );
    insta::assert_snapshot!("explanation_full", why.to_string());
    let why = r.explain(&req("cuda(mem=40GiB) * 2"), &["gpu", "cpu"]);
    insta::assert_snapshot!("explanation_tagged_none", why.to_string());
}

/// What a `[connector.NAME]` table says is the SSH connector's settings;
/// what it does not say keeps the connector's defaults.
#[test]
fn an_ssh_table_is_the_connectors_settings() {
    let r = Registry::from_toml_str(
        "[connector.c]\ntype = \"ssh\"\nhost = \"login.example.org\"\nport = 2222\nuser = \"me\"\n\
         identity = \"~/.ssh/id_ed25519\"\nknown_hosts = \"/etc/ssh/ssh_known_hosts\"\n\
         timeout = \"5s\"\nkeepalive = \"0s\"\nhost_key_policy = \"accept-new\"\n",
        "t.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let Some(ConnectorConfig::Ssh(c)) = r.connector("c") else {
        panic!("no ssh connector");
    };
    let defaults = registry::SshConfig::new("x");
    assert_eq!(c.target(), "me@login.example.org:2222");
    assert_eq!(c.identity.as_deref(), Some("~/.ssh/id_ed25519".as_ref()));
    assert_eq!(
        c.known_hosts.as_deref(),
        Some("/etc/ssh/ssh_known_hosts".as_ref())
    );
    assert_eq!(c.host_key_policy, HostKeyPolicy::AcceptNew);
    assert_eq!(c.connect_timeout, Duration::from_secs(5));
    assert!(c.keepalive.is_zero());
    assert_eq!(c.timeout, defaults.timeout);
    assert_eq!(c.reconnect_timeout, defaults.reconnect_timeout);
    assert_eq!(
        (c.passphrase.as_ref(), c.default_dir.as_ref()),
        (None, None)
    );

    let r = Registry::from_toml_str("[connector.c]\ntype = \"ssh\"\nhost = \"h\"\n", "t.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        r.connector("c"),
        Some(&ConnectorConfig::Ssh(registry::SshConfig::new("h")))
    );
}

/// Each entry's verdict, in words, for the first alternative of `text`.
fn first_verdicts<S: AsRef<str>>(r: &Registry, text: &str, tags: &[S]) -> Vec<String> {
    r.explain(&req(text), tags).alternatives[0]
        .entries
        .iter()
        .map(ToString::to_string)
        .collect()
}
