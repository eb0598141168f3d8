//! Helpers the workspace's integration tests share, so that each
//! `tests/it` folder does not carry its own copy. Dev-only: crates name it
//! under `[dev-dependencies]` alone (the architecture check enforces it).
//!
//! ```
//! let io = std::io::Error::other("disk on fire");
//! let err = test_support::Wrapped("cannot read `x`", io);
//! assert_eq!(test_support::chain(&err), "cannot read `x`: disk on fire");
//! ```

use std::error::Error;
use std::fmt;

use core_types::job::{Connector, FailReason, JobHandle, JobState, ProcessSpec, StdioSpec};
use core_types::{AcceleratorKind, AcceleratorRequest, Alternative, MemSize};
use proptest::prelude::*;

/// An error and its causes, `: `-joined, as the `launch` binary prints
/// them.
pub use core_types::text::error_chain as chain;

/// A message with a cause: an error to test [`chain`] and error printers
/// with.
#[derive(Debug)]
pub struct Wrapped<E>(pub &'static str, pub E);

impl<E> fmt::Display for Wrapped<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl<E: Error + 'static> Error for Wrapped<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.1)
    }
}

/// Every accelerator kind, for property tests.
pub fn accelerator_kind() -> impl Strategy<Value = AcceleratorKind> {
    prop_oneof![
        Just(AcceleratorKind::Cuda),
        Just(AcceleratorKind::Mps),
        Just(AcceleratorKind::Rocm),
        Just(AcceleratorKind::Generic),
    ]
}

/// Waits until `cond` holds, polling every 10 ms, for at most 30 s (then
/// panics naming `what`): how tests wait for what a job or a server does,
/// never an assertion about time.
#[track_caller]
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let since = std::time::Instant::now();
    while !cond() {
        assert!(
            since.elapsed() < std::time::Duration::from_secs(30),
            "never happened: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Opens a gate file (by writing it) when dropped, so that a failing test
/// leaves no job waiting for it.
#[derive(Debug)]
pub struct OpenOnDrop(pub std::path::PathBuf);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.0, "");
    }
}

/// Cancels `job` (running, waiting, or already ended: then nothing
/// changes) and asserts that it is then failed, cancelled.
#[track_caller]
pub fn assert_cancels(job: &dyn JobHandle) {
    job.cancel().unwrap();
    assert_eq!(
        job.state().unwrap(),
        JobState::Failed(FailReason::Cancelled)
    );
}

/// What every connector must do with a process's streams, environment and
/// directory: stdin from a pipe, stdout into `dir/out file`, stderr through
/// a pipe, a variable, the working directory `dir` (which the process sees
/// as `seen_dir`), and its exit code.
pub fn pipes_files_env_and_cwd(
    connector: &dyn Connector,
    dir: &std::path::Path,
    seen_dir: &std::path::Path,
) {
    use std::io::{Read, Write};
    let out_file = dir.join("out file");
    let spec = ProcessSpec::new("sh")
        .args(["-c", "pwd; echo \"$GREETING\"; cat; echo err >&2; exit 4"])
        .env("GREETING", "hello there")
        .cwd(dir)
        .stdio(
            StdioSpec::Pipe,
            StdioSpec::File(out_file.clone()),
            StdioSpec::Pipe,
        );
    let mut p = connector.spawn(&spec).unwrap();
    let mut stdin = p.take_stdin().unwrap();
    stdin.write_all(b"from stdin\n").unwrap();
    drop(stdin);
    let mut err = String::new();
    p.take_stderr().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(p.wait().unwrap().code, Some(4));
    assert_eq!(err, "err\n");
    assert!(p.take_stdout().is_none(), "stdout went to a file");
    assert_eq!(
        String::from_utf8(connector.read_file(&out_file).unwrap()).unwrap(),
        format!("{}\nhello there\nfrom stdin\n", seen_dir.display())
    );
}

