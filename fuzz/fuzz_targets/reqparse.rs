//! Arbitrary bytes through the requirement parser: never panics, and what
//! parses round-trips through its canonical form.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| reqparse::fuzz_check(data));
