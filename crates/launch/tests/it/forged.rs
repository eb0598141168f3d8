//! `launch cancel` signals only the job's own processes: a `pid` file that
//! names another process group, with its true start time, gets nothing
//! killed and a clear error.

use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::cli_find::launch_in;

#[test]
fn a_forged_pid_file_gets_no_one_killed() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("job");
    let dir_s = dir.to_str().unwrap();
    let out = launch_in(
        home.path(),
        &["run", "--job-dir", dir_s, "cpu()", "--", "true"],
        &[],
    );
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
    let out = launch_in(home.path(), &["cancel", dir_s], &[]);
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
