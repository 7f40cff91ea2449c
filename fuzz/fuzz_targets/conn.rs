//! The connection core driven end to end: the input picks small limits, where
//! reads split the byte stream, how much output is taken at a time, the order
//! in which deferred responses complete and when timeouts fire; the rest is
//! the stream (literal, or composed from seed requests). Memory stays within
//! the limits, and every request gets exactly one response, in order.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/conn_checks.rs"]
mod conn_checks;

fuzz_target!(|data: &[u8]| conn_checks::check_conn(data));
