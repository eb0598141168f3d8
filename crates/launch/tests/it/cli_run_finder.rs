//! End to end: `launch run` with a launcher file of two direct launchers on
//! different hosts and a dynamic one over them; each job lands on the
//! launcher the file says (its devices show where it ran).

use std::path::Path;

use crate::cli_find::launch_in;
use crate::support::assert_says;

const FILE: &str = include_str!("../data/run-finder.toml");

/// Prints the job's CUDA devices, sorted, or `unset`.
const SHOW_DEVICES: &str =
    "printf '%s' \"${CUDA_VISIBLE_DEVICES-unset}\" | tr ',' '\\n' | sort | paste -sd, -";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `launch run [tags] EXPR -- sh -c SHOW_DEVICES`: (exit code, stdout, stderr).
fn run(home: &Path, file: &Path, tags: &[&str], expr: &str) -> (Option<i32>, String, String) {
    let dir = home.join(format!(
        "jobs/{}",
        expr.replace(|c: char| !c.is_alphanumeric(), "_")
    ));
    let mut args = vec!["run", "--config", file.to_str().unwrap()];
    for tag in tags {
        args.extend(["--tag", tag]);
    }
    let dir = format!("{}-{}", dir.display(), tags.join("-"));
    args.extend(["--job-dir", &dir, expr, "--", "sh", "-c", SHOW_DEVICES]);
    let out = launch_in(home, &args, &[]);
    (
        out.status.code(),
        text(&out.stdout).trim_end().to_owned(),
        text(&out.stderr),
    )
}

#[test]
fn each_job_lands_on_the_right_launcher() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("launchers.toml");
    std::fs::write(&file, FILE).unwrap();
    // (tags, requirement, launcher named on stderr, devices the job saw)
    let cases: &[(&[&str], &str, &str, &str)] = &[
        // Both serve it: the higher priority.
        // A host with no CUDA device: the variable is set, empty.
        (&[], "cpu(cores=1)", "launcher cpu-box (", ""),
        // Only gpu-box has CUDA devices; it gives the job its own.
        (&[], "cuda(mem=8GiB)", "launcher gpu-box (", "0"),
        (
            &[],
            "duration=1h & cuda(mem=16GiB) * 2",
            "launcher gpu-box (",
            "0,1",
        ),
        // The first alternative no direct launcher serves: the second.
        (
            &[],
            "cuda(mem=80GiB) | cpu(cores=2)",
            "launcher cpu-box (",
            "",
        ),
        // Through the dynamic launcher: it picks among the members that match.
        (
            &["pool"],
            "cuda(mem=8GiB) * 2",
            "launcher either (dynamic",
            "0,1",
        ),
        (&["pool"], "cpu(cores=2)", "launcher either (dynamic", ""),
    ];
    for &(tags, expr, launcher, devices) in cases {
        let (code, stdout, stderr) = run(home.path(), &file, tags, expr);
        assert_eq!(code, Some(0), "{expr}: {stderr}");
        assert!(stderr.contains(launcher), "{expr}: {stderr}");
        assert_eq!(stdout, devices, "{expr}: {stderr}");
    }
}

#[test]
fn what_cannot_run_says_why() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("launchers.toml");
    std::fs::write(&file, FILE).unwrap();
    // (tags, requirement, exit code, what stderr says)
    let cases: &[(&[&str], &str, i32, &[&str])] = &[
        // No launcher has 100 cores: exit 1 and each entry's reason.
        (
            &[],
            "cpu(cores=100) & cuda(mem=1GiB)",
            1,
            &[
                "cpu-box: asks for 100 cores, the host has 2",
                "gpu-box: asks for 100 cores, the host has 2",
            ],
        ),
        (&["pool"], "cpu(cores=3)", 1, &["either: no member matches"]),
        // Slurm: found and submitted with sbatch, which refuses it (there
        // is no partition `long` on the test cluster, and no Slurm at all
        // without it): Slurm's word is the error.
        (
            &["slurm"],
            "duration=2h & cpu(cores=8)",
            2,
            &[
                "launcher batch (slurm on local (--partition=long --time=2:00:00 --cpus-per-task=8))",
                "sbatch",
            ],
        ),
        // SSH: the connector is made, and reaching the host fails (there
        // is no login.example.org here): the error says which host.
        (
            &["remote"],
            "cpu(cores=8)",
            2,
            &[
                "launcher remote (direct on ssh://",
                "cannot connect to login.example.org:22",
            ],
        ),
    ];
    for &(tags, expr, code, says) in cases {
        let (got, _, stderr) = run(home.path(), &file, tags, expr);
        assert_eq!(got, Some(code), "{expr}: {stderr}");
        assert_says(&stderr, says);
    }
}

/// `sbatch` missing from `PATH`: the submission fails (exit 2, naming
/// sbatch), and the job directory says so, not that the job was lost.
#[test]
fn a_slurm_submission_without_sbatch_says_so_in_the_directory() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("launchers.toml");
    std::fs::write(&file, FILE).unwrap();
    let empty = home.path().join("no-bin");
    std::fs::create_dir(&empty).unwrap();
    let dir = home.path().join("job");
    let config = file.to_str().unwrap();
    let job = dir.to_str().unwrap();
    let run = [
        "run",
        "--config",
        config,
        "--tag",
        "slurm",
        "--job-dir",
        job,
        "cpu(cores=8)",
        "--",
        "true",
    ];
    let out = launch_in(home.path(), &run, &[("PATH", &empty)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("sbatch"),
        "{}",
        text(&out.stderr)
    );
    let out = launch_in(home.path(), &["status", "--json", job], &[("PATH", &empty)]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one object");
    assert_eq!(status["state"], "failed", "{status}");
    let reason = status["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("submission failed: ") && reason.contains("sbatch"),
        "{status}"
    );
    let out = launch_in(home.path(), &["status", job], &[("PATH", &empty)]);
    assert!(
        text(&out.stdout).contains("failed (submission failed: "),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(test_support::leftovers(&dir), Vec::<String>::new());
}
