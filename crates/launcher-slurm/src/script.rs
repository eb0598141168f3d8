//! The job scripts handed to `sbatch`: `#SBATCH` lines, a short Slurm
//! part, then the exit-code-recording job script every launcher runs
//! ([`jobdir::job_script`]). Pure functions.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use core_types::job::shell_quote;

use crate::SlurmError;
use crate::options::{SlurmOptions, sbatch_line_value};

/// The file the job writes its Slurm job id to when it starts (`123`, or
/// `13_2` for an array task).
pub const SLURM_JOB_FILE: &str = "slurm-job";
/// The final state as the launcher decided it (the `state` line format,
/// [`jobdir::state_line`]); it outranks `state`.
pub const SLURM_STATE_FILE: &str = "slurm-state";
/// The batch step's own output (Slurm's messages, such as a time limit).
pub const SLURM_OUTPUT: &str = "slurm.out";
/// The array script, in the first task's directory.
pub const ARRAY_SCRIPT: &str = "array.sh";

fn dir_line(dir: &Path) -> Result<String, SlurmError> {
    let text = dir.to_str().ok_or_else(|| SlurmError::BadJobDir {
        dir: dir.to_path_buf(),
        reason: "Slurm needs a job directory whose path is UTF-8".into(),
    })?;
    if text.contains(['\n', '\r']) {
        return Err(SlurmError::BadJobDir {
            dir: dir.to_path_buf(),
            reason: "an `#SBATCH` line cannot hold a path with a line break".into(),
        });
    }
    Ok(sbatch_line_value(text))
}

/// `path` as an sbatch filename pattern that names exactly it: `%`
/// doubled (Slurm expands `%j` and friends), unless the path holds a
/// backslash. Slurm drops a lone `\` from a filename pattern and reads
/// `\\` as one, and any backslash turns the expansion off altogether (its
/// filename patterns: "\\ Do not process any of the replacement
/// symbols"): so each backslash is doubled, and `%` stays as it is.
/// `suffix` is a pattern of ours, appended as is (no `%` in it when the
/// path holds a backslash: it would not be expanded).
fn output_line(path: &Path, suffix: &str) -> Result<String, SlurmError> {
    dir_line(path)?;
    let text = path.to_string_lossy();
    let mut pattern = if text.contains('\\') {
        text.replace('\\', "\\\\")
    } else {
        text.replace('%', "%%")
    };
    pattern.push_str(suffix);
    Ok(sbatch_line_value(&pattern))
}

/// Whether Slurm's expansion of filename patterns is off for `path`.
fn unexpanded(path: &Path) -> bool {
    path.to_string_lossy().contains('\\')
}

/// The batch step's output of an array whose first directory's path
/// holds a backslash (no `%a` expansion there: one file for every task).
const ARRAY_OUTPUT: &str = "array.out";

/// The file Slurm writes task `id`'s batch step output to (Slurm's own
/// messages), in the array's first directory `first`.
pub(crate) fn array_output(first: &Path, id: u64) -> PathBuf {
    if unexpanded(first) {
        first.join(ARRAY_OUTPUT)
    } else {
        first.join(format!("array-{id}.out"))
    }
}

