//! The OpenSSH transport: every operation is a run of the system's `ssh`
//! through one control master (`ControlMaster=auto`, `ControlPath` in a
//! directory private to this process, `ControlPersist`), so that whatever
//! OpenSSH supports works (two-factor prompts answered once per master,
//! FIDO keys, GSSAPI, `ProxyCommand`, its own `ProxyJump`). OpenSSH reads
//! its configuration itself; the settings the launcher file gives are
//! passed as options, so they win. Commands are the same scripts as on
//! the ssh2 transport ([`crate::command`]); files go through `cat` on the
//! same master.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use core_types::job::{ConnectorError, Signal, SignalTarget, shell_quote};
use parking_lot::Mutex;

use crate::command;
use crate::{ConfigFiles, HostKeyPolicy, SshConfig, SshError};

mod process;

pub(crate) use process::{run, spawn};

/// The exit status of `ssh` itself failing (not the remote command's).
pub(super) const SSH_FAILED: i32 = 255;
/// The exit status the file scripts use for "no such file".
const NOT_FOUND: i32 = 44;
/// The exit status of a file script that found something at the path it
/// was to create.
const EXISTS: i32 = 45;

/// One control master: its directory and the options of every `ssh` run.
pub(crate) struct Master {
    /// `user@host:port`, for messages.
    pub(super) name: String,
    /// Options and destination, before the command.
    args: Vec<OsString>,
    /// The control socket.
    control: PathBuf,
    /// Its private directory (removed with it).
    _dir: tempfile::TempDir,
    /// Held while the master is started.
    starting: Mutex<()>,
    /// The remote default directory.
    pub(super) default_dir: Option<PathBuf>,
}

impl Drop for Master {
    /// Stops the master with its connector: its socket is in this
    /// process's private directory, so no later process could use it, and
    /// `ControlPersist` would leave it (and its `ProxyJump` helpers) running
    /// for minutes.
    fn drop(&mut self) {
        self.stop();
    }
}

impl Master {
    /// `ssh -O OP` to the master, quiet.
    fn control_command(&self, op: &str) -> Command {
        let mut c = Command::new(ssh_program());
        c.arg("-o")
            .arg(format!("ControlPath={}", self.control.display()))
            .args(["-O", op])
            .arg(self.args.last().cloned().unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    /// Stops the master, when it runs (the next command starts another).
    pub(crate) fn stop(&self) {
        let _guard = self.starting.lock();
        if self.control.exists() {
            let _ = self.control_command("exit").status();
        }
    }
}

impl fmt::Debug for Master {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Master")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The `ssh` program (`$LAUNCH_SSH` when set, for tests and odd systems).
fn ssh_program() -> OsString {
    std::env::var_os("LAUNCH_SSH")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "ssh".into())
}

/// The options that pass what was given (the launcher file's settings)
/// to OpenSSH; what was not given is left to its configuration.
fn options(given: &SshConfig, resolved: &SshConfig, control: &Path) -> Vec<OsString> {
    let mut o: Vec<OsString> = Vec::new();
    let mut opt = |text: String| {
        o.push("-o".into());
        o.push(text.into());
    };
    opt("ControlMaster=auto".into());
    opt(format!("ControlPath={}", control.display()));
    opt("ControlPersist=300".into());
    opt("LogLevel=ERROR".into());
    if given.port_given() {
        opt(format!("Port={}", given.port));
    }
    if let Some(user) = &given.user {
        opt(format!("User={user}"));
    }
    let home = ssh_settings::home();
    if let Some(identity) = &given.identity {
        let path = crate::expand_home(identity, home.as_deref());
        opt(format!("IdentityFile={}", path.display()));
        opt("IdentitiesOnly=yes".into());
    }
    if let Some(known) = &given.known_hosts {
        let path = crate::expand_home(known, home.as_deref());
        opt(format!("UserKnownHostsFile={}", path.display()));
    }
    if given.host_key_policy_given() {
        opt(format!(
            "StrictHostKeyChecking={}",
            match given.host_key_policy {
                HostKeyPolicy::Strict => "yes",
                HostKeyPolicy::AcceptNew => "accept-new",
            }
        ));
    }
    if given.connect_timeout_given() {
        opt(format!(
            "ConnectTimeout={}",
            given.connect_timeout.as_secs().max(1)
        ));
    }
    if given.keepalive_given() {
        opt(format!("ServerAliveInterval={}", given.keepalive.as_secs()));
    }
    if let Some(jump) = &given.proxy_jump {
        opt(format!("ProxyJump={jump}"));
    }
    // OpenSSH finds `~` in the user database, not in `$HOME`: when they
    // differ (a test's or a job's own HOME), the files under `$HOME` are
    // named.
    let db_home = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.dir);
    let own_home = home.as_ref().filter(|h| db_home.as_ref() != Some(*h));
    match &given.ssh_config {
        ConfigFiles::User => {
            if let Some(h) = own_home {
                let config = h.join(".ssh").join("config");
                if config.is_file() {
                    o.insert(0, config.into());
                    o.insert(0, "-F".into());
                }
                if given.known_hosts.is_none() {
                    // A command-line option wins over the file's own
                    // `UserKnownHostsFile`: pass the one it resolves to
                    // (`$HOME/.ssh/known_hosts` when it names none).
                    let known = resolved.known_hosts_path();
                    o.push("-o".into());
                    o.push(format!("UserKnownHostsFile={}", known.display()).into());
                }
            }
        }
        ConfigFiles::None => {
            o.push("-F".into());
            o.push("none".into());
        }
        ConfigFiles::Only(path) => {
            o.push("-F".into());
            o.push(crate::expand_home(path, home.as_deref()).into());
        }
    }
    o.push("-T".into());
    o.push("--".into());
    o.push(given.host.clone().into());
    o
}

impl Master {
    /// A master for `given` (the settings as given), known as
    /// `resolved`'s name. Nothing is started yet.
    pub(crate) fn new(given: &SshConfig, resolved: &SshConfig) -> Result<Master, SshError> {
        let dir = tempfile::Builder::new()
            .prefix("launch-ssh-")
            .tempdir()
            .map_err(SshError::Io)?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(SshError::Io)?;
        let control = dir.path().join("cm");
        Ok(Master {
            name: resolved.name(),
            args: options(given, resolved, &control),
            control,
            _dir: dir,
            starting: Mutex::new(()),
            default_dir: resolved.default_dir.clone(),
        })
    }

