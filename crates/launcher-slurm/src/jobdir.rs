//! A Slurm job's directory: its description (`job.json`, which says
//! `"launcher": "slurm"`, the Slurm job id, the commands' directory and
//! environment) and the state files the job and the launcher write.
//!
//! | file | written by | holds |
//! |---|---|---|
//! | `job.json` | launcher, before and after `sbatch` (an array task's: before) | name, command, requirement, Slurm job id, binaries, environment, array index |
//! | `array.sh`, `array-id` | launcher, in an array's first directory | the array script; the array's job id (task N is `ID_N`) |
//! | `job.sh` | launcher | the sbatch script (`#SBATCH` lines, Slurm's part, the direct wrapper) |
//! | `slurm-job` | job, when it starts | its Slurm job id |
//! | `slurm.out` | Slurm | the batch step's output (Slurm's own messages) |
//! | `stdout`, `stderr`, `pid`, `state`, `cancel`, `timeout` | the wrapper | as for the direct launcher |
//! | `slurm-state` | launcher | the final state it decided (outranks `state`) |

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use core_types::job::{Connector, JobState};
use launcher_direct::script::{self as direct, parse_state, state_line};
use serde_json::{Value, json};

use crate::SlurmError;
use crate::script::{SLURM_JOB_FILE, SLURM_STATE_FILE};

/// The launcher's name in `job.json`.
pub const LAUNCHER: &str = "slurm";

/// What `job.json` says of a Slurm job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Meta {
    /// The Slurm job id (`123`, `13_2`), once `sbatch` answered.
    pub job_id: Option<String>,
    /// The directory of the Slurm commands (`PATH` when `None`).
    pub bin: Option<PathBuf>,
    /// The environment the commands run with.
    pub env: Vec<(OsString, OsString)>,
    /// The process that submitted it: (host, pid, start time in ticks).
    pub submitter: Option<(String, u32, u64)>,
    /// The job array it is a task of, when it is one.
    pub array: Option<ArrayRef>,
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