fn quoted(path: &Path) -> Result<String, SlurmError> {
    let bytes = shell_quote(path.as_os_str())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The Slurm part of a job script, run before the wrapper: it records the
/// job id, and a requeued job (Slurm runs the script again) forgets what
/// the previous run left.
fn slurm_part(dir: &Path) -> Result<String, SlurmError> {
    Ok(format!(
        r#"# Slurm's part: record the job id; a requeued job starts afresh.
slurm_dir={dir}
if [ "${{SLURM_RESTART_COUNT:-0}}" -gt 0 ]; then
	rm -f "$slurm_dir/state" "$slurm_dir/timeout" "$slurm_dir/pid" "$slurm_dir/{state}"
fi
if [ -n "${{SLURM_ARRAY_JOB_ID:-}}" ]; then
	slurm_id="${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}"
else
	slurm_id="${{SLURM_JOB_ID:-}}"
fi
(umask 077 && printf '%s\n' "$slurm_id" > "$slurm_dir/{job}.tmp.$$" && mv -f "$slurm_dir/{job}.tmp.$$" "$slurm_dir/{job}")
"#,
        dir = quoted(dir)?,
        state = SLURM_STATE_FILE,
        job = SLURM_JOB_FILE,
    ))
}

/// A single job's script: `#SBATCH` lines (its directory, its output file,
/// then `options`), the Slurm part, then `wrapper` (a whole `sh` script,
/// whose first line, the `#!`, is replaced by ours).
pub fn job_script(
    dir: &Path,
    options: &SlurmOptions,
    wrapper: &[u8],
) -> Result<Vec<u8>, SlurmError> {
    let mut s = format!(
        "#!/bin/sh\n#SBATCH --chdir={}\n#SBATCH --output={}\n",
        dir_line(dir)?,
        output_line(&dir.join(SLURM_OUTPUT), "")?
    );
    s.push_str(&options.sbatch_lines()?);
    s.push_str(
        "# Job script of launch's Slurm launcher (format 1): the #SBATCH lines\n\
         # above, Slurm's part, then the direct launcher's wrapper, which runs the\n\
         # command and records its exit code. Submit it again with: sbatch job.sh\n",
    );
    s.push_str(&slurm_part(dir)?);
    let mut out = s.into_bytes();
    let body = match wrapper.iter().position(|&b| b == b'\n') {
        Some(end) if wrapper.starts_with(b"#!") => &wrapper[end + 1..],
        _ => wrapper,
    };
    out.extend_from_slice(body);
    Ok(out)
}

/// The array script: `#SBATCH` lines (the first task's directory,
/// `--array=0-(N-1)[%throttle]`, `options`), then one branch per task that
/// runs that task's own job script with its output in its own directory.
pub fn array_script(
    dirs: &[PathBuf],
    options: &SlurmOptions,
    throttle: Option<u32>,
) -> Result<Vec<u8>, SlurmError> {
    let tasks: Vec<(u64, PathBuf)> = dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| (i as u64, dir.clone()))
        .collect();
    indexed_array_script(&tasks, options, throttle)
}

