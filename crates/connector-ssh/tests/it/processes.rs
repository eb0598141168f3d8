//! Processes over SSH: exit codes, output, hostile arguments, pipes,
//! process groups, signals, one session for everything.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::OsStringExt;

use core_types::job::{Connector, ConnectorError, ProcessSpec, Signal, SignalTarget, StdioSpec};

use test_support::spec::{nul_terminated, printf_words, sh_with_stdout};

use crate::support::{self, server};

/// Field `index` (1-based, as in proc(5)) of a `/proc/PID/stat` line.
fn stat_field(stat: &[u8], index: usize) -> i64 {
    let stat = String::from_utf8_lossy(stat);
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split(' ').nth(index - 3).unwrap().parse().unwrap()
}

#[test]
fn exit_codes_stdout_and_stderr() {
    let Some(server) = server() else { return };
    let ssh = server.connector();
    let out = ssh
        .run(&ProcessSpec::new("sh").args(["-c", "echo out; echo err >&2"]))
        .unwrap();
    assert_eq!(
        (out.stdout.as_slice(), out.stderr.as_slice()),
        (&b"out\n"[..], &b"err\n"[..])
    );
    assert!(out.exit.success());
    let err = ssh
        .run(&ProcessSpec::new("sh").args(["-c", "echo partial; echo bad >&2; exit 7"]))
        .unwrap_err();
    match &err {
        ConnectorError::Failed {
            status,
            stdout,
            stderr,
            ..
        } => {
            assert_eq!(status, "exit code 7");
            assert_eq!((stdout.as_str(), stderr.as_str()), ("partial\n", "bad\n"));
        }
        other => panic!("not a failure with output: {other:?}"),
    }
    let err = ssh
        .run(&ProcessSpec::new("sh").args(["-c", "kill -9 $$"]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("killed by signal 9"), "{err}");
}

#[test]
fn hostile_arguments_arrive_verbatim() {
    let Some(server) = server() else { return };
    let words = test_support::spec::hostile_words();
    let spec = printf_words(&words)
        .env("HOSTILE", "$(id) 'x' \"y\" \\z\n")
        .env("RAW", OsString::from_vec(b"\x01\x7f\xc3\x28".to_vec()));
    let out = server.connector().run(&spec).unwrap();
    assert_eq!(out.stdout, nul_terminated(&words));
    assert!(!std::path::Path::new("/tmp/connector-ssh-pwned").exists());

    // Environment values too, without the server's AcceptEnv.
    let out = server
        .connector()
        .run(
            &ProcessSpec::new("sh")
                .args(["-c", "printf '%s' \"$HOSTILE\""])
                .env("HOSTILE", "$(id) 'x' \"y\" \\z\n")
                .env("BYTES", OsString::from_vec(b"\xff".to_vec())),
        )
        .unwrap();
    assert_eq!(out.stdout, b"$(id) 'x' \"y\" \\z\n");
}

#[test]
fn pipes_files_env_and_cwd() {
    let Some((ssh, dir)) = support::connector_and_dir() else {
        return;
    };
    test_support::pipes_files_env_and_cwd(&ssh, dir.path(), dir.path());
    let private = support::tempdir();
    test_support::private_files(&ssh, private.path());

    // A lot of output through a pipe, and an exit status after it.
    let mut p = ssh
        .spawn(&sh_with_stdout(
            "head -c 3000000 /dev/zero; exit 3",
            StdioSpec::Pipe,
        ))
        .unwrap();
    let mut all = Vec::new();
    p.take_stdout().unwrap().read_to_end(&mut all).unwrap();
    assert_eq!(all.len(), 3_000_000);
    assert_eq!(p.wait().unwrap().code, Some(3));
}

#[test]
fn quiet_processes_lead_their_group_and_report_their_exit() {
    let Some((ssh, dir)) = support::connector_and_dir() else {
        return;
    };
    // No stream goes to the caller: a watcher waits for it remotely.
    let log = StdioSpec::File(dir.path().join("log"));
    let mut p = ssh
        .spawn(&sh_with_stdout("echo to-file; exit 5", log))
        .unwrap();
    assert_eq!(p.wait().unwrap().code, Some(5));
    assert_eq!(std::fs::read(dir.path().join("log")).unwrap(), b"to-file\n");

    let mut p = ssh.spawn(&ProcessSpec::new("sleep").args(["30"])).unwrap();
    let pid = p.id().unwrap();
    let stat = ssh.read_file(format!("/proc/{pid}/stat").as_ref()).unwrap();
    assert_eq!(stat_field(&stat, 5), i64::from(pid), "process group");
    assert!(p.try_wait().unwrap().is_none());
    assert!(ssh.signal(SignalTarget::Group(pid), Signal::Term).unwrap());
    let exit = p.wait().unwrap();
    assert_eq!((exit.code, exit.signal), (None, Some(15)));
    assert!(!ssh.signal(SignalTarget::Group(pid), Signal::Term).unwrap());
    assert!(
        !ssh.signal(SignalTarget::Process(pid), Signal::Kill)
            .unwrap()
    );
    let err = ssh
        .signal(SignalTarget::Group(1), Signal::Kill)
        .unwrap_err();
    assert!(err.to_string().contains("refusing"), "{err}");
}

#[test]
fn detached_processes_lead_their_own_session() {
    let Some(server) = server() else { return };
    let ssh = server.connector();
    let mut p = ssh
        .spawn(&ProcessSpec::new("sleep").args(["30"]).detached(true))
        .unwrap();
    let pid = p.id().unwrap();
    let stat = ssh.read_file(format!("/proc/{pid}/stat").as_ref()).unwrap();
    assert_eq!(stat_field(&stat, 6), i64::from(pid), "session");
    assert!(p.try_wait().unwrap().is_none());
    assert!(
        ssh.signal(SignalTarget::Process(pid), Signal::Kill)
            .unwrap()
    );
    // Its exit status stays on the remote machine: it ended, that is all.
    let exit = p.wait().unwrap();
    assert_eq!((exit.code, exit.signal), (None, None));
}

#[test]
fn start_failures_say_what_is_wrong() {
    let Some((ssh, dir)) = support::connector_and_dir() else {
        return;
    };
    let cases: Vec<(ProcessSpec, &str)> = vec![
        (ProcessSpec::new("no-such-program-xyz"), "no such program"),
        (ProcessSpec::new("/no/such/program-xyz"), "no such program"),
        (ProcessSpec::new(dir.path()), "not an executable"),
        (
            ProcessSpec::new("true").cwd("/no/such/dir"),
            "cannot change to directory `/no/such/dir`",
        ),
        (
            ProcessSpec::new("true").stdio(
                StdioSpec::File("/no/such/dir/in".into()),
                StdioSpec::Null,
                StdioSpec::Null,
            ),
            "cannot open for input `/no/such/dir/in`",
        ),
        (
            ProcessSpec::new("true").stdio(
                StdioSpec::Null,
                StdioSpec::File("/no/such/dir/out".into()),
                StdioSpec::Null,
            ),
            "cannot create for output `/no/such/dir/out`",
        ),
        (ProcessSpec::new("true").env("BAD-NAME", "x"), "BAD-NAME"),
        (ProcessSpec::new("echo").args(["a\0b"]), "NUL"),
    ];
    for (spec, needle) in cases {
        let spawned = support::chain(&ssh.spawn(&spec).map(|_| ()).unwrap_err());
        assert!(
            spawned.contains(needle),
            "{}: {spawned}",
            spec.display_command()
        );
        // `run` captures the output whatever the spec says.
        if !matches!(spec.stdout, StdioSpec::File(_)) {
            let ran = support::chain(&ssh.run(&spec).unwrap_err());
            assert!(ran.contains(needle), "{}: {ran}", spec.display_command());
        }
    }
    let err = ssh
        .spawn(&ProcessSpec::new("no-such-program-xyz"))
        .unwrap_err();
    match err {
        ConnectorError::Spawn { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn one_session_for_every_thread() {
    let Some(server) = server() else { return };
    // A connector of its own (settings no other test uses), so that the
    // session count is this test's.
    let ssh = connector_ssh::SshConnector::new(
        server
            .config()
            .keepalive(std::time::Duration::from_secs(29)),
    )
    .unwrap();
    let dir = support::tempdir();
    std::thread::scope(|s| {
        for t in 0..6 {
            let ssh = &ssh;
            let dir = dir.path();
            s.spawn(move || {
                for i in 0..15 {
                    let word = format!("thread {t} round {i}");
                    let out = ssh.run(&ProcessSpec::new("echo").args([&word])).unwrap();
                    assert_eq!(out.stdout, format!("{word}\n").as_bytes());
                    let file = dir.join(format!("{t}-{i}"));
                    ssh.write_file(&file, word.as_bytes()).unwrap();
                    assert_eq!(ssh.read_file(&file).unwrap(), word.as_bytes());
                }
                // A slow command does not hold up the others.
                let mut p = ssh
                    .spawn(&sh_with_stdout("sleep 0.3; echo slow", StdioSpec::Pipe))
                    .unwrap();
                let mut out = String::new();
                p.take_stdout().unwrap().read_to_string(&mut out).unwrap();
                assert_eq!(out, "slow\n");
                assert!(p.wait().unwrap().success());
            });
        }
    });
    assert_eq!(ssh.sessions_opened(), 1);
}

#[test]
fn long_quiet_processes_hold_no_channel() {
    // sshd allows 10 sessions per connection (MaxSessions): jobs whose
    // output goes to files must not hold one each while they run.
    let Some((ssh, dir)) = support::connector_and_dir() else {
        return;
    };
    let gate = dir.path().join("gate");
    let mut running: Vec<_> = (0..15)
        .map(|i| {
            ssh.spawn(
                &ProcessSpec::new("sh")
                    .args([
                        "-c",
                        "while [ ! -e \"$0\" ]; do sleep 0.05; done; exit \"$1\"",
                        gate.to_str().unwrap(),
                        &i.to_string(),
                    ])
                    .stdio(
                        StdioSpec::Null,
                        StdioSpec::File(dir.path().join(format!("out-{i}"))),
                        StdioSpec::Null,
                    ),
            )
            .unwrap()
        })
        .collect();
    for p in &mut running {
        assert!(p.try_wait().unwrap().is_none());
    }
    ssh.write_file(&gate, b"").unwrap();
    for (i, p) in running.iter_mut().enumerate() {
        assert_eq!(p.wait().unwrap().code, Some(i32::try_from(i).unwrap()));
    }
}

#[test]
fn the_openssh_transport_keeps_the_connector_contract() {
    let Some(server) = support::server() else {
        return;
    };
    let ssh = connector_ssh::SshConnector::new(
        server
            .config()
            .ssh_config(connector_ssh::ConfigFiles::None)
            .transport(connector_ssh::Transport::OpenSsh),
    )
    .unwrap();
    let dir = support::tempdir();
    test_support::pipes_files_env_and_cwd(&ssh, dir.path(), dir.path());
    let dir = support::tempdir();
    test_support::private_files(&ssh, dir.path());
    // The master goes with its connector (the test sshd runs here: the
    // remote shell's parent is the sshd process of the master's
    // connection), not `ControlPersist` minutes later.
    let out = ssh
        .run(&ProcessSpec::new("sh").args(["-c", "echo $PPID"]))
        .unwrap();
    let session: u32 = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let live = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| !s[s.rfind(')').unwrap() + 2..].starts_with('Z'))
    };
    assert!(live(session), "the session of the master runs");
    drop(ssh);
    test_support::eventually("the master's connection is closed", || !live(session));
}
