//! Sizes and durations: parsing, formatting and checked arithmetic never
//! panic and never wrap.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| core_types::fuzz_check_units(data));
