//! `launch match` and `launch host`.

use crate::support::{host_file, json_lines, launch, launch_with_stdin, stderr, stdout};

const HOST: &str = r#"
cores = 16
memory = "32GiB"
max_duration = "10d"
priority = 3
accelerators = [
  { kind = "cuda", memory = "24GiB", min_memory = "12GiB", count = 2 },
  { kind = "cuda", memory = "80GiB", count = 2 },
]
"#;

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&stdout(out)).unwrap()
}

#[test]
fn match_json_and_exit_codes() {
    let (_dir, path) = host_file("host.toml", HOST);
    let path = path.to_str().unwrap();

    let out = launch(&[
        "match",
        "--json",
        "--host",
        path,
        "cuda(mem=100G) | cuda(mem=16GiB) * 3",
    ]);
    crate::support::assert_ok(&out);
    assert_eq!(
        json(&out),
        serde_json::json!({"matched": true, "alternative": 1, "score": 3})
    );

    let out = launch(&["match", "--json", "--host", path, "duration=11d & cpu()"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out), serde_json::json!({"matched": false}));
    assert!(stderr(&out).contains("11d"), "{}", stderr(&out));
}

#[test]
fn a_case_greedy_pairing_misses() {
    // experimaestro pairs requests and cards in size order, so the 8GiB
    // request lands on a 24GiB card whose min_memory is 12GiB and it says
    // no; a real assignment exists (8GiB -> an 80GiB card, the 16GiB
    // requests -> the other 80GiB card and both 24GiB cards).
    let (_dir, path) = host_file(
        "host.json",
        r#"{"cores": 32, "memory": 34359738368,
        "accelerators": [{"kind": "cuda", "memory": "24GiB", "min_memory": "12GiB", "count": 2},
                         {"kind": "cuda", "memory": "80GiB", "count": 2}]}"#,
    );
    let out = match_json(&path, "gpu(mem=8GiB) & gpu(mem=16GiB) * 3");
    assert_eq!(
        json(&out),
        serde_json::json!({"matched": true, "alternative": 0, "score": 0})
    );
}

#[test]
fn human_output_says_which_card_serves_which_request() {
    let (_dir, path) = host_file("host.toml", HOST);
    let out = launch(&[
        "match",
        "--host",
        path.to_str().unwrap(),
        "cuda(mem=16GiB) & cuda(mem=40GiB)",
    ]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.starts_with("alternative 0 matches: cuda(mem=40GiB) & cuda(mem=16GiB)\n"),
        "{text}"
    );
    assert!(
        text.contains("cuda(mem=40GiB) -> accelerator 2: cuda 80GiB"),
        "{text}"
    );
}

#[test]
fn batch_match() {
    let (_dir, path) = host_file("host.toml", HOST);
    let out = launch_with_stdin(
        &["match", "--json", "--host", path.to_str().unwrap(), "-"],
        b"cpu(cores=16)\ncpu(cores=17)\ncuda(\n",
    );
    assert_eq!(out.status.code(), Some(0));
    let lines = json_lines(&out);
    assert_eq!(
        lines[0],
        serde_json::json!({"matched": true, "alternative": 0, "score": 3})
    );
    assert_eq!(lines[1], serde_json::json!({"matched": false}));
    assert!(lines[2]["error"].is_string());
}

#[test]
fn a_bad_host_file_exits_2_and_names_it() {
    let (_dir, path) = host_file("broken.toml", "cores = 4\nmemory = \"4 gigs\"\n");
    let out = launch(&["match", "--host", path.to_str().unwrap(), "cpu()"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("broken.toml"), "{err}");
    assert!(err.contains("memory"), "{err}");

    let out = launch(&["match", "--host", "/nonexistent/host.toml", "cpu()"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/host.toml"));
}

#[test]
fn host_prints_a_file_that_loads_back() {
    let out = launch(&["host"]);
    assert!(out.status.success());
    let text = stdout(&out);
    let host = hostspec::from_toml_str(&text, "launch host").unwrap();
    assert!(host.cores >= 1);
    assert!(host.memory.bytes() > 0);
    // The local machine matches a one-core job.
    let (_dir, path) = host_file("me.toml", &text);
    let out = match_json(&path, "cpu(cores=1)");
    assert_eq!(json(&out)["matched"], true);
}

/// `launch match --json --host HOST EXPR`.
fn match_json(host: &std::path::Path, expr: &str) -> std::process::Output {
    launch(&["match", "--json", "--host", host.to_str().unwrap(), expr])
}
