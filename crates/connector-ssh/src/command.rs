//! The shell text sent through an exec channel, and what comes back before
//! the program runs: functions of their inputs, tested without a server.
//!
//! An SSH server runs a command through the user's login shell, which
//! parses it: so every word (program, arguments, paths, environment
//! values) is single-quoted, and a word that is not UTF-8 (which SSH
//! command strings must be) is rebuilt from octal escapes with `printf`.
//! No argument can ever be re-parsed into something else.
//!
//! The script reports on the channel's standard output, before the program
//! starts, a line `launch-ssh-pid PID STAT` (its pid and `/proc/PID/stat`
//! line, to tell it from a later process with the same pid), or
//! `launch-ssh-fail WHAT` when it could not start it. Environment variables
//! are exported by the script, so the server's `AcceptEnv` does not matter.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use core_types::job::{
    ConnectorError, ProcessExit, ProcessSpec, Signal, SignalTarget, StdioSpec, display_word,
    shell_quote,
};

/// The line giving the started program's pid.
pub(crate) const PID_MARK: &str = "launch-ssh-pid";
/// The line naming the file the watcher writes the exit status to.
pub(crate) const STATUS_MARK: &str = "launch-ssh-status";
/// The line saying what could not be set up.
pub(crate) const FAIL_MARK: &str = "launch-ssh-fail";

/// How a process runs on the remote machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The program replaces the channel's shell: its streams are the
    /// channel's, its exit status comes back on it. For processes whose
    /// output the caller reads.
    Channel,
    /// A watcher shell starts the program in a session of its own, then
    /// leaves the channel (which closes, so that long jobs do not hold one
    /// of the server's few sessions per connection) and writes the exit
    /// status to a file when it ends.
    Watched,
    /// Started in a session of its own; nothing waits for it remotely.
    Detached,
}

/// How `spec` runs: [`Mode::Channel`] when a stream goes to the caller.
pub(crate) fn mode(spec: &ProcessSpec) -> Mode {
    let to_caller = |s: &StdioSpec| matches!(s, StdioSpec::Pipe | StdioSpec::Inherit);
    if spec.detached {
        Mode::Detached
    } else if matches!(spec.stdin, StdioSpec::Pipe)
        || to_caller(&spec.stdout)
        || to_caller(&spec.stderr)
    {
        Mode::Channel
    } else {
        Mode::Watched
    }
}

/// Builds a script: words are quoted, and those that are not UTF-8 are
/// bound to variables first.
#[derive(Debug, Default)]
struct Script {
    prelude: String,
    vars: usize,
}

impl Script {
    /// `word` as one shell word whose value is exactly its bytes.
    fn word(&mut self, word: &OsStr) -> Result<String, ConnectorError> {
        let quoted = shell_quote(word)?;
        if let Ok(text) = String::from_utf8(quoted) {
            return Ok(text);
        }
        let var = format!("__lsw_b{}", self.vars);
        self.vars += 1;
        let mut octal = String::with_capacity(word.len() * 4);
        for b in word.as_bytes() {
            let _ = write!(octal, "\\{b:03o}");
        }
        // The `.` keeps trailing newlines from command substitution.
        let _ = writeln!(
            self.prelude,
            "{var}=$(printf '{octal}.'); {var}=${{{var}%.}}"
        );
        Ok(format!("\"${var}\""))
    }

    fn path(&mut self, path: &Path) -> Result<String, ConnectorError> {
        if path.as_os_str().is_empty() {
            return Err(ConnectorError::Invalid(
                "an empty path names no file".into(),
            ));
        }
        // `./` keeps `cd` from looking relative paths up in CDPATH.
        if path.is_relative() && !path.starts_with(".") {
            let mut rel = std::ffi::OsString::from("./");
            rel.push(path.as_os_str());
            return self.word(&rel);
        }
        self.word(path.as_os_str())
    }
}

