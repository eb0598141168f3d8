//! Short commands through a shell kept running on the remote machine.
//!
//! An exec channel runs its command through the user's login shell, which
//! reads its start-up files first: often a few milliseconds, but on many
//! machines much more (`conda init`, `module load`, `pyenv init`: 100 ms
//! and up, every time). [`Connector::run`](core_types::job::Connector::run)
//! is the connector's most frequent call (a Slurm launcher polls with it),
//! so it goes, when it can, to one of a few helper shells started once per
//! session: a POSIX `sh` loop that reads a script (the same one an exec
//! channel would run) between two lines of a random marker, runs it in a
//! subshell with its output in files, and answers with its status and the
//! two outputs' lengths, then the outputs. One command at a time per
//! helper; when every helper is busy, or none could be started, the
//! command gets an exec channel of its own, as without helpers.
//!
//! A helper reports a process killed by signal N as status 128 + N, as
//! shells do, which is read back as that signal.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use core_types::job::{ProcessExit, shell_quote};
use ssh2::{Channel, Stream};

use crate::SshError;
use crate::channel::open_exec;
use crate::command;
use crate::session::Shared;

/// How many helpers a session keeps at most (each holds one of the
/// server's sessions per connection, `MaxSessions`, 10 by default).
pub(crate) const MAX_HELPERS: usize = 2;

const READY: &str = "launch-ssh-ready";
const REQUEST: &str = "launch-ssh-run";
const DONE: &str = "launch-ssh-done";

/// The helper's loop. Lines are read with `read -r` and joined again, so
/// the script arrives byte for byte (scripts are UTF-8, have no NUL, and
/// end with a newline).
const LOOP: &str = r#"d=$(mktemp -d "${TMPDIR:-/tmp}/launch-ssh-run.XXXXXXXXXX") || exit 1
trap 'rm -rf "$d"' EXIT
trap 'exit 1' HUP INT TERM
printf 'launch-ssh-ready\n'
while IFS= read -r h; do
	case $h in "launch-ssh-run "*) ;; *) continue ;; esac
	e=${h#launch-ssh-run }
	s=
	while IFS= read -r l; do
		[ "$l" = "$e" ] && break
		s="$s$l
"
	done
	( eval "$s" ) </dev/null >"$d/o" 2>"$d/e"
	c=$?
	printf 'launch-ssh-done %s %s %s\n' "$c" "$(wc -c <"$d/o")" "$(wc -c <"$d/e")"
	cat "$d/o" "$d/e"
done
"#;

/// A helper shell: its channel, of session `generation`.
pub(crate) struct Helper {
    channel: Channel,
    output: Stream,
    generation: u64,
    /// Read past what was asked for (nothing, unless the shell misbehaves).
    buf: Vec<u8>,
}

/// The helpers of a session.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Vec<Helper>,
    /// Helpers of `generation` started (idle or busy).
    started: usize,
    generation: u64,
    /// Starting one failed on this generation: no more tries on it.
    broken: bool,
}

impl Pool {
    /// Forgets what belongs to an older session.
    fn renew(&mut self, generation: u64) -> Vec<Helper> {
        if self.generation == generation {
            return Vec::new();
        }
        self.generation = generation;
        self.started = 0;
        self.broken = false;
        std::mem::take(&mut self.idle)
    }
}

/// A marker line that is not in `script`.
fn marker(script: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let end = format!(
            "launch-ssh-end-{nanos:x}-{:x}-{}",
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::process::id()
        );
        if !script.contains(&end) {
            return end;
        }
    }
}

/// The request for `script`.
pub(crate) fn request(script: &str, end: &str) -> String {
    let mut text = format!("{REQUEST} {end}\n{script}");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(end);
    text.push('\n');
    text
}

