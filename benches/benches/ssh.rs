//! Short remote commands over the SSH connector's one reused session,
//! against `ssh` processes (a new connection, key exchange and login
//! each), on the test sshd of `cargo xtask sshd up`.
//!
//! `cargo xtask bench-ssh` starts that server and runs this bench. Without
//! it (`LAUNCH_TEST_SSH_DIR` unset) the bench says so and times nothing.
//! For each account (this process's user, and the test server's
//! unprivileged one) it first runs 100 commands each way once and prints
//! both times and their ratio (the target: at least 5 times faster), then
//! times one command each way with criterion.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use connector_ssh::{SshConfig, SshConnector};
use core_types::job::{Connector, ProcessSpec};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};

const COMMANDS: usize = 100;

/// The test server: its directory and port.
fn server() -> Option<(PathBuf, u16)> {
    let dir = PathBuf::from(std::env::var_os("LAUNCH_TEST_SSH_DIR")?);
    let port = std::fs::read_to_string(dir.join("port"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some((dir, port))
}

fn user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// One command over the connector's session; checks its output.
fn over_session(ssh: &SshConnector, i: usize) {
    let word = i.to_string();
    let out = ssh
        .run(&ProcessSpec::new("echo").args([&word]))
        .expect("a command over the session");
    assert_eq!(out.stdout, format!("{word}\n").as_bytes());
}

/// One command through an `ssh` process; checks its output.
fn over_process(ssh_args: &[String], i: usize) {
    let word = i.to_string();
    let out = Command::new("ssh")
        .args(ssh_args)
        .arg(format!("echo {word}"))
        .output()
        .expect("running ssh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, format!("{word}\n").as_bytes());
}

/// The test server's settings for `user`, with the test key.
fn settings(dir: &std::path::Path, port: u16, user: &str) -> SshConfig {
    SshConfig::new("127.0.0.1")
        .port(port)
        .user(user)
        .identity(dir.join("id_ed25519"))
        .known_hosts(dir.join("known_hosts"))
}

/// How long [`COMMANDS`] commands take over `connector`'s session, and
/// through as many `ssh` processes.
fn each_way(connector: &SshConnector, ssh_args: &[String]) -> (Duration, Duration) {
    let since = Instant::now();
    for i in 0..COMMANDS {
        over_session(connector, i);
    }
    let session = since.elapsed();
    let since = Instant::now();
    for i in 0..COMMANDS {
        over_process(ssh_args, i);
    }
    (session, since.elapsed())
}

/// Prints both times of [`each_way`] and their ratio: `what` is timed,
/// over one reused `reused`, against `program` processes.
fn report(what: &str, reused: &str, program: &str, (session, processes): (Duration, Duration)) {
    eprintln!(
        "ssh bench ({what}): {COMMANDS} commands over one reused {reused}: {:.3} s ({:.2} ms each); \
         {COMMANDS} {program} processes: {:.3} s ({:.2} ms each); {:.1} times faster",
        session.as_secs_f64(),
        session.as_secs_f64() * 1000.0 / COMMANDS as f64,
        processes.as_secs_f64(),
        processes.as_secs_f64() * 1000.0 / COMMANDS as f64,
        processes.as_secs_f64() / session.as_secs_f64()
    );
}

/// A criterion group of 10 samples, after a second's warm-up, over
/// `measurement`.
fn group(c: &mut Criterion, name: String, measurement: Duration) -> BenchmarkGroup<'_, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(measurement);
    group
}

/// Times one command a round, as `name`: `run` runs it, with a new number
/// each time.
fn bench_commands(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    mut run: impl FnMut(usize),
) {
    let mut i = 0;
    group.bench_function(name, |b| {
        b.iter(|| {
            i += 1;
            run(i);
        });
    });
}

/// The accounts to time: this process's user, and the test server's
/// unprivileged account when it exists (the system's default shell
/// start-up files, as for most users of a login node; root's on this
/// machine image start pyenv, ~100 ms on every command, both ways).
fn accounts() -> Vec<String> {
    let mut users = vec![user()];
    let test_user = "launch-ssh-test";
    let exists = Command::new("id")
        .arg(test_user)
        .output()
        .is_ok_and(|o| o.status.success());
    if exists && users[0] != test_user {
        users.push(test_user.to_owned());
    }
    users
}

fn ssh(c: &mut Criterion) {
    let Some((dir, port)) = server() else {
        eprintln!(
            "ssh bench: LAUNCH_TEST_SSH_DIR is not set, so there is no server to time against; \
             `cargo xtask bench-ssh` starts the test sshd and runs this bench. Nothing timed."
        );
        return;
    };
    for user in accounts() {
        account(c, &dir, port, &user);
    }
    match std::fs::read_to_string(dir.join("bastion_port"))
        .ok()
        .and_then(|p| p.trim().parse::<u16>().ok())
    {
        Some(bastion) => proxy_jump(c, &dir, port, bastion, &user()),
        None => eprintln!("ssh bench: the test sshd has no bastion; ProxyJump not timed"),
    }
}

/// Over `ProxyJump`: 100 commands on one reused connection (a session to
/// the bastion, one to the target through it) against 100 `ssh -J`
/// processes (two connections, key exchanges and logins each).
fn proxy_jump(c: &mut Criterion, dir: &std::path::Path, port: u16, bastion: u16, user: &str) {
    let (key, known_hosts) = (dir.join("id_ed25519"), dir.join("known_hosts"));
    let connector = SshConnector::new(
        settings(dir, port, user)
            .ssh_config(connector_ssh::ConfigFiles::None)
            .proxy_jump(format!("{user}@127.0.0.1:{bastion}")),
    )
    .expect("settings");
    connector.connect().expect("through the bastion");
    let config = dir.join("bench_ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n  BatchMode yes\n  GSSAPIAuthentication no\n",
            key.display(),
            known_hosts.display()
        ),
    )
    .expect("writing the bench's ssh config");
    let ssh_args: Vec<String> = vec![
        "-F".into(),
        config.display().to_string(),
        "-J".into(),
        format!("{user}@127.0.0.1:{bastion}"),
        "-p".into(),
        port.to_string(),
        format!("{user}@127.0.0.1"),
    ];
    let times = each_way(&connector, &ssh_args);
    assert_eq!(connector.sessions_opened(), 1, "one session for all");
    assert_eq!(connector.hops_open(), 1, "one bastion session for all");
    report(&format!("ProxyJump, {user}"), "connection", "ssh -J", times);
    let mut group = group(c, format!("ssh-jump/{user}"), Duration::from_secs(3));
    bench_commands(&mut group, "command_through_bastion_reused", |i| {
        over_session(&connector, i);
    });
    group.finish();
}

fn account(c: &mut Criterion, dir: &std::path::Path, port: u16, user: &str) {
    let (key, known_hosts) = (dir.join("id_ed25519"), dir.join("known_hosts"));
    let connector = SshConnector::new(settings(dir, port, user)).expect("settings");
    connector.connect().expect("the test sshd lets us in");
    let ssh_args: Vec<String> = [
        "-p",
        &port.to_string(),
        "-i",
        &key.display().to_string(),
        "-o",
        &format!("UserKnownHostsFile={}", known_hosts.display()),
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "GSSAPIAuthentication=no",
        &format!("{user}@127.0.0.1"),
    ]
    .iter()
    .map(ToString::to_string)
    .collect();

    // The 100-command figures, once each way.
    let times = each_way(&connector, &ssh_args);
    assert_eq!(connector.sessions_opened(), 1, "one session for all");
    report(user, "session", "ssh", times);

    let mut group = group(c, format!("ssh/{user}"), Duration::from_secs(10));
    bench_commands(&mut group, "command_over_reused_session", |i| {
        over_session(&connector, i);
    });
    bench_commands(&mut group, "command_through_ssh_process", |i| {
        over_process(&ssh_args, i);
    });
    group.finish();
}

criterion_group!(benches, ssh);
criterion_main!(benches);
