//! A user's jobs as a set, as `launch` shows them: job names and the
//! directory names made of them, the index of jobs whose directory is not
//! under the state directory, arrays (their ranges, their `array.json`,
//! their counts by state), and the rows `launch list` prints, filtered.
//!
//! Everything here is a function of values (the index and `array.json`
//! are read and written as text by the caller); what a job's state is comes
//! from its launcher, above this crate.
//!
//! ```
//! use jobset::{ArraySpec, Index, IndexEntry, dir_prefix};
//!
//! assert_eq!(dir_prefix("train model.py"), "train_model.py");
//! let spec: ArraySpec = "0-30:10%2".parse()?;
//! assert_eq!(spec.indices, [0, 10, 20, 30]);
//! assert_eq!(spec.throttle, Some(2));
//!
//! let entry = IndexEntry { submitted: 1_700_000_000, address: "/scratch/j1".into() };
//! let text = Index::line(&entry);
//! assert_eq!(Index::parse(&text), [entry]);
//! # Ok::<(), jobset::JobSetError>(())
//! ```

mod array;
mod index;
mod naming;
mod row;

pub use array::{ARRAY_FILE, ArrayFile, ArraySpec, Counts, MAX_TASKS};
pub use index::{
    INDEX_FILE, INDEX_LOCK_FILE, Index, IndexEntry, index_lock_path, index_path, jobs_home,
    state_home,
};
pub use naming::{DEFAULT_NAME, dir_prefix};
pub use row::{Filter, JobRow, age, rfc3339};

/// What is wrong with a user's input about jobs.
#[derive(Debug, thiserror::Error)]
pub enum JobSetError {
    /// An array range that is not `RANGE[%N]`.
    #[error("bad array range `{input}`: {reason}")]
    Range {
        /// The text.
        input: String,
        /// What is wrong.
        reason: String,
    },
    /// A `--name` pattern that is not a shell pattern.
    #[error("bad name pattern `{input}`")]
    Pattern {
        /// The text.
        input: String,
        /// What glob said.
        #[source]
        source: glob::PatternError,
    },
    /// An `array.json` that is not what it should be.
    #[error("`{path}` is corrupt")]
    ArrayFile {
        /// The file.
        path: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
}
