//! Slurm job directories are the job's alone, as direct ones are
//! ([`crate::jobfiles`]): made 0700 (files 0600, a single job's `job.sh`
//! 0700) whatever the umask, and a directory that holds anything (planted
//! links named `slurm.out`, `stdout`, ..., a `cancel` marker) is refused;
//! single jobs and arrays, locally and over SSH. A submission whose
//! `sbatch` answer is lost is found again, never made twice.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::jobfiles::{Private, launch_umask_env, plant, private_tree, untouched};
use crate::slurm::setup;
use crate::slurm_jobs::{calls, counting_bin};
use crate::support::{assert_fails, assert_ok};

/// The files of a Slurm job's directory once it ran.
const SLURM_FILES: &[&str] = &[
    "job.json",
    "job.sh",
    "pid",
    "state",
    "stderr",
    "stdout",
    "timeout",
    "slurm.out",
    "slurm-job",
];

/// What a hostile user plants in a Slurm job's directory.
const PLANTED: &[&str] = &["slurm.out", "stdout", "stderr", "state", "cancel"];

/// An array of two tasks in `dir` under umask 022: every file of the
/// array is private, the command's own files follow the umask; then an
/// array directory with a link planted in a task's directory is refused.
fn arrays_hold(job: &Private<'_>, work: &Path, dir: &Path, own: u32) {
    let own_file = work.join("own");
    let script = format!(
        "echo \"$LAUNCH_ARRAY_INDEX\"; : > '{}'-\"$LAUNCH_ARRAY_INDEX\"",
        own_file.display()
    );
    let dir_s = dir.to_str().unwrap();
    let out = job.run(
        "022",
        &[
            "--array",
            "1-2",
            "--job-dir",
            dir_s,
            "duration=1m",
            "--",
            "sh",
            "-c",
            &script,
        ],
    );
    assert_ok(&out);
    let names = private_tree(dir, &|_| 0o600);
    assert_eq!(names, ["1", "2", "array.json"], "{}", dir.display());
    for index in ["1", "2"] {
        let names = private_tree(&dir.join(index), &|_| 0o600);
        for name in SLURM_FILES.iter().filter(|n| **n != "timeout") {
            assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
        }
        let own_path = format!("{}-{index}", own_file.display());
        assert_eq!(
            crate::jobfiles::mode(Path::new(&own_path)),
            own,
            "the command's umask"
        );
    }

    // A link planted in a task's directory, before the array is run.
    let planted = dir.with_extension("planted");
    let task = planted.join("1");
    let target = plant(&task, "slurm.out");
    let out = job.run(
        "022",
        &[
            "--array",
            "1-2",
            "--job-dir",
            planted.to_str().unwrap(),
            "duration=1m",
            "--",
            "true",
        ],
    );
    assert_fails(&out, 2, "not empty");
    assert_fails(&out, 2, format!("job directory `{}`", planted.display()));
    untouched(&target);
    assert!(!task.join("job.json").exists(), "nothing was written");
    assert!(!task.join("array.sh").exists(), "nothing was submitted");
}

#[test]
fn slurm_job_files_are_private_whatever_the_umask() {
    let Some((work, config)) = setup() else {
        return;
    };
    let job = Private {
        home: work.path(),
        config: config.to_str(),
        env: &[],
        files: SLURM_FILES,
    };
    let jobs = work.path().join("jobs");
    job.modes_hold("022", &jobs.join("a"), 0o644);
    job.modes_hold("000", &jobs.join("b"), 0o666);
    // An empty directory of one's own is taken, and made private.
    let empty = jobs.join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o777)).unwrap();
    job.modes_hold("000", &empty, 0o666);
    job.planted_is_refused(&work.path().join("planted"), PLANTED);
    arrays_hold(&job, work.path(), &jobs.join("array"), 0o644);
}

#[test]
fn slurm_job_files_are_private_over_ssh_too() {
    let Some((sshd, port)) = crate::ssh::sshd() else {
        return;
    };
    let Some((work, generated)) = setup() else {
        return;
    };
    // The generated file's launchers, on the test sshd's machine, whose
    // shell reaches the cluster through the wrappers (they name its
    // configuration).
    let bin = counting_bin(work.path());
    let text = std::fs::read_to_string(&generated).unwrap();
    let file = work.path().join("ssh.toml");
    std::fs::write(
        &file,
        format!(
            "{}\n{}",
            crate::ssh::connector_box(&sshd, port, &crate::ssh::user()),
            text.replace("connector = \"local\"", "connector = \"box\"")
        ),
    )
    .unwrap();
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("connector = \"box\""),
        "{text}"
    );
    let job = Private {
        home: work.path(),
        config: file.to_str(),
        env: &[("LAUNCH_SLURM_BIN", bin.to_str().unwrap())],
        files: SLURM_FILES,
    };
    let jobs = work.path().join("jobs");
    // The command's umask is the remote shell's.
    job.modes_hold("000", &jobs.join("ssh"), 0o644);
    job.planted_is_refused(&work.path().join("planted"), PLANTED);
    arrays_hold(&job, work.path(), &jobs.join("array"), 0o644);
    assert!(
        calls(work.path(), "sbatch") >= 2,
        "over SSH, through the wrappers"
    );
}

/// `sbatch` takes the job but its answer is lost (`Socket timed out`):
/// the retry finds the job it submitted, and it runs once.
#[test]
fn an_ambiguous_sbatch_failure_is_not_submitted_twice() {
    let Some((work, config)) = setup() else {
        return;
    };
    let work = work.path();
    let bin = counting_bin(work);
    let real = std::fs::read_to_string(bin.join("sbatch")).unwrap();
    let once = work.join("failed-once");
    // The first call submits, then says what a lost answer says.
    let lossy = real.replacen(
        "exec ",
        &format!(
            "if [ ! -e '{once}' ]; then : > '{once}'; \"$0.real\" \"$@\" > /dev/null || exit; \
             echo 'sbatch: error: Batch job submission failed: Socket timed out on send/recv operation' >&2; \
             exit 1; fi\nexec ",
            once = once.display()
        ),
        1,
    );
    std::fs::write(bin.join("sbatch.real"), &real).unwrap();
    std::fs::write(bin.join("sbatch"), lossy).unwrap();
    for name in ["sbatch", "sbatch.real"] {
        std::fs::set_permissions(bin.join(name), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let dir = work.join("once");
    let ran = work.join("ran");
    let out = launch_umask_env(
        work,
        "022",
        &[("LAUNCH_SLURM_BIN", bin.to_str().unwrap())],
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--job-dir",
            dir.to_str().unwrap(),
            "duration=1m",
            "--",
            "sh",
            "-c",
            &format!("echo ran >> '{}'; echo hello", ran.display()),
        ],
    );
    assert_ok(&out);
    assert!(once.exists(), "the first sbatch failed as asked");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    // The lossy wrapper and the real one it calls each log `sbatch`: one
    // call of launch's, no second submission.
    assert_eq!(calls(work, "sbatch"), 2, "one call of launch's");
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        std::fs::read_to_string(&ran).unwrap(),
        "ran\n",
        "it ran once"
    );
}
