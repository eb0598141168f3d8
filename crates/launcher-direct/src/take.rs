//! The machine's ledger taken in this process, for a job this process
//! starts on its own machine: the round `ledger.sh` makes for a new job
//! (`lg_round new`), on the same files, under the same lock, in the same
//! format, without a process to start (the shell commits with an `mv`).
//! The job's supervisor then reads its place on its standard input
//! ([`Place::line`]); when it reads nothing there (this process died
//! before it wrote), it makes the round itself, and finds the place this
//! process took for it when there is one.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::lock;

/// At least this many purged jobs' files go at once (`ledger.sh`).
const SWEEP_BATCH: usize = 32;

/// The job that joins the ledger: its directory, its supervisor, and what
/// it asks (`ledger::need_field`).
#[derive(Debug)]
pub(crate) struct Newcomer<'a> {
    pub dir: &'a Path,
    pub pid: u32,
    pub start: u64,
    pub need: &'a str,
}

/// Where the round put the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// It holds its share, with these devices (`-`: none).
    Holds { seq: u64, devices: String },
    /// It waits, with this ticket.
    Waits { seq: u64 },
}

impl Place {
    /// The line its supervisor reads: `h SEQ DEVS` or `w SEQ -`.
    pub(crate) fn line(&self) -> String {
        match self {
            Place::Holds { seq, devices } => format!("h {seq} {devices}\n"),
            Place::Waits { seq } => format!("w {seq} -\n"),
        }
    }
}

/// The ledger's directory: the one named, else the per-user one
/// (`ledger_dir.sh`'s rule, `$XDG_STATE_HOME/launch/ledger`); `None` when
/// this process cannot tell which the job's script would take (the job
/// sets `HOME` or `XDG_STATE_HOME` for itself, or neither is usable).
pub(crate) fn ledger_dir(
    named: Option<&Path>,
    job_env: &[(std::ffi::OsString, std::ffi::OsString)],
) -> Option<PathBuf> {
    if let Some(dir) = named {
        return Some(dir.to_path_buf());
    }
    if job_env
        .iter()
        .any(|(name, _)| name == "HOME" || name == "XDG_STATE_HOME")
    {
        return None;
    }
    core_types::paths::xdg_dir("XDG_STATE_HOME", ".local/state")
        .map(|base| base.join("launch").join("ledger"))
}

/// The boot id, `-` when unknown (the ledger's `boot` line).
fn boot_word(boot: &str) -> &str {
    if boot.is_empty() { "-" } else { boot }
}

/// Joins the ledger in `dir`: one round under its lock. An error leaves
/// the lock as it was found (never held) and the job to its script.
pub(crate) fn take(dir: &Path, job: &Newcomer<'_>) -> io::Result<Place> {
    let me = jobdir::this_process()
        .ok_or_else(|| io::Error::other("this process's identity is unknown"))?;
    fs::create_dir_all(dir)?;
    let owner = format!("lock {} {} {}\n", me.pid, me.start, boot_word(&me.boot));
    let facts = Facts {
        dir,
        boot: &me.boot,
    };
    loop {
        let lock = lock::lock(dir, &owner, |pid, start, boot| {
            facts.alive(pid, start, boot, "-")
        })?;
        let text = match fs::read(dir.join("ledger")) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(lock::unlock(dir, e)),
        };
        let round = dispatch(&text, job, &me.boot, &facts);
        let mut path_line = job.dir.as_os_str().as_encoded_bytes().to_vec();
        path_line.push(b'\n');
        if let Err(e) = name_dir(dir, &round, &path_line)
            // Over the owner's line, then cut to size: never cut to
            // nothing, which on ext4 writes the file out when it closes.
            .and_then(|()| lock.write_all_at(round.text.as_bytes(), 0))
            .and_then(|()| lock.set_len(round.text.len() as u64))
        {
            return Err(lock::unlock(dir, e));
        }
        drop(lock);
        match lock::commit(dir) {
            Ok(()) => {}
            // Broken meanwhile (taken for stale): again, from the start.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(lock::unlock(dir, e)),
        }
        for seq in &round.sweep {
            let _ = fs::remove_file(dir.join(format!("d.{seq}")));
            let _ = fs::remove_file(dir.join(format!("w.{seq}")));
        }
        for seq in round.wake.iter().filter(|&&s| s != round.seq) {
            wake(&dir.join(format!("w.{seq}")));
        }
        return Ok(round.place);
    }
}

