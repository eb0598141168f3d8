//! Files on the remote machine, through SFTP; signals and liveness.

use std::ffi::OsString;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use core_types::job::{ConnectorError, Signal, SignalTarget, shell_quote};
use ssh2::{File, FileStat, OpenFlags, OpenType};

use libssh2_sys::{
    LIBSSH2_ERROR_FILE, LIBSSH2_FX_FAILURE, LIBSSH2_FX_FILE_ALREADY_EXISTS,
    LIBSSH2_FX_NO_SUCH_FILE, LIBSSH2_FX_NO_SUCH_PATH,
};

use crate::SshError;
use crate::command;
use crate::session::{Shared, State};

/// SFTP's "no such file" and "no such path".
const NO_SUCH_FILE: [i32; 2] = [LIBSSH2_FX_NO_SUCH_FILE, LIBSSH2_FX_NO_SUCH_PATH];
/// SFTP's generic failure (what OpenSSH answers for "it exists").
const FAILURE: i32 = LIBSSH2_FX_FAILURE;

fn io_error(op: &'static str, path: &Path) -> impl FnOnce(SshError) -> ConnectorError {
    let path = path.to_path_buf();
    move |e| ConnectorError::Io {
        op,
        path,
        source: e.into_io(),
    }
}

fn is_not_found(e: &SshError) -> bool {
    e.sftp_code().is_some_and(|c| NO_SUCH_FILE.contains(&c))
}

fn close(shared: &Shared, st: &mut State, file: &mut File) -> Result<(), SshError> {
    shared.hold(st, "closing a file", |_| Ok(file.close()?))
}

/// Reads a whole file, or `max` bytes of it from `offset`.
fn read_range(
    shared: &Shared,
    path: &Path,
    offset: u64,
    max: Option<usize>,
) -> Result<Vec<u8>, SshError> {
    shared.retrying(|shared, st| {
        let mut file = shared.hold(st, "opening a file", |c| Ok(c.sftp()?.open(path)?))?;
        if offset > 0 {
            file.seek(SeekFrom::Start(offset)).map_err(SshError::Io)?;
        }
        let mut out = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let want = max.map_or(chunk.len(), |m| (m - out.len()).min(chunk.len()));
            if want == 0 {
                break;
            }
            let read = shared.hold(st, "reading a file", |_| Ok(file.read(&mut chunk[..want])?));
            let n = match read {
                Ok(n) => n,
                // A process that ends while its /proc entry is read makes
                // the read fail: it is gone.
                Err(e) if path.starts_with("/proc") && e.sftp_code() == Some(FAILURE) => {
                    return Err(SshError::Io(io::Error::new(
                        io::ErrorKind::NotFound,
                        "the process went away while it was read",
                    )));
                }
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            out.extend_from_slice(&chunk[..n]);
        }
        close(shared, st, &mut file)?;
        Ok(out)
    })
}

pub(crate) fn read_file(shared: &Shared, path: &Path) -> Result<Vec<u8>, ConnectorError> {
    read_range(shared, path, 0, None).map_err(io_error("read", path))
}

pub(crate) fn read_file_from(
    shared: &Shared,
    path: &Path,
    offset: u64,
    max: usize,
) -> Result<Vec<u8>, ConnectorError> {
    read_range(shared, path, offset, Some(max)).map_err(io_error("read", path))
}

