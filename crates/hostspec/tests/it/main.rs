//! Integration tests of `hostspec`: loading the files under `tests/data`,
//! error messages (insta snapshots), and TOML round trips.

mod errors;
mod load;
mod roundtrip;