/// Whether `name` can be exported by a POSIX shell.
fn valid_name(name: &OsStr) -> bool {
    let n = name.as_bytes();
    n.first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        && n.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// The redirections of the program's streams (checked first by `body`,
/// so that a file that cannot be opened is reported as such).
fn redirections(
    s: &mut Script,
    spec: &ProcessSpec,
    background: bool,
    body: &mut String,
) -> Result<String, ConnectorError> {
    let mut redirs = String::new();
    match &spec.stdin {
        StdioSpec::Null | StdioSpec::Inherit => redirs.push_str(" </dev/null"),
        StdioSpec::File(path) => {
            let path = s.path(path)?;
            let _ = writeln!(body, "{{ true <{path}; }} 2>/dev/null || __lsw_fail stdin");
            let _ = write!(redirs, " <{path}");
        }
        // A command started with `&` reads /dev/null unless told otherwise.
        StdioSpec::Pipe if background => redirs.push_str(" <&0"),
        StdioSpec::Pipe => {}
    }
    for (fd, stream, what) in [(1, &spec.stdout, "stdout"), (2, &spec.stderr, "stderr")] {
        match stream {
            StdioSpec::Null => {
                let _ = write!(redirs, " {fd}>/dev/null");
            }
            StdioSpec::File(path) => {
                let path = s.path(path)?;
                let _ = writeln!(body, "{{ true >{path}; }} 2>/dev/null || __lsw_fail {what}");
                let _ = write!(redirs, " {fd}>{path}");
            }
            StdioSpec::Pipe | StdioSpec::Inherit => {}
        }
    }
    redirs.push_str(" 3>&-");
    Ok(redirs)
}

/// The script that starts `spec` in `mode`; `default_dir` is where it runs
/// when it names no directory.
pub(crate) fn render(
    spec: &ProcessSpec,
    mode: Mode,
    default_dir: Option<&Path>,
) -> Result<String, ConnectorError> {
    let mut s = Script::default();
    let mut body = String::new();
    if spec.program.is_empty() {
        return Err(ConnectorError::Invalid("the program name is empty".into()));
    }
    let program = s.word(&spec.program)?;
    let mut command = program.clone();
    for arg in &spec.args {
        command.push(' ');
        command.push_str(&s.word(arg)?);
    }
    if let Some(dir) = spec.cwd.as_deref().or(default_dir) {
        let dir = s.path(dir)?;
        let _ = writeln!(body, "cd {dir} 2>/dev/null || __lsw_fail cwd");
    }
    for (name, value) in &spec.env {
        if !valid_name(name) {
            return Err(ConnectorError::Invalid(format!(
                "environment variable name {} cannot be passed over SSH (letters, digits, `_`, not starting with a digit)",
                display_word(name)
            )));
        }
        let value = s.word(value)?;
        let _ = writeln!(body, "export {}={value}", name.to_string_lossy());
    }
    if spec.program.as_bytes().contains(&b'/') {
        let _ = writeln!(
            body,
            "[ -f {program} ] && [ -x {program} ] || {{ [ -e {program} ] && __lsw_fail noexec; __lsw_fail notfound; }}"
        );
    } else {
        let _ = writeln!(
            body,
            "command -v -- {program} >/dev/null 2>&1 || __lsw_fail notfound"
        );
    }
    let redirs = redirections(&mut s, spec, mode != Mode::Channel, &mut body)?;
    let stat = "read -r __lsw_s 2>/dev/null <\"/proc/$__lsw_p/stat\" || __lsw_s=";
    let report = format!("printf '{PID_MARK} %s %s\\n' \"$__lsw_p\" \"$__lsw_s\" >&3");
    // `setsid` makes the program the leader of a new session (and process
    // group) between its fork and its exec: the pid is reported once that
    // happened (as `/proc` shows), so that the caller can signal the group
    // at once.
    let launch = format!(
        "if command -v setsid >/dev/null 2>&1; then\n\
         \tsetsid {command}{redirs} &\n\
         \t__lsw_p=$! __lsw_i=0 __lsw_s=\n\
         \twhile [ \"$__lsw_i\" -lt 5000 ] && read -r __lsw_s 2>/dev/null <\"/proc/$__lsw_p/stat\"; do\n\
         \t\tset -- ${{__lsw_s##*) }}\n\
         \t\t[ \"$4\" = \"$__lsw_p\" ] && break\n\
         \t\t__lsw_i=$((__lsw_i + 1))\n\
         \tdone\n\
         else\n\
         \t{command}{redirs} &\n\
         \t__lsw_p=$!\n\
         \t{stat}\n\
         fi\n"
    );
    match mode {
        Mode::Channel => {
            let _ = write!(
                body,
                "__lsw_p=$$\n{stat}\n{report}\nexec {command}{redirs}\n"
            );
        }
        Mode::Detached => {
            let _ = writeln!(body, "{launch}{report}");
        }
        Mode::Watched => {
            let _ = write!(
                body,
                "__lsw_f=$(mktemp \"${{TMPDIR:-/tmp}}/launch-ssh.XXXXXXXXXX\" 2>/dev/null) || __lsw_fail status\n\
                 (\n{launch}{report}\n\
                 printf '{STATUS_MARK} %s\\n' \"$__lsw_f\" >&3\n\
                 exec 3>&- </dev/null >/dev/null 2>&1\n\
                 wait \"$__lsw_p\"\n\
                 printf '%s\\n' \"$?\" >\"$__lsw_f\"\n\
                 ) &\n"
            );
        }
    }
    Ok(format!(
        "exec 3>&1\n__lsw_fail() {{ printf '{FAIL_MARK} %s\\n' \"$1\" >&3; exit 127; }}\n{}{body}",
        s.prelude
    ))
}

/// The script that sends `signal` to `target`, in the C locale so that
/// "No such process" reads the same everywhere.
pub(crate) fn signal_script(target: SignalTarget, signal: Signal) -> String {
    let who = match target {
        SignalTarget::Process(pid) => pid.to_string(),
        SignalTarget::Group(pgid) => format!("-{pgid}"),
    };
    format!(
        "LC_ALL=C; export LC_ALL; kill -s {} -- {who}\n",
        signal.name()
    )
}

/// Whether what `kill` wrote means there was no such process.
pub(crate) fn no_such_process(stderr: &[u8]) -> bool {
    String::from_utf8_lossy(stderr)
        .to_ascii_lowercase()
        .contains("no such process")
}

/// A line the script writes before the program runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StartLine {
    /// The program's pid and start time (clock ticks after boot), when
    /// `/proc` told it.
    Pid { pid: u32, start: Option<u64> },
    /// The file its exit status will be written to.
    Status(PathBuf),
    /// What could not be set up (`cwd`, `notfound`, `noexec`, `stdin`,
    /// `stdout`, `stderr`, `status`).
    Fail(String),
}

