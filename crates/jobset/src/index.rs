//! The index: jobs given a job directory outside the state directory
//! (`launch run --job-dir`, on this machine or another), one line each,
//! so that `launch list` finds them without looking everywhere.
//!
//! A line is `SECONDS<TAB>ADDRESS`: when the job was submitted (seconds
//! since the Unix epoch) and its directory as `launch` names it (a path,
//! or `ssh://[user@]host[:port]/path`). Lines are appended whole (one
//! `write` in append mode), and every append and every rewrite (`launch
//! prune`) holds the lock of [`INDEX_LOCK_FILE`] (an exclusive `flock`),
//! so that a line added while the index is rewritten is never lost.

use std::path::PathBuf;

/// The index's file name, under [`state_home`].
pub const INDEX_FILE: &str = "index";

/// The lock file of the index, beside it: whoever appends to the index
/// or rewrites it holds an exclusive `flock` of this file (not of the
/// index, which a rewrite replaces).
pub const INDEX_LOCK_FILE: &str = "index.lock";

/// `launch`'s own state directory: `$XDG_STATE_HOME/launch` (else
/// `~/.local/state/launch`, else the temporary directory's `launch`).
pub fn state_home() -> PathBuf {
    core_types::paths::xdg_dir("XDG_STATE_HOME", ".local/state")
        .unwrap_or_else(std::env::temp_dir)
        .join("launch")
}

/// Where fresh job directories go: [`state_home`]`/jobs`.
pub fn jobs_home() -> PathBuf {
    state_home().join("jobs")
}

/// The index file: [`state_home`]`/index`.
pub fn index_path() -> PathBuf {
    state_home().join(INDEX_FILE)
}

/// The index's lock file: [`state_home`]`/index.lock`.
pub fn index_lock_path() -> PathBuf {
    state_home().join(INDEX_LOCK_FILE)
}

/// One job of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// When it was submitted, in seconds since the Unix epoch.
    pub submitted: u64,
    /// Its directory, as `launch` names it.
    pub address: String,
}

/// The index's text format.
#[derive(Debug)]
pub struct Index;

impl Index {
    /// The line of an entry; empty for an address that a line cannot hold
    /// (a line break in it).
    pub fn line(entry: &IndexEntry) -> String {
        if entry.address.contains(['\n', '\r']) || entry.address.is_empty() {
            return String::new();
        }
        format!("{}\t{}\n", entry.submitted, entry.address)
    }

    /// The entries of an index's text, latest line last; a later line of
    /// the same address replaces an earlier one, and a line that does not
    /// read (a torn write) is skipped.
    pub fn parse(text: &str) -> Vec<IndexEntry> {
        let mut out: Vec<IndexEntry> = Vec::new();
        let mut at = std::collections::HashMap::new();
        for line in text.lines() {
            let Some((seconds, address)) = line.split_once('\t') else {
                continue;
            };
            let (Ok(submitted), false) = (seconds.parse::<u64>(), address.is_empty()) else {
                continue;
            };
            let entry = IndexEntry {
                submitted,
                address: address.to_owned(),
            };
            if let Some(&i) = at.get(address) {
                out[i] = entry;
            } else {
                at.insert(address.to_owned(), out.len());
                out.push(entry);
            }
        }
        out
    }

    /// The index's text without the entries of `gone`.
    pub fn without(text: &str, gone: &[String]) -> String {
        Index::parse(text)
            .iter()
            .filter(|e| !gone.contains(&e.address))
            .map(Index::line)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_and_repeated_lines() {
        let text = "1\t/a\n2\t/b\nxx\n3\t/a\n4\t\n5";
        let entries = Index::parse(text);
        assert_eq!(
            entries,
            [
                IndexEntry {
                    submitted: 3,
                    address: "/a".into()
                },
                IndexEntry {
                    submitted: 2,
                    address: "/b".into()
                }
            ]
        );
        assert_eq!(Index::without(text, &["/a".into()]), "2\t/b\n");
        let odd = IndexEntry {
            submitted: 1,
            address: "/a\nb".into(),
        };
        assert_eq!(Index::line(&odd), "");
    }
}
