//! Submitting one job: its directory, script and description, `sbatch`.

use std::sync::Arc;

use core_types::job::{Job, JobState};

use jobdir::SCRIPT;

use crate::cluster::Submission;
use crate::options::SlurmOptions;
use crate::slurm_dir::{self, ArrayRef, JobDir, Meta};
use crate::watcher::Tracked;
use crate::{JOB_DIR_VAR, SlurmError, SlurmJob, SlurmLauncher, script};

/// A new submission's tag, set as its comment (`launch:TAG`), unless the
/// job's options give a comment of their own (the job is then found by its
/// directory).
pub(crate) fn tag(options: &mut SlurmOptions) -> Option<String> {
    if options.contains("comment") {
        return None;
    }
    let tag = format!("{:016x}", rand::random::<u64>());
    options.insert("comment", format!("{}{tag}", crate::cluster::TAG_PREFIX));
    Some(tag)
}

impl SlurmLauncher {
    /// Checks a job and makes its directory: absolute, new or empty and
    /// then the caller's alone ([`jobdir::JobDir::create`], as every
    /// launcher's), so that nothing planted in it is ever followed.
    pub(crate) fn prepare(&self, job: &Job) -> Result<JobDir, SlurmError> {
        job.validate()?;
        if !job.dir.is_absolute() {
            return Err(SlurmError::BadJobDir {
                dir: job.dir.clone(),
                reason: "it must be an absolute path".into(),
            });
        }
        let files = jobdir::JobDir::create(Arc::clone(self.connector()), &job.dir)?;
        Ok(JobDir { files })
    }

    /// Writes a job's script (and its description, with no id yet).
    pub(crate) fn write_job(
        &self,
        job: &Job,
        options: &SlurmOptions,
        array: Option<ArrayRef>,
        tag: Option<&str>,
    ) -> Result<Meta, SlurmError> {
        let connector = self.connector();
        let mut env = job.env.clone();
        env.push((JOB_DIR_VAR.into(), job.dir.clone().into_os_string()));
        let wrapper = jobdir::job_script(&jobdir::ScriptSpec::of(
            job,
            &env,
            self.config.grace,
            slurm_dir::RUN_NOTE,
        ))?;
        let script = script::job_script(&job.dir, options, &wrapper)?;
        // The state's space, so that a job that fills its disk still
        // records its end (the script makes it anew for a requeued run).
        let files = jobdir::JobDir::new(Arc::clone(connector), &job.dir);
        files.reserve_state()?;
        let path = job.dir.join(SCRIPT);
        // Slurm's output made first, the job's alone (0600): Slurm (or the
        // array script) opens it as it is, whatever the job's umask.
        let output = job.dir.join(script::SLURM_OUTPUT);
        // Neither is read before `sbatch` is called.
        let written = connector.write_unread(&output, b"").and_then(|()| {
            connector.write_unread(&path, &script)?;
            if array.is_none() {
                // An array task's script is run by the array's (`sh job.sh`).
                connector.set_executable(&path)?;
            }
            Ok(())
        });
        if let Err(e) = written {
            let _ = connector.remove(&path);
            let _ = connector.remove(&output);
            files.unreserve_state();
            return Err(e.into());
        }
        let meta = Meta {
            job_id: None,
            bin: self.cluster().bin.clone(),
            env: self.cluster().env.clone(),
            submitter: jobdir::this_process().cloned(),
            array,
            submission_failed: None,
            tag: tag.map(str::to_owned),
        };
        self.write_meta(job, &meta, options)?;
        Ok(meta)
    }

    fn write_meta(&self, job: &Job, meta: &Meta, options: &SlurmOptions) -> Result<(), SlurmError> {
        let json = slurm_dir::job_meta(job, meta, self.connector().as_ref(), &options.to_args());
        JobDir::new(Arc::clone(self.connector()), &job.dir).write_meta(&json)
    }

    pub(crate) fn follow(&self, id: String, dir: JobDir) -> SlurmJob {
        let tracked = Arc::new(Tracked::new(id, dir, Some(JobState::Scheduled)));
        let tracked = self
            .watcher
            .track(tracked, self.config.poll_interval, self.rules());
        SlurmJob {
            tracked,
            watcher: Arc::clone(&self.watcher),
            interval: self.config.poll_interval,
            rules: self.rules(),
            retry: self.config.retry,
            cancel_timeout: self.config.cancel_timeout,
            followed: true,
        }
    }

    /// Submits one job: writes its script and description to its
    /// directory, runs `sbatch`, follows it.
    pub fn submit_job(&self, job: &Job) -> Result<SlurmJob, SlurmError> {
        let dir = self.prepare(job)?;
        let mut options = self.options_for(job);
        let tag = tag(&mut options);
        let mut meta = self.write_job(job, &options, None, tag.as_deref())?;
        let script = job.dir.join(SCRIPT);
        let key = Submission::new(tag.as_deref(), &job.dir);
        let id = match self
            .cluster()
            .sbatch(&script, &job.dir, &key, &self.config.retry)
        {
            Ok(id) => id,
            Err(e) => {
                // Said in the directory, so that any process tells "never
                // submitted" from "lost" (the error goes to the caller too).
                meta.submission_failed = Some(core_types::job::report(&e));
                dir.files.unreserve_state();
                self.write_meta(job, &meta, &options)?;
                return Err(e);
            }
        };
        meta.job_id = Some(id.clone());
        self.write_meta(job, &meta, &options)?;
        Ok(self.follow(id, dir))
    }
}
