//! Following a direct launcher's job from its directory alone: the state
//! of a job whose submitter may be gone, and cancelling it.

use core_types::backoff::Backoff;
use std::ops::Deref;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use core_types::job::{Connector, FailReason, JobState, Signal, SignalTarget};
use jobdir::{CANCEL, GIVEN_UP, JobDirError, LauncherKind, PID, TIMEOUT};

use crate::DirectError;

/// A direct launcher's job directory on a connector's machine.
#[derive(Debug, Clone)]
pub(crate) struct JobDir(pub jobdir::JobDir);

impl Deref for JobDir {
    type Target = jobdir::JobDir;
    fn deref(&self) -> &jobdir::JobDir {
        &self.0
    }
}

/// How often a job directory is looked at while waiting: from `FIRST`,
/// doubling up to `LAST`.
const FIRST_POLL: Duration = Duration::from_millis(2);
const LAST_POLL: Duration = Duration::from_millis(250);

impl JobDir {
    /// The job directory `dir` on `connector`'s machine.
    pub(crate) fn new(connector: Arc<dyn Connector>, dir: impl Into<std::path::PathBuf>) -> Self {
        JobDir(jobdir::JobDir::new(connector, dir))
    }

    /// The job's description; an error naming the directory when there is
    /// none or it is not ours.
    pub(crate) fn meta(&self) -> Result<jobdir::JobMeta, DirectError> {
        let not_a_job = |reason: String| DirectError::NotAJobDir {
            dir: self.dir.clone(),
            reason,
        };
        let other = |kind: &str| {
            not_a_job(format!(
                "it holds a job of the `{kind}` launcher, not the direct one"
            ))
        };
        match self.0.meta() {
            Ok(meta) if meta.kind() == LauncherKind::Direct => Ok(meta),
            Ok(meta) => Err(other(meta.kind().name())),
            Err(JobDirError::NotAJobDir { reason, .. }) => Err(not_a_job(reason)),
            Err(JobDirError::UnknownLauncher { kind, .. }) => Err(other(&kind)),
            Err(e) => Err(e.into()),
        }
    }

    /// The job's state, from its directory alone.
    pub(crate) fn observed_state(&self) -> Result<JobState, DirectError> {
        if let Some(state) = self.final_state()? {
            return Ok(state);
        }
        if let Some(pid) = self.pid_file()? {
            let (supervisor, command) = self.liveness(&pid)?;
            if supervisor && pid.command.is_none() && self.exists(crate::ledger::JOB_FILE)? {
                // In line for its share of the machine.
                return Ok(JobState::Scheduled);
            }
            if supervisor || command {
                return Ok(JobState::Running);
            }
        } else {
            let meta = self.meta()?;
            if meta.submitter.and_then(|s| s.alive_here()) != Some(false) {
                // Queued (or starting) in a process that is still there.
                return Ok(JobState::Scheduled);
            }
            // Its submitter is gone, and recorded no supervisor: the job is
            // lost, for good. Written where the supervisor would write, so
            // that one started meanwhile sees it and never runs; or the
            // supervisor was there first, and is followed.
            // (A directory it cannot write in: the verdict is not recorded.)
            let recorded = self.connector.create_file(&self.path(PID), GIVEN_UP);
            if matches!(recorded, Ok(false)) && self.read(PID)?.as_deref() != Some(GIVEN_UP) {
                return match self.pid_file()? {
                    Some(_) => self.observed_state(),
                    // Being written by its supervisor.
                    None => Ok(JobState::Running),
                };
            }
        }
        self.unsupervised_end()
    }

    /// Whether its supervisor runs and waits in the machine's ledger.
    pub(crate) fn waiting(&self) -> Result<bool, DirectError> {
        let Some(pid) = self.pid_file()? else {
            return Ok(false);
        };
        if pid.command.is_some() || !self.exists(crate::ledger::JOB_FILE)? {
            return Ok(false);
        }
        Ok(self.process_alive(pid.supervisor, pid.supervisor_start, &pid.boot)?)
    }

