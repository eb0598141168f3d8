//! The local [`Connector`]: processes and files on the machine this program
//! runs on.
//!
//! Every process starts through one function ([`LocalConnector::spawn`]
//! builds it, [`LocalConnector::run`] adds the exit code, stdout and stderr
//! to its error); file writes are atomic (write, then rename); signals go
//! through `nix`.
//!
//! ```
//! use core_types::job::{Connector, ProcessSpec};
//! use connector_local::LocalConnector;
//!
//! let local = LocalConnector::new();
//! let out = local.run(&ProcessSpec::new("echo").args(["a b", "$HOME"]))?;
//! assert_eq!(out.stdout, b"a b $HOME\n");
//!
//! let err = local.run(&ProcessSpec::new("sh").args(["-c", "echo oops >&2; exit 3"])).unwrap_err();
//! assert!(err.to_string().contains("exit code 3") && err.to_string().contains("oops"));
//!
//! let dir = std::env::temp_dir().join(format!("connector-local-doc-{}", std::process::id()));
//! local.create_dir_all(&dir)?;
//! local.write_file(&dir.join("f"), b"hello")?;
//! assert_eq!(local.read_file(&dir.join("f"))?, b"hello");
//! local.remove(&dir)?;
//! assert!(!local.exists(&dir)?);
//! # Ok::<(), core_types::job::ConnectorError>(())
//! ```

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, OnceLock};

use core_types::job::{
    Connector, ConnectorError, ConnectorResult, Process, ProcessExit, ProcessOutput, ProcessSpec,
    Signal, SignalTarget, StdioSpec,
};
use nix::errno::Errno;
use nix::sys::signal::{self as nix_signal, Signal as NixSignal};
use nix::unistd::Pid;

/// Processes and files on this machine.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalConnector;

impl LocalConnector {
    /// The local connector.
    pub const fn new() -> Self {
        LocalConnector
    }

    /// A shared instance, as launchers hold connectors.
    pub fn shared() -> Arc<dyn Connector> {
        static SHARED: OnceLock<Arc<dyn Connector>> = OnceLock::new();
        Arc::clone(SHARED.get_or_init(|| Arc::new(LocalConnector)))
    }
}

/// Where `setsid` is, when it is installed (detached processes use it to
/// get a session of their own).
fn setsid_program() -> Option<&'static Path> {
    static SETSID: OnceLock<Option<PathBuf>> = OnceLock::new();
    SETSID
        .get_or_init(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .map(|dir| dir.join("setsid"))
                .find(|candidate| candidate.is_file())
        })
        .as_deref()
}

/// Where programs named without a `/` were found ([`on_path`]).
fn found() -> &'static std::sync::Mutex<std::collections::HashMap<OsString, PathBuf>> {
    static FOUND: OnceLock<std::sync::Mutex<std::collections::HashMap<OsString, PathBuf>>> =
        OnceLock::new();
    FOUND.get_or_init(Default::default)
}

/// Where a program named without a `/` is on this process's `PATH` (an
/// executable file), found once and kept: each spawn of it then skips
/// the search, which fails once per directory before it (an `execve`
/// each). `None`: named with a `/`, or not found (the spawn searches).
fn on_path(program: &std::ffi::OsStr) -> Option<PathBuf> {
    if program.is_empty() || program.as_encoded_bytes().contains(&b'/') {
        return None;
    }
    if let Some(path) = found().lock().ok()?.get(program) {
        return Some(path.clone());
    }
    let path = std::env::var_os("PATH")?;
    // A relative directory is the child's own working directory's: left
    // to the spawn.
    if std::env::split_paths(&path).any(|dir| !dir.is_absolute()) {
        return None;
    }
    let hit = std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            fs::metadata(candidate).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
                && nix::unistd::access(candidate.as_path(), nix::unistd::AccessFlags::X_OK).is_ok()
        })?;
    found().lock().ok()?.insert(program.to_owned(), hit.clone());
    Some(hit)
}

/// Forgets where [`on_path`] found `program`: whether it was kept.
fn forget(program: &std::ffi::OsStr) -> bool {
    found()
        .lock()
        .is_ok_and(|mut found| found.remove(program).is_some())
}

