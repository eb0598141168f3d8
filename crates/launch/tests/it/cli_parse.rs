//! `launch parse`.

use crate::support::{json_lines, launch, launch_with_stdin, stderr, stdout};

#[test]
fn prints_the_canonical_form() {
    let out = launch(&[
        "parse",
        "cuda(mem=4G)*2 & duration = 4 d & cpu(mem=400M, cores=4)",
    ]);
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        "duration=4d & cpu(mem=400M, cores=4) & cuda(mem=4G) * 2\n"
    );
}

#[test]
fn json_has_the_documented_shape() {
    let out = launch(&[
        "parse",
        "--json",
        "duration=4 d & cuda(mem=4G) * 2 & cpu(mem=400M, cores=4)",
    ]);
    assert!(out.status.success());
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    // The example of docs/cli.md, as written there.
    let documented: serde_json::Value = serde_json::from_str(
        r#"{"alternatives": [
          {"duration_s": 345600,
           "cpu": {"cores": 4, "memory": 400000000},
           "accelerators": [{"kind": "cuda", "memory": 4000000000},
                            {"kind": "cuda", "memory": 4000000000}]}
        ]}"#,
    )
    .unwrap();
    assert_eq!(value, documented);
}

#[test]
fn bad_input_exits_2_with_a_caret() {
    let out = launch(&["parse", "cuda(mem=4g)"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.contains("unknown size unit `g`"), "{err}");
    assert!(err.contains("1 | cuda(mem=4g)\n  |           ^"), "{err}");
}

#[test]
fn batch_mode_answers_every_line_in_order() {
    let input =
        b"cpu()\nnot a requirement\r\ncuda(mem=8G) | mps(mem=8G)\n\xffbad bytes\n\nduration=1h";
    let out = launch_with_stdin(&["parse", "-"], input);
    assert_eq!(out.status.code(), Some(0));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0]["alternatives"][0]["cpu"]["cores"], 1);
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .contains("unknown term `not`")
    );
    assert_eq!(lines[2]["alternatives"].as_array().unwrap().len(), 2);
    assert!(lines[3]["error"].as_str().unwrap().contains("UTF-8"));
    assert!(
        lines[4]["error"]
            .as_str()
            .unwrap()
            .contains("expected a term")
    );
    assert_eq!(lines[5]["alternatives"][0]["duration_s"], 3600);
}

#[test]
fn batch_mode_values_equal_single_mode_values() {
    let exprs = ["cuda(mem=4G)*2", "duration=4h & mps(mem=8GiB) | gpu()"];
    let out = launch_with_stdin(&["parse", "-"], exprs.join("\n").as_bytes());
    for (expr, line) in exprs.iter().zip(json_lines(&out)) {
        let single = launch(&["parse", "--json", expr]);
        let value: serde_json::Value = serde_json::from_str(&stdout(&single)).unwrap();
        assert_eq!(value, line, "{expr}");
    }
}

#[test]
fn unknown_flags_exit_2() {
    let out = launch(&["parse", "--frobnicate", "cpu()"]);
    assert_eq!(out.status.code(), Some(2));
}
