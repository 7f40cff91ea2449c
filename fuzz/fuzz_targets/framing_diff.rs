//! A request head that the strict parser and httparse both accept: the
//! connection core frames its body as RFC 9112 6.3 does with httparse's
//! fields, and refuses invalid (smuggling) framing with 400 or 501.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/conn_checks.rs"]
mod conn_checks;

fuzz_target!(|data: &[u8]| conn_checks::check_framing_diff(data));
