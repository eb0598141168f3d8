//! `launch cancel` signals only the job's own processes: a `pid` file that
//! names another process group, with its true start time, gets nothing
//! killed and a clear error; locally and over SSH.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::cli_find::launch_in;
use crate::ssh::ssh_home;

/// Runs a job in `dir` (with the launcher file `config`, when given), then
/// forges its `pid` file to name an unrelated process group: `launch
/// cancel ADDRESS` fails clearly and the group survives.
fn forged_pid_file_is_refused(home: &Path, config: Option<&str>, dir: &Path, address: &str) {
    let dir_s = dir.to_str().unwrap();
    let with_config = |args: &[&str]| {
        let mut all = vec![args[0]];
        if let Some(file) = config {
            all.extend(["--config", file]);
        }
        all.extend(&args[1..]);
        launch_in(home, &all, &[])
    };
    let out = with_config(&["run", "--job-dir", dir_s, "cpu()", "--", "true"]);
    crate::support::assert_ok(&out);
    // An unrelated process group, and a `pid` file that names it as the
    // job's supervisor, with its true `/proc` stat line and boot id.
    let mut victim = Command::new("sleep")
        .arg("300")
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = victim.id();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    std::fs::remove_file(dir.join("state")).unwrap();
    std::fs::write(
        dir.join("pid"),
        format!(
            "pid {pid}\nboot {}\nstat {}\nend\n",
            boot.trim(),
            stat.trim()
        ),
    )
    .unwrap();
    let out = with_config(&["cancel", address]);
    let alive = victim.try_wait().unwrap().is_none();
    let _ = victim.kill();
    let _ = victim.wait();
    crate::support::assert_fails(
        &out,
        2,
        format!("process {pid}, which its `pid` file names, is not this job's"),
    );
    assert!(alive, "the unrelated group survives");
}

#[test]
fn a_forged_pid_file_gets_no_one_killed() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("job");
    forged_pid_file_is_refused(home.path(), None, &dir, dir.to_str().unwrap());
}

#[test]
fn a_forged_pid_file_gets_no_one_killed_over_ssh() {
    let Some((home, file, prefix)) = ssh_home() else {
        return;
    };
    // The test sshd is this machine: its files are ours to forge.
    let dir = home.path().join("job");
    let address = format!("{prefix}{}", dir.display());
    forged_pid_file_is_refused(home.path(), Some(&file), &dir, &address);
}
