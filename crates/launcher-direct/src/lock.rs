//! The ledger's lock as this process takes it (`ledger.sh`'s `lg_lock`
//! and `lg_commit`, on the same files): `ledger.lock`, which names its
//! owner on its first line and into which the owner writes the new
//! ledger; the commit gives it the name `ledger`, which unlocks.
//!
//! Where the system can swap two names (Linux's `RENAME_EXCHANGE`), a
//! commit swaps the lock with the ledger and keeps the old ledger's file
//! as `ledger.spare`, which the next round takes for its lock by renaming
//! it (never over a lock that exists): a round then makes no file and
//! removes none. On ext4 that matters: a rename over a file writes the
//! new one out and gives the old one's blocks back to the disk (a discard
//! with `-o discard`), and without a journal every file made scans the
//! inodes removed in the last minutes. A shell's round makes its lock and
//! renames it over the ledger, as always; the spare is never read.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// After this long, the owner of a lock is asked whether it still runs
/// (`ledger.sh`'s `lg_lock`: about 2 s).
const STALE_AFTER: Duration = Duration::from_secs(2);

const LOCK: &str = "ledger.lock";
const LEDGER: &str = "ledger";
const SPARE: &str = "ledger.spare";

/// Takes the lock in `dir`: the spare renamed to `ledger.lock`, or else
/// `ledger.lock` created alone, with its owner's line. A lock held past
/// [`STALE_AFTER`] by a process that is gone (`alive PID START BOOT`
/// says no), or that names no owner twice in a row, is broken.
pub(crate) fn lock(
    dir: &Path,
    owner: &str,
    alive: impl Fn(&str, &str, &str) -> bool,
) -> io::Result<File> {
    let path = dir.join(LOCK);
    let mut since = Instant::now();
    let mut tries: u32 = 0;
    let mut no_owner = false;
    loop {
        match take_spare(dir) {
            Ok(true) => match OpenOptions::new().write(true).open(&path) {
                Ok(file) => return own(dir, owner, file, true),
                // Another user's file after all (a ledger users share,
                // whose spare changed hands): given back, with the lock,
                // which is then made anew.
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                    let _ = fs::remove_file(&path);
                }
                Err(e) => return Err(unlock(dir, e)),
            },
            Ok(false) => {}
            Err(e) => return Err(e),
        }
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return own(dir, owner, file, false),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            // Not made: not this process's to remove.
            Err(e) => return Err(e),
        }
        tries = tries.saturating_add(1);
        if tries < 32 {
            std::thread::yield_now();
            continue;
        }
        std::thread::sleep(Duration::from_micros(500));
        if since.elapsed() < STALE_AFTER {
            continue;
        }
        since = Instant::now();
        let text = fs::read_to_string(&path).unwrap_or_default();
        let words: Vec<&str> = text.split_whitespace().collect();
        let stale = match words.as_slice() {
            ["lock", pid, start, boot, ..] => !alive(pid, start, boot),
            _ if no_owner => true,
            _ => {
                no_owner = true;
                false
            }
        };
        if stale {
            let aside = dir.join(format!("ledger.stale.{}", std::process::id()));
            if fs::rename(&path, &aside).is_ok() {
                let _ = fs::remove_file(aside);
            }
        }
    }
}

/// The lock's file just taken: its owner's line written first (over what
/// a spare held, whose rest the round's text replaces; readers of a lock
/// read its first line alone). A write that fails gives the lock back.
fn own(dir: &Path, owner: &str, file: File, spare: bool) -> io::Result<File> {
    let written = if spare {
        file.write_all_at(owner.as_bytes(), 0)
    } else {
        (&file).write_all(owner.as_bytes())
    };
    written.map_err(|e| unlock(dir, e))?;
    Ok(file)
}

/// The spare, when it is this user's file (in a ledger users share, it
/// may be another's, which this user could not write), renamed to the
/// lock's name, which must not exist: whether this process now holds the
/// lock that way.
fn take_spare(dir: &Path) -> io::Result<bool> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use nix::errno::Errno;
        use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
        use std::os::unix::fs::MetadataExt;
        let me = nix::unistd::geteuid().as_raw();
        if !fs::symlink_metadata(dir.join(SPARE)).is_ok_and(|m| m.is_file() && m.uid() == me) {
            return Ok(false);
        }
        match renameat2(
            AT_FDCWD,
            &dir.join(SPARE),
            AT_FDCWD,
            &dir.join(LOCK),
            RenameFlags::RENAME_NOREPLACE,
        ) {
            Ok(()) => Ok(true),
            // No spare (taken by another, or none yet), the lock held, or
            // a file system without the flag: the lock made as a new file.
            Err(Errno::ENOENT | Errno::EEXIST | Errno::EINVAL | Errno::ENOSYS) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = dir;
        Ok(false)
    }
}