    /// `ssh OPTIONS DEST SCRIPT`.
    pub(super) fn command(&self, script: &str) -> Command {
        let mut c = Command::new(ssh_program());
        c.args(&self.args).arg(script);
        c
    }

    /// Starts the master when it is not running: logs in once (prompts,
    /// when OpenSSH has any, are answered on the terminal).
    pub(crate) fn ensure(&self) -> Result<(), SshError> {
        let _guard = self.starting.lock();
        if self.control.exists()
            && self
                .control_command("check")
                .status()
                .is_ok_and(|s| s.success())
        {
            return Ok(());
        }
        let out = self
            .command("exit 0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(SshError::Io)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(SshError::OpenSsh {
                target: self.name.clone(),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })
        }
    }

    /// Runs `script` with `input` on its standard input: out, err, status.
    pub(super) fn capture(
        &self,
        script: &str,
        input: Option<&[u8]>,
    ) -> Result<(Vec<u8>, Vec<u8>, i32), SshError> {
        self.ensure()?;
        let mut child = self
            .command(script)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(SshError::Io)?;
        let writer = input.map(|bytes| {
            let mut stdin = child.stdin.take();
            let bytes = bytes.to_vec();
            std::thread::spawn(move || {
                if let Some(stdin) = stdin.as_mut() {
                    let _ = stdin.write_all(&bytes);
                }
            })
        });
        let out = child.wait_with_output().map_err(SshError::Io)?;
        if let Some(w) = writer {
            let _ = w.join();
        }
        let status = out.status.code().unwrap_or(SSH_FAILED);
        Ok((out.stdout, out.stderr, status))
    }

    pub(super) fn failed(&self, status: i32, stderr: &[u8]) -> SshError {
        SshError::OpenSsh {
            target: self.name.clone(),
            status: format!("exit status {status}"),
            stderr: String::from_utf8_lossy(stderr).trim().to_owned(),
        }
    }

    /// Runs a file operation's script; `Ok(false)` when it said "no such
    /// file".
    fn file_op(
        &self,
        op: &'static str,
        path: &Path,
        script: &str,
        input: Option<&[u8]>,
    ) -> Result<(Vec<u8>, bool), ConnectorError> {
        let io_error = |source: io::Error| ConnectorError::Io {
            op,
            path: path.to_path_buf(),
            source,
        };
        let (out, err, status) = self
            .capture(script, input)
            .map_err(|e| io_error(e.into_io()))?;
        match status {
            0 => Ok((out, true)),
            NOT_FOUND => Ok((out, false)),
            s => Err(io_error(self.failed(s, &err).into_io())),
        }
    }

    pub(crate) fn read_file(
        &self,
        path: &Path,
        offset: u64,
        max: Option<usize>,
    ) -> Result<Vec<u8>, ConnectorError> {
        let p = quoted(path)?;
        let script = match max {
            None if offset == 0 => format!("[ -e {p} ] || exit {NOT_FOUND}; exec cat -- {p}\n"),
            None => format!(
                "[ -e {p} ] || exit {NOT_FOUND}; exec tail -c +{} -- {p}\n",
                offset + 1
            ),
            Some(max) => format!(
                "[ -e {p} ] || exit {NOT_FOUND}; tail -c +{} -- {p} | head -c {max}\n",
                offset + 1
            ),
        };
        match self.file_op("read", path, &script, None)? {
            (bytes, true) => Ok(bytes),
            (_, false) => Err(ConnectorError::Io {
                op: "read",
                path: path.to_path_buf(),
                source: io::ErrorKind::NotFound.into(),
            }),
        }
    }

    pub(crate) fn write_file(&self, path: &Path, contents: &[u8]) -> Result<(), ConnectorError> {
        let tmp = temporary_beside(path)?;
        let (t, p) = (quoted(&tmp)?, quoted(path)?);
        let script = format!(
            "umask 077; cat > {t} && chmod 600 {t} && exec mv -f -- {t} {p} || {{ rm -f -- {t}; exit 1; }}\n"
        );
        self.file_op("write", path, &script, Some(contents))
            .map(|_| ())
    }

    /// Whole and exclusive: written beside `path` (mode 0600), then
    /// hard-linked to it (`ln` makes no link over anything there, and
    /// follows none): whether it made it.
    pub(crate) fn create_file(&self, path: &Path, contents: &[u8]) -> Result<bool, ConnectorError> {
        let tmp = temporary_beside(path)?;
        let (t, p) = (quoted(&tmp)?, quoted(path)?);
        let script = format!(
            "umask 077; {{ [ -e {p} ] || [ -h {p} ]; }} && exit {EXISTS}\n\
             cat > {t} || {{ rm -f -- {t}; exit 1; }}\n\
             if ln -- {t} {p} 2> /dev/null; then rm -f -- {t}; exit 0; fi\n\
             rm -f -- {t}\n\
             {{ [ -e {p} ] || [ -h {p} ]; }} && exit {EXISTS}\n\
             echo 'cannot link the file into place' >&2; exit 1\n"
        );
        let io_error = |source: io::Error| ConnectorError::Io {
            op: "create",
            path: path.to_path_buf(),
            source,
        };
        let (_, err, status) = self
            .capture(&script, Some(contents))
            .map_err(|e| io_error(e.into_io()))?;
        match status {
            0 => Ok(true),
            EXISTS => Ok(false),
            s => Err(io_error(self.failed(s, &err).into_io())),
        }
    }

    /// A directory of the remote user's alone (mode 0700, made so at
    /// once, or one of theirs taken and set so); the names in it.
    pub(crate) fn create_private_dir(&self, path: &Path) -> Result<Vec<OsString>, ConnectorError> {
        let p = quoted(path)?;
        let parent = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => quoted(parent)?,
            _ => ".".to_owned(),
        };
        let script = format!(
            "mkdir -p -- {parent} || exit 1\n\
             if ! mkdir -m 700 -- {p} 2> /dev/null; then\n\
             \t{{ [ -d {p} ] && [ ! -h {p} ]; }} || {{ echo 'it exists and is not a directory' >&2; exit 1; }}\n\
             \t[ -O {p} ] || {{ echo \"it belongs to another user, not to you (user $(id -u))\" >&2; exit 1; }}\n\
             \tchmod 700 -- {p} || exit 1\n\
             fi\n\
             cd -- {p} || exit 1\n\
             for f in * .[!.]* ..?*; do {{ [ -e \"$f\" ] || [ -h \"$f\" ]; }} && printf '%s\\0' \"$f\"; done\n\
             exit 0\n"
        );
        let (out, _) = self.file_op("create directory", path, &script, None)?;
        Ok(out
            .split(|&b| b == 0)
            .filter(|name| !name.is_empty())
            .map(|name| OsString::from_vec(name.to_vec()))
            .collect())
    }

    pub(crate) fn set_executable(&self, path: &Path) -> Result<(), ConnectorError> {
        let p = quoted(path)?;
        let script = format!("[ -e {p} ] || exit {NOT_FOUND}; exec chmod 700 -- {p}\n");
        match self.file_op("make executable", path, &script, None)? {
            (_, true) => Ok(()),
            (_, false) => Err(ConnectorError::Io {
                op: "make executable",
                path: path.to_path_buf(),
                source: io::ErrorKind::NotFound.into(),
            }),
        }
    }

    pub(crate) fn create_dir_all(&self, path: &Path) -> Result<(), ConnectorError> {
        let p = quoted(path)?;
        self.file_op(
            "create directory",
            path,
            &format!("exec mkdir -p -- {p}\n"),
            None,
        )
        .map(|_| ())
    }

    pub(crate) fn exists(&self, path: &Path) -> Result<bool, ConnectorError> {
        let p = quoted(path)?;
        let script = format!("[ -e {p} ] || exit {NOT_FOUND}\n");
        self.file_op("check", path, &script, None)
            .map(|(_, found)| found)
    }

    pub(crate) fn remove(&self, path: &Path) -> Result<(), ConnectorError> {
        let p = quoted(path)?;
        self.file_op("remove", path, &format!("exec rm -rf -- {p}\n"), None)
            .map(|_| ())
    }

    pub(crate) fn signal(
        &self,
        target: SignalTarget,
        signal: Signal,
    ) -> Result<bool, ConnectorError> {
        let failed = command::signal_guard(target, signal)?;
        let (_, err, status) = self
            .capture(&command::signal_script(target, signal), None)
            .map_err(|e| failed(error_text(&e)))?;
        if status == 0 {
            Ok(true)
        } else if command::no_such_process(&err) {
            Ok(false)
        } else {
            Err(failed(format!(
                "kill on {} failed (exit status {status}): {}",
                self.name,
                String::from_utf8_lossy(&err).trim_end()
            )))
        }
    }

    /// Whether process `pid` (started at `start`) is still there.
    pub(super) fn alive(&self, pid: u32, start: Option<u64>) -> Result<bool, ConnectorError> {
        if let Some(start) = start {
            return match self.read_file(Path::new(&format!("/proc/{pid}/stat")), 0, None) {
                Ok(text) => Ok(command::same_live_process(&text, start)),
                Err(e) if e.is_not_found() => Ok(false),
                Err(e) => Err(e),
            };
        }
        let (_, err, status) = self
            .capture(&format!("LC_ALL=C; export LC_ALL; kill -0 {pid}\n"), None)
            .map_err(|e| ConnectorError::Io {
                op: "check",
                path: PathBuf::from(format!("process {pid}")),
                source: e.into_io(),
            })?;
        Ok(status == 0 || !command::no_such_process(&err))
    }
}

fn error_text(e: &SshError) -> String {
    core_types::text::error_chain(e)
}

fn quoted(path: &Path) -> Result<String, ConnectorError> {
    String::from_utf8(shell_quote(path.as_os_str())?).map_err(|_| {
        ConnectorError::Invalid(format!(
            "{} is not UTF-8, which SSH commands must be",
            path.display()
        ))
    })
}

/// A temporary name beside `path`, unique in this process and among
/// processes: `.NAME.tmp.PID.N`.
fn temporary_beside(path: &Path) -> Result<PathBuf, ConnectorError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| ConnectorError::Invalid(format!("`{}` names no file", path.display())))?;
    let mut tmp = OsString::from(".");
    tmp.push(name);
    tmp.push(format!(
        ".tmp.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    Ok(path.with_file_name(tmp))
}
