//! The job directory as the launchers of today and of the previous version
//! write it.

use std::path::Path;
use std::sync::Arc;

use core_types::job::{Connector, FailReason, Job, JobState};
use jobdir::{
    ArrayMeta, Identity, JobDir, JobDirError, JobMeta, LauncherKind, LauncherMeta, SlurmMeta,
    read_meta,
};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

fn local() -> Arc<dyn Connector> {
    connector_local::LocalConnector::shared()
}

/// `job.json` of the direct launcher, as the version before this crate
/// wrote it (untyped, `json!`).
#[test]
fn reads_the_direct_launchers_files_of_before() {
    let meta = JobMeta::parse(&data("direct-job.json"), Path::new("/tmp/cap/out/direct")).unwrap();
    assert_eq!(meta.kind(), LauncherKind::Direct);
    assert_eq!(meta.format, 1);
    assert_eq!(meta.launcher, LauncherMeta::Direct { detach: false });
    assert_eq!(meta.name, "hello");
    assert_eq!(meta.command, ["sh", "-c", "echo hi"]);
    assert_eq!(meta.requirement, "duration=0s");
    assert_eq!(meta.connector, "local");
    assert_eq!(
        meta.submitter,
        Some(Identity {
            host: "vm".into(),
            boot: "ac1e4cba-bae6-430e-8d3a-bea131ce981c".into(),
            pid: 19509,
            start: 53617,
        })
    );
}

#[test]
fn reads_the_slurm_launchers_files_of_before() {
    let meta = JobMeta::parse(&data("slurm-job.json"), Path::new("/tmp/cap/out/slurm")).unwrap();
    assert_eq!(meta.kind(), LauncherKind::Slurm);
    let LauncherMeta::Slurm { slurm } = &meta.launcher else {
        panic!("{meta:?}");
    };
    assert_eq!(slurm.job_id.as_deref(), Some("4242"));
    assert_eq!(slurm.bin.as_deref(), Some("/tmp/cap/bin"));
    assert_eq!(
        slurm.env,
        [("SLURM_CONF".to_owned(), "/etc/slurm/x.conf".to_owned())]
    );
    assert_eq!(slurm.array, None);
    assert_eq!(slurm.sbatch_args[0], "--job-name=python");
    assert_eq!(meta.time_limit_s, 3600);
    assert_eq!(meta.alternative.duration.seconds(), 3600);
    assert_eq!(
        meta.requirement,
        "duration=1h & cpu(mem=4G, cores=2) & cuda(mem=8G)"
    );
    // The Slurm launcher recorded no boot id.
    let submitter = meta.submitter.unwrap();
    assert_eq!((submitter.pid, submitter.boot.as_str()), (19509, ""));

    let task = JobMeta::parse(&data("slurm-array-task-job.json"), Path::new("/x")).unwrap();
    let LauncherMeta::Slurm { slurm } = &task.launcher else {
        panic!("{task:?}");
    };
    assert_eq!(slurm.job_id, None);
    assert_eq!(
        slurm.array,
        Some(ArrayMeta {
            index: 1,
            size: 2,
            first_dir: "/tmp/cap/out/a0".into(),
        })
    );
    assert_eq!(task.command, ["echo", "it's"]);
}

/// What is written now reads back the same, and as the reader of before
/// read it (the same keys, with the same meaning).
#[test]
fn writes_what_the_readers_of_before_read() {
    for file in [
        "direct-job.json",
        "slurm-job.json",
        "slurm-array-task-job.json",
    ] {
        let meta = JobMeta::parse(&data(file), Path::new("/x")).unwrap();
        let old: serde_json::Value = serde_json::from_slice(&data(file)).unwrap();
        let new: serde_json::Value = serde_json::from_slice(&meta.to_bytes()).unwrap();
        assert_eq!(new, old, "{file}");
    }
}

