//! The job directory: the job script, and the files it and the launcher
//! write there.
//!
//! | file | written by | holds |
//! |---|---|---|
//! | `job.json` | launcher | name, command, requirement, devices, submitter |
//! | `job.sh` | launcher | the POSIX `sh` script that runs the job |
//! | `pid` | script | first thing: supervisor pid (the job's process group), boot id, its `/proc` stat line; then the command's pid and stat line |
//! | `stdout`, `stderr` | command | its output (`stderr` also the supervisor's own complaints) |
//! | `cancel`, `timeout` | canceller, watchdog | markers |
//! | `state` | script (write, then rename), or the launcher | `exited N`, `timeout N`, `cancelled N`, `error TEXT` |

use std::ffi::{OsStr, OsString};
use std::path::Path;

use core_types::job::{FailReason, JobState, shell_quote};

use crate::DirectError;

/// The job script's name.
pub const SCRIPT: &str = "job.sh";
/// The job description's name.
pub const META: &str = "job.json";
/// The supervisor's identity, written first thing, then the command's.
pub const PID: &str = "pid";
/// The final state.
pub const STATE: &str = "state";
/// The command's standard output.
pub const STDOUT: &str = "stdout";
/// The command's standard error.
pub const STDERR: &str = "stderr";
/// Written to ask for cancellation.
pub const CANCEL: &str = "cancel";
/// Written by the watchdog when the time limit fired.
pub const TIMEOUT: &str = "timeout";

/// What goes into a job script.
#[derive(Debug)]
pub struct ScriptSpec<'a> {
    /// The job directory (absolute).
    pub dir: &'a Path,
    /// Where the command runs.
    pub cwd: &'a Path,
    /// The command, program first.
    pub command: &'a [OsString],
    /// Variables exported to the command.
    pub env: &'a [(OsString, OsString)],
    /// The time limit in seconds (0: none).
    pub time_limit: u64,
    /// Seconds between TERM and KILL when the time limit fires.
    pub grace: u64,
}

fn push_quoted(out: &mut Vec<u8>, word: &OsStr) -> Result<(), DirectError> {
    out.extend_from_slice(&shell_quote(word)?);
    Ok(())
}

/// The job script. Every word of the command, every environment value and
/// every path is single-quoted (`'` as `'\''`), so its bytes reach the
/// command verbatim, whatever they are; nothing is re-parsed by a shell.
///
/// The script leads the job's process group (the launcher starts it so),
/// runs the command in it, so that the whole tree can be signalled at once,
/// records its own and the command's pid and start time, enforces the time
/// limit with a watchdog (TERM to the group, KILL after the grace period),
/// and when the command ends writes its exit code to `state` through a
/// rename, whoever is watching. When the group is killed, the script goes
/// with it; the `cancel` and `timeout` markers then tell the end.
///
/// Other launchers reuse it as their exit-code-recording wrapper (the
/// Slurm launcher puts its `#SBATCH` lines in front).
pub fn job_script(spec: &ScriptSpec<'_>) -> Result<Vec<u8>, DirectError> {
    let mut s = Vec::with_capacity(2048);
    s.extend_from_slice(
        b"#!/bin/sh\n\
# Job script of launch's direct launcher (format 1). It runs the command\n\
# below in its process group (this shell leads it), records pids and start\n\
# times in `pid`, stops the group past the time limit (TERM, then KILL after\n\
# the grace period), and writes the exit code to `state` (write, then\n\
# rename) when the command ends.\n\
# Run it again by hand with: sh job.sh\n\
d=",
    );
    push_quoted(&mut s, spec.dir.as_os_str())?;
    s.extend_from_slice(format!("\nlimit={}\ngrace={}\n", spec.time_limit, spec.grace).as_bytes());
    s.extend_from_slice(b"set --");
    for word in spec.command {
        s.push(b' ');
        push_quoted(&mut s, word)?;
    }
    s.push(b'\n');
    for (name, value) in spec.env {
        // Names were checked (Job::validate): letters, digits, `_`.
        s.extend_from_slice(b"export ");
        s.extend_from_slice(name.as_encoded_bytes());
        s.push(b'=');
        push_quoted(&mut s, value)?;
        s.push(b'\n');
    }
    s.extend_from_slice(b"cwd=");
    push_quoted(&mut s, spec.cwd.as_os_str())?;
    s.extend_from_slice(
        br#"
exec 2>> "$d/stderr"
finish() {
	printf '%s\n' "$1" > "$d/state.tmp.$$" && LC_ALL=C exec mv -f "$d/state.tmp.$$" "$d/state"
	exit "${2:-0}"
}
[ -e "$d/cancel" ] && finish 'cancelled' 1
{ read -r self < "/proc/$$/stat"; } 2> /dev/null || self=
{ read -r boot < /proc/sys/kernel/random/boot_id; } 2> /dev/null || boot=
printf 'pid %s\nboot %s\nstat %s\nend\n' "$$" "$boot" "$self" > "$d/pid"
cd "$cwd" 2> /dev/null || {
	printf 'launch: cannot change directory to %s\n' "$cwd" >> "$d/stderr"
	finish 'exited 126' 126
}
trap 'sig=1' TERM INT HUP
"$@" < /dev/null > "$d/stdout" 2>> "$d/stderr" &
pid=$!
{ read -r cstat < "/proc/$pid/stat"; } 2> /dev/null || cstat=
printf 'cmd %s\ncstat %s\ncend\n' "$pid" "$cstat" >> "$d/pid"
dog=
if [ "$limit" -gt 0 ]; then
	(
		trap '' TERM
		trap 'kill -KILL "$s" 2> /dev/null; exit 0' USR1
		sleep "$limit" & s=$!
		wait "$s"
		: > "$d/timeout"
		kill -TERM -$$ 2> /dev/null
		sleep "$grace" & s=$!
		wait "$s"
		kill -KILL -$$ 2> /dev/null
	) < /dev/null > /dev/null 2>&1 &
	dog=$!
fi
while :; do
	sig=
	wait "$pid" 2> /dev/null
	code=$?
	[ -z "$sig" ] && break
done
[ -n "$dog" ] && kill -USR1 "$dog" 2> /dev/null
if [ -e "$d/cancel" ]; then
	finish "cancelled $code" "$code"
elif [ -e "$d/timeout" ]; then
	finish "timeout $code" "$code"
fi
finish "exited $code" "$code"
"#,
    );
    Ok(s)
}

