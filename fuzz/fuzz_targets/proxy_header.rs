//! The start of a connection on a PROXY protocol listener: the header
//! parser's verdict (complete, waiting, refused) never comes early or
//! changes with more bytes, and a complete header's length is right.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/proxy_checks.rs"]
mod proxy_checks;

fuzz_target!(|data: &[u8]| proxy_checks::check_proxy(data));
