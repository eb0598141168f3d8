//! A Slurm job's directory: the shared job directory ([`jobdir`]), whose
//! `job.json` says `"launcher": "slurm"` and holds Slurm's part (the job
//! id, the commands' directory and environment), plus the files of the
//! Slurm launcher.
//!
//! | file | written by | holds |
//! |---|---|---|
//! | `job.json` | launcher, before and after `sbatch` (an array task's: before) | name, command, requirement, Slurm job id, binaries, environment, array index |
//! | `array.sh`, `array-id` | launcher, in an array's first directory | the array script; the array's job id (task N is `ID_N`) |
//! | `job.sh` | launcher | the sbatch script (`#SBATCH` lines, Slurm's part, the job script of [`jobdir`]) |
//! | `slurm-job` | job, when it starts | its Slurm job id |
//! | `slurm.out` | launcher (empty, 0600: Slurm opens it as it is), then Slurm | the batch step's output (Slurm's own messages) |
//! | `array-N.out` | the same, in an array's first directory | task N's batch step output |
//! | `stdout`, `stderr`, `pid`, `state`, `cancel`, `timeout` | the job script | as for every launcher; `state`'s second line says which run wrote it (`run N`: Slurm's `SLURM_RESTART_COUNT`, 0 for the first) |
//! | `slurm-state` | launcher | the final state it decided (outranks `state`) |

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use core_types::job::{Connector, Job, JobState};
use jobdir::{
    ArrayMeta, CANCEL, Identity, JobDirError, JobMeta, LauncherKind, LauncherMeta, STATE,
    SlurmMeta, parse_state,
};

use crate::SlurmError;
use crate::script::{SLURM_JOB_FILE, SLURM_STATE_FILE};

/// The launcher's name in `job.json`.
pub const LAUNCHER: &str = LauncherKind::Slurm.name();

/// What `job.json` says of a Slurm job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Meta {
    /// The Slurm job id (`123`, `13_2`), once `sbatch` answered.
    pub job_id: Option<String>,
    /// The directory of the Slurm commands (`PATH` when `None`).
    pub bin: Option<PathBuf>,
    /// The environment the commands run with.
    pub env: Vec<(OsString, OsString)>,
    /// The process that submitted it.
    pub submitter: Option<Identity>,
    /// The job array it is a task of, when it is one.
    pub array: Option<ArrayRef>,
    /// Why `sbatch` did not take it, when it did not.
    pub submission_failed: Option<String>,
    /// Its tag, in its comment (`launch:TAG`), when it has one.
    pub tag: Option<String>,
}

/// A task of a job array: its index, the array's size, and the first
/// task's directory, which holds the array script and, once `sbatch`
/// answered, the array's job id ([`ARRAY_ID_FILE`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArrayRef {
    pub index: usize,
    pub size: usize,
    pub first: PathBuf,
}

/// The file, in an array's first directory, that holds the array's job id.
pub(crate) const ARRAY_ID_FILE: &str = "array-id";

/// The job script's `before_command`: the run of a requeued job goes with
/// its state (a second line, `run N`), so that the state an earlier run
/// left is never taken for a later run's end.
pub(crate) const RUN_NOTE: &[u8] = b"state_note=\"run ${SLURM_RESTART_COUNT:-0}\"\n";

/// The run a `state` file says it is of (its `run N` line), when it does.
pub(crate) fn run_of(state: &[u8]) -> Option<u32> {
    String::from_utf8_lossy(state)
        .lines()
        .skip(1)
        .find_map(|line| line.trim().strip_prefix("run ")?.trim().parse().ok())
}

/// `job.json`'s contents.
pub(crate) fn job_meta(
    job: &Job,
    meta: &Meta,
    connector: &dyn Connector,
    args: &[String],
) -> JobMeta {
    let lossy = |s: &std::ffi::OsStr| s.to_string_lossy().into_owned();
    let slurm = SlurmMeta {
        job_id: meta.job_id.clone(),
        bin: meta.bin.as_deref().map(|b| lossy(b.as_os_str())),
        env: meta.env.iter().map(|(k, v)| (lossy(k), lossy(v))).collect(),
        sbatch_args: args.to_vec(),
        array: meta.array.as_ref().map(|a| ArrayMeta {
            index: a.index,
            size: a.size,
            first_dir: lossy(a.first.as_os_str()),
        }),
        submission_failed: meta.submission_failed.clone(),
        tag: meta.tag.clone(),
    };
    let mut out = JobMeta::of(job, LauncherMeta::Slurm { slurm }, connector.name());
    out.submitter.clone_from(&meta.submitter);
    out
}

