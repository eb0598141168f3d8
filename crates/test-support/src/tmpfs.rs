//! A small real filesystem for tests of a full disk: a tmpfs mounted by
//! the test (as root), unmounted when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted at a fresh directory; unmounted (and the directory
/// removed) on drop.
#[derive(Debug)]
pub struct Tmpfs {
    dir: tempfile::TempDir,
    fill: usize,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`1m`: mount's own syntax); `None`, with a
    /// note saying why the test does nothing, when mounting is not
    /// permitted (not root, no `mount`, a container without the right).
    pub fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(out) if out.status.success() => Some(Tmpfs { dir, fill: 0 }),
            Ok(out) => {
                eprintln!(
                    "note: this test of a full disk does nothing: cannot mount a tmpfs ({})",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("note: this test of a full disk does nothing: cannot run mount ({e})");
                None
            }
        }
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills it up (files of a page each, under `fill/`), then frees
    /// `pages` pages, so that exactly that many are left.
    pub fn fill_leaving(&mut self, pages: usize) {
        let fill = self.fill_dir();
        std::fs::create_dir_all(&fill).expect("the fill directory");
        loop {
            let path = fill.join(self.fill.to_string());
            if std::fs::write(&path, [0u8; 4096]).is_err() {
                let _ = std::fs::remove_file(&path);
                break;
            }
            self.fill += 1;
        }
        self.free(pages);
    }

    /// Frees `pages` pages of what [`Tmpfs::fill_leaving`] wrote.
    pub fn free(&mut self, pages: usize) {
        for _ in 0..pages.min(self.fill) {
            self.fill -= 1;
            std::fs::remove_file(self.fill_dir().join(self.fill.to_string())).expect("a fill file");
        }
    }

    fn fill_dir(&self) -> PathBuf {
        self.path().join("fill")
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: a job's process may still hold a file open there.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