/// The connector's private files, on a machine whose files this process
/// also sees at `dir` (this one, or the test sshd's): a private directory
/// is made 0700 and lists what it holds, a file made exclusively is 0600,
/// made once, and never made through a link; written files are 0600 and
/// executables 0700.
pub fn private_files(connector: &dyn Connector, dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |p: &std::path::Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
    let private = dir.join("a/b/private");
    assert!(connector.create_private_dir(&private).unwrap().is_empty());
    assert_eq!(mode(&private), 0o700);
    let file = private.join("pid");
    assert!(connector.create_file(&file, b"first\n").unwrap());
    assert!(!connector.create_file(&file, b"second\n").unwrap());
    assert_eq!(std::fs::read(&file).unwrap(), b"first\n");
    assert_eq!(mode(&file), 0o600);
    let target = dir.join("target");
    std::fs::write(&target, b"untouched").unwrap();
    let link = private.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert!(!connector.create_file(&link, b"planted\n").unwrap());
    assert_eq!(std::fs::read(&target).unwrap(), b"untouched");
    let written = private.join("written");
    connector.write_file(&written, b"w").unwrap();
    assert_eq!(mode(&written), 0o600);
    connector.set_executable(&written).unwrap();
    assert_eq!(mode(&written), 0o700);
    // Written in place where nothing is, replaced where something is; a
    // link is replaced, never followed.
    let unread = private.join("unread");
    connector.write_unread(&unread, b"blank").unwrap();
    assert_eq!(std::fs::read(&unread).unwrap(), b"blank");
    assert_eq!(mode(&unread), 0o600);
    connector.write_unread(&unread, b"again").unwrap();
    assert_eq!(std::fs::read(&unread).unwrap(), b"again");
    let planted = private.join("planted");
    std::os::unix::fs::symlink(&target, &planted).unwrap();
    connector.write_unread(&planted, b"over").unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"untouched");
    assert_eq!(std::fs::read(&planted).unwrap(), b"over");
    assert!(
        connector
            .write_unread(&dir.join("no/such/dir/file"), b"x")
            .is_err()
    );
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut names = connector.create_private_dir(&private).unwrap();
    names.sort();
    assert_eq!(names, ["link", "pid", "planted", "unread", "written"]);
    assert_eq!(mode(&private), 0o700);
    let not_dir = dir.join("target");
    assert!(connector.create_private_dir(&not_dir).is_err());
}

/// The directory of the Slurm test cluster's commands when the test command
/// started the cluster (`LAUNCH_TEST_SLURM=required`, set by `cargo xtask
/// test`; `$LAUNCH_TEST_SLURM_BIN`, `/usr/bin` by default); `None`, with a
/// note, when it did not.
pub fn slurm_test_bin() -> Option<std::path::PathBuf> {
    match std::env::var("LAUNCH_TEST_SLURM").as_deref() {
        Ok("required") => {}
        Ok(other) => panic!("LAUNCH_TEST_SLURM={other}: expected `required` or nothing"),
        Err(_) => {
            eprintln!(
                "note: LAUNCH_TEST_SLURM is not set, so this test of the real Slurm cluster does \
                 nothing; `cargo xtask test` starts the test cluster and sets it"
            );
            return None;
        }
    }
    Some(std::path::PathBuf::from(
        std::env::var_os("LAUNCH_TEST_SLURM_BIN").unwrap_or_else(|| "/usr/bin".into()),
    ))
}

pub mod bastion;
/// Ports for the daemons tests start: [`test_ports`], shared with `xtask`.
pub use test_ports as ports;
pub mod queue;
pub mod slurm_layout;
pub mod spec;
pub mod tmpfs;

/// Temporary files a writer may leave in `dir` when a write fails: the
/// connector's (`.launch-write.*`) and the job script's (`state.tmp.*`).
pub fn leftovers(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| {
            name.starts_with(".launch-write.")
                || name.starts_with("state.tmp.")
                || name.contains(".tmp.")
        })
        .collect()
}

/// A requirement alternative of `count` CUDA accelerators of `gib` GiB.
pub fn cuda(count: usize, gib: u64) -> Alternative {
    Alternative {
        accelerators: vec![
            AcceleratorRequest {
                kind: AcceleratorKind::Cuda,
                memory: MemSize::from_bytes(gib << 30),
            };
            count
        ],
        ..Alternative::default()
    }
}
