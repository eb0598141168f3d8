//! Helpers the workspace's integration tests share, so that each
//! `tests/it` folder does not carry its own copy. Dev-only: crates name it
//! under `[dev-dependencies]` alone (the architecture check enforces it).
//!
//! ```
//! let io = std::io::Error::other("disk on fire");
//! let err = test_support::Wrapped("cannot read `x`", io);
//! assert_eq!(test_support::chain(&err), "cannot read `x`: disk on fire");
//! ```

use std::error::Error;
use std::fmt;

/// An error and its causes, `: `-joined, as the `launch` binary prints
/// them.
pub fn chain(error: &dyn Error) -> String {
    let mut out = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cause = e.source();
    }
    out
}

/// A message with a cause: an error to test [`chain`] and error printers
/// with.
#[derive(Debug)]
pub struct Wrapped<E>(pub &'static str, pub E);

impl<E> fmt::Display for Wrapped<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl<E: Error + 'static> Error for Wrapped<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.1)
    }
}

pub mod slurm_layout;
