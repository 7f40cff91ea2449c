//! fastserve: an HTTP/1.1 engine with a C ABI.
//!
//! Layers, each usable on its own and depending only on the ones below it:
//! - [`parse`]: zero-copy SIMD wire parsing (strict RFC 9112, or picohttpparser-compatible);
//! - [`ffi`]: the C ABI (`phr_*` and `fastserve_*`), the only place with `#[no_mangle]`.

pub mod parse;

#[doc(hidden)]
pub mod ffi;
pub mod proto;
pub mod server;