/// Commits a round (the lock's file holds the new ledger): it takes the
/// ledger's name, which unlocks; the old ledger's file, swapped under the
/// lock's name, becomes the spare. Without a swap (no ledger yet, a file
/// system or a system without it), the rename over the ledger. The lock's
/// file gone (broken meanwhile, taken for stale): `NotFound`.
pub(crate) fn commit(dir: &Path) -> io::Result<()> {
    let lock = dir.join(LOCK);
    let ledger = dir.join(LEDGER);
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
        if renameat2(
            AT_FDCWD,
            &lock,
            AT_FDCWD,
            &ledger,
            RenameFlags::RENAME_EXCHANGE,
        )
        .is_ok()
        {
            // Committed. The old ledger under the lock's name, which a
            // lock left behind would be broken as stale, goes aside.
            if fs::rename(&lock, dir.join(SPARE)).is_err() {
                let _ = fs::remove_file(&lock);
            }
            return Ok(());
        }
    }
    fs::rename(&lock, &ledger)
}

/// Gives the lock back after an error, and says the error.
pub(crate) fn unlock(dir: &Path, e: io::Error) -> io::Error {
    let _ = fs::remove_file(dir.join(LOCK));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(dir: &Path, name: &str) -> Option<String> {
        fs::read_to_string(dir.join(name)).ok()
    }

    #[test]
    fn rounds_take_the_spare_for_their_lock_and_leave_one_ledger() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        for round in 0..3 {
            let file = lock(dir, "lock 1 2 b\n", |_, _, _| true).unwrap();
            let held = lines(dir, LOCK).unwrap();
            assert_eq!(held.lines().next(), Some("lock 1 2 b"), "{held}");
            let text = format!("next {round}\n");
            file.write_all_at(text.as_bytes(), 0).unwrap();
            file.set_len(text.len() as u64).unwrap();
            drop(file);
            commit(dir).unwrap();
            assert_eq!(lines(dir, LEDGER), Some(text));
            assert_eq!(lines(dir, LOCK), None, "unlocked");
        }
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert_eq!(names, [LEDGER, SPARE]);
        } else {
            assert_eq!(names, [LEDGER]);
        }
    }

    #[test]
    fn a_lock_held_is_never_taken_from_the_spare() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        fs::write(dir.join(SPARE), "old ledger\n").unwrap();
        fs::write(dir.join(LOCK), "lock 7 8 b\n").unwrap();
        assert!(!take_spare(dir).unwrap());
        assert_eq!(lines(dir, LOCK).as_deref(), Some("lock 7 8 b\n"));
    }

    #[test]
    fn an_old_ledger_left_as_the_lock_is_broken_once_seen_twice() {
        // Its taker killed between the swap and the renaming to the spare.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        fs::write(dir.join(LOCK), "next 5\nboot b\nx \n").unwrap();
        let since = Instant::now();
        let file = lock(dir, "lock 1 2 b\n", |_, _, _| true).unwrap();
        drop(file);
        assert!(since.elapsed() >= STALE_AFTER * 2, "{:?}", since.elapsed());
        assert_eq!(lines(dir, LOCK).as_deref(), Some("lock 1 2 b\n"));
    }

    #[test]
    fn another_users_spare_is_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        fs::write(dir.join(SPARE), "theirs\n").unwrap();
        // Only root may give a file away; anyone else has nothing to check.
        if std::os::unix::fs::chown(dir.join(SPARE), Some(65534), None).is_err() {
            return;
        }
        drop(lock(dir, "lock 1 2 b\n", |_, _, _| true).unwrap());
        assert_eq!(lines(dir, SPARE).as_deref(), Some("theirs\n"));
        assert_eq!(lines(dir, LOCK).as_deref(), Some("lock 1 2 b\n"));
    }

    #[test]
    fn a_lock_whose_owner_is_gone_is_broken() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        fs::write(dir.join(LOCK), "lock 7 8 b\n").unwrap();
        let file = lock(dir, "lock 1 2 b\n", |pid, _, _| pid != "7").unwrap();
        drop(file);
        assert_eq!(lines(dir, LOCK).as_deref(), Some("lock 1 2 b\n"));
    }
}
