//! `job.json`: what a launcher records of a job, tagged with the
//! launcher's kind and a format version.

use std::path::Path;

use core_types::Alternative;
use core_types::job::Job;
use serde::{Deserialize, Serialize};

use crate::{Identity, JobDirError, META, this_process};

/// The format of the `job.json` this version writes (and the newest it
/// reads).
pub const FORMAT: u64 = 1;

const fn first_format() -> u64 {
    1
}

/// A job's description, as its launcher wrote it to `job.json`.
///
/// The fields after `launcher` are for people (and for tools that list
/// jobs); only the launcher's own part and the submitter are read back.
/// Missing ones read as empty, as the reader of format 1 always did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMeta {
    /// The format ([`FORMAT`]; 1 when the file does not say).
    #[serde(default = "first_format")]
    pub format: u64,
    /// The launcher's kind (`"launcher": "direct"`) and its own part.
    #[serde(flatten)]
    pub launcher: LauncherMeta,
    /// The job's name.
    #[serde(default)]
    pub name: String,
    /// Its command, program first (lossy UTF-8).
    #[serde(default)]
    pub command: Vec<String>,
    /// The requirement alternative it was matched with.
    #[serde(default)]
    pub alternative: Alternative,
    /// That alternative, as the requirement language writes it.
    #[serde(default)]
    pub requirement: String,
    /// Its time limit in seconds (0: none).
    #[serde(default)]
    pub time_limit_s: u64,
    /// The connector's name (`local`, `ssh://host`).
    #[serde(default)]
    pub connector: String,
    /// The process that submitted it, when known.
    #[serde(default)]
    pub submitter: Option<Identity>,
}

/// The kinds of launcher that write job directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LauncherKind {
    /// The direct launcher.
    Direct,
    /// The Slurm launcher.
    Slurm,
}

impl LauncherKind {
    /// Every kind.
    pub const ALL: [LauncherKind; 2] = [LauncherKind::Direct, LauncherKind::Slurm];

    /// The name `job.json` records (`direct`), as [`Launcher::kind`]
    /// says it.
    ///
    /// [`Launcher::kind`]: core_types::job::Launcher::kind
    pub const fn name(self) -> &'static str {
        match self {
            LauncherKind::Direct => "direct",
            LauncherKind::Slurm => "slurm",
        }
    }

    /// The kind of that name.
    pub fn from_name(name: &str) -> Option<LauncherKind> {
        LauncherKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl std::fmt::Display for LauncherKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The launcher's own part of `job.json`, tagged with its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "launcher", rename_all = "lowercase")]
pub enum LauncherMeta {
    /// A job of the direct launcher.
    Direct {
        /// Whether it runs in a session of its own.
        #[serde(default)]
        detach: bool,
    },
    /// A job of the Slurm launcher.
    Slurm {
        /// Slurm's part.
        #[serde(default)]
        slurm: SlurmMeta,
    },
}

impl LauncherMeta {
    /// Its kind.
    pub const fn kind(&self) -> LauncherKind {
        match self {
            LauncherMeta::Direct { .. } => LauncherKind::Direct,
            LauncherMeta::Slurm { .. } => LauncherKind::Slurm,
        }
    }
}

/// What the Slurm launcher records to follow a job from its directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlurmMeta {
    /// The Slurm job id (`123`), once `sbatch` answered (an array task's
    /// is in the array's id file).
    #[serde(default)]
    pub job_id: Option<String>,
    /// The directory of the Slurm commands (`PATH` when `None`).
    #[serde(default)]
    pub bin: Option<String>,
    /// The environment the commands run with, `[name, value]` pairs.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// The `sbatch` options it was submitted with, for people.
    #[serde(default)]
    pub sbatch_args: Vec<String>,
    /// The job array it is a task of, when it is one.
    #[serde(default)]
    pub array: Option<ArrayMeta>,
    /// Why `sbatch` did not take the job, when it did not: nothing was
    /// submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission_failed: Option<String>,
    /// The submission's tag, given to Slurm as the job's comment
    /// (`launch:TAG`) before `sbatch` runs: how the job is found when
    /// `sbatch`'s answer was lost, even in a directory used before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// A task of a job array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrayMeta {
    /// Its index in the array.
    pub index: usize,
    /// The array's size.
    pub size: usize,
    /// The first task's directory, which holds the array's script and id.
    pub first_dir: String,
}

impl JobMeta {
    /// The description of `job` as `launcher` submits it through the
    /// connector named `connector`, submitted by this process.
    pub fn of(job: &Job, launcher: LauncherMeta, connector: impl Into<String>) -> JobMeta {
        JobMeta {
            format: FORMAT,
            launcher,
            name: job.name.clone(),
            command: job
                .command
                .iter()
                .map(|w| w.to_string_lossy().into_owned())
                .collect(),
            alternative: job.alternative.clone(),
            requirement: job.alternative.to_string(),
            time_limit_s: job.alternative.duration.seconds(),
            connector: connector.into(),
            submitter: this_process().cloned(),
        }
    }

    /// The launcher's kind.
    pub const fn kind(&self) -> LauncherKind {
        self.launcher.kind()
    }

    /// Reads the `job.json` of the job directory `dir` from its bytes:
    /// an error naming the directory when it names no launcher, or one this
    /// version does not know, or is of a newer format.
    pub fn parse(bytes: &[u8], dir: &Path) -> Result<JobMeta, JobDirError> {
        /// What is read first, to say what is wrong in words.
        #[derive(Deserialize)]
        struct Head {
            #[serde(default)]
            launcher: Option<serde_json::Value>,
            #[serde(default)]
            format: Option<serde_json::Value>,
        }
        let path = dir.join(META);
        let json = |source| JobDirError::Json {
            path: path.clone(),
            source,
        };
        let head: Head = serde_json::from_slice(bytes).map_err(json)?;
        let Some(kind) = head.launcher.as_ref().and_then(serde_json::Value::as_str) else {
            return Err(JobDirError::NotAJobDir {
                dir: dir.to_path_buf(),
                reason: format!("`{META}` names no launcher"),
            });
        };
        if LauncherKind::from_name(kind).is_none() {
            return Err(JobDirError::UnknownLauncher {
                dir: dir.to_path_buf(),
                kind: kind.to_owned(),
            });
        }
        if let Some(found) = head.format.as_ref().and_then(serde_json::Value::as_u64) {
            if found > FORMAT {
                return Err(JobDirError::NewerFormat { path, found });
            }
        }
        serde_json::from_slice(bytes).map_err(json)
    }

    /// The bytes of `job.json`.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a job description is always JSON")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_missing_launchers_are_named() {
        let dir = Path::new("/j");
        let err = JobMeta::parse(br#"{"format":1}"#, dir).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`/j` is not a job directory: `job.json` names no launcher"
        );
        let err = JobMeta::parse(br#"{"format":1,"launcher":"pbs"}"#, dir).unwrap_err();
        assert!(
            matches!(&err, JobDirError::UnknownLauncher { kind, .. } if kind == "pbs"),
            "{err}"
        );
        let err = JobMeta::parse(br#"{"format":2,"launcher":"direct"}"#, dir).unwrap_err();
        assert!(err.to_string().contains("format 2"), "{err}");
        let err = JobMeta::parse(b"{", dir).unwrap_err();
        assert_eq!(err.to_string(), "`/j/job.json` is corrupt");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn kinds_have_their_names() {
        for kind in LauncherKind::ALL {
            assert_eq!(LauncherKind::from_name(kind.name()), Some(kind));
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
        }
    }
}
