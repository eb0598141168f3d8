//! Integration tests of the requirement parser.

mod conformance;
mod errors;
mod fuzz_failures;
mod properties;
mod values;
