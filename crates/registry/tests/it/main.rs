//! Integration tests of the launcher file: the files of `tests/data`,
//! their errors, finding and discovery.

// Priorities are compared exactly: they are read, never computed.
#![allow(clippy::float_cmp)]

mod discovery;
mod errors;
mod finding;

use std::path::{Path, PathBuf};

use registry::Registry;

/// A file of `tests/data`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A registry from a file of `tests/data`, named by its file name alone
/// (stable error messages).
pub fn registry(name: &str) -> Registry {
    let text = std::fs::read_to_string(data(name)).unwrap();
    Registry::from_toml_str(&text, name).unwrap_or_else(|e| panic!("{e}"))
}

/// A requirement.
pub fn req(text: &str) -> core_types::Requirement {
    reqparse::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// No tags.
pub const NO_TAGS: &[&str] = &[];