/// `--array`'s list of task ids: runs of consecutive ids as `A-B`, in the
/// order given (`1-3,7,10-11`).
pub fn array_ids(ids: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j].checked_add(1) == Some(ids[j + 1]) {
            j += 1;
        }
        parts.push(if j == i {
            ids[i].to_string()
        } else {
            format!("{}-{}", ids[i], ids[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// [`array_script`] with each task's Slurm task id (`SLURM_ARRAY_TASK_ID`)
/// given: `--array=` lists them ([`array_ids`]).
pub fn indexed_array_script(
    tasks: &[(u64, PathBuf)],
    options: &SlurmOptions,
    throttle: Option<u32>,
) -> Result<Vec<u8>, SlurmError> {
    let Some((_, first)) = tasks.first() else {
        return Err(SlurmError::InvalidArray(
            "an array needs at least one job".into(),
        ));
    };
    let mut seen = std::collections::HashSet::new();
    if let Some((id, _)) = tasks.iter().find(|(id, _)| !seen.insert(*id)) {
        return Err(SlurmError::InvalidArray(format!(
            "two tasks share the id {id}"
        )));
    }
    let mut options = options.clone();
    let ids: Vec<u64> = tasks.iter().map(|(id, _)| *id).collect();
    let list = array_ids(&ids);
    options.insert(
        "array",
        match throttle {
            Some(t) if t > 0 => format!("{list}%{t}"),
            _ => list,
        },
    );
    // The batch step's own output (Slurm's messages); each task's script
    // writes to its own directory. Without the expansion (a backslash in
    // the path), every task appends to one file.
    let output = if unexpanded(first) {
        if !options.contains("open-mode") {
            options.insert("open-mode", "append".to_owned());
        }
        output_line(first, &format!("/{ARRAY_OUTPUT}"))?
    } else {
        output_line(first, "/array-%a.out")?
    };
    let mut s = format!(
        "#!/bin/sh\n#SBATCH --chdir={}\n#SBATCH --output={output}\n",
        dir_line(first)?
    );
    s.push_str(&options.sbatch_lines()?);
    s.push_str(
        "# Array script of launch's Slurm launcher (format 1): task N runs the job\n\
         # script of the N-th job directory below.\n\
         case \"${SLURM_ARRAY_TASK_ID:-}\" in\n",
    );
    for (id, dir) in tasks {
        let script = quoted(&dir.join(jobdir::SCRIPT))?;
        let output = quoted(&dir.join(SLURM_OUTPUT))?;
        let _ = writeln!(s, "{id}) exec /bin/sh {script} >> {output} 2>&1 ;;");
    }
    s.push_str(
        "esac\necho \"launch: no job for array task ${SLURM_ARRAY_TASK_ID:-(none)}\" >&2\nexit 1\n",
    );
    Ok(s.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_script_puts_sbatch_lines_first() {
        let options = SlurmOptions::default()
            .job_name("it's a job")
            .partition("gpu");
        let wrapper = b"#!/bin/sh\n# wrapper\nd='/x'\necho hi\n";
        let script = job_script(Path::new("/jobs/a b"), &options, wrapper).unwrap();
        let text = String::from_utf8(script).unwrap();
        insta::assert_snapshot!(text);
        // Nothing runs before the last #SBATCH line (sbatch stops reading
        // them at the first command).
        let lines: Vec<&str> = text.lines().collect();
        let last = lines
            .iter()
            .rposition(|l| l.starts_with("#SBATCH"))
            .unwrap();
        assert!(lines[..last].iter().all(|l| l.starts_with('#')), "{text}");
    }

    #[test]
    fn output_paths_are_not_expanded() {
        let script = job_script(Path::new("/j/100%j"), &SlurmOptions::default(), b"").unwrap();
        let text = String::from_utf8(script).unwrap();
        assert!(text.contains("#SBATCH --chdir=/j/100%j\n"), "{text}");
        assert!(
            text.contains("#SBATCH --output=/j/100%%j/slurm.out\n"),
            "{text}"
        );
        // A backslash turns Slurm's expansion off, and Slurm reads `\\` as
        // one backslash: each is doubled, then escaped for the line.
        let script = job_script(Path::new("/j/a\\b%j"), &SlurmOptions::default(), b"").unwrap();
        let text = String::from_utf8(script).unwrap();
        assert!(text.contains("#SBATCH --chdir=\"/j/a\\\\b%j\"\n"), "{text}");
        assert!(
            text.contains("#SBATCH --output=\"/j/a\\\\\\\\b%j/slurm.out\"\n"),
            "{text}"
        );
        let dirs = [PathBuf::from("/j/a\\b%j/0"), PathBuf::from("/j/1")];
        let array = array_script(&dirs, &SlurmOptions::default(), None).unwrap();
        let text = String::from_utf8(array).unwrap();
        assert!(
            text.contains("#SBATCH --output=\"/j/a\\\\\\\\b%j/0/array.out\"\n"),
            "{text}"
        );
        assert!(text.contains("#SBATCH --open-mode=append\n"), "{text}");
    }

    #[test]
    fn bad_directories_are_refused() {
        let err = job_script(Path::new("/a\nb"), &SlurmOptions::default(), b"").unwrap_err();
        assert!(err.to_string().contains("line break"), "{err}");
    }

    #[test]
    fn an_array_script_dispatches_each_task() {
        let dirs: Vec<PathBuf> = ["/j/0", "/j/it's"].iter().map(PathBuf::from).collect();
        let options = SlurmOptions::default().partition("main");
        let text = String::from_utf8(array_script(&dirs, &options, Some(4)).unwrap()).unwrap();
        insta::assert_snapshot!(text);
        assert!(array_script(&[], &options, None).is_err());
        let unthrottled = String::from_utf8(array_script(&dirs, &options, None).unwrap()).unwrap();
        assert!(
            unthrottled.contains("#SBATCH --array=0-1\n"),
            "{unthrottled}"
        );
        let tasks: Vec<(u64, PathBuf)> = [(1, "/j/1"), (2, "/j/2"), (7, "/j/7")]
            .iter()
            .map(|(i, d)| (*i, PathBuf::from(d)))
            .collect();
        let text =
            String::from_utf8(indexed_array_script(&tasks, &options, Some(2)).unwrap()).unwrap();
        assert!(text.contains("#SBATCH --array=1-2,7%2\n"), "{text}");
        assert!(text.contains("\n7) exec /bin/sh '/j/7/job.sh'"), "{text}");
        let twice = [(1, PathBuf::from("/a")), (1, PathBuf::from("/b"))];
        assert!(indexed_array_script(&twice, &options, None).is_err());
    }

    #[test]
    fn array_ids_are_runs() {
        assert_eq!(array_ids(&[0, 1, 2, 3]), "0-3");
        assert_eq!(array_ids(&[1, 5, 9]), "1,5,9");
        assert_eq!(array_ids(&[3, 4, 1, 10, 11, 12]), "3-4,1,10-12");
        assert_eq!(array_ids(&[0, 10, 20]), "0,10,20");
        assert_eq!(array_ids(&[u64::MAX]), u64::MAX.to_string());
    }
}