/// Reads one line (without its newline); `None` for any other line (what
/// the remote shell's start-up files may print).
pub(crate) fn parse_start_line(line: &[u8]) -> Option<StartLine> {
    let (mark, rest) = match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &b""[..]),
    };
    match mark {
        m if m == PID_MARK.as_bytes() => {
            let text = String::from_utf8_lossy(rest);
            let (pid, stat) = text.split_once(' ').unwrap_or((&text, ""));
            let pid: u32 = pid.parse().ok().filter(|&p| p > 1)?;
            Some(StartLine::Pid {
                pid,
                start: parse_stat(stat).map(|s| s.start),
            })
        }
        m if m == STATUS_MARK.as_bytes() && !rest.is_empty() => {
            Some(StartLine::Status(PathBuf::from(OsStr::from_bytes(rest))))
        }
        m if m == FAIL_MARK.as_bytes() => {
            Some(StartLine::Fail(String::from_utf8_lossy(rest).into_owned()))
        }
        _ => None,
    }
}

/// A process as `/proc/PID/stat` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    /// The state letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// The start time, in clock ticks after boot.
    pub start: u64,
}

/// Parses a `/proc/PID/stat` line (fields counted after the last `)`, as
/// the name may hold anything).
pub(crate) fn parse_stat(line: &str) -> Option<Stat> {
    let after = &line[line.rfind(')')? + 1..];
    let mut fields = after.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some(Stat { state, start })
}