/// Reads a `state` file.
pub fn parse_state(text: &[u8], path: &Path) -> Result<JobState, DirectError> {
    let text = String::from_utf8_lossy(text);
    let line = text.lines().next().unwrap_or("").trim();
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    let corrupt = || DirectError::Corrupt {
        path: path.to_path_buf(),
        reason: format!(
            "unknown state `{line}` (expected `exited N`, `timeout`, `cancelled`, `lost` or `error ...`)"
        ),
    };
    Ok(match word {
        "exited" => match rest.trim().parse::<i32>() {
            Ok(0) => JobState::Done,
            Ok(code) => JobState::Failed(FailReason::ExitCode(code)),
            Err(_) => return Err(corrupt()),
        },
        "timeout" => JobState::Failed(FailReason::Timeout),
        "cancelled" => JobState::Failed(FailReason::Cancelled),
        "lost" => JobState::Failed(FailReason::Lost),
        "error" => JobState::Failed(FailReason::Other(rest.trim().to_owned())),
        _ => return Err(corrupt()),
    })
}

/// The `state` line the launcher writes itself (a job cancelled before it
/// started, or one that could not start).
pub fn state_line(state: &JobState) -> String {
    match state {
        JobState::Failed(FailReason::Cancelled) => "cancelled\n".into(),
        JobState::Failed(FailReason::Timeout) => "timeout\n".into(),
        JobState::Failed(FailReason::ExitCode(code)) => format!("exited {code}\n"),
        JobState::Failed(FailReason::Other(text)) => {
            format!("error {}\n", text.replace('\n', " "))
        }
        JobState::Done => "exited 0\n".into(),
        JobState::Failed(FailReason::Lost) | JobState::Scheduled | JobState::Running => {
            "lost\n".into()
        }
    }
}

/// A process as `/proc/PID/stat` shows it: enough to tell it from another
/// process that got the same pid later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// The state letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Its start time, in clock ticks after boot.
    pub start: u64,
}

/// Parses a `/proc/PID/stat` line (the name may hold spaces and parentheses,
/// so fields are counted after the last `)`).
pub(crate) fn parse_stat(line: &str) -> Option<ProcStat> {
    let after = &line[line.rfind(')')? + 1..];
    let mut fields = after.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    // Fields 4..=21 of proc(5) come before the start time (field 22).
    let start = fields.nth(18)?.parse().ok()?;
    Some(ProcStat { state, start })
}