/// The answer's head: status and the two lengths.
pub(crate) fn parse_done(line: &[u8]) -> Option<(i32, usize, usize)> {
    let text = std::str::from_utf8(line).ok()?;
    let mut words = text.strip_prefix(DONE)?.split_whitespace();
    let status = words.next()?.parse().ok()?;
    let out = words.next()?.parse().ok()?;
    let err = words.next()?.parse().ok()?;
    words.next().is_none().then_some((status, out, err))
}

/// A status of `$?` as an exit.
pub(crate) fn exit_of(status: i32) -> ProcessExit {
    let mut text = status.to_string();
    text.push('\n');
    command::parse_status_file(text.as_bytes()).unwrap_or(ProcessExit {
        code: Some(status),
        signal: None,
    })
}

/// Closes a helper's channel (the server's session slot is freed).
fn close(shared: &Shared, mut helper: Helper) {
    let deadline = Some(Instant::now() + Duration::from_secs(2));
    let _ = shared.wait_on(helper.generation, deadline, |_| {
        Ok(helper.channel.close()?)
    });
    let _guard = shared.lock();
    drop(helper);
}

/// Reads until a line starting with `mark`; what follows it stays in
/// `buf`. `None` at the end of the stream.
fn read_line_with(
    shared: &Shared,
    helper: &mut Helper,
    mark: &str,
    deadline: Option<Instant>,
) -> Result<Option<Vec<u8>>, SshError> {
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        while let Some(nl) = helper.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = helper.buf.drain(..=nl).collect();
            let line = &line[..line.len() - 1];
            if line.starts_with(mark.as_bytes()) {
                return Ok(Some(line.to_vec()));
            }
        }
        let output = &mut helper.output;
        let n = shared.wait_on(
            helper.generation,
            deadline,
            |_| Ok(output.read(&mut chunk)?),
        )?;
        if n == 0 {
            return Ok(None);
        }
        helper.buf.extend_from_slice(&chunk[..n]);
    }
}

/// Starts a helper on the current session; `None` when it cannot be.
fn start(shared: &Arc<Shared>) -> Option<Helper> {
    let quoted = String::from_utf8(shell_quote(LOOP.as_ref()).ok()?).ok()?;
    let chan = open_exec(shared, &format!("exec /bin/sh -c {quoted}")).ok()?;
    let (channel, generation) = chan.into_raw()?;
    let output = channel.stream(0);
    let mut helper = Helper {
        channel,
        output,
        generation,
        buf: Vec::new(),
    };
    let deadline = Some(Instant::now() + shared.config.timeout + shared.config.connect_timeout);
    if let Ok(Some(_)) = read_line_with(shared, &mut helper, READY, deadline) {
        return Some(helper);
    }
    close(shared, helper);
    None
}

/// An idle helper of the current session, or a new one; `None` when all
/// are busy or none can be started.
fn take(shared: &Arc<Shared>) -> Option<Helper> {
    let generation = {
        let mut st = shared.lock();
        shared.conn(&mut st).ok()?.generation
    };
    let stale;
    {
        let mut pool = shared.helpers();
        stale = pool.renew(generation);
        if let Some(helper) = pool.idle.pop() {
            drop(pool);
            for old in stale {
                close(shared, old);
            }
            return Some(helper);
        }
        if pool.broken || pool.started >= MAX_HELPERS {
            drop(pool);
            for old in stale {
                close(shared, old);
            }
            return None;
        }
        pool.started += 1;
    }
    for old in stale {
        close(shared, old);
    }
    let helper = start(shared);
    if helper.is_none() {
        let mut pool = shared.helpers();
        if pool.generation == generation {
            pool.started = pool.started.saturating_sub(1);
            pool.broken = true;
        }
    }
    helper
}

/// Gives a helper back (or drops it when its session is gone).
fn give_back(shared: &Shared, helper: Helper) {
    let mut pool = shared.helpers();
    if pool.generation == helper.generation && !pool.broken {
        pool.idle.push(helper);
    } else {
        drop(pool);
        close(shared, helper);
    }
}

