//! Reading a job directory from any process: the state of a job whose
//! submitter may be gone, and cancelling it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use core_types::job::{Connector, FailReason, JobState, Signal, SignalTarget};
use serde_json::Value;

use crate::DirectError;
use crate::script::{self, PidFile, parse_pid_file, parse_stat, parse_state};

/// The identity of a process on this machine: enough to tell whether it
/// is still the same process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub host: String,
    pub boot: String,
    pub pid: u32,
    pub start: u64,
}

fn local_boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

fn local_host() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// This process's identity (Linux; `None` elsewhere).
pub(crate) fn this_process() -> Option<&'static Identity> {
    static ME: OnceLock<Option<Identity>> = OnceLock::new();
    ME.get_or_init(|| {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        Some(Identity {
            host: local_host(),
            boot: local_boot_id(),
            pid: std::process::id(),
            start: parse_stat(&stat)?.start,
        })
    })
    .as_ref()
}

impl Identity {
    pub(crate) fn to_json(&self) -> Value {
        serde_json::json!({"host": self.host, "boot": self.boot, "pid": self.pid, "start": self.start})
    }

    fn from_json(v: &Value) -> Option<Identity> {
        Some(Identity {
            host: v.get("host")?.as_str()?.to_owned(),
            boot: v.get("boot")?.as_str()?.to_owned(),
            pid: u32::try_from(v.get("pid")?.as_u64()?).ok()?,
            start: v.get("start")?.as_u64()?,
        })
    }

    /// Whether this (local) process is alive; `None` when that cannot be
    /// told from here (another machine).
    fn alive_locally(&self) -> Option<bool> {
        if self.host != local_host() {
            return None;
        }
        if self.boot != local_boot_id() {
            return Some(false);
        }
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok();
        Some(
            stat.and_then(|s| parse_stat(&s))
                .is_some_and(|s| s.start == self.start && s.state != 'Z'),
        )
    }
}

/// A job directory on a connector's machine.
#[derive(Debug, Clone)]
pub(crate) struct JobDir {
    pub connector: Arc<dyn Connector>,
    pub dir: PathBuf,
}

/// How often a job directory is looked at while waiting: from `FIRST`,
/// doubling up to `LAST`.
const FIRST_POLL: Duration = Duration::from_millis(2);
const LAST_POLL: Duration = Duration::from_millis(250);
/// How long a supervisor may take to write its pid file once started.
const STARTING_GRACE: Duration = Duration::from_millis(200);