    /// Why it waits, when it does: for its share of the machine (what the
    /// ledger says), or in its submitter's queue.
    pub(crate) fn waiting_reason(&self) -> Result<Option<String>, DirectError> {
        if self.observed_state()? != JobState::Scheduled {
            return Ok(None);
        }
        if self.pid_file()?.is_none() {
            return Ok(Some(
                "waiting for room in the queue of the process that submitted it".to_owned(),
            ));
        }
        let Some(text) = self.read(crate::ledger::JOB_FILE)? else {
            return Ok(None);
        };
        let Some((path, seq)) = crate::ledger::job_file(&String::from_utf8_lossy(&text)) else {
            return Ok(None);
        };
        let ledger = self
            .read_abs(&std::path::Path::new(&path).join("ledger"))?
            .map(|bytes| crate::ledger::parse(&String::from_utf8_lossy(&bytes)))
            .unwrap_or_default();
        Ok(Some(ledger.reason(seq).unwrap_or_else(|| {
            "starting: it holds its share of the machine".to_owned()
        })))
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
        Ok(JobState::Failed(if self.exists(CANCEL)? {
            FailReason::Cancelled
        } else if self.exists(TIMEOUT)? {
            FailReason::Timeout
        } else {
            FailReason::Lost
        }))
    }

    /// Polls until the job ends or `timeout` passes.
    pub(crate) fn poll_until_final(
        &self,
        timeout: Option<Duration>,
    ) -> Result<Option<JobState>, DirectError> {
        let start = Instant::now();
        let mut pause = Backoff::new(FIRST_POLL, LAST_POLL);
        loop {
            let state = self.observed_state()?;
            if state.is_final() {
                return Ok(Some(state));
            }
            let mut nap = pause.pause();
            if let Some(limit) = timeout {
                let left = limit.saturating_sub(start.elapsed());
                if left.is_zero() {
                    return Ok(None);
                }
                nap = nap.min(left);
            }
            std::thread::sleep(nap);
            pause.grow();
        }
    }

    /// Whether process `pid` is this job's: in the process group `group`,
    /// with the job's marker in the environment it started with
    /// (`LAUNCH_JOB_DIR` naming this directory, or one whose `pid` file is
    /// this one's), whatever a `pid` file says of it.
    pub(crate) fn is_the_jobs(&self, pid: u32, group: u32) -> Result<bool, DirectError> {
        let proc = std::path::PathBuf::from(format!("/proc/{pid}"));
        let in_group = self
            .read_abs(&proc.join("stat"))?
            .and_then(|stat| {
                let stat = String::from_utf8_lossy(&stat).into_owned();
                let after = stat.get(stat.rfind(')')? + 1..)?.to_owned();
                after.split_ascii_whitespace().nth(2)?.parse::<u32>().ok()
            })
            .is_some_and(|pgrp| pgrp == group);
        if !in_group {
            return Ok(false);
        }
        // Unreadable (another user's process): not the job's.
        let environ = match self.read_abs(&proc.join("environ")) {
            Ok(environ) => environ.unwrap_or_default(),
            Err(JobDirError::Connector(e))
                if matches!(&e, core_types::job::ConnectorError::Io { source, .. }
                    if source.kind() == std::io::ErrorKind::PermissionDenied) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        };
        let marker = format!("{}=", jobdir::JOB_DIR_VAR);
        let Some(named) = environ
            .split(|&b| b == 0)
            .find_map(|entry| entry.strip_prefix(marker.as_bytes()))
        else {
            return Ok(false);
        };
        let named = std::path::Path::new(std::ffi::OsStr::from_bytes(named));
        if named.components().eq(self.dir.components()) {
            return Ok(true);
        }
        // The same directory, spelled otherwise (relative, through a link).
        let ours = self.read(jobdir::PID)?;
        Ok(ours.is_some() && self.read_abs(&named.join(jobdir::PID))? == ours)
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
        self.write(CANCEL, b"")?;
        let mut termed: Option<Instant> = None;
        let mut killed = false;
        let mut refused_once = false;
        let mut pause = Backoff::new(FIRST_POLL, LAST_POLL);
        loop {
            if ended(pause.pause())? {
                return Ok(());
            }
            pause.grow();
            let Some(pid) = self.pid_file()? else {
                // Not started: the script sees the marker when it starts.
                continue;
            };
            let (supervisor, command) = self.liveness(&pid)?;
            // The supervisor leads the job's process group; a process the
            // `pid` file names is signalled only when it is the job's.
            let alive = if supervisor {
                Some(pid.supervisor)
            } else if command {
                pid.command
            } else {
                None
            };
            if let Some(process) = alive {
                if termed.is_none() && !self.is_the_jobs(process, pid.supervisor)? {
                    // It may be ending meanwhile (a job that saw the marker
                    // before its command ends by itself, and an exiting
                    // process shows no environment): refused when it is
                    // still so at the next look.
                    if !refused_once {
                        refused_once = true;
                        continue;
                    }
                    return Err(DirectError::NotTheJobs {
                        dir: self.dir.clone(),
                        pid: process,
                    });
                }
            }
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