/// Writes `d.SEQ`, the newcomer's directory: into the file of the purged
/// job the round reuses when there is one (renamed, then written over and
/// cut to size), else a new file. Every round that purges a job and adds
/// one then makes no file and removes none (on ext4 without a journal,
/// each file made scans the inodes removed in the last minutes).
fn name_dir(dir: &Path, round: &Round, path_line: &[u8]) -> io::Result<()> {
    let named = dir.join(format!("d.{}", round.seq));
    if let Some(old) = round.reuse {
        let _ = fs::remove_file(dir.join(format!("w.{old}")));
        if fs::rename(dir.join(format!("d.{old}")), &named).is_ok() {
            match OpenOptions::new().write(true).open(&named) {
                Ok(file) => {
                    file.write_all_at(path_line, 0)?;
                    return file.set_len(path_line.len() as u64);
                }
                // Another user's (a ledger users share): made anew.
                Err(_) => {
                    let _ = fs::remove_file(&named);
                }
            }
        }
    }
    fs::write(named, path_line)
}

/// A waiter sleeps on its FIFO: a line wakes it (never blocking here).
fn wake(fifo: &Path) {
    if !fs::symlink_metadata(fifo).is_ok_and(|m| m.file_type().is_fifo()) {
        return;
    }
    if let Ok(mut f) = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(fifo)
    {
        let _ = f.write_all(b"w\n");
    }
}

/// What a round learns of processes and job directories on this machine.
struct Facts<'a> {
    dir: &'a Path,
    boot: &'a str,
}

/// Whether the processes a ledger's line names still run.
trait Lives {
    /// `ledger.sh`'s `lg_alive PID START BOOT` (`lboot`: the ledger's own
    /// `boot` line, for `=`).
    fn alive(&self, pid: &str, start: &str, boot: &str, lboot: &str) -> bool;
    /// `ledger.sh`'s `lg_holder_alive SEQ PID START BOOT`.
    fn holder_alive(&self, seq: &str, pid: &str, start: &str, boot: &str, lboot: &str) -> bool;
}

impl Lives for Facts<'_> {
    fn alive(&self, pid: &str, start: &str, boot: &str, lboot: &str) -> bool {
        let boot_ok = match boot {
            "-" => true,
            b if b == self.boot => true,
            "=" => lboot == boot_word(self.boot) || self.boot.is_empty(),
            _ => self.boot.is_empty(),
        };
        if !boot_ok {
            return false;
        }
        let Ok(pid) = pid.parse::<u32>() else {
            return false;
        };
        if start == "0" {
            return Path::new(&format!("/proc/{pid}")).exists();
        }
        let Ok(start) = start.parse::<u64>() else {
            return false;
        };
        fs::read(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| jobdir::parse_stat(&String::from_utf8_lossy(&s)))
            .is_some_and(|s| s.start == start && s.state != 'Z')
    }

    /// Its supervisor runs, or else the command its directory's `pid` file
    /// names (and no `state` yet).
    fn holder_alive(&self, seq: &str, pid: &str, start: &str, boot: &str, lboot: &str) -> bool {
        if self.alive(pid, start, boot, lboot) {
            return true;
        }
        let Ok(named) = fs::read(self.dir.join(format!("d.{seq}"))) else {
            return false;
        };
        let line = named.split(|&b| b == b'\n').next().unwrap_or_default();
        let job = Path::new(std::ffi::OsStr::from_bytes(line));
        // Its script wrote the end: the command is gone.
        if fs::read(job.join(jobdir::STATE)).is_ok_and(|s| !s.iter().all(u8::is_ascii_whitespace)) {
            return false;
        }
        let Ok(pid_file) = fs::read(job.join(jobdir::PID)) else {
            return false;
        };
        let text = String::from_utf8_lossy(&pid_file);
        let (mut cmd, mut cstat) = (None, None);
        for l in text.lines() {
            match l.split_once(' ') {
                Some(("cmd", v)) => cmd = Some(v.trim()),
                Some(("cstat", v)) => cstat = Some(v),
                _ => {}
            }
        }
        let (Some(cmd), Some(cstat)) = (cmd, cstat) else {
            return false;
        };
        let Some(command) = jobdir::parse_stat(cstat) else {
            return false;
        };
        self.alive(cmd, &command.start.to_string(), boot, lboot)
    }
}

