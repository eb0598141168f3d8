//! Integration tests: launchers made from a launcher file run real jobs.

// Priorities are compared exactly: they are read, never computed.
#![allow(clippy::float_cmp)]

mod earliest;
mod running;

/// A requirement.
pub fn req(text: &str) -> core_types::Requirement {
    reqparse::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

pub use test_support::chain;