/// Whether a process read from `/proc/PID/stat` is still the one that
/// started at `start`.
pub(crate) fn same_live_process(stat_text: &[u8], start: u64) -> bool {
    parse_stat(&String::from_utf8_lossy(stat_text))
        .is_some_and(|s| s.start == start && s.state != 'Z')
}

/// The exit a watcher wrote (`$?` of `wait`, newline-terminated); `None`
/// while the file is still empty. A status above 128 is the shell's way
/// of saying "killed by signal status - 128".
pub(crate) fn parse_status_file(text: &[u8]) -> Option<ProcessExit> {
    let text = std::str::from_utf8(text).ok()?;
    let code: i32 = text.strip_suffix('\n')?.trim().parse().ok()?;
    Some(if (129..=192).contains(&code) {
        ProcessExit {
            code: None,
            signal: Some(code - 128),
        }
    } else {
        ProcessExit {
            code: Some(code),
            signal: None,
        }
    })
}

/// The number of a signal as SSH names it (`TERM`), on Linux.
pub(crate) fn signal_number(name: &str) -> Option<i32> {
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    let name = name.strip_prefix("SIG").unwrap_or(name);
    NAMES
        .iter()
        .position(|n| *n == name)
        .and_then(|i| i32::try_from(i + 1).ok())
}

