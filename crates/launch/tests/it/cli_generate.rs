//! `launch generate local`: a launcher file for this machine that the
//! other commands read back, never overwritten without `--force`.

use crate::cli_find::launch_in;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn generate_local_writes_a_file_the_finder_reads() {
    let home = tempfile::tempdir().unwrap();
    let out = launch_in(home.path(), &["generate", "local"], &[]);
    crate::support::assert_ok(&out);
    let printed = text(&out.stdout);
    assert!(printed.starts_with("# Launchers for `launch`"), "{printed}");
    assert!(printed.contains("[launcher.host]"), "{printed}");

    // The host it writes is the one `launch host` detects.
    let detected = launch_in(home.path(), &["host", "--json"], &[]);
    let detected: serde_json::Value = serde_json::from_slice(&detected.stdout).unwrap();
    let cores = detected["cores"].as_u64().unwrap();
    assert!(
        printed.contains(&format!("\ncores = {cores}\n")),
        "{printed}"
    );

    let file = home.path().join("new/dir/launchers.toml");
    let f = file.to_str().unwrap();
    let out = launch_in(home.path(), &["generate", "local", "-o", f], &[]);
    crate::support::assert_ok(&out);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), printed);

    let out = launch_in(home.path(), &["check", "--config", f], &[]);
    crate::support::assert_ok(&out);
    assert!(
        text(&out.stdout).contains("launcher local (line "),
        "{}",
        text(&out.stdout)
    );
    let out = launch_in(
        home.path(),
        &[
            "find",
            "--json",
            "--config",
            f,
            &format!("cpu(cores={cores})"),
        ],
        &[],
    );
    crate::support::assert_ok(&out);
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (found["launcher"].as_str(), found["type"].as_str()),
        (Some("local"), Some("direct"))
    );
    let out = launch_in(
        home.path(),
        &["find", "--config", f, &format!("cpu(cores={})", cores + 1)],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn generate_refuses_to_overwrite_without_force() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("launchers.toml");
    std::fs::write(&file, "# mine\n").unwrap();
    let f = file.to_str().unwrap();
    let out = launch_in(home.path(), &["generate", "local", "-o", f], &[]);
    crate::support::assert_fails(&out, 2, "pass --force");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "# mine\n");
    let out = launch_in(home.path(), &["generate", "local", "-o", f, "--force"], &[]);
    crate::support::assert_ok(&out);
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("[[launcher]]")
    );
    // --force means nothing without a file.
    let out = launch_in(home.path(), &["generate", "local", "--force"], &[]);
    assert_eq!(out.status.code(), Some(2));
}