/// Reads a file of the job directory; `None` when it does not exist.
pub(crate) fn read_opt(
    connector: &dyn Connector,
    path: &Path,
) -> Result<Option<Vec<u8>>, SlurmError> {
    match connector.read_file(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `job.json`'s contents.
pub(crate) fn meta_json(
    job: &core_types::job::Job,
    meta: &Meta,
    connector: &dyn Connector,
    args: &[String],
) -> Value {
    json!({
        "format": 1,
        "launcher": LAUNCHER,
        "name": job.name,
        "command": job.command.iter().map(|w| w.to_string_lossy()).collect::<Vec<_>>(),
        "alternative": job.alternative,
        "requirement": job.alternative.to_string(),
        "time_limit_s": job.alternative.duration.seconds(),
        "connector": connector.name(),
        "slurm": {
            "job_id": meta.job_id,
            "bin": meta.bin.as_ref().map(|b| b.to_string_lossy()),
            "env": meta.env.iter().map(|(k, v)| [k.to_string_lossy(), v.to_string_lossy()]).collect::<Vec<_>>(),
            "sbatch_args": args,
            "array": meta.array.as_ref().map(|a| json!({"index": a.index, "size": a.size, "first_dir": a.first.to_string_lossy()})),
        },
        "submitter": meta.submitter.as_ref().map(|(host, pid, start)| json!({"host": host, "pid": pid, "start": start})),
    })
}

/// Reads `job.json`; an error naming the directory when there is none or
/// it holds another launcher's job.
pub(crate) fn read_meta(connector: &dyn Connector, dir: &Path) -> Result<Meta, SlurmError> {
    let not_a_job = |reason: String| SlurmError::NotAJobDir {
        dir: dir.to_path_buf(),
        reason,
    };
    let path = dir.join(direct::META);
    let Some(bytes) = read_opt(connector, &path)? else {
        if connector.exists(dir)? {
            return Err(not_a_job(format!("it has no `{}`", direct::META)));
        }
        return Err(not_a_job("it does not exist".into()));
    };
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| SlurmError::Corrupt {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    match v.get("launcher").and_then(Value::as_str) {
        Some(LAUNCHER) => {}
        Some(other) => {
            return Err(not_a_job(format!(
                "it holds a job of the `{other}` launcher, not the Slurm one"
            )));
        }
        None => return Err(not_a_job(format!("`{}` names no launcher", direct::META))),
    }
    let slurm = v.get("slurm").cloned().unwrap_or(Value::Null);
    let env = slurm
        .get("env")
        .and_then(Value::as_array)
        .map(|pairs| {
            pairs
                .iter()
                .filter_map(|p| {
                    let p = p.as_array()?;
                    Some((
                        OsString::from(p.first()?.as_str()?),
                        OsString::from(p.get(1)?.as_str()?),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let submitter = v.get("submitter").and_then(|s| {
        Some((
            s.get("host")?.as_str()?.to_owned(),
            u32::try_from(s.get("pid")?.as_u64()?).ok()?,
            s.get("start")?.as_u64()?,
        ))
    });
    let array = slurm.get("array").and_then(|a| {
        Some(ArrayRef {
            index: usize::try_from(a.get("index")?.as_u64()?).ok()?,
            size: usize::try_from(a.get("size")?.as_u64()?).ok()?,
            first: PathBuf::from(a.get("first_dir")?.as_str()?),
        })
    });
    Ok(Meta {
        array,
        job_id: slurm
            .get("job_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        bin: slurm.get("bin").and_then(Value::as_str).map(PathBuf::from),
        env,
        submitter,
    })
}

/// The files of one job directory.
#[derive(Debug, Clone)]
pub(crate) struct JobDir {
    pub connector: Arc<dyn Connector>,
    pub dir: PathBuf,
}

impl JobDir {
    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, SlurmError> {
        read_opt(self.connector.as_ref(), &self.dir.join(name))
    }

    /// The final state the launcher recorded, when it did.
    pub(crate) fn decided(&self) -> Result<Option<JobState>, SlurmError> {
        self.state_file(SLURM_STATE_FILE)
    }

    /// The state the wrapper wrote when the command ended, when it did.
    pub(crate) fn wrapper_state(&self) -> Result<Option<JobState>, SlurmError> {
        self.state_file(direct::STATE)
    }

    fn state_file(&self, name: &str) -> Result<Option<JobState>, SlurmError> {
        let Some(bytes) = self.read(name)? else {
            return Ok(None);
        };
        match parse_state(&bytes, &self.dir.join(name)) {
            Ok(state) => Ok(Some(state)),
            // Being written by a non-atomic copy: not there yet.
            Err(_) if bytes.is_empty() => Ok(None),
            Err(e) => Err(SlurmError::Corrupt {
                path: self.dir.join(name),
                reason: e.to_string(),
            }),
        }
    }

    /// Records the final state (best effort for callers: a read-only job
    /// directory does not change the state).
    pub(crate) fn record(&self, state: &JobState) -> Result<(), SlurmError> {
        self.connector.write_file(
            &self.dir.join(SLURM_STATE_FILE),
            state_line(state).as_bytes(),
        )?;
        Ok(())
    }

    /// The Slurm job id the job wrote when it started.
    pub(crate) fn started_id(&self) -> Result<Option<String>, SlurmError> {
        Ok(self.read(SLURM_JOB_FILE)?.and_then(|b| {
            let id = String::from_utf8_lossy(&b).trim().to_owned();
            (!id.is_empty()).then_some(id)
        }))
    }

    /// The job id of a task of an array, from the array's id file.
    pub(crate) fn array_task_id(&self, array: &ArrayRef) -> Result<Option<String>, SlurmError> {
        let base = read_opt(self.connector.as_ref(), &array.first.join(ARRAY_ID_FILE))?
            .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
            .filter(|b| !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()));
        Ok(base.map(|base| format!("{base}_{}", array.index)))
    }

    /// Writes the cancellation marker the wrapper reads.
    pub(crate) fn mark_cancelled(&self) -> Result<(), SlurmError> {
        self.connector
            .write_file(&self.dir.join(direct::CANCEL), b"")?;
        Ok(())
    }
}

/// This process, as `job.json` records its submitter: host, pid, start
/// time (Linux; `None` elsewhere).
pub(crate) fn this_process() -> Option<(String, u32, u64)> {
    static ME: std::sync::OnceLock<Option<(String, u32, u64)>> = std::sync::OnceLock::new();
    ME.get_or_init(|| {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        Some((hostname(), std::process::id(), start_ticks(&stat)?))
    })
    .clone()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// The start time (field 22) of a `/proc/PID/stat` line.
fn start_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// Whether the recorded submitter still runs; `None` when that cannot be
/// told from here (another machine).
pub(crate) fn submitter_alive(submitter: &(String, u32, u64)) -> Option<bool> {
    let (host, pid, start) = submitter;
    if *host != hostname() {
        return None;
    }
    let line = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
    Some(line.and_then(|s| start_ticks(&s)) == Some(*start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_ticks_of_odd_names() {
        let line =
            "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100";
        assert_eq!(start_ticks(line), Some(987_654));
        assert_eq!(start_ticks("garbage"), None);
    }

    #[test]
    fn this_process_is_alive() {
        let me = this_process().unwrap();
        assert_eq!(submitter_alive(&me), Some(true));
        let gone = (me.0.clone(), me.1, me.2 + 1);
        assert_eq!(submitter_alive(&gone), Some(false));
        assert_eq!(submitter_alive(&("elsewhere".into(), 1, 1)), None);
    }
}