fn stdio(spec: &StdioSpec, input: bool) -> Result<Stdio, ConnectorError> {
    Ok(match spec {
        StdioSpec::Inherit => Stdio::inherit(),
        StdioSpec::Null => Stdio::null(),
        StdioSpec::Pipe => Stdio::piped(),
        StdioSpec::File(path) => {
            let file = if input {
                File::open(path)
            } else {
                File::create(path)
            };
            Stdio::from(file.map_err(|source| ConnectorError::Io {
                op: if input {
                    "open for input"
                } else {
                    "create for output"
                },
                path: path.clone(),
                source,
            })?)
        }
    })
}

/// Builds the `Command` for a spec: the only place a process is set up.
fn command(spec: &ProcessSpec) -> Result<Command, ConnectorError> {
    let setsid = if spec.detached {
        setsid_program()
    } else {
        None
    };
    let mut cmd = if let Some(setsid) = setsid {
        // The child is not a group leader, so `setsid` calls setsid(2)
        // itself and execs the program: the pid stays the program's.
        let mut cmd = Command::new(setsid);
        cmd.arg(&spec.program);
        cmd
    } else {
        // Found once on this process's `PATH` (the spec's own `PATH`
        // searched by the spawn), and run under the name it was given.
        let found = spec
            .env
            .iter()
            .all(|(name, _)| name != "PATH")
            .then(|| on_path(&spec.program))
            .flatten();
        let mut cmd = match found {
            Some(path) => {
                let mut cmd = Command::new(path);
                cmd.arg0(&spec.program);
                cmd
            }
            None => Command::new(&spec.program),
        };
        cmd.process_group(0);
        cmd
    };
    cmd.args(&spec.args);
    for (name, value) in &spec.env {
        cmd.env(name, value);
    }
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    cmd.stdin(stdio(&spec.stdin, true)?)
        .stdout(stdio(&spec.stdout, false)?)
        .stderr(stdio(&spec.stderr, false)?);
    Ok(cmd)
}

fn exit_of(status: ExitStatus) -> ProcessExit {
    ProcessExit {
        code: status.code(),
        signal: status.signal(),
    }
}

/// A process started on this machine.
#[derive(Debug)]
pub struct LocalProcess {
    child: Child,
    program: String,
}

impl LocalProcess {
    fn wait_error(&self, source: std::io::Error) -> ConnectorError {
        ConnectorError::Io {
            op: "wait for",
            path: PathBuf::from(&self.program),
            source,
        }
    }
}

impl Process for LocalProcess {
    fn id(&self) -> Option<u32> {
        Some(self.child.id())
    }

    fn wait(&mut self) -> Result<ProcessExit, ConnectorError> {
        match self.child.wait() {
            Ok(status) => Ok(exit_of(status)),
            Err(e) => Err(self.wait_error(e)),
        }
    }

    fn try_wait(&mut self) -> Result<Option<ProcessExit>, ConnectorError> {
        match self.child.try_wait() {
            Ok(status) => Ok(status.map(exit_of)),
            Err(e) => Err(self.wait_error(e)),
        }
    }

    fn take_stdin(&mut self) -> Option<Box<dyn Write + Send>> {
        self.child
            .stdin
            .take()
            .map(|s| Box::new(s) as Box<dyn Write + Send>)
    }

    fn take_stdout(&mut self) -> Option<Box<dyn Read + Send>> {
        self.child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>)
    }

    fn take_stderr(&mut self) -> Option<Box<dyn Read + Send>> {
        self.child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>)
    }
}

