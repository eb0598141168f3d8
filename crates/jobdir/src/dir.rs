//! A job directory on a connector's machine: its files, read and written
//! through the connector.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use core_types::job::{Connector, ConnectorError, JobState};

use crate::{
    JobDirError, JobMeta, META, PID, PidFile, STATE, STATE_RESERVED_LEN, is_alive, parse_pid_file,
    parse_state, state_line, state_written,
};

/// Reads a file; `None` when it does not exist (or is the `/proc` entry of
/// a process that just went: `ESRCH` mid-read).
fn read_opt(connector: &dyn Connector, path: &Path) -> Result<Option<Vec<u8>>, ConnectorError> {
    match connector.read_file(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e)
            if e.is_not_found()
                || matches!(&e, ConnectorError::Io { source, .. } if source.raw_os_error() == Some(3)) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Reads the `job.json` of `dir` on `connector`'s machine: an error naming
/// the directory when it does not exist, holds none, or holds one that
/// names no launcher this version knows.
pub fn read_meta(connector: &dyn Connector, dir: &Path) -> Result<JobMeta, JobDirError> {
    let Some(bytes) = read_opt(connector, &dir.join(META))? else {
        let reason = if connector.exists(dir)? {
            format!("it has no `{META}`")
        } else {
            "it does not exist".into()
        };
        return Err(JobDirError::NotAJobDir {
            dir: dir.to_path_buf(),
            reason,
        });
    };
    JobMeta::parse(&bytes, dir)
}

/// A job directory on a connector's machine.
#[derive(Debug, Clone)]
pub struct JobDir {
    /// The connector to its machine.
    pub connector: Arc<dyn Connector>,
    /// The directory.
    pub dir: PathBuf,
}

impl JobDir {
    /// The job directory `dir` on `connector`'s machine.
    pub fn new(connector: Arc<dyn Connector>, dir: impl Into<PathBuf>) -> Self {
        JobDir {
            connector,
            dir: dir.into(),
        }
    }

    /// Makes the directory of a new job on `connector`'s machine: new, or
    /// empty and the caller's, and then no one else's (mode 0700), so that
    /// no one else can plant a file or a link in it. A directory that holds
    /// anything is refused (one that holds a job, or anything else: a job
    /// directory is never shared), naming the directory.
    pub fn create(
        connector: Arc<dyn Connector>,
        dir: impl Into<PathBuf>,
    ) -> Result<Self, JobDirError> {
        let dir = dir.into();
        let mut names = connector.create_private_dir(&dir)?;
        if names.is_empty() {
            return Ok(JobDir { connector, dir });
        }
        let reason = if names.iter().any(|n| n == META) {
            format!("it already holds a job (`{META}` exists)")
        } else {
            names.sort();
            let shown: Vec<String> = names
                .iter()
                .take(3)
                .map(|n| format!("`{}`", crate::printable(n)))
                .collect();
            format!(
                "it is not empty (it holds {}{}) and is not a job directory: a job needs a new or empty directory",
                shown.join(", "),
                if names.len() > 3 { ", ..." } else { "" }
            )
        };
        Err(JobDirError::InUse { dir, reason })
    }

    /// The path of one of its files.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Reads one of its files; `None` when it does not exist.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, JobDirError> {
        Ok(read_opt(self.connector.as_ref(), &self.path(name))?)
    }

    /// Reads any file of its machine; `None` when it does not exist.
    pub fn read_abs(&self, path: &Path) -> Result<Option<Vec<u8>>, JobDirError> {
        Ok(read_opt(self.connector.as_ref(), path)?)
    }

    /// Whether one of its files exists.
    pub fn exists(&self, name: &str) -> Result<bool, JobDirError> {
        Ok(self.connector.exists(&self.path(name))?)
    }

    /// Writes one of its files whole (write, then rename).
    pub fn write(&self, name: &str, contents: &[u8]) -> Result<(), JobDirError> {
        Ok(self.connector.write_file(&self.path(name), contents)?)
    }

    /// Its description ([`read_meta`]).
    pub fn meta(&self) -> Result<JobMeta, JobDirError> {
        read_meta(self.connector.as_ref(), &self.dir)
    }

    /// Writes its description.
    pub fn write_meta(&self, meta: &JobMeta) -> Result<(), JobDirError> {
        self.write(META, &meta.to_bytes())
    }

    /// The state in a file of the `state` format (`name`), when it is
    /// written ([`state_written`]: not the blanks of its reservation); an
    /// error when it holds something else.
    pub fn state_file(&self, name: &str) -> Result<Option<JobState>, JobDirError> {
        self.read(name)?
            .filter(|bytes| state_written(bytes))
            .map(|bytes| parse_state(&bytes, &self.path(name)))
            .transpose()
    }

    /// The final state the script (or the launcher) wrote, when it did.
    pub fn final_state(&self) -> Result<Option<JobState>, JobDirError> {
        self.state_file(STATE)
    }

    /// Writes a state to a file of the `state` format (`name`).
    pub fn write_state_file(&self, name: &str, state: &JobState) -> Result<(), JobDirError> {
        self.write(name, state_line(state).as_bytes())
    }

    /// Writes the final state. The blank reservation of the script's own
    /// state is given back first, so that its space is there for this
    /// write on a full disk.
    pub fn write_state(&self, state: &JobState) -> Result<(), JobDirError> {
        self.unreserve_state();
        self.write_state_file(STATE, state)
    }

    /// Reserves the space of the final state (a blank [`STATE`]), so that
    /// the job script can record the job's end even when the job fills its
    /// disk. Launchers call it at submission, before the job can run.
    pub fn reserve_state(&self) -> Result<(), JobDirError> {
        // Blank until the job ends, however much of it is written: no one
        // takes it for a state before then.
        let path = self.path(STATE);
        Ok(self
            .connector
            .write_unread(&path, &[b' '; STATE_RESERVED_LEN])?)
    }

    /// Removes the reservation of [`JobDir::reserve_state`] when it is
    /// still blank (a submission that failed, a state the launcher writes
    /// itself); a written state stays. Best effort.
    pub fn unreserve_state(&self) {
        if let Ok(Some(bytes)) = self.read(STATE) {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                let _ = self.connector.remove(&self.path(STATE));
            }
        }
    }

    /// The `pid` file, once its first part is complete.
    pub fn pid_file(&self) -> Result<Option<PidFile>, JobDirError> {
        Ok(self.read(PID)?.as_deref().and_then(parse_pid_file))
    }

    /// Whether a process the `pid` file records is still that process
    /// ([`is_alive`] on the connector's machine); not when its start time
    /// is unknown.
    pub fn process_alive(
        &self,
        pid: u32,
        start: Option<u64>,
        boot: &str,
    ) -> Result<bool, JobDirError> {
        let Some(start) = start else {
            return Ok(false);
        };
        Ok(is_alive(
            |path| read_opt(self.connector.as_ref(), path),
            pid,
            start,
            boot,
        )?)
    }

    /// Which processes the `pid` file records are alive: (supervisor,
    /// command).
    pub fn liveness(&self, pid: &PidFile) -> Result<(bool, bool), JobDirError> {
        let supervisor = self.process_alive(pid.supervisor, pid.supervisor_start, &pid.boot)?;
        let command = match pid.command {
            Some(command) => self.process_alive(command, pid.command_start, &pid.boot)?,
            None => false,
        };
        Ok((supervisor, command))
    }
}