/// Refuses a target that is no process one may signal (0, 1, past
/// `i32`); else the error a failed `kill` of it becomes.
pub(crate) fn signal_guard(
    target: SignalTarget,
    signal: Signal,
) -> Result<impl Fn(String) -> ConnectorError, ConnectorError> {
    let (SignalTarget::Process(id) | SignalTarget::Group(id)) = target;
    if id <= 1 || i32::try_from(id).is_err() {
        return Err(ConnectorError::Invalid(format!(
            "refusing to signal {target}: {id} is not a process id one may signal"
        )));
    }
    Ok(move |reason: String| ConnectorError::Signal {
        signal,
        target: target.to_string(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn modes() {
        let quiet = ProcessSpec::new("sh");
        assert_eq!(mode(&quiet), Mode::Watched);
        let piped = quiet
            .clone()
            .stdio(StdioSpec::Null, StdioSpec::Pipe, StdioSpec::Null);
        assert_eq!(mode(&piped), Mode::Channel);
        let inherit_in = quiet
            .clone()
            .stdio(StdioSpec::Inherit, StdioSpec::Null, StdioSpec::Null);
        assert_eq!(mode(&inherit_in), Mode::Watched);
        assert_eq!(mode(&piped.detached(true)), Mode::Detached);
    }

    #[test]
    fn channel_script_quotes_every_word() {
        let spec = ProcessSpec::new("printf")
            .args(["%s\\n", "a b", "it's", "$(reboot)"])
            .env("GREETING", "hello 'there'")
            .cwd("/tmp/a dir")
            .stdio(
                StdioSpec::Null,
                StdioSpec::Pipe,
                StdioSpec::File("/tmp/err".into()),
            );
        let script = render(&spec, Mode::Channel, None).unwrap();
        insta::assert_snapshot!(script);
    }

    #[test]
    fn watched_and_detached_scripts() {
        let spec = ProcessSpec::new("/bin/sh")
            .args(["job.sh"])
            .cwd("work")
            .stdio(
                StdioSpec::Null,
                StdioSpec::Null,
                StdioSpec::File("log".into()),
            );
        insta::assert_snapshot!("watched", render(&spec, Mode::Watched, None).unwrap());
        let spec = spec.cwd("/w").detached(true);
        insta::assert_snapshot!("detached", render(&spec, Mode::Detached, None).unwrap());
    }

    #[test]
    fn non_utf8_words_go_through_printf() {
        let spec = ProcessSpec::new("echo").args([OsString::from_vec(b"a\xff\n".to_vec())]);
        let script = render(&spec, Mode::Channel, Some(Path::new("/home"))).unwrap();
        assert!(
            script.contains("__lsw_b0=$(printf '\\141\\377\\012.'); __lsw_b0=${__lsw_b0%.}\n"),
            "{script}"
        );
        assert!(
            script.contains("exec 'echo' \"$__lsw_b0\" </dev/null"),
            "{script}"
        );
        assert!(script.contains("cd '/home' 2>/dev/null"), "{script}");
    }

    #[test]
    fn refusals() {
        let nul = ProcessSpec::new("echo").args(["a\0b"]);
        assert!(
            render(&nul, Mode::Channel, None)
                .unwrap_err()
                .to_string()
                .contains("NUL")
        );
        let bad_env = ProcessSpec::new("echo").env("A-B", "x");
        let err = render(&bad_env, Mode::Channel, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("A-B"), "{err}");
        let empty = ProcessSpec::new("");
        assert!(render(&empty, Mode::Channel, None).is_err());
        let empty_cwd = ProcessSpec::new("true").cwd("");
        assert!(render(&empty_cwd, Mode::Channel, None).is_err());
    }

    #[test]
    fn start_lines() {
        let stat =
            "4242 (a b) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100";
        assert_eq!(
            parse_start_line(format!("launch-ssh-pid 4242 {stat}").as_bytes()),
            Some(StartLine::Pid {
                pid: 4242,
                start: Some(987_654)
            })
        );
        assert_eq!(
            parse_start_line(b"launch-ssh-pid 77 "),
            Some(StartLine::Pid {
                pid: 77,
                start: None
            })
        );
        assert_eq!(parse_start_line(b"launch-ssh-pid 1 x"), None);
        assert_eq!(parse_start_line(b"launch-ssh-pid x"), None);
        assert_eq!(
            parse_start_line(b"launch-ssh-status /tmp/a b"),
            Some(StartLine::Status("/tmp/a b".into()))
        );
        assert_eq!(
            parse_start_line(b"launch-ssh-fail cwd"),
            Some(StartLine::Fail("cwd".into()))
        );
        assert_eq!(parse_start_line(b"Welcome to the cluster!"), None);
        assert_eq!(parse_start_line(b""), None);
    }

    #[test]
    fn stat_and_liveness() {
        let stat = b"10 (sleep) S 1 10 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 555 0 0";
        assert!(same_live_process(stat, 555));
        assert!(!same_live_process(stat, 556));
        let zombie = b"10 (sleep) Z 1 10 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 555 0 0";
        assert!(!same_live_process(zombie, 555));
        assert!(!same_live_process(b"", 555));
    }

    #[test]
    fn status_files_and_signals() {
        assert_eq!(
            parse_status_file(b"3\n"),
            Some(ProcessExit {
                code: Some(3),
                signal: None
            })
        );
        assert_eq!(
            parse_status_file(b"143\n"),
            Some(ProcessExit {
                code: None,
                signal: Some(15)
            })
        );
        assert_eq!(parse_status_file(b""), None);
        assert_eq!(parse_status_file(b"1"), None, "being written");
        assert_eq!(signal_number("TERM"), Some(15));
        assert_eq!(signal_number("SIGKILL"), Some(9));
        assert_eq!(signal_number("HUP"), Some(1));
        assert_eq!(signal_number("SYS"), Some(31));
        assert_eq!(signal_number("BOGUS"), None);
        assert_eq!(
            signal_script(SignalTarget::Group(42), Signal::Term),
            "LC_ALL=C; export LC_ALL; kill -s TERM -- -42\n"
        );
        assert!(no_such_process(
            b"bash: line 1: kill: (42) - No such process\n"
        ));
        assert!(!no_such_process(b"kill: Operation not permitted"));
    }
}