/// Writes `contents` to a temporary file beside `path`, then renames it.
/// Writes `contents` to a fresh temporary file beside `path` and renames
/// it to `path` with SFTP, which (on OpenSSH) never replaces a file: the
/// temporary's path, and whether it was renamed.
fn write_beside(
    shared: &Arc<Shared>,
    path: &Path,
    contents: &[u8],
) -> Result<(PathBuf, bool), ConnectorError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| ConnectorError::Invalid(format!("`{}` names no file", path.display())))?;
    let mut tmp_name = OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".tmp.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = path.with_file_name(tmp_name);
    let renamed = shared.retrying(|shared, st| {
        // A file of its own (a link there is not followed), its owner's
        // alone; a retry after a broken session finds its own.
        let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
        let _ = shared.hold(st, "removing a file", |c| Ok(c.sftp()?.unlink(&tmp)?));
        let mut file = shared.hold(st, "creating a file", |c| {
            Ok(c.sftp()?
                .open_mode(&tmp, flags | OpenFlags::EXCLUSIVE, 0o600, OpenType::File)?)
        })?;
        let mut written = 0;
        while written < contents.len() {
            written += shared.hold(st, "writing a file", |_| {
                Ok(file.write(&contents[written..])?)
            })?;
        }
        close(shared, st, &mut file)?;
        // OpenSSH's SFTP rename refuses to replace a file: `mv` does it
        // (rename(2), atomic) when the SFTP rename cannot.
        match shared.hold(st, "renaming a file", |c| {
            Ok(c.sftp()?.rename(&tmp, path, None)?)
        }) {
            Ok(()) => Ok(true),
            Err(e)
                if matches!(
                    e.sftp_code(),
                    Some(FAILURE | LIBSSH2_FX_FILE_ALREADY_EXISTS)
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    });
    match renamed {
        Ok(renamed) => Ok((tmp, renamed)),
        Err(e) => {
            let _ = remove(shared, &tmp);
            Err(io_error("write", &tmp)(e))
        }
    }
}

/// Creates `path` with `contents`, whole at once, unless something (a
/// link, too) is there: whether it did.
pub(crate) fn create_file(
    shared: &Arc<Shared>,
    path: &Path,
    contents: &[u8],
) -> Result<bool, ConnectorError> {
    let (tmp, renamed) = write_beside(shared, path, contents)?;
    if renamed {
        return Ok(true);
    }
    let _ = remove(shared, &tmp);
    let there = shared
        .retrying(|shared, st| Ok(stat(shared, st, path, false)?.is_some()))
        .map_err(io_error("create", path))?;
    if there {
        Ok(false)
    } else {
        Err(ConnectorError::Io {
            op: "create",
            path: path.to_path_buf(),
            source: io::Error::other("the SFTP server did not rename the file into place"),
        })
    }
}

pub(crate) fn write_file(
    shared: &Arc<Shared>,
    path: &Path,
    contents: &[u8],
) -> Result<(), ConnectorError> {
    let (tmp, renamed) = write_beside(shared, path, contents)?;
    if renamed {
        return Ok(());
    }
    let script = format!(
        "exec mv -f -- {} {}",
        quoted(tmp.as_os_str())?,
        quoted(path.as_os_str())?
    );
    let fail = |source| ConnectorError::Io {
        op: "rename into",
        path: path.to_path_buf(),
        source,
    };
    let (_, err, exit) = crate::process::exec_capture(shared, &script).map_err(fail)?;
    if !exit.success() {
        let _ = remove(shared, &tmp);
        return Err(fail(io::Error::other(format!(
            "mv failed ({exit}): {}",
            String::from_utf8_lossy(&err).trim_end()
        ))));
    }
    Ok(())
}

/// A word for a script; the script must be UTF-8, and these paths are
/// the connector's own.
fn quoted(word: &std::ffi::OsStr) -> Result<String, ConnectorError> {
    String::from_utf8(shell_quote(word)?).map_err(|_| {
        ConnectorError::Invalid(format!(
            "{} is not UTF-8, which SSH commands must be",
            word.to_string_lossy()
        ))
    })
}

pub(crate) fn set_executable(shared: &Shared, path: &Path) -> Result<(), ConnectorError> {
    shared
        .retrying(|shared, st| {
            shared.hold(st, "changing a file's mode", |c| {
                Ok(c.sftp()?.setstat(path, mode_only(0o700))?)
            })
        })
        .map_err(io_error("make executable", path))
}

/// `stat`: `None` when nothing is there.
fn stat(
    shared: &Shared,
    st: &mut State,
    path: &Path,
    follow: bool,
) -> Result<Option<FileStat>, SshError> {
    let result = shared.hold(st, "looking at a file", |c| {
        let sftp = c.sftp()?;
        Ok(if follow {
            sftp.stat(path)?
        } else {
            sftp.lstat(path)?
        })
    });
    match result {
        Ok(stat) => Ok(Some(stat)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) fn exists(shared: &Shared, path: &Path) -> Result<bool, ConnectorError> {
    shared
        .retrying(|shared, st| Ok(stat(shared, st, path, true)?.is_some()))
        .map_err(io_error("check", path))
}

pub(crate) fn create_dir_all(shared: &Shared, path: &Path) -> Result<(), ConnectorError> {
    let not_dir = |p: &Path| {
        SshError::Io(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("`{}` exists and is not a directory", p.display()),
        ))
    };
    shared
        .retrying(|shared, st| {
            // The missing directories, deepest first.
            let mut missing: Vec<PathBuf> = Vec::new();
            let mut at = Some(path);
            while let Some(dir) = at.filter(|d| !d.as_os_str().is_empty()) {
                match stat(shared, st, dir, true)? {
                    Some(s) if s.is_dir() => break,
                    Some(_) => return Err(not_dir(dir)),
                    None => missing.push(dir.to_path_buf()),
                }
                at = dir.parent();
            }
            for dir in missing.iter().rev() {
                if matches!(
                    dir.components().next_back(),
                    Some(Component::ParentDir | Component::CurDir)
                ) {
                    continue;
                }
                let made = shared.hold(st, "creating a directory", |c| {
                    Ok(c.sftp()?.mkdir(dir, 0o755)?)
                });
                if let Err(e) = made {
                    // Made by someone else meanwhile?
                    match stat(shared, st, dir, true)? {
                        Some(s) if s.is_dir() => {}
                        _ => return Err(e),
                    }
                }
            }
            Ok(())
        })
        .map_err(io_error("create directory", path))
}

/// The names of what a directory holds (not `.` and `..`).
fn list_in(shared: &Shared, st: &mut State, path: &Path) -> Result<Vec<OsString>, SshError> {
    let mut dir = shared.hold(st, "opening a directory", |c| {
        Ok(c.sftp()?.opendir(path)?)
    })?;
    let mut names = Vec::new();
    loop {
        match shared.hold(st, "listing a directory", |_| Ok(dir.readdir()?)) {
            Ok((name, _)) => {
                if name != Path::new(".") && name != Path::new("..") {
                    if let Some(name) = name.file_name() {
                        names.push(name.to_owned());
                    }
                }
            }
            // libssh2's "no more entries".
            Err(e) if e.session_code() == Some(LIBSSH2_ERROR_FILE) => break,
            Err(e) => return Err(e),
        }
    }
    close(shared, st, &mut dir)?;
    Ok(names)
}

/// The remote user's uid (`id -u`).
fn remote_uid(shared: &Arc<Shared>) -> Result<u32, io::Error> {
    let (out, err, exit) = crate::process::exec_capture(shared, "exec id -u\n")?;
    String::from_utf8_lossy(&out)
        .trim()
        .parse()
        .ok()
        .filter(|_| exit.success())
        .ok_or_else(|| {
            io::Error::other(format!(
                "`id -u` failed ({exit}): {}",
                String::from_utf8_lossy(&err).trim_end()
            ))
        })
}

/// Makes a directory of the remote user's alone (mode 0700), or takes one
/// of theirs that is there; what it holds.
pub(crate) fn create_private_dir(
    shared: &Arc<Shared>,
    path: &Path,
) -> Result<Vec<OsString>, ConnectorError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all(shared, parent)?;
    }
    let refuse = |why: String| ConnectorError::Io {
        op: "create directory",
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::PermissionDenied, why),
    };
    // Made 0700 at once (the server's umask only takes bits away).
    let made = shared
        .retrying(|shared, st| {
            let made = shared.hold(st, "creating a directory", |c| {
                Ok(c.sftp()?.mkdir(path, 0o700)?)
            });
            match (made, stat(shared, st, path, true)?) {
                (Ok(()), _) => Ok(true),
                (Err(_), Some(meta)) if meta.is_dir() => Ok(false),
                (Err(e), None) => Err(e),
                (Err(_), Some(_)) => Err(SshError::Io(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "it exists and is not a directory",
                ))),
            }
        })
        .map_err(io_error("create directory", path))?;
    if !made {
        let owner = shared
            .retrying(|shared, st| Ok(stat(shared, st, path, true)?.and_then(|m| m.uid)))
            .map_err(io_error("create directory", path))?;
        let me = remote_uid(shared).map_err(|source| ConnectorError::Io {
            op: "create directory",
            path: path.to_path_buf(),
            source,
        })?;
        if owner != Some(me) {
            return Err(refuse(format!(
                "it belongs to user {}, not to you (user {me})",
                owner.map_or_else(|| "?".to_owned(), |u| u.to_string())
            )));
        }
    }
    shared
        .retrying(|shared, st| {
            shared.hold(st, "changing a directory's mode", |c| {
                Ok(c.sftp()?.setstat(path, mode_only(0o700))?)
            })?;
            list_in(shared, st, path)
        })
        .map_err(io_error("create directory", path))
}

