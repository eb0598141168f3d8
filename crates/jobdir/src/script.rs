//! The job script: the POSIX `sh` script that runs a job's command and
//! records its pids, start times and exit code in its job directory.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use core_types::job::shell_quote;

use crate::JobDirError;

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
    /// `sh` text run once the `pid` file names the supervisor, before the
    /// command starts (the direct launcher waits there for its share of the
    /// machine); empty for none. It runs with `$d` the job directory, under
    /// the caller's umask (`$u`; a file it makes in `$d` it makes under
    /// `umask 077`), and may end the job with `finish STATE CODE`; what it
    /// exports reaches the command. It may set `state_note`, a line the script writes
    /// after the state line (the Slurm launcher: `run N`, the run of a
    /// requeued job that wrote it); readers of the state read its first
    /// line alone. The script's second argument is `$how`, for it. It may
    /// run the command at once with `run_job "$@"` (which never returns),
    /// so that the shell reads nothing after it.
    pub before_command: &'a [u8],
}

impl<'a> ScriptSpec<'a> {
    /// The script of `job` (its directory, working directory, command and
    /// time limit) with these variables, grace period (at least a second)
    /// and `before_command`.
    pub fn of(
        job: &'a core_types::job::Job,
        env: &'a [(OsString, OsString)],
        grace: std::time::Duration,
        before_command: &'a [u8],
    ) -> Self {
        ScriptSpec {
            dir: &job.dir,
            cwd: job.cwd.as_deref().unwrap_or(&job.dir),
            command: &job.command,
            env,
            time_limit: job.alternative.duration.seconds(),
            grace: grace.as_secs().max(1),
            before_command,
        }
    }
}

fn push_quoted(out: &mut Vec<u8>, word: &OsStr) -> Result<(), JobDirError> {
    out.extend_from_slice(&shell_quote(word)?);
    Ok(())
}

/// The script's start, after its variables: `finish`, the reservation of
/// the state's space, the `pid` file (`@LEN@`: the state's size, `@PAD@`
/// one less).
const START: &str = r#"
u= roomy= state_note=
{ while read -r k v; do [ "$k" = Umask: ] && u=$v && break; done < "/proc/$$/status"; } 2> /dev/null
[ -n "$u" ] || u=$(umask)
umask 077
exec 2>> "$d/stderr"
# The state is the reservation's size, @LEN@ bytes: its line padded with
# blanks, then a newline; a reader takes it for written once it is whole
# (it ends with the newline, written last). When the end-of-job probe has
# just found room on the disk (`roomy`), it is rewritten whole, in one
# write; else its line goes over the reserved blanks in place (no block
# to allocate on a full disk), and what the probe added is cut. A line too
# long for it goes through a temporary file. Nothing is left behind.
# A launcher's `before_command` may set `state_note`: a line written after
# the state's.
finish() {
	umask 077
	line=$1
	[ -n "${state_note:-}" ] && line="$1
$state_note"
	if [ "${#line}" -lt @LEN@ ]; then
		if [ -n "${roomy:-}" ] &&
			{ printf '%-@PAD@s\n' "$line" > "$d/state"; } 2> /dev/null; then
			exit 0
		fi
		if [ -f "$d/state" ] &&
			{ printf '%-@PAD@s\n' "$line" 1<> "$d/state"; } 2> /dev/null; then
			dd if=/dev/null of="$d/state" bs=1 seek=@LEN@ 2> /dev/null
			exit 0
		fi
	fi
	if { printf '%s\n' "$line" > "$d/state.tmp.$$"; } 2> /dev/null; then
		LC_ALL=C exec mv -f "$d/state.tmp.$$" "$d/state"
	fi
	rm -f "$d/state.tmp.$$"
	printf 'launch: cannot write %s (%s)\n' "$d/state" "$1" >&2
	exit "${2:-0}"
}
[ -e "$d/state" ] || { printf '%@LEN@s' '' > "$d/state"; } 2> /dev/null ||
	rm -f "$d/state"
[ -e "$d/cancel" ] && finish 'cancelled' 1
k= v=
if [ "$spawned" = spawned ] && { read -r k v < "$d/pid"; } 2> /dev/null; then
	# Started by a launcher, which wrote this part at once (what this
	# shell would read of itself to write it, it read): a file that names
	# another process says the job was given up for lost before it
	# started, and it never runs.
	[ "$k $v" = "pid $$" ] || exit 0
elif [ "$spawned" = spawned ]; then
	# Not written yet: the first of the two to write it wins.
	{ read -r self < "/proc/$$/stat"; } 2> /dev/null || self=
	{ read -r boot < /proc/sys/kernel/random/boot_id; } 2> /dev/null || boot=
	set -C
	{ printf 'pid %s\nboot %s\nstat %s\nend\n' "$$" "$boot" "$self" > "$d/pid"; } 2> /dev/null || {
		k= v=
		{ read -r k v < "$d/pid"; } 2> /dev/null
		[ "$k $v" = "pid $$" ] || exit 0
	}
	set +C