/// Forgets a helper that failed.
fn lost(shared: &Shared, helper: Helper) {
    {
        let mut pool = shared.helpers();
        if pool.generation == helper.generation {
            pool.started = pool.started.saturating_sub(1);
        }
    }
    close(shared, helper);
}

/// What a command wrote to its standard output and error, and how it
/// ended.
pub(crate) type Captured = (Vec<u8>, Vec<u8>, ProcessExit);

/// Runs `script` through a helper: its output, error and exit; `None`
/// when no helper took it (nothing ran: the caller opens a channel).
pub(crate) fn run(shared: &Arc<Shared>, script: &str) -> Option<Result<Captured, io::Error>> {
    let mut helper = take(shared)?;
    let text = request(script, &marker(script));
    let mut written = 0;
    while written < text.len() {
        let channel = &mut helper.channel;
        let bytes = &text.as_bytes()[written..];
        match shared.wait_on(helper.generation, None, |_| Ok(channel.write(bytes)?)) {
            Ok(n) => written += n,
            Err(_) if written == 0 => {
                lost(shared, helper);
                return None;
            }
            Err(e) => {
                lost(shared, helper);
                return Some(Err(broke(shared, e)));
            }
        }
    }
    let head = match read_line_with(shared, &mut helper, DONE, None) {
        Ok(Some(head)) => head,
        Ok(None) => {
            lost(shared, helper);
            return Some(Err(broke(shared, SshError::Lost)));
        }
        Err(e) => {
            lost(shared, helper);
            return Some(Err(broke(shared, e)));
        }
    };
    let Some((status, out_len, err_len)) = parse_done(&head) else {
        lost(shared, helper);
        return Some(Err(io::Error::other(format!(
            "the command shell on {} answered `{}`",
            shared.target,
            String::from_utf8_lossy(&head)
        ))));
    };
    let want = out_len + err_len;
    let mut chunk = vec![0u8; 64 * 1024];
    while helper.buf.len() < want {
        let output = &mut helper.output;
        match shared.wait_on(helper.generation, None, |_| Ok(output.read(&mut chunk)?)) {
            Ok(0) => {
                lost(shared, helper);
                return Some(Err(broke(shared, SshError::Lost)));
            }
            Ok(n) => helper.buf.extend_from_slice(&chunk[..n]),
            Err(e) => {
                lost(shared, helper);
                return Some(Err(broke(shared, e)));
            }
        }
    }
    let mut both: Vec<u8> = helper.buf.drain(..want).collect();
    let err = both.split_off(out_len);
    give_back(shared, helper);
    Some(Ok((both, err, exit_of(status))))
}

fn broke(shared: &Shared, e: SshError) -> io::Error {
    match e {
        SshError::Lost | SshError::Deadline => io::Error::new(
            io::ErrorKind::ConnectionAborted,
            format!(
                "the SSH session to {} broke while the command ran; it may or may not have run to its end",
                shared.target
            ),
        ),
        fail => io::Error::other(fail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers() {
        let script = "echo 'a\nlaunch-ssh-end-x'\n";
        let end = marker(script);
        assert!(!script.contains(&end));
        let text = request(script, &end);
        assert_eq!(text, format!("launch-ssh-run {end}\n{script}{end}\n"));
        assert_eq!(request("true", "E"), "launch-ssh-run E\ntrue\nE\n");
        assert_eq!(parse_done(b"launch-ssh-done 3 12 0"), Some((3, 12, 0)));
        assert_eq!(
            parse_done(b"launch-ssh-done 0      12       4"),
            Some((0, 12, 4))
        );
        assert_eq!(parse_done(b"launch-ssh-done 0 x 4"), None);
        assert_eq!(parse_done(b"launch-ssh-done 0 1 2 3"), None);
        assert_eq!(parse_done(b"other 0 1 2"), None);
        assert_eq!(exit_of(0).code, Some(0));
        assert_eq!(exit_of(7).code, Some(7));
        assert_eq!((exit_of(137).code, exit_of(137).signal), (None, Some(9)));
    }
}
