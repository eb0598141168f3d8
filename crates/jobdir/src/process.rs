//! Process identity: enough to tell a process from another that got the
//! same pid later (its start time), or from one of an earlier boot.

use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// Where Linux says the boot id.
pub const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// A process as `/proc/PID/stat` shows it: enough to tell it from another
/// process that got the same pid later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    /// The state letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Its parent's pid.
    pub parent: u32,
    /// Its start time, in clock ticks after boot.
    pub start: u64,
}

/// Parses a `/proc/PID/stat` line (the name may hold spaces and parentheses,
/// so fields are counted after the last `)`).
pub fn parse_stat(line: &str) -> Option<ProcStat> {
    let after = &line[line.rfind(')')? + 1..];
    let mut fields = after.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    // Fields 5..=21 of proc(5) come before the start time (field 22).
    let start = fields.nth(17)?.parse().ok()?;
    Some(ProcStat {
        state,
        parent,
        start,
    })
}

/// Whether process `pid`, which started `start` ticks after boot `boot`
/// (empty: unknown), is still that process (and not a zombie), on the
/// machine whose files `read` reads (`Ok(None)`: no such file).
///
/// The one judgement of process identity: every launcher asks it, of the
/// processes a job directory records and of a job's submitter.
pub fn is_alive<E>(
    read: impl Fn(&Path) -> Result<Option<Vec<u8>>, E>,
    pid: u32,
    start: u64,
    boot: &str,
) -> Result<bool, E> {
    if !boot.is_empty() {
        let now = read(Path::new(BOOT_ID))?.map(|b| String::from_utf8_lossy(&b).trim().to_owned());
        if now.is_some_and(|now| now != boot) {
            return Ok(false);
        }
    }
    let line = read(Path::new(&format!("/proc/{pid}/stat")))?;
    Ok(line
        .and_then(|s| parse_stat(&String::from_utf8_lossy(&s)))
        .is_some_and(|s| s.start == start && s.state != 'Z'))
}

/// Reads a file of this machine; `None` when it does not exist (or is the
/// `/proc` entry of a process that just went: `ESRCH` mid-read).
fn read_local(path: &Path) -> Result<Option<Vec<u8>>, std::io::Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(3) => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// This machine's host name (empty when unknown).
pub fn local_host() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A process, wherever it runs: the machine, the boot, the pid and the
/// start time. `job.json` records its submitter so.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identity {
    /// The host name.
    pub host: String,
    /// The boot id (empty when unknown; the Slurm launcher's files of
    /// format 1 have none; then it is not written).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub boot: String,
    /// The pid.
    pub pid: u32,
    /// The start time, in clock ticks after boot.
    pub start: u64,
}

impl Identity {
    /// Whether it is still alive, when it runs on this machine; `None`
    /// when that cannot be told from here (another machine).
    pub fn alive_here(&self) -> Option<bool> {
        if self.host != local_host() {
            return None;
        }
        Some(is_alive(read_local, self.pid, self.start, &self.boot).unwrap_or(false))
    }
}

/// This process's identity (Linux; `None` elsewhere).
pub fn this_process() -> Option<&'static Identity> {
    static ME: OnceLock<Option<Identity>> = OnceLock::new();
    ME.get_or_init(|| {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let boot = std::fs::read_to_string(BOOT_ID)
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        Some(Identity {
            host: local_host(),
            boot,
            pid: std::process::id(),
            start: parse_stat(&stat)?.start,
        })
    })
    .as_ref()
}

/// The `pid` file the job script writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidFile {
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

/// The first part of the `pid` file, as the launcher writes it for the
/// supervisor it just started (`pid`, with its `/proc` stat line and the
/// boot id), so that its identity is known at once, before it runs.
pub fn spawned_pid_file(pid: u32, boot: &str, stat: &str) -> Vec<u8> {
    format!("pid {pid}\nboot {boot}\nstat {}\nend\n", stat.trim_end()).into_bytes()
}

/// What the `pid` file holds when a job that had not started was taken for
/// lost: its supervisor, should it start after all, does not run.
pub const GIVEN_UP: &[u8] = b"none\nend\n";

/// Reads the `pid` file; `None` while its first part is incomplete (being
/// written). Its second part, the command's, follows once it started.
pub fn parse_pid_file(text: &[u8]) -> Option<PidFile> {
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

    #[test]
    fn stat_lines_with_odd_names() {
        let line =
            "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100";
        assert_eq!(
            parse_stat(line),
            Some(ProcStat {
                state: 'S',
                parent: 1,
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
    fn this_process_is_alive() {
        let me = this_process().unwrap().clone();
        assert_eq!(me.alive_here(), Some(true));
        let later = Identity {
            start: me.start + 1,
            ..me.clone()
        };
        assert_eq!(later.alive_here(), Some(false));
        let other_boot = Identity {
            boot: "another-boot".into(),
            ..me.clone()
        };
        assert_eq!(other_boot.alive_here(), Some(false));
        let unknown_boot = Identity {
            boot: String::new(),
            ..me.clone()
        };
        assert_eq!(unknown_boot.alive_here(), Some(true));
        let elsewhere = Identity {
            host: "elsewhere".into(),
            ..me
        };
        assert_eq!(elsewhere.alive_here(), None);
    }
}