/// A stat that sets the mode alone.
fn mode_only(perm: u32) -> FileStat {
    FileStat {
        size: None,
        uid: None,
        gid: None,
        perm: Some(perm),
        atime: None,
        mtime: None,
    }
}

/// Removes what `path` names, recursively; nothing there is fine.
fn remove_in(shared: &Shared, st: &mut State, path: &Path) -> Result<(), SshError> {
    let Some(meta) = stat(shared, st, path, false)? else {
        return Ok(());
    };
    let gone = |r: Result<(), SshError>| match r {
        Err(e) if is_not_found(&e) => Ok(()),
        other => other,
    };
    if !meta.is_dir() {
        return gone(shared.hold(st, "removing a file", |c| Ok(c.sftp()?.unlink(path)?)));
    }
    for name in list_in(shared, st, path)? {
        remove_in(shared, st, &path.join(name))?;
    }
    gone(shared.hold(st, "removing a directory", |c| Ok(c.sftp()?.rmdir(path)?)))
}

pub(crate) fn remove(shared: &Shared, path: &Path) -> Result<(), ConnectorError> {
    shared
        .retrying(|shared, st| remove_in(shared, st, path))
        .map_err(io_error("remove", path))
}

/// Sends a signal with the remote shell's `kill`.
pub(crate) fn signal(
    shared: &Arc<Shared>,
    target: SignalTarget,
    signal: Signal,
) -> Result<bool, ConnectorError> {
    let failed = command::signal_guard(target, signal)?;
    let (_, err, exit) =
        crate::process::exec_capture(shared, &command::signal_script(target, signal))
            .map_err(|e| failed(e.to_string()))?;
    if exit.success() {
        Ok(true)
    } else if command::no_such_process(&err) {
        Ok(false)
    } else {
        Err(failed(format!(
            "kill on {} failed ({exit}): {}",
            shared.target,
            String::from_utf8_lossy(&err).trim_end()
        )))
    }
}

/// Whether the process `pid` that started at `start` is still there
/// (from `/proc` when its start time is known, else with `kill -0`).
pub(crate) fn alive(
    shared: &Arc<Shared>,
    pid: u32,
    start: Option<u64>,
) -> Result<bool, ConnectorError> {
    if let Some(start) = start {
        let path = PathBuf::from(format!("/proc/{pid}/stat"));
        return match read_file(shared, &path) {
            Ok(text) => Ok(command::same_live_process(&text, start)),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        };
    }
    let script = format!("LC_ALL=C; export LC_ALL; kill -0 {pid}\n");
    let (_, err, exit) =
        crate::process::exec_capture(shared, &script).map_err(|source| ConnectorError::Io {
            op: "check",
            path: PathBuf::from(format!("process {pid}")),
            source,
        })?;
    Ok(exit.success() || !command::no_such_process(&err))
}
