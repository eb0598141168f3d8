//! `launch find` and `launch check`: the launcher file from the command
//! line, its discovery, the JSON of `docs/cli.md`, and exit codes.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::json;

use crate::support::{assert_prints, assert_says};

/// A `launch` command with a private configuration home and no
/// `$LAUNCH_CONFIG` (the user's own files are never read).
pub fn launch_in(home: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = launch_cmd(home);
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.args(args).output().expect("launch runs")
}

/// A `launch` command with `home` as its home, configuration and state
/// homes under it, no stdin.
pub fn launch_cmd(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_launch"));
    cmd.env_remove("LAUNCH_CONFIG")
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("HOME", home)
        .stdin(Stdio::null());
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const FILE: &str = include_str!("../data/find.toml");

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// A fresh home with the test launcher file ([`FILE`], as `l.toml`), and
/// the file's path.
fn home_with_file() -> (tempfile::TempDir, String) {
    let home = tempfile::tempdir().unwrap();
    let file = write(home.path(), "l.toml", FILE);
    (home, file.display().to_string())
}

/// `launch find --config FILE ARGS...`.
fn find_in(home: &Path, file: &str, args: &[&str]) -> Output {
    let mut all = vec!["find", "--config", file];
    all.extend_from_slice(args);
    launch_in(home, &all, &[])
}

fn find_json(home: &Path, args: &[&str], env: &[(&str, &Path)]) -> serde_json::Value {
    let out = launch_in(home, args, env);
    crate::support::assert_ok(&out);
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn find_json_is_the_contract() {
    let (home, file) = home_with_file();
    let json_of = |args: &[&str]| {
        let mut all = vec!["find", "--json", "--config", &file];
        all.extend_from_slice(args);
        find_json(home.path(), &all, &[])
    };
    assert_eq!(
        json_of(&["cuda(mem=40GiB) | duration=4h & cuda(mem=20GiB) * 2"]),
        json!({"launcher": "gpu-fast", "type": "slurm", "alternative": 1,
               "options": {"partition": "fast", "time": "4:00:00", "gpus-per-node": 2}})
    );
    // The order of the options is the file's, then the derived ones.
    let out = find_in(
        home.path(),
        &file,
        &["--json", "duration=4h & cuda(mem=20GiB) * 2"],
    );
    assert!(
        text(&out.stdout)
            .contains(r#""options":{"partition":"fast","time":"4:00:00","gpus-per-node":2}"#),
        "{}",
        text(&out.stdout)
    );
    // Other types: no options; a dynamic entry: its name, its members that match.
    assert_eq!(
        json_of(&["cpu(cores=20)"]),
        json!({"launcher": "gpu-fast", "type": "slurm", "alternative": 0,
               "options": {"partition": "fast", "cpus-per-task": 20}})
    );
    assert_eq!(
        json_of(&["--tag", "any", "duration=200h & cuda(mem=8GiB)"]),
        json!({"launcher": "any-gpu", "type": "dynamic", "alternative": 0,
               "options": {}, "members": ["workstation"]})
    );
    let found = json_of(&["--tag", "nope", "--tag", "gpu", "cpu()"]);
    assert_eq!(found["launcher"], "gpu-fast");
}

#[test]
fn find_in_words_and_explained() {
    let (home, file) = home_with_file();
    let out = find_in(
        home.path(),
        &file,
        &[
            "--explain",
            "cuda(mem=40GiB) | duration=200h & cuda(mem=8GiB)",
        ],
    );
    assert_prints(
        &out,
        &[
            "launcher: workstation (direct on this machine)",
            "alternative 1: duration=200h & cuda(mem=8GiB)",
            "alternative 0 (cuda(mem=40GiB)):",
            "  gpu-fast: asks for 1 cuda accelerator of 40GiB, the host has 8 cuda accelerators of 24GiB, none of which can serve it",
            "  gpu-fast: asks for 200h, the host allows at most 100h",
            "  workstation: chosen",
            "  any-gpu: matches, but `workstation` comes first (same priority 0, earlier in the file)",
        ],
    );
    let out = find_in(home.path(), &file, &["duration=1h & cuda(mem=8GiB)"]);
    assert_says(
        &text(&out.stdout),
        &[
            "sbatch options: --partition=fast --time=1:00:00 --gpus-per-node=1",
            "slurm on cluster: ssh login.example.org:22",
        ],
    );
}

#[test]
fn nothing_matches_exit_1_with_the_reasons() {
    let (home, file) = home_with_file();
    let out = find_in(home.path(), &file, &["cuda(mem=80GiB) * 2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_says(
        &text(&out.stderr),
        &[
            "no launcher matches `cuda(mem=80GiB) * 2`",
            "workstation: asks for 2 cuda accelerators of 80GiB, the host has 2 cuda accelerators of 12GiB",
        ],
    );
    let out = find_in(home.path(), &file, &["--json", "--tag", "x", "cpu()"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["launcher"], serde_json::Value::Null);
    assert_eq!(
        json["explanation"]["alternatives"][0]["entries"][1]["verdict"],
        "not eligible: it has no tags, and tags were asked for"
    );
}

#[test]
fn bad_input_exit_2_naming_the_place() {
    let (home, file) = home_with_file();
    let out = find_in(home.path(), &file, &["cuda(mem=8"]);
    assert_eq!(out.status.code(), Some(2));
    let bad = write(
        home.path(),
        "bad.toml",
        "[[launcher]]\nname = \"a\"\ntype = \"direct\"\nconnector = \"nowhere\"\nhost = { cores = 1, memory = 1 }\n",
    );
    for cmd in ["find", "check"] {
        let mut args = vec![cmd, "--config", bad.to_str().unwrap()];
        if cmd == "find" {
            args.push("cpu()");
        }
        let out = launch_in(home.path(), &args, &[]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "{}:4:13: launcher[0].connector: no connector is named `nowhere`",
                bad.display()
            )),
            "{cmd}: {stderr}"
        );
    }
}

#[test]
fn discovery_from_the_command_line() {
    let home = tempfile::tempdir().unwrap();
    let one = |name: &str| {
        format!(
            "[[launcher]]\nname = \"{name}\"\ntype = \"direct\"\nhost = {{ cores = 1, memory = \"1GiB\" }}\n"
        )
    };
    let flag = write(home.path(), "flag.toml", &one("from-flag"));
    let env = write(home.path(), "env.toml", &one("from-env"));
    let name = |args: &[&str], env: &[(&str, &Path)]| -> String {
        let mut all = vec!["find", "--json"];
        all.extend_from_slice(args);
        all.push("cpu()");
        find_json(home.path(), &all, env)["launcher"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Nothing: this machine.
    assert_eq!(name(&[], &[]), "local");
    // The XDG path.
    write(
        home.path(),
        "config/launch/launchers.toml",
        &one("from-xdg"),
    );
    assert_eq!(name(&[], &[]), "from-xdg");
    // $LAUNCH_CONFIG before it, --config before both.
    assert_eq!(name(&[], &[("LAUNCH_CONFIG", &env)]), "from-env");
    assert_eq!(
        name(
            &["--config", flag.to_str().unwrap()],
            &[("LAUNCH_CONFIG", &env)]
        ),
        "from-flag"
    );
    // A named file that is missing is an error, not the next in line.
    let missing = home.path().join("missing.toml");
    let out = launch_in(
        home.path(),
        &["find", "cpu()"],
        &[("LAUNCH_CONFIG", &missing)],
    );
    crate::support::assert_fails(&out, 2, "(named by $LAUNCH_CONFIG)");
}

#[test]
fn check_prints_what_a_file_defines() {
    let (home, file) = home_with_file();
    let out = launch_in(home.path(), &["check", "--config", &file], &[]);
    assert_prints(
        &out,
        &[
            "1 connector(s) besides `local`, 3 launcher(s)",
            "connector cluster: ssh login.example.org:22, host keys strict",
            "launcher gpu-fast (line 7): slurm, priority 10, tags gpu, on cluster: 32 cores, 128GiB, 8 cuda 24GiB (A5000), at most 100h; sbatch --partition=fast",
            "launcher workstation (line 17): direct, priority 0, on local: 16 cores, 64GiB, 2 cuda 12GiB",
            "launcher any-gpu (line 22): dynamic, priority 0, tags any, picks among gpu-fast, workstation (highest priority first)",
        ],
    );
    let out = launch_in(home.path(), &["check"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).starts_with("no launcher file (no --config, no $LAUNCH_CONFIG, no "),
        "{}",
        text(&out.stdout)
    );
}

/// What `launch run` would refuse, `check` and `find` refuse at load, the
/// same way (exit 2): an option value with a line break, a launcher named
/// `..`; control characters of a name are printed escaped.
#[test]
fn check_and_find_refuse_at_load_what_run_would() {
    let home = tempfile::tempdir().unwrap();
    let entry = |name: &str, rest: &str| {
        format!(
            "[[launcher]]\nname = \"{name}\"\ntype = \"slurm\"\nhost = {{ cores = 1, memory = \"1GiB\" }}\n{rest}"
        )
    };
    let cases = [
        (
            "nl.toml",
            entry("s", "slurm = { comment = \"x\\n#SBATCH --uid=0\" }\n"),
            "nl.toml:5:21: launcher[0].slurm.comment: a value cannot hold a line break or a NUL byte",
        ),
        (
            "dots.toml",
            entry("..", ""),
            "launcher[0].name: `..` is not a valid name",
        ),
        (
            "ctl.toml",
            entry("a\\u0000b\\nc\\u202Ed", ""),
            "`a\\0b\\nc\\u{202e}d` is not a valid name",
        ),
    ];
    for (name, body, says) in cases {
        let file = write(home.path(), name, &body);
        let file = file.to_str().unwrap();
        for args in [
            vec!["check", "--config", file],
            vec!["find", "--config", file, "cpu()"],
        ] {
            let out = launch_in(home.path(), &args, &[]);
            crate::support::assert_fails(&out, 2, says);
            let err = text(&out.stderr);
            assert!(
                !err.trim_end()
                    .chars()
                    .any(|c| c.is_control() || c == '\u{202E}'),
                "{err:?}"
            );
        }
    }
}

/// A queue-aware entry (`choose = "earliest-start"`): `find --explain`
/// and `run`'s first line show each member's expected start and why the
/// chosen one won; a member that cannot be asked (here a Slurm member
/// without Slurm's commands) is skipped with a warning (snapshot).
#[test]
fn queue_aware_entries_explain_each_members_start() {
    let home = tempfile::tempdir().unwrap();
    let file = write(
        home.path(),
        "q.toml",
        &format!(
            r#"
[[launcher]]
name = "ws"
type = "direct"
priority = 1
ledger = "{}"
host = {{ cores = 2, memory = "1GiB" }}

[[launcher]]
name = "cluster"
type = "slurm"
priority = 5
host = {{ cores = 2, memory = "1GiB" }}
slurm = {{ partition = "gpu" }}

[[launcher]]
name = "queue-aware"
type = "dynamic"
priority = 100
members = ["ws", "cluster"]
choose = "earliest-start"
refresh = "1m"
"#,
            home.path().join("ledger").display()
        ),
    );
    let file = file.display().to_string();
    let nobin = home.path().join("no-slurm");
    let env = [("LAUNCH_SLURM_BIN", nobin.as_path())];
    let out = launch_in(
        home.path(),
        &["find", "--explain", "--config", &file, "cpu(cores=1)"],
        &env,
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = text(&out.stdout);
    let (_, rest) = stdout
        .split_once("\nexpected starts")
        .unwrap_or_else(|| panic!("{stdout}"));
    let explained = format!("expected starts{rest}");
    let stderr = text(&out.stderr);
    let run = launch_in(
        home.path(),
        &["run", "--config", &file, "cpu(cores=1)", "--", "true"],
        &env,
    );
    assert!(run.status.success(), "{run:?}");
    let run_err = text(&run.stderr);
    let first = run_err
        .lines()
        .find(|l| l.starts_with("launch: launcher"))
        .unwrap_or_default();
    let home_text = home.path().display().to_string();
    let all = format!("{explained}--- stderr ---\n{stderr}--- run ---\n{first}\n");
    insta::assert_snapshot!("queue_aware", all.replace(&home_text, "[HOME]"));
}
