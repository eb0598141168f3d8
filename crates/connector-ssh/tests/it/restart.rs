//! A broken session is re-opened, and what ran on it is followed to its
//! end: sshd (the server and every connection) killed and restarted while
//! jobs run.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use connector_ssh::SshConnector;
use core_types::HostSpec;
use core_types::job::{Connector, FailReason, Job, JobState, Launcher, ProcessSpec, StdioSpec};
use launcher_direct::DirectLauncher;

use crate::support::{self, OwnSshd, eventually, server};

#[test]
fn sshd_restarted_while_jobs_run() {
    let Some(server) = server() else { return };
    let sshd = OwnSshd::start(&server);
    // A short window for re-opening the session: the outage below is
    // longer, and the jobs are still followed to their end.
    let ssh = Arc::new(
        SshConnector::new(sshd.config().reconnect_timeout(Duration::from_millis(300))).unwrap(),
    );
    let dir = support::tempdir();
    let gate = dir.path().join("gate");
    let gate_word = gate.to_str().unwrap().to_owned();
    let wait_for_gate = "while [ ! -e \"$0\" ]; do sleep 0.05; done";

    // A direct launcher's job, and a process whose output comes back on
    // its channel; both wait for the gate.
    let host = HostSpec {
        cores: 2,
        ..HostSpec::default()
    };
    let launcher = DirectLauncher::new(Arc::clone(&ssh) as Arc<dyn Connector>, host).unwrap();
    let job = launcher
        .submit(Job::new(
            dir.path().join("job"),
            ["sh", "-c", &format!("{wait_for_gate}; exit 7"), &gate_word],
        ))
        .unwrap();
    let mut piped = ssh
        .spawn(
            &ProcessSpec::new("sh")
                .args(["-c", &format!("echo started; {wait_for_gate}"), &gate_word])
                .stdio(StdioSpec::Null, StdioSpec::Pipe, StdioSpec::Null),
        )
        .unwrap();
    let mut output = piped.take_stdout().unwrap();
    let mut first = [0u8; 8];
    output.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"started\n");
    eventually("the job runs", || dir.path().join("job/pid").exists());
    assert_eq!(ssh.sessions_opened(), 1);

    // Another connector (a session of its own), with the default window.
    let patient = SshConnector::new(sshd.config()).unwrap();
    patient.connect().unwrap();

    sshd.kill();
    // Operations made while the server is down wait for it to come back,
    // within their connector's window for re-opening.
    let waiting = {
        let dir = dir.path().to_path_buf();
        std::thread::spawn(move || patient.exists(&dir))
    };
    std::thread::sleep(Duration::from_millis(1500));
    sshd.restart();
    assert!(
        waiting.join().unwrap().unwrap(),
        "an operation made while sshd was down"
    );
    ssh.write_file(&gate, b"").unwrap();

    // The job is followed to its end on the new session.
    assert_eq!(
        job.wait().unwrap(),
        JobState::Failed(FailReason::ExitCode(7))
    );
    // The channel's stream went with the old session; the process itself
    // is followed by its pid.
    let err = output.read_to_end(&mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("broke"), "{err}");
    let exit = piped.wait().unwrap();
    assert_eq!(
        (exit.code, exit.signal),
        (None, None),
        "ended, status unknown"
    );
    assert!(ssh.sessions_opened() >= 2, "{}", ssh.sessions_opened());
    assert_eq!(
        ssh.run(&ProcessSpec::new("echo").args(["again"]))
            .unwrap()
            .stdout,
        b"again\n"
    );
    let log = sshd.log();
    assert!(log.contains("Accepted publickey"), "{log}");
}
