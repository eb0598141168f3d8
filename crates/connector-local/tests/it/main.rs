//! Integration tests of the local connector: real processes, real files.

use std::ffi::OsString;

use connector_local::LocalConnector;
use core_types::job::{Connector, ProcessSpec, Signal, SignalTarget, StdioSpec};

/// Field `index` (1-based, as in proc(5)) of `/proc/PID/stat`.
fn stat_field(pid: u32, index: usize) -> i64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split(' ').nth(index - 3).unwrap().parse().unwrap()
}

#[test]
fn arguments_reach_the_program_verbatim() {
    let weird = test_support::spec::hostile_words();
    let out = LocalConnector::new()
        .run(
            &ProcessSpec::new("printf")
                .args(["%s\\0"])
                .args(weird.clone()),
        )
        .unwrap();
    assert_eq!(out.stdout, test_support::spec::nul_terminated(&weird));
    assert!(!std::path::Path::new("/tmp/connector-ssh-pwned").exists());
}

#[test]
fn attached_processes_lead_their_own_group() {
    let local = LocalConnector::new();
    let mut p = local
        .spawn(&ProcessSpec::new("sleep").args(["30"]))
        .unwrap();
    let pid = p.id().unwrap();
    assert_eq!(stat_field(pid, 5), i64::from(pid), "pgrp");
    assert!(
        local
            .signal(SignalTarget::Group(pid), Signal::Term)
            .unwrap()
    );
    let exit = p.wait().unwrap();
    assert_eq!(exit.signal, Some(15));
    assert!(
        !local
            .signal(SignalTarget::Group(pid), Signal::Term)
            .unwrap()
    );
}

#[test]
fn detached_processes_lead_their_own_session() {
    let local = LocalConnector::new();
    let mut p = local
        .spawn(&ProcessSpec::new("sleep").args(["30"]).detached(true))
        .unwrap();
    let pid = p.id().unwrap();
    // The pid becomes the program's own once `setsid` has exec'd it (it
    // does not fork, so the process never becomes anything else).
    let mut comm = String::new();
    for _ in 0..500 {
        comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
        if comm.trim() == "sleep" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(comm.trim(), "sleep");
    assert_eq!(stat_field(pid, 6), i64::from(pid), "session");
    local
        .signal(SignalTarget::Process(pid), Signal::Kill)
        .unwrap();
    assert_eq!(p.wait().unwrap().signal, Some(9));
}

#[test]
fn pipes_files_env_and_cwd() {
    let dir = tempfile::tempdir().unwrap();
    let canonical = dir.path().canonicalize().unwrap();
    test_support::pipes_files_env_and_cwd(&LocalConnector::new(), dir.path(), &canonical);
}

#[test]
fn private_files() {
    let dir = tempfile::tempdir().unwrap();
    test_support::private_files(&LocalConnector::new(), dir.path());
}

#[test]
fn failures_carry_code_and_output() {
    let local = LocalConnector::new();
    let err = local
        .run(&ProcessSpec::new("sh").args(["-c", "echo out; echo bad >&2; exit 7"]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("exit code 7"), "{err}");
    assert!(err.contains("out") && err.contains("bad"), "{err}");
    let err = local
        .run(&ProcessSpec::new("sh").args(["-c", "kill -9 $$"]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("killed by signal 9"), "{err}");
    let err = local
        .spawn(&ProcessSpec::new("/no/such/program-xyz"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/no/such/program-xyz"), "{err}");
    let err = local
        .spawn(&ProcessSpec::new("true").stdio(
            StdioSpec::File("/no/such/dir/in".into()),
            StdioSpec::Null,
            StdioSpec::Null,
        ))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/no/such/dir/in"), "{err}");
}

#[test]
fn programs_on_the_path_run_under_the_name_given() {
    use std::os::unix::fs::PermissionsExt;
    let local = LocalConnector::new();
    for _ in 0..2 {
        let out = local
            .run(&ProcessSpec::new("sh").args(["-c", "echo \"$0\""]))
            .unwrap();
        assert_eq!(out.stdout, b"sh\n");
    }
    // A spec that sets `PATH` is searched on it.
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("only-here");
    std::fs::write(&program, "#!/bin/sh\necho here\n").unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = local
        .run(&ProcessSpec::new("only-here").env("PATH", dir.path()))
        .unwrap();
    assert_eq!(out.stdout, b"here\n");
    let err = local.run(&ProcessSpec::new("only-here")).unwrap_err();
    assert!(err.to_string().contains("only-here"), "{err}");
}

#[test]
fn file_operations() {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalConnector::new();
    let sub = dir.path().join("a/b/c");
    local.create_dir_all(&sub).unwrap();
    assert!(local.exists(&sub).unwrap());
    let file = sub.join("script.sh");
    local
        .write_file(&file, b"#!/bin/sh\necho ran $1\n")
        .unwrap();
    local
        .write_file(&file, b"#!/bin/sh\necho ran \"$1\"\n")
        .unwrap();
    local.set_executable(&file).unwrap();
    let out = local.run(&ProcessSpec::new(&file).args(["x y"])).unwrap();
    assert_eq!(out.stdout, b"ran x y\n");
    // Atomic writes leave no temporary file behind.
    let names: Vec<_> = std::fs::read_dir(&sub)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![OsString::from("script.sh")]);
    assert_eq!(local.read_file_from(&file, 10, 4).unwrap(), b"echo");
    assert_eq!(local.read_file_from(&file, 1000, 4).unwrap(), b"");
    let err = local.read_file(&sub.join("missing")).unwrap_err();
    assert!(err.is_not_found());
    assert!(err.to_string().contains("missing"), "{err}");
    local.remove(&dir.path().join("a")).unwrap();
    assert!(!local.exists(&sub).unwrap());
    local.remove(&dir.path().join("a")).unwrap();
}