#[test]
fn a_job_directory_through_a_connector() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing");
    let err = read_meta(local().as_ref(), &missing).unwrap_err();
    assert!(err.to_string().ends_with("it does not exist"), "{err}");
    let err = read_meta(local().as_ref(), tmp.path()).unwrap_err();
    assert!(
        matches!(&err, JobDirError::NotAJobDir { reason, .. } if reason == "it has no `job.json`"),
        "{err}"
    );

    let dir = JobDir::new(local(), tmp.path());
    let job = Job::new(tmp.path(), ["true"]);
    let meta = JobMeta::of(
        &job,
        LauncherMeta::Slurm {
            slurm: SlurmMeta {
                job_id: Some("7".into()),
                ..SlurmMeta::default()
            },
        },
        "local",
    );
    dir.write_meta(&meta).unwrap();
    assert_eq!(dir.meta().unwrap(), meta);
    let me = meta.submitter.clone().unwrap();
    assert_eq!(me.pid, std::process::id());
    assert_eq!(me.alive_here(), Some(true));

    assert_eq!(dir.final_state().unwrap(), None);
    let cancelled = JobState::Failed(FailReason::Cancelled);
    dir.write_state(&cancelled).unwrap();
    assert_eq!(dir.final_state().unwrap(), Some(cancelled));
    dir.write(jobdir::STATE, b"nonsense\n").unwrap();
    assert!(dir.final_state().is_err());

    // This process, through the connector: alive; another start time: not.
    assert!(dir.process_alive(me.pid, Some(me.start), &me.boot).unwrap());
    assert!(
        !dir.process_alive(me.pid, Some(me.start + 1), &me.boot)
            .unwrap()
    );
    assert!(!dir.process_alive(me.pid, None, &me.boot).unwrap());
    assert!(!dir.process_alive(me.pid, Some(me.start), "other").unwrap());
}

/// A job directory in `path` with its state's space reserved and the job
/// script of `command` (no time limit) with `before_command`.
fn scripted(path: &Path, command: &[&str], before_command: &[u8]) -> JobDir {
    let dir = JobDir::new(local(), path);
    dir.reserve_state().unwrap();
    let command: Vec<std::ffi::OsString> = command.iter().map(Into::into).collect();
    let script = jobdir::job_script(&jobdir::ScriptSpec {
        dir: path,
        cwd: path,
        command: &command,
        env: &[],
        time_limit: 0,
        grace: 1,
        before_command,
    })
    .unwrap();
    std::fs::write(path.join(jobdir::SCRIPT), script).unwrap();
    dir
}

/// The job script run as it is: its state goes over the reserved space,
/// with the note a launcher's part sets, and nothing else is left.
#[test]
fn the_script_writes_its_state_over_the_reservation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = scripted(tmp.path(), &["sh", "-c", "exit 3"], b"state_note='run 2'\n");
    let status = std::process::Command::new("sh")
        .arg(tmp.path().join(jobdir::SCRIPT))
        .status()
        .unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join(jobdir::STATE)).unwrap(),
        format!("{:<63}\n", "exited 3\nrun 2"),
        "one write of the reserved size"
    );
    assert_eq!(
        dir.final_state().unwrap(),
        Some(JobState::Failed(FailReason::ExitCode(3)))
    );
    let mut names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["job.sh", "pid", "state", "stderr", "stdout"]);
}

/// Started as `spawned stdin`, the script says its command's pid on its
/// standard output: the part of `pid` for it is the starter's to write
/// when it says `ok PID`, else the script's own.
#[test]
fn the_starter_writes_the_commands_part_or_the_script_does() {
    use std::io::{BufRead, Write};
    for answered in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        // Alive when its start is read (the shell reaps a command that
        // ended, and its `/proc` entry goes with it).
        let dir = scripted(tmp.path(), &["sleep", "1"], b"");
        let mut child = std::process::Command::new("sh")
            .arg(tmp.path().join(jobdir::SCRIPT))
            .args(["spawned", "stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let pid: u32 = line.strip_prefix("cmd ").unwrap().trim().parse().unwrap();
        if answered {
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(tmp.path().join(jobdir::PID))
                .unwrap();
            write!(file, "cmd {pid}\ncstat {pid} (true) Z 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\ncend\n").unwrap();
            writeln!(stdin, "ok {pid}").unwrap();
        }
        drop(stdin);
        assert!(child.wait().unwrap().success());
        let text = std::fs::read_to_string(tmp.path().join(jobdir::PID)).unwrap();
        assert_eq!(text.matches("\ncmd ").count(), 1, "{text}");
        let file = dir.pid_file().unwrap().unwrap();
        assert_eq!(file.command, Some(pid), "{text}");
        assert_eq!(file.command_start == Some(777), answered, "{text}");
        assert!(file.command_start.is_some(), "{text}");
    }
}