/// One round's outcome.
#[derive(Debug, PartialEq, Eq)]
struct Round {
    /// The new ledger.
    text: String,
    /// The newcomer's ticket.
    seq: u64,
    place: Place,
    /// Whom to wake: those started, and the first of those left.
    wake: Vec<u64>,
    /// Purged jobs whose files go now.
    sweep: Vec<u64>,
    /// A purged job whose `d.SEQ` file the newcomer's becomes.
    reuse: Option<u64>,
}

/// What is in use, as the holders' lines say.
#[derive(Debug, Default)]
struct Use {
    cores: u64,
    kib: u64,
    /// `(name, taken)`.
    tokens: Vec<(String, u64)>,
    devices: Vec<String>,
}

fn num(field: &str) -> Option<u64> {
    field.parse().ok()
}

impl Use {
    /// `lg_use CORES MEM TOKENS DEVS`.
    fn add(&mut self, cores: &str, kib: &str, tokens: &str, devices: &str) {
        self.cores = self.cores.saturating_add(num(cores).unwrap_or(0));
        self.kib = self.kib.saturating_add(num(kib).unwrap_or(0));
        if tokens != "-" {
            for t in tokens.split(',') {
                if let Some((name, rest)) = t.split_once('=') {
                    let k = rest.split_once('/').map_or(rest, |(k, _)| k);
                    self.tokens.push((name.to_owned(), num(k).unwrap_or(0)));
                }
            }
        }
        if devices != "-" {
            self.devices.extend(
                devices
                    .split(',')
                    .filter(|d| !d.is_empty())
                    .map(str::to_owned),
            );
        }
    }

    /// `lg_fits CORES MEM CAPC CAPM TOKENS PLAN`: the devices it gets
    /// (`-`: none) when it fits now.
    fn fits(&self, f: &[&str]) -> Option<String> {
        let (cores, kib, cap_c, cap_m) = (num(f[0])?, num(f[1])?, num(f[2])?, num(f[3])?);
        if self.cores.saturating_add(cores) > cap_c {
            return None;
        }
        if cap_m != 0 && self.kib.saturating_add(kib) > cap_m {
            return None;
        }
        if f[4] != "-" {
            for t in f[4].split(',') {
                let (name, rest) = t.split_once('=')?;
                let (k, count) = rest.split_once('/')?;
                let used: u64 = self
                    .tokens
                    .iter()
                    .filter(|(n, _)| *n == name)
                    .map(|(_, k)| k)
                    .sum();
                if used.saturating_add(num(k)?) > num(count)? {
                    return None;
                }
            }
        }
        if f[5] == "-" {
            return Some("-".to_owned());
        }
        self.pick(f[5])
    }

    /// `lg_pick PLAN`: the first alternative whose every group finds its
    /// count of free devices, taken in order.
    fn pick(&self, plan: &str) -> Option<String> {
        plan.split('|').find_map(|alt| {
            let mut got: Vec<&str> = Vec::new();
            for group in alt.split(';') {
                let (k, list) = group.split_once('/').unwrap_or((group, group));
                let mut k = num(k)?;
                for d in list.split(',') {
                    if k == 0 {
                        break;
                    }
                    if self.devices.iter().any(|u| u == d) || got.contains(&d) {
                        continue;
                    }
                    got.push(d);
                    k -= 1;
                }
                if k != 0 {
                    return None;
                }
            }
            Some(got.join(","))
        })
    }
}

/// The purged jobs whose files go now: all of them, once there are
/// [`SWEEP_BATCH`] (one sweep for many).
fn sweep(trash: &mut Vec<String>) -> Vec<u64> {
    if trash.len() < SWEEP_BATCH {
        return Vec::new();
    }
    std::mem::take(trash)
        .iter()
        .filter_map(|s| num(s))
        .collect()
}

/// The ledger's text: the next ticket, the boot, the purged whose files
/// stay, the holders, then the waiters left (each with how many started
/// after it, of the `g` started in all, added to its count of overtakes).
fn render<'h>(
    next: u64,
    bootw: &str,
    trash: &[String],
    holders: impl Iterator<Item = &'h String>,
    keep: &[(&Vec<String>, u64)],
    g: u64,
) -> String {
    use std::fmt::Write as _;
    let mut out = format!("next {next}\nboot {bootw}\nx {}\n", trash.join(" "));
    for h in holders {
        out.push_str(h);
        out.push('\n');
    }
    for (w, at) in keep {
        let over = num(&w[12]).unwrap_or(0);
        let _ = writeln!(out, "{} {}", w[..12].join(" "), over.saturating_add(g - at));
    }
    out
}

