//! A chunked body, decoded whole and again in two pieces: the first input byte
//! picks where to split, the rest is the body. Both decodings agree in each
//! mode, with and without trailer consumption, and whatever strict mode decodes
//! pico mode decodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/fuzz_checks.rs"]
mod fuzz_checks;

fuzz_target!(|data: &[u8]| fuzz_checks::check_chunked(data));