/// The `pid` and `cmd` files the script writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PidFile {
    /// The supervising shell, leader of the job's process group.
    pub supervisor: u32,
    /// The boot id when it started (empty when unknown).
    pub boot: String,
    /// The supervisor's start time.
    pub supervisor_start: Option<u64>,
    /// The command, once started.
    pub command: Option<u32>,
    /// The command's start time (unknown when it ended at once).
    pub command_start: Option<u64>,
}

fn lines(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines()
        .map(|line| line.split_once(' ').unwrap_or((line, "")))
}

/// Reads the `pid` file; `None` while its first part is incomplete (being
/// written). Its second part, the command's, follows once it started.
pub(crate) fn parse_pid_file(text: &[u8]) -> Option<PidFile> {
    let text = String::from_utf8_lossy(text);
    let (head, tail) = text.split_once("\nend\n")?;
    let mut file = PidFile {
        supervisor: 0,
        boot: String::new(),
        supervisor_start: None,
        command: None,
        command_start: None,
    };
    for (key, value) in lines(head) {
        match key {
            "pid" => file.supervisor = value.parse().ok()?,
            "boot" => value.clone_into(&mut file.boot),
            "stat" => file.supervisor_start = parse_stat(value).map(|s| s.start),
            _ => {}
        }
    }
    if tail.ends_with("\ncend\n") {
        for (key, value) in lines(tail) {
            match key {
                "cmd" => file.command = value.parse().ok().filter(|&pid| pid > 1),
                "cstat" => file.command_start = parse_stat(value).map(|s| s.start),
                _ => {}
            }
        }
    }
    (file.supervisor > 1).then_some(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;
    use std::path::PathBuf;

    #[test]
    fn stat_lines_with_odd_names() {
        let line =
            "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100";
        assert_eq!(
            parse_stat(line),
            Some(ProcStat {
                state: 'S',
                start: 987_654
            })
        );
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
    }

    #[test]
    fn pid_files_must_be_complete() {
        let pid = "pid 10\nboot abc\nstat 10 (sh) S 1 10 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 555 0 0\nend\n";
        let full = format!("{pid}cmd 11\ncstat \ncend\n");
        let file = parse_pid_file(full.as_bytes()).unwrap();
        assert_eq!((file.supervisor, file.command), (10, Some(11)));
        assert_eq!(file.supervisor_start, Some(555));
        assert_eq!(file.command_start, None);
        assert_eq!(file.boot, "abc");
        assert_eq!(parse_pid_file(&pid.as_bytes()[..pid.len() - 4]), None);
        let starting = parse_pid_file(&full.as_bytes()[..pid.len() + 5]).unwrap();
        assert_eq!(starting.command, None, "command part being written");
        assert_eq!(parse_pid_file(pid.as_bytes()).unwrap().command, None);
        assert_eq!(parse_pid_file(b"pid 1\nend\n"), None, "never pid 1");
    }

    #[test]
    fn states_round_trip() {
        let path = Path::new("state");
        for state in [
            JobState::Done,
            JobState::Failed(FailReason::ExitCode(3)),
            JobState::Failed(FailReason::Cancelled),
            JobState::Failed(FailReason::Timeout),
            JobState::Failed(FailReason::Lost),
            JobState::Failed(FailReason::Other("cannot start: x".into())),
        ] {
            assert_eq!(
                parse_state(state_line(&state).as_bytes(), path).unwrap(),
                state
            );
        }
        assert_eq!(
            parse_state(b"timeout 143\n", path).unwrap(),
            JobState::Failed(FailReason::Timeout)
        );
        let err = parse_state(b"bogus", path).unwrap_err().to_string();
        assert!(err.contains("bogus") && err.contains("state"), "{err}");
    }

    #[test]
    fn script_quotes_every_word() {
        let command = vec![
            OsString::from("printf"),
            OsString::from("it's"),
            OsString::from_vec(b"\xff$(x)".to_vec()),
        ];
        let env = vec![(OsString::from("A_B"), OsString::from("v 'q'"))];
        let dir = PathBuf::from("/tmp/a dir");
        let script = job_script(&ScriptSpec {
            dir: &dir,
            cwd: &dir,
            command: &command,
            env: &env,
            time_limit: 5,
            grace: 2,
        })
        .unwrap();
        let text = String::from_utf8_lossy(&script);
        assert!(
            text.contains("d='/tmp/a dir'\nlimit=5\ngrace=2\n"),
            "{text}"
        );
        assert!(
            text.contains("set -- 'printf' 'it'\\''s' '\u{fffd}$(x)'\n"),
            "{text}"
        );
        assert!(text.contains("export A_B='v '\\''q'\\'''\n"), "{text}");
    }
}