/// `ledger.sh`'s `lg_dispatch new`: reads the ledger, purges the dead,
/// adds the newcomer last, starts in order what fits (a waiter that may
/// not be overtaken any more blocks those after it), and renders the new
/// ledger.
fn dispatch(text: &str, job: &Newcomer<'_>, boot: &str, lives: &impl Lives) -> Round {
    let bootw = boot_word(boot);
    let (mut next, mut lboot) = (1_u64, "-");
    let mut trash: Vec<String> = Vec::new();
    let mut dead: Vec<String> = Vec::new();
    let mut holders: Vec<String> = Vec::new();
    let mut used = Use::default();
    let mut waiters: Vec<Vec<String>> = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.first().copied() {
            Some("next") if f.len() > 1 => next = num(f[1]).unwrap_or(1),
            Some("boot") if f.len() > 1 => lboot = f[1],
            Some("x") => trash = f[1..].iter().map(|s| (*s).to_owned()).collect(),
            Some("h") if f.len() >= 9 => {
                if lives.holder_alive(f[1], f[2], f[3], f[4], lboot) {
                    holders.push(f.join(" "));
                    used.add(f[5], f[6], f[7], f[8]);
                } else {
                    dead.push(f[1].to_owned());
                }
            }
            // Asked whether it runs only when that matters (`lg_due`).
            Some("w") if f.len() >= 13 => {
                waiters.push(f[..13].iter().map(|s| (*s).to_owned()).collect());
            }
            Some("h" | "w") if f.len() > 1 => dead.push(f[1].to_owned()),
            _ => {}
        }
    }
    let seq = next;
    next = next.saturating_add(1);
    let mine = format!("w {seq} {} {} = {} 0", job.pid, job.start, job.need);
    waiters.push(mine.split_whitespace().map(str::to_owned).collect());
    let mut holders_new: Vec<String> = Vec::new();
    let mut place = Place::Waits { seq };
    let (mut g, mut block, mut started, mut keep, mut head) =
        (0_u64, false, Vec::new(), Vec::new(), None);
    let me = seq.to_string();
    // `lg_due`: the newcomer runs; another is asked, and purged when gone.
    let due = |w: &[String], dead: &mut Vec<String>| {
        let alive = w[1] == me || lives.alive(&w[2], &w[3], &w[4], lboot);
        if !alive {
            dead.push(w[1].clone());
        }
        alive
    };
    for w in &waiters {
        let fits = if block {
            None
        } else {
            let f: Vec<&str> = w[5..11].iter().map(String::as_str).collect();
            used.fits(&f)
        };
        let over = num(&w[12]).unwrap_or(0);
        let limit = num(&w[11]).unwrap_or(0);
        if let Some(got) = fits {
            if !due(w, &mut dead) {
                continue;
            }
            used.add(&w[5], &w[6], &w[9], &got);
            holders_new.push(format!(
                "h {} {} {} {} {} {} {} {got}",
                w[1], w[2], w[3], w[4], w[5], w[6], w[9]
            ));
            if w[1] == me {
                place = Place::Holds { seq, devices: got };
            }
            g += 1;
            started.push(w[1].clone());
        } else if (head.is_some() && over < limit) || due(w, &mut dead) {
            if over >= limit {
                block = true;
            }
            keep.push((w, g));
            head.get_or_insert_with(|| w[1].clone());
        }
    }
    let mut wake: Vec<u64> = started.iter().filter_map(|s| num(s)).collect();
    wake.extend(head.as_deref().and_then(num));
    trash.extend(dead);
    // The last purged, whose files are surely there, gives its `d.SEQ`.
    let reuse = trash.pop().and_then(|s| num(&s));
    let sweep = sweep(&mut trash);
    let text = render(
        next,
        bootw,
        &trash,
        holders.iter().chain(&holders_new),
        &keep,
        g,
    );
    Round {
        text,
        seq,
        place,
        wake,
        sweep,
        reuse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Processes named by pid: those listed run.
    struct Running(&'static [&'static str]);

    impl Lives for Running {
        fn alive(&self, pid: &str, _: &str, _: &str, _: &str) -> bool {
            self.0.contains(&pid)
        }
        fn holder_alive(&self, _: &str, pid: &str, start: &str, boot: &str, lboot: &str) -> bool {
            self.alive(pid, start, boot, lboot)
        }
    }

    fn newcomer(need: &'static str) -> Newcomer<'static> {
        Newcomer {
            dir: Path::new("/jobs/new"),
            pid: 99,
            start: 7,
            need,
        }
    }

    const TWO_CORES: &str = "1 0 2 0 - - 16";

    #[test]
    fn a_newcomer_holds_when_there_is_room_and_waits_last_when_not() {
        let round = dispatch("", &newcomer(TWO_CORES), "b", &Running(&[]));
        assert_eq!(
            round.text, "next 2\nboot b\nx \nh 1 99 7 = 1 0 - -\n",
            "an empty ledger"
        );
        assert_eq!(
            round.place,
            Place::Holds {
                seq: 1,
                devices: "-".into()
            }
        );
        let full = "next 5\nboot b\nx \nh 3 10 1 = 1 0 - -\nh 4 11 1 = 1 0 - -\n";
        let round = dispatch(full, &newcomer(TWO_CORES), "b", &Running(&["10", "11"]));
        assert_eq!(round.place, Place::Waits { seq: 5 });
        assert!(
            round.text.ends_with("w 5 99 7 = 1 0 2 0 - - 16 0\n"),
            "{}",
            round.text
        );
        assert_eq!(round.wake, vec![5]);
    }

    #[test]
    fn the_dead_give_their_share_back_and_are_swept_in_batches() {
        let full = "next 5\nboot b\nx 1 2\nh 3 10 1 = 1 0 - -\nh 4 11 1 = 1 0 - -\n";
        let round = dispatch(full, &newcomer(TWO_CORES), "b", &Running(&["11"]));
        assert_eq!(
            round.place,
            Place::Holds {
                seq: 5,
                devices: "-".into()
            }
        );
        // The one just purged gives the newcomer its file.
        assert!(round.text.contains("x 1 2\n"), "{}", round.text);
        assert_eq!(round.reuse, Some(3));
        assert!(round.sweep.is_empty());
        let many: Vec<String> = (1..41).map(|i| i.to_string()).collect();
        let round = dispatch(
            &format!("next 50\nx {}\n", many.join(" ")),
            &newcomer(TWO_CORES),
            "b",
            &Running(&[]),
        );
        assert_eq!(round.reuse, Some(40));
        assert_eq!(round.sweep.len(), 39);
        assert!(round.text.contains("x \n"), "{}", round.text);
    }

    #[test]
    fn a_waiter_is_asked_only_when_it_would_start_or_leads() {
        // A dead waiter at the head is purged; one behind a live head stays
        // until it matters.
        let text = "next 9\nboot b\nx \nh 1 10 1 = 2 0 - -\n\
                    w 2 20 1 = 1 0 2 0 - - 16 0\nw 3 21 1 = 1 0 2 0 - - 16 0\n\
                    w 4 22 1 = 1 0 2 0 - - 16 0\n";
        let round = dispatch(text, &newcomer(TWO_CORES), "b", &Running(&["10", "21"]));
        assert!(!round.text.contains("w 2 "), "{}", round.text);
        assert!(
            round.text.contains("w 3 21 1 = 1 0 2 0 - - 16 0\n"),
            "{}",
            round.text
        );
        assert!(
            round.text.contains("w 4 22 1 = 1 0 2 0 - - 16 0\n"),
            "{}",
            round.text
        );
        assert_eq!(round.wake, vec![3]);
    }

    #[test]
    fn devices_are_picked_from_the_free_ones_and_the_overtaken_block() {
        let text = "next 3\nboot b\nx \nh 1 10 1 = 1 0 - cuda:0\n\
                    w 2 20 1 = 8 0 8 0 - - 0 0\n";
        // The waiter ahead does not fit and may not be overtaken (limit 0).
        let round = dispatch(
            text,
            &newcomer("1 0 8 0 - 1/cuda:0,cuda:1 0"),
            "b",
            &Running(&["10", "20"]),
        );
        assert_eq!(round.place, Place::Waits { seq: 3 });
        let text = "next 3\nboot b\nx \nh 1 10 1 = 1 0 - cuda:0\n";
        let round = dispatch(
            text,
            &newcomer("1 0 8 0 - 1/cuda:0,cuda:1 0"),
            "b",
            &Running(&["10"]),
        );
        assert_eq!(
            round.place,
            Place::Holds {
                seq: 3,
                devices: "cuda:1".into()
            }
        );
    }
}