fn io_error(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ConnectorError {
    let path = path.to_path_buf();
    move |source| ConnectorError::Io { op, path, source }
}

/// A temporary file (mode 0600) beside `path`, holding `contents`.
fn temp_with(path: &Path, contents: &[u8]) -> ConnectorResult<tempfile::NamedTempFile> {
    if path.file_name().is_none() {
        return Err(ConnectorError::Invalid(format!(
            "`{}` names no file",
            path.display()
        )));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".launch-write.")
        .tempfile_in(dir)
        .map_err(io_error("write", path))?;
    // Its errors name the file being written, not the temporary one (which
    // is removed when `tmp` drops).
    tmp.write_all(contents).map_err(io_error("write", path))?;
    Ok(tmp)
}

impl Connector for LocalConnector {
    fn name(&self) -> String {
        "local".into()
    }

    fn is_local(&self) -> bool {
        true
    }

    fn spawn(&self, spec: &ProcessSpec) -> Result<Box<dyn Process>, ConnectorError> {
        let mut spawned = command(spec)?.spawn();
        // Where it was found, it is no more: searched again.
        if spawned.is_err() && forget(&spec.program) {
            spawned = command(spec)?.spawn();
        }
        let child = spawned.map_err(|source| ConnectorError::Spawn {
            program: spec.display_command(),
            source,
        })?;
        Ok(Box::new(LocalProcess {
            child,
            program: spec.program.to_string_lossy().into_owned(),
        }))
    }

    fn run(&self, spec: &ProcessSpec) -> Result<ProcessOutput, ConnectorError> {
        let mut spec = spec.clone();
        spec.stdout = StdioSpec::Pipe;
        spec.stderr = StdioSpec::Pipe;
        let mut ran = command(&spec)?.output();
        // Where it was found, it is no more: searched again.
        if ran.is_err() && forget(&spec.program) {
            ran = command(&spec)?.output();
        }
        let output = ran.map_err(|source| ConnectorError::Spawn {
            program: spec.display_command(),
            source,
        })?;
        let exit = exit_of(output.status);
        if !exit.success() {
            return Err(ConnectorError::Failed {
                program: spec.display_command(),
                status: exit.to_string(),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        Ok(ProcessOutput {
            exit,
            stdout: output.stdout,
            stderr: output.stderr,
        })
    }

    fn write_file(&self, path: &Path, contents: &[u8]) -> Result<(), ConnectorError> {
        // Written beside the target, then renamed over it: readers see the
        // old file or the new one, never a part (tempfile's persist).
        temp_with(path, contents)?
            .persist(path)
            .map_err(|e| ConnectorError::Io {
                op: "rename into",
                path: path.to_path_buf(),
                source: e.error,
            })?;
        Ok(())
    }

    fn write_unread(&self, path: &Path, contents: &[u8]) -> ConnectorResult<()> {
        // Made here alone (never through a link: `O_EXCL`), else replaced.
        let made = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        // Something there (replaced), a name that is no file's, a missing
        // folder: as `write_file` does it, and says it.
        let Ok(mut file) = made else {
            return self.write_file(path, contents);
        };
        file.write_all(contents).map_err(|e| {
            let _ = fs::remove_file(path);
            io_error("write", path)(e)
        })
    }

    fn create_file(&self, path: &Path, contents: &[u8]) -> ConnectorResult<bool> {
        let tmp = temp_with(path, contents)?;
        match tmp.persist_noclobber(path) {
            Ok(_) => Ok(true),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io_error("create", path)(e.error)),
        }
    }

    fn set_executable(&self, path: &Path) -> Result<(), ConnectorError> {
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))
            .map_err(io_error("make executable", path))
    }

    fn create_private_dir(&self, path: &Path) -> ConnectorResult<Vec<OsString>> {
        let fail = io_error("create directory", path);
        // Made 0700 at once (the umask only takes bits away), so that no
        // one else can add to it between its making and its listing.
        let mkdir = || fs::DirBuilder::new().mode(0o700).create(path);
        let made = match mkdir() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    self.create_dir_all(parent)?;
                }
                mkdir()
            }
            made => made,
        };
        match made {
            // Just made, by this process: its own, empty; 0700 whatever
            // the umask took away.
            Ok(()) => {
                fs::set_permissions(path, fs::Permissions::from_mode(0o700))
                    .map_err(io_error("change the mode of", path))?;
                return Ok(Vec::new());
            }
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(fail(e)),
            Err(_) => {}
        }
        let meta = fs::metadata(path).map_err(io_error("create directory", path))?;
        let refuse = |why: String| {
            io_error("create directory", path)(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                why,
            ))
        };
        if !meta.is_dir() {
            return Err(refuse("it exists and is not a directory".into()));
        }
        let me = nix::unistd::geteuid().as_raw();
        if meta.uid() != me {
            return Err(refuse(format!(
                "it belongs to user {}, not to you (user {me})",
                meta.uid()
            )));
        }
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))
            .map_err(io_error("change the mode of", path))?;
        fs::read_dir(path)
            .and_then(|entries| {
                entries
                    .map(|e| e.map(|e| e.file_name()))
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(io_error("list", path))
    }

    fn read_file(&self, path: &Path) -> Result<Vec<u8>, ConnectorError> {
        fs::read(path).map_err(io_error("read", path))
    }

    fn read_file_from(&self, path: &Path, offset: u64, max: usize) -> ConnectorResult<Vec<u8>> {
        let mut file = File::open(path).map_err(io_error("read", path))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(io_error("seek in", path))?;
        let mut out = Vec::new();
        file.take(max as u64)
            .read_to_end(&mut out)
            .map_err(io_error("read", path))?;
        Ok(out)
    }

    fn create_dir_all(&self, path: &Path) -> Result<(), ConnectorError> {
        fs::create_dir_all(path).map_err(io_error("create directory", path))
    }

    fn exists(&self, path: &Path) -> Result<bool, ConnectorError> {
        path.try_exists().map_err(io_error("check", path))
    }

    fn remove(&self, path: &Path) -> Result<(), ConnectorError> {
        let meta = match fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_error("remove", path)(e)),
        };
        let result = if meta.is_dir() {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
        match result {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error("remove", path)(e)),
            _ => Ok(()),
        }
    }

    fn signal(&self, target: SignalTarget, signal: Signal) -> Result<bool, ConnectorError> {
        let sig = match signal {
            Signal::Term => NixSignal::SIGTERM,
            Signal::Kill => NixSignal::SIGKILL,
            Signal::Int => NixSignal::SIGINT,
            Signal::Hup => NixSignal::SIGHUP,
        };
        let (id, pid) = match target {
            SignalTarget::Process(pid) | SignalTarget::Group(pid) => (pid, i32::try_from(pid)),
        };
        let pid = match pid {
            Ok(pid) if pid > 1 => pid,
            _ => {
                return Err(ConnectorError::Invalid(format!(
                    "refusing to signal {target}: {id} is not a process id one may signal"
                )));
            }
        };
        let result = match target {
            SignalTarget::Process(_) => nix_signal::kill(Pid::from_raw(pid), sig),
            SignalTarget::Group(_) => nix_signal::killpg(Pid::from_raw(pid), sig),
        };
        match result {
            Ok(()) => Ok(true),
            Err(Errno::ESRCH) => Ok(false),
            Err(e) => Err(ConnectorError::Signal {
                signal,
                target: target.to_string(),
                reason: e.desc().to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_signal_init_or_everyone() {
        let local = LocalConnector::new();
        for bad in [0, 1, u32::MAX] {
            let err = local
                .signal(SignalTarget::Group(bad), Signal::Term)
                .unwrap_err();
            assert!(err.to_string().contains("refusing"), "{err}");
        }
    }

    #[test]
    fn programs_are_found_once_and_forgotten_on_failure() {
        let sh = on_path(std::ffi::OsStr::new("sh")).expect("sh is on PATH");
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{}", sh.display());
        assert_eq!(on_path(std::ffi::OsStr::new("sh")), Some(sh));
        assert!(forget(std::ffi::OsStr::new("sh")));
        assert!(!forget(std::ffi::OsStr::new("sh")));
        assert_eq!(on_path(std::ffi::OsStr::new("./sh")), None);
        assert_eq!(on_path(std::ffi::OsStr::new("no-such-program-xyz")), None);
    }

    #[test]
    fn write_file_names_a_file() {
        let err = LocalConnector::new()
            .write_file(Path::new("/"), b"x")
            .unwrap_err();
        assert!(err.to_string().contains("names no file"), "{err}");
    }
}