else
	{ read -r self < "/proc/$$/stat"; } 2> /dev/null || self=
	{ read -r boot < /proc/sys/kernel/random/boot_id; } 2> /dev/null || boot=
	printf 'pid %s\nboot %s\nstat %s\nend\n' "$$" "$boot" "$self" > "$d/pid"
fi
umask "$u"
"#;

/// The script's end, before the launcher's `before_command`: the command,
/// the watchdog, the state, as the function `run_job`, which the script
/// calls with the command's words after `before_command` (or which that
/// calls itself); it never returns.
const RUN: &[u8] = br#"
run_job() {
umask 077
cd "$cwd" 2> /dev/null || {
	printf 'launch: cannot change directory to %s\n' "$cwd" >> "$d/stderr"
	finish 'exited 126' 126
}
trap 'sig=1' TERM INT HUP
# The watchdog first: the command never runs without its time limit,
# whenever the supervisor is killed.
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
{ umask "$u"; "$@"; } < /dev/null > "$d/stdout" 2>> "$d/stderr" &
pid=$!
# The command's part of `pid`. Started as `spawned stdin`, this shell says
# the command's pid on its standard output to the process that started
# it, which reads the command's start at once (where this shell reads a
# byte at a time), writes that part and says `ok PID`; anything else (it
# is gone) and this shell writes it.
cstat=
if [ "$how" = stdin ]; then
	trap '' PIPE
	{ printf 'cmd %s\n' "$pid"; } 2> /dev/null && read -r k v && [ "$k $v" = "ok $pid" ] &&
		cstat=told
	trap - PIPE
fi
if [ "$cstat" != told ]; then
	{ read -r cstat < "/proc/$pid/stat"; } 2> /dev/null || cstat=
	printf 'cmd %s\ncstat %s\ncend\n' "$pid" "$cstat" >> "$d/pid"
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
# A full disk may have cut the command's output short: a block written
# tells (the shell does not say which error a write met). The block goes
# at the end of the state's blank reservation, which `finish` then
# rewrites or cuts: nothing to remove.
if { printf '%4096s' '' >> "$d/state"; } 2> /dev/null; then
	nospace= roomy=1
else
	nospace=' nospace' roomy=
fi
finish "exited $code$nospace" "$code"
}
"#;

/// The job script. Every word of the command, every environment value and
/// every path is single-quoted (`'` as `'\''`), so its bytes reach the
/// command verbatim, whatever they are; nothing is re-parsed by a shell.
///
/// The script leads the job's process group (the launcher starts it so),
/// runs the command in it, so that the whole tree can be signalled at once,
/// records its own and the command's pid and start time, enforces the time
/// limit with a watchdog (TERM to the group, KILL after the grace period),
/// and when the command ends writes its exit code to `state`, in one write
/// of the reserved size, whoever is watching. When the group is killed, the script goes
/// with it; the `cancel` and `timeout` markers then tell the end.
///
/// Run as `sh job.sh spawned [HOW]`, it takes the first part of the `pid` file
/// only when no one wrote it before (its launcher writes it at once, when
/// it starts it: [`spawned_pid_file`]), and does not run when that part
/// names another process (the job was taken for lost before it started).
///
/// The files it makes in the job directory are its owner's alone (mode
/// 0600: it runs under `umask 077`); the command runs under the umask the
/// script was started with (read from `/proc`, without a fork).
///
/// Every launcher runs jobs with it: the direct launcher as it is, the
/// Slurm launcher with its `#SBATCH` lines and its own part in front.
pub fn job_script(spec: &ScriptSpec<'_>) -> Result<Vec<u8>, JobDirError> {
    let mut s = Vec::with_capacity(2048);
    s.extend_from_slice(
        b"#!/bin/sh\n\
# Job script of launch's direct launcher (format 1). It runs the command\n\
# below in its process group (this shell leads it), records pids and start\n\
# times in `pid`, stops the group past the time limit (TERM, then KILL after\n\
# the grace period), and writes the exit code to `state` (one write over\n\
# its blanks) when the command ends.\n\
# Run it again by hand with: sh job.sh\n\
spawned=${1-} how=${2-}\n\
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
    let pad = (crate::STATE_RESERVED_LEN - 1).to_string();
    let len = crate::STATE_RESERVED_LEN.to_string();
    s.extend_from_slice(
        START
            .replace("@PAD@", &pad)
            .replace("@LEN@", &len)
            .as_bytes(),
    );
    s.extend_from_slice(RUN);
    s.extend_from_slice(spec.before_command);
    s.extend_from_slice(b"run_job \"$@\"\n");
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;
    use std::path::PathBuf;

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
            before_command: b"",
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