impl JobDir {
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Reads a file; `None` when it does not exist.
    fn read_opt(&self, name: &str) -> Result<Option<Vec<u8>>, DirectError> {
        match self.connector.read_file(&self.path(name)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The final state, when the job has one.
    pub(crate) fn final_state(&self) -> Result<Option<JobState>, DirectError> {
        self.read_opt(script::STATE)?
            .map(|bytes| parse_state(&bytes, &self.path(script::STATE)))
            .transpose()
    }

    pub(crate) fn write_state(&self, state: &JobState) -> Result<(), DirectError> {
        self.connector.write_file(
            &self.path(script::STATE),
            script::state_line(state).as_bytes(),
        )?;
        Ok(())
    }

    pub(crate) fn pid_file(&self) -> Result<Option<PidFile>, DirectError> {
        Ok(self
            .read_opt(script::PID)?
            .as_deref()
            .and_then(parse_pid_file))
    }

    /// The job's description; an error naming the directory when there is
    /// none or it is not ours.
    pub(crate) fn meta(&self) -> Result<Value, DirectError> {
        let not_a_job = |reason: String| DirectError::NotAJobDir {
            dir: self.dir.clone(),
            reason,
        };
        let Some(bytes) = self.read_opt(script::META)? else {
            if self.connector.exists(&self.dir)? {
                return Err(not_a_job(format!("it has no `{}`", script::META)));
            }
            return Err(not_a_job("it does not exist".into()));
        };
        let meta: Value = serde_json::from_slice(&bytes).map_err(|e| DirectError::Corrupt {
            path: self.path(script::META),
            reason: e.to_string(),
        })?;
        match meta.get("launcher").and_then(Value::as_str) {
            Some("direct") => Ok(meta),
            Some(other) => Err(not_a_job(format!(
                "it holds a job of the `{other}` launcher, not the direct one"
            ))),
            None => Err(not_a_job(format!("`{}` names no launcher", script::META))),
        }
    }

    /// Whether a process recorded in the pid file is still that process.
    fn process_alive(&self, pid: u32, start: Option<u64>, boot: &str) -> Result<bool, DirectError> {
        let Some(start) = start else {
            return Ok(false);
        };
        if !boot.is_empty() {
            let now = self
                .read_opt_abs(Path::new("/proc/sys/kernel/random/boot_id"))?
                .map(|b| String::from_utf8_lossy(&b).trim().to_owned());
            if now.is_some_and(|now| now != boot) {
                return Ok(false);
            }
        }
        let proc_stat = self.read_opt_abs(Path::new(&format!("/proc/{pid}/stat")))?;
        Ok(proc_stat
            .and_then(|s| parse_stat(&String::from_utf8_lossy(&s)))
            .is_some_and(|s| s.start == start && s.state != 'Z'))
    }

    fn read_opt_abs(&self, path: &Path) -> Result<Option<Vec<u8>>, DirectError> {
        match self.connector.read_file(path) {
            Ok(bytes) => Ok(Some(bytes)),
            // A vanished process's /proc entry may answer ESRCH mid-read.
            Err(e)
                if e.is_not_found()
                    || matches!(&e, core_types::job::ConnectorError::Io { source, .. } if source.raw_os_error() == Some(3)) =>
            {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Which recorded processes are alive: (supervisor, command).
    fn liveness(&self, pid: &PidFile) -> Result<(bool, bool), DirectError> {
        let supervisor = self.process_alive(pid.supervisor, pid.supervisor_start, &pid.boot)?;
        let command = match pid.command {
            Some(command) => self.process_alive(command, pid.command_start, &pid.boot)?,
            None => false,
        };
        Ok((supervisor, command))
    }

    /// The job's state, from its directory alone.
    pub(crate) fn observed_state(&self) -> Result<JobState, DirectError> {
        if let Some(state) = self.final_state()? {
            return Ok(state);
        }
        if let Some(pid) = self.pid_file()? {
            let (supervisor, command) = self.liveness(&pid)?;
            if supervisor || command {
                return Ok(JobState::Running);
            }
        } else {
            let meta = self.meta()?;
            let submitter = meta.get("submitter").and_then(Identity::from_json);
            if submitter.and_then(|s| s.alive_locally()) != Some(false) {
                // Queued (or starting) in a process that is still there.
                return Ok(JobState::Scheduled);
            }
            // The launcher creates `stderr` when it starts the supervisor.
            if self.connector.exists(&self.path(script::STDERR))? {
                // Handed to its supervisor just before the submitter went:
                // the supervisor writes its pid first thing.
                std::thread::sleep(STARTING_GRACE);
                if self.pid_file()?.is_some() {
                    return self.observed_state();
                }
            }
        }
        self.unsupervised_end()
    }

    /// The state once the supervisor has ended. When it ended without a
    /// word (killed), the job lasts as long as its command: the directory
    /// is followed until the command is gone too.
    pub(crate) fn after_supervisor(&self) -> Result<JobState, DirectError> {
        if let Some(state) = self.final_state()? {
            return Ok(state);
        }
        if self.pid_file()?.is_none() {
            return self.unsupervised_end();
        }
        Ok(self
            .poll_until_final(None)?
            .expect("waiting without a timeout ends with a state"))
    }

    /// The end of a job whose supervisor is gone: its state when it wrote
    /// one (meanwhile); else what the markers say (the watchdog stopped it
    /// for its time limit, or someone cancelled it); else lost.
    pub(crate) fn unsupervised_end(&self) -> Result<JobState, DirectError> {
        if let Some(state) = self.final_state()? {
            return Ok(state);
        }
        Ok(JobState::Failed(
            if self.connector.exists(&self.path(script::CANCEL))? {
                FailReason::Cancelled
            } else if self.connector.exists(&self.path(script::TIMEOUT))? {
                FailReason::Timeout
            } else {
                FailReason::Lost
            },
        ))
    }

    /// Polls until the job ends or `timeout` passes.
    pub(crate) fn poll_until_final(
        &self,
        timeout: Option<Duration>,
    ) -> Result<Option<JobState>, DirectError> {
        let start = Instant::now();
        let mut pause = FIRST_POLL;
        loop {
            let state = self.observed_state()?;
            if state.is_final() {
                return Ok(Some(state));
            }
            let mut nap = pause;
            if let Some(limit) = timeout {
                let left = limit.saturating_sub(start.elapsed());
                if left.is_zero() {
                    return Ok(None);
                }
                nap = nap.min(left);
            }
            std::thread::sleep(nap);
            pause = (pause * 2).min(LAST_POLL);
        }
    }

    /// Asks the job to stop: the marker first (so that the job's end is
    /// recorded as a cancellation), then TERM to the command's process
    /// group, KILL after `grace`. `ended` tells (and may wait up to the
    /// given time) whether the job has ended. When neither the supervisor
    /// nor the command is left and no state was written, the state is
    /// written here.
    pub(crate) fn cancel(
        &self,
        grace: Duration,
        ended: &dyn Fn(Duration) -> Result<bool, DirectError>,
    ) -> Result<(), DirectError> {
        if ended(Duration::ZERO)? {
            return Ok(());
        }
        self.connector.write_file(&self.path(script::CANCEL), b"")?;
        let mut termed: Option<Instant> = None;
        let mut killed = false;
        let mut pause = FIRST_POLL;
        loop {
            if ended(pause)? {
                return Ok(());
            }
            pause = (pause * 2).min(LAST_POLL);
            let Some(pid) = self.pid_file()? else {
                // Not started: the script sees the marker when it starts.
                continue;
            };
            let (supervisor, command) = self.liveness(&pid)?;
            // The supervisor leads the job's process group.
            let group = SignalTarget::Group(pid.supervisor);
            match termed {
                None => {
                    if command || supervisor {
                        self.connector.signal(group, Signal::Term)?;
                    }
                    termed = Some(Instant::now());
                }
                Some(at) if !killed && at.elapsed() >= grace => {
                    if command || supervisor {
                        self.connector.signal(group, Signal::Kill)?;
                    }
                    killed = true;
                }
                _ => {}
            }
            if !supervisor && !command && self.final_state()?.is_none() {
                // Nobody is left to record the end: do it here.
                self.write_state(&JobState::Failed(FailReason::Cancelled))?;
            }
        }
    }
}
