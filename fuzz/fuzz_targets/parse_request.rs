//! A request head: every kernel agrees in both modes, and strict mode accepts
//! nothing that pico mode rejects or parses differently.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/fuzz_checks.rs"]
mod fuzz_checks;

fuzz_target!(|data: &[u8]| fuzz_checks::check_request(data));