/// Reads `job.json`; an error naming the directory when there is none or
/// it holds another launcher's job.
pub(crate) fn read_meta(connector: &dyn Connector, dir: &Path) -> Result<Meta, SlurmError> {
    let not_a_job = |reason: String| SlurmError::NotAJobDir {
        dir: dir.to_path_buf(),
        reason,
    };
    let other = |kind: &str| {
        not_a_job(format!(
            "it holds a job of the `{kind}` launcher, not the Slurm one"
        ))
    };
    let meta = match jobdir::read_meta(connector, dir) {
        Ok(meta) => meta,
        Err(JobDirError::NotAJobDir { reason, .. }) => return Err(not_a_job(reason)),
        Err(JobDirError::UnknownLauncher { kind, .. }) => return Err(other(&kind)),
        Err(e) => return Err(e.into()),
    };
    let LauncherMeta::Slurm { slurm } = meta.launcher else {
        return Err(other(meta.kind().name()));
    };
    Ok(Meta {
        job_id: slurm.job_id,
        bin: slurm.bin.map(PathBuf::from),
        env: slurm
            .env
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect(),
        submitter: meta.submitter,
        array: slurm.array.map(|a| ArrayRef {
            index: a.index,
            size: a.size,
            first: a.first_dir.into(),
        }),
        submission_failed: slurm.submission_failed,
        tag: slurm.tag,
    })
}

/// The files of one job directory.
#[derive(Debug, Clone)]
pub(crate) struct JobDir {
    pub files: jobdir::JobDir,
}

impl JobDir {
    pub(crate) fn new(connector: Arc<dyn Connector>, dir: &Path) -> Self {
        JobDir {
            files: jobdir::JobDir::new(connector, dir),
        }
    }

    /// The directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.files.dir
    }

    /// The final state the launcher recorded, when it did.
    pub(crate) fn decided(&self) -> Result<Option<JobState>, SlurmError> {
        self.state_file(SLURM_STATE_FILE)
    }

    /// The state the job script wrote when the command ended, when it did.
    pub(crate) fn wrapper_state(&self) -> Result<Option<JobState>, SlurmError> {
        self.state_file(STATE)
    }

    /// The state the job script wrote, with the run that wrote it when the
    /// file says (see [`RUN_NOTE`]).
    pub(crate) fn wrapper_end(&self) -> Result<Option<(JobState, Option<u32>)>, SlurmError> {
        Ok(self
            .state_and_text(STATE)?
            .map(|(state, text)| (state, run_of(&text))))
    }

    fn state_file(&self, name: &str) -> Result<Option<JobState>, SlurmError> {
        Ok(self.state_and_text(name)?.map(|(state, _)| state))
    }

    fn state_and_text(&self, name: &str) -> Result<Option<(JobState, Vec<u8>)>, SlurmError> {
        let Some(bytes) = self.files.read(name)? else {
            return Ok(None);
        };
        // Its reservation's blanks, or being written (in place, or by a
        // non-atomic copy): not there yet.
        if !jobdir::state_written(&bytes) {
            return Ok(None);
        }
        Ok(Some((parse_state(&bytes, &self.files.path(name))?, bytes)))
    }

    /// Records the final state (best effort for callers: a read-only job
    /// directory does not change the state).
    /// The job script's reservation goes: its state no longer counts.
    pub(crate) fn record(&self, state: &JobState) -> Result<(), SlurmError> {
        self.files.unreserve_state();
        Ok(self.files.write_state_file(SLURM_STATE_FILE, state)?)
    }

    /// The Slurm job id the job wrote when it started.
    pub(crate) fn started_id(&self) -> Result<Option<String>, SlurmError> {
        Ok(self.files.read(SLURM_JOB_FILE)?.and_then(|b| {
            let id = String::from_utf8_lossy(&b).trim().to_owned();
            (!id.is_empty()).then_some(id)
        }))
    }

    /// The job id of a task of an array, from the array's id file.
    pub(crate) fn array_task_id(&self, array: &ArrayRef) -> Result<Option<String>, SlurmError> {
        let base = self
            .files
            .read_abs(&array.first.join(ARRAY_ID_FILE))?
            .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
            .filter(|b| !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()));
        Ok(base.map(|base| format!("{base}_{}", array.index)))
    }

    /// Writes the cancellation marker the job script reads.
    pub(crate) fn mark_cancelled(&self) -> Result<(), SlurmError> {
        Ok(self.files.write(CANCEL, b"")?)
    }

    /// Whether its cancellation was asked for.
    pub(crate) fn cancel_requested(&self) -> Result<bool, SlurmError> {
        Ok(self.files.exists(CANCEL)?)
    }

    /// Writes `job.json`.
    pub(crate) fn write_meta(&self, meta: &JobMeta) -> Result<(), SlurmError> {
        Ok(self.files.write_meta(meta)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_names_its_run() {
        assert_eq!(run_of(b"exited 143\nrun 2\n"), Some(2));
        assert_eq!(run_of(b"exited 0\n"), None);
        assert_eq!(run_of(b"run 1\n"), None, "the first line is the state");
        assert_eq!(run_of(b"exited 0\nrun x\n"), None);
    }
}
