//! `list`, `logs`, `wait` and arrays of jobs on a machine reached over SSH
//! (the test sshd), through the binary.

use crate::cli_find::launch_in;
use crate::jobs::{counting_task, most_at_once};
use crate::ssh::{detach, ssh_home};
use crate::support::{assert_ok, json_lines, stderr, stdout};

#[test]
fn list_logs_and_wait_of_remote_jobs() {
    let Some((home, file, prefix)) = ssh_home() else {
        return;
    };
    let (home, file) = (home.path(), file.as_str());
    let dir = home.join("jobs/remote").display().to_string();
    let address = detach(
        home,
        file,
        &dir,
        &[
            "sh",
            "-c",
            "echo one; sleep 1; echo two; echo bad >&2; exit 5",
        ],
    );
    assert!(address.starts_with("ssh://"), "{address}");
    assert_eq!(address, format!("{prefix}{dir}"));
    let follow = launch_in(home, &["logs", "--config", file, "--follow", &address], &[]);
    assert_eq!(follow.status.code(), Some(5), "{}", stderr(&follow));
    assert_eq!(stdout(&follow), "one\ntwo\n");
    let tail = launch_in(
        home,
        &[
            "logs", "--config", file, "--tail", "1", "--stderr", &address,
        ],
        &[],
    );
    assert_ok(&tail);
    assert_eq!(stdout(&tail), "bad\n");
    let wait = launch_in(home, &["wait", "--config", file, &address], &[]);
    assert_eq!(wait.status.code(), Some(1));
    assert_eq!(
        stderr(&wait),
        format!("launch: {dir}: failed (exit code 5)\n")
    );
    // The index holds it: `list` finds it on its machine.
    let list = launch_in(home, &["list", "--config", file, "--json"], &[]);
    assert_ok(&list);
    let rows = json_lines(&list);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["dir"], address.as_str());
    assert_eq!(rows[0]["name"], "sh");
    assert_eq!(rows[0]["state"], "failed");
    assert_eq!(rows[0]["exit_code"], 5);
    assert!(rows[0]["submitted"].is_string(), "{}", rows[0]);
}

#[test]
fn an_array_over_ssh() {
    let Some((home, file, prefix)) = ssh_home() else {
        return;
    };
    let (home, file) = (home.path(), file.as_str());
    let work = home.join("work");
    let task = counting_task(&work);
    let dir = home.join("jobs/sweep").display().to_string();
    let out = launch_in(
        home,
        &[
            "run",
            "--config",
            file,
            "--array",
            "1-5%2",
            "--job-dir",
            &dir,
            "cpu(cores=1)",
            "--",
            "sh",
            "-c",
            &task,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("4 done, 1 failed"),
        "{}",
        stderr(&out)
    );
    assert!(most_at_once(&work) <= 2, "%2 exceeded");
    let address = format!("{prefix}{dir}");
    let status = launch_in(home, &["status", "--config", file, "--json", &address], &[]);
    assert_ok(&status);
    let line = &json_lines(&status)[0];
    assert_eq!(line["tasks"]["done"], 4, "{line}");
    assert_eq!(line["tasks"]["failed"], 1, "{line}");
    let logs = launch_in(
        home,
        &["logs", "--config", file, &format!("{address}/3")],
        &[],
    );
    assert_eq!(stdout(&logs), "task 3\n", "{}", stderr(&logs));
    let list = launch_in(home, &["list", "--config", file, "--json"], &[]);
    assert_ok(&list);
    let rows = json_lines(&list);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["dir"], address.as_str());
    assert_eq!(rows[0]["tasks"]["failed"], 1);
}
