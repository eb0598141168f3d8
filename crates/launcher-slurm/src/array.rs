//! Submitting many jobs as job arrays.

use std::path::PathBuf;

use core_types::job::Job;

use crate::options::SlurmOptions;
use crate::slurm_dir::{self, ArrayRef, JobDir};
use crate::{SlurmError, SlurmJob, SlurmLauncher, script};

impl SlurmLauncher {
    /// Submits jobs as job arrays: jobs whose options are the same (this
    /// launcher's, and those their requirements derive) go out as one
    /// `sbatch --array` submission, each task with its own job directory
    /// and handle; the throttle ([`array_throttle`](Self::array_throttle))
    /// applies to each array. The handles come in the order of `jobs`.
    pub fn submit_array(&self, jobs: &[Job]) -> Result<Vec<SlurmJob>, SlurmError> {
        self.submit_tasks(jobs, None)
    }

    /// [`submit_array`](Self::submit_array) with each job's task id
    /// (`SLURM_ARRAY_TASK_ID`, as `sbatch --array=1-100` gives), `(id, job)`
    /// pairs; ids are unique.
    pub fn submit_indexed_array(&self, tasks: &[(u64, Job)]) -> Result<Vec<SlurmJob>, SlurmError> {
        let (ids, jobs): (Vec<u64>, Vec<Job>) = tasks.iter().cloned().unzip();
        self.submit_tasks(&jobs, Some(&ids))
    }

    /// Jobs as arrays, each with its task id when `ids` says (else its
    /// place in its array).
    fn submit_tasks(&self, jobs: &[Job], ids: Option<&[u64]>) -> Result<Vec<SlurmJob>, SlurmError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut seen_dirs = std::collections::HashSet::new();
        for job in jobs {
            if !seen_dirs.insert(job.dir.clone()) {
                return Err(SlurmError::InvalidArray(format!(
                    "two jobs share the directory `{}`",
                    job.dir.display()
                )));
            }
        }
        // Group by the options the jobs share (their names aside).
        let mut groups: Vec<(SlurmOptions, Vec<usize>)> = Vec::new();
        for (i, job) in jobs.iter().enumerate() {
            let shared = self.derived_for(&job.alternative);
            match groups.iter_mut().find(|(o, _)| *o == shared) {
                Some((_, members)) => members.push(i),
                None => groups.push((shared, vec![i])),
            }
        }
        let mut handles: Vec<Option<SlurmJob>> = jobs.iter().map(|_| None).collect();
        for (shared, members) in groups {
            let group: Vec<&Job> = members.iter().map(|&i| &jobs[i]).collect();
            let group_ids: Vec<u64> = match ids {
                Some(ids) => members.iter().map(|&i| ids[i]).collect(),
                None => (0..members.len() as u64).collect(),
            };
            for (handle_index, handle) in members
                .iter()
                .zip(self.submit_group(&shared, &group, &group_ids)?)
            {
                handles[*handle_index] = Some(handle);
            }
        }
        Ok(handles.into_iter().flatten().collect())
    }

    fn submit_group(
        &self,
        shared: &SlurmOptions,
        jobs: &[&Job],
        ids: &[u64],
    ) -> Result<Vec<SlurmJob>, SlurmError> {
        let size = jobs.len();
        let first = jobs[0].dir.clone();
        let mut array_options = shared.clone();
        let tag = crate::submit::tag(&mut array_options);
        // Each task's directory, script and description, written by a few
        // threads at once (each write is a round trip on a remote machine).
        let prepare = |index: usize| -> Result<JobDir, SlurmError> {
            let job = jobs[index];
            let dir = self.prepare(job)?;
            let options = crate::launcher::named(shared.clone(), job);
            let array = ArrayRef {
                index: ids[index] as usize,
                size,
                first: first.clone(),
            };
            self.write_job(job, &options, Some(array), tag.as_deref())?;
            // Slurm's output of the task's batch step (in the first
            // directory, made before the others), made first (0600):
            // Slurm opens it as it is, whatever the job's umask.
            let output = script::array_output(&first, ids[index]);
            if index == 0 || output != script::array_output(&first, ids[0]) {
                self.connector().write_unread(&output, b"")?;
            }
            Ok(dir)
        };
        // The first directory first: the others' batch output goes there.
        let mut prepared: Vec<Option<Result<JobDir, SlurmError>>> = vec![Some(Ok(prepare(0)?))];
        prepared.extend((1..size).map(|_| None));
        let rest = size - 1;
        let workers = rest.div_ceil(16).clamp(1, 8);
        std::thread::scope(|scope| {
            let prepare = &prepare;
            let chunks: Vec<_> = prepared[1..]
                .chunks_mut(rest.div_ceil(workers).max(1))
                .enumerate()
                .map(|(chunk, slots)| {
                    scope.spawn(move || {
                        let start = 1 + chunk * rest.div_ceil(workers).max(1);
                        for (offset, slot) in slots.iter_mut().enumerate() {
                            *slot = Some(prepare(start + offset));
                        }
                    })
                })
                .collect();
            for handle in chunks {
                let _ = handle.join();
            }
        });
        let mut dirs = Vec::with_capacity(size);
        for slot in prepared {
            match slot {
                Some(result) => dirs.push(result?),
                None => {
                    return Err(SlurmError::InvalidArray(
                        "a thread preparing the job directories failed".into(),
                    ));
                }
            }
        }
        if !array_options.contains("job-name") {
            array_options.insert("job-name", jobs[0].name.replace(['\n', '\r'], " "));
        }
        let tasks: Vec<(u64, PathBuf)> = ids
            .iter()
            .zip(jobs)
            .map(|(&id, j)| (id, j.dir.clone()))
            .collect();
        let text =
            script::indexed_array_script(&tasks, &array_options, self.config.array_throttle)?;
        let path = first.join(script::ARRAY_SCRIPT);
        self.connector().write_file(&path, &text)?;
        let key = crate::cluster::Submission::new(tag.as_deref(), &first);
        let base = self
            .cluster()
            .sbatch(&path, &first, &key, &self.config.retry)?;
        // One file says every task's id (`BASE_INDEX`).
        self.connector().write_file(
            &first.join(slurm_dir::ARRAY_ID_FILE),
            format!("{base}\n").as_bytes(),
        )?;
        Ok(dirs
            .into_iter()
            .enumerate()
            .map(|(index, dir)| self.follow(format!("{base}_{}", ids[index]), dir))
            .collect())
    }
}
