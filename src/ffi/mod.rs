//! The C ABI. Every export checks its pointers, catches panics, and reports
//! failure through `fastserve_result` (or the picohttpparser codes for `phr_*`).
#![allow(non_camel_case_types)]

pub mod batch;
pub mod conn;
pub mod parse;
pub mod pico;
pub mod server;

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Result code of every fallible fastserve call. 0 is success.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum fastserve_result {
    /// Success.
    FASTSERVE_RESULT_OK = 0,
    /// The input ends before the message does; call again with more bytes.
    FASTSERVE_RESULT_PARTIAL = 1,
    /// A required pointer argument was NULL.
    FASTSERVE_RESULT_NULL_ARGUMENT = 2,
    /// An argument is out of range.
    FASTSERVE_RESULT_INVALID_ARGUMENT = 3,
    /// fastserve hit an internal bug; the call had no effect. Please report it.
    FASTSERVE_RESULT_PANIC = 4,
    /// Parse error: bad method.
    FASTSERVE_RESULT_BAD_METHOD = 10,
    /// Parse error: bad request target.
    FASTSERVE_RESULT_BAD_TARGET = 11,
    /// Parse error: malformed HTTP version.
    FASTSERVE_RESULT_BAD_VERSION = 12,
    /// Parse error: a well-formed version other than HTTP/1.x.
    FASTSERVE_RESULT_UNSUPPORTED_VERSION = 13,
    /// Parse error: bad line ending (bare CR, or bare LF in strict mode).
    FASTSERVE_RESULT_BAD_NEWLINE = 14,
    /// Parse error: bad header name (or obs-fold in strict mode).
    FASTSERVE_RESULT_BAD_HEADER_NAME = 15,
    /// Parse error: control byte in a header value.
    FASTSERVE_RESULT_BAD_HEADER_VALUE = 16,
    /// Parse error: more headers than the array holds.
    FASTSERVE_RESULT_TOO_MANY_HEADERS = 17,
    /// Parse error: bad status code.
    FASTSERVE_RESULT_BAD_STATUS = 18,
    /// Chunked body: bad chunk-size line.
    FASTSERVE_RESULT_BAD_CHUNK_SIZE = 19,
    /// Chunked body: chunk data not followed by CRLF.
    FASTSERVE_RESULT_BAD_CHUNK_DATA = 20,
    /// Chunked body: framing overhead out of proportion to the data.
    FASTSERVE_RESULT_CHUNK_OVERHEAD = 21,
    /// A system call failed (bind, listen, thread creation, ...).
    FASTSERVE_RESULT_IO = 30,
    /// The server is running; routes and listeners are fixed.
    FASTSERVE_RESULT_ALREADY_STARTED = 31,
    /// The server is not listening or not started yet.
    FASTSERVE_RESULT_NOT_STARTED = 32,
    /// The response was already sent or deferred.
    FASTSERVE_RESULT_RESPONSE_CLOSED = 33,
}

use fastserve_result::*;

impl From<crate::parse::Error> for fastserve_result {
    fn from(e: crate::parse::Error) -> Self {
        use crate::parse::Error as E;
        match e {
            E::Method => FASTSERVE_RESULT_BAD_METHOD,
            E::Target => FASTSERVE_RESULT_BAD_TARGET,
            E::Version => FASTSERVE_RESULT_BAD_VERSION,
            E::UnsupportedVersion => FASTSERVE_RESULT_UNSUPPORTED_VERSION,
            E::NewLine => FASTSERVE_RESULT_BAD_NEWLINE,
            E::HeaderName => FASTSERVE_RESULT_BAD_HEADER_NAME,
            E::HeaderValue => FASTSERVE_RESULT_BAD_HEADER_VALUE,
            E::TooManyHeaders => FASTSERVE_RESULT_TOO_MANY_HEADERS,
            E::Status => FASTSERVE_RESULT_BAD_STATUS,
            E::ChunkSize => FASTSERVE_RESULT_BAD_CHUNK_SIZE,
            E::ChunkData => FASTSERVE_RESULT_BAD_CHUNK_DATA,
            E::ChunkOverhead => FASTSERVE_RESULT_CHUNK_OVERHEAD,
        }
    }
}

/// A static, NUL-terminated description of a result code. Never NULL; unknown
/// codes give "unknown result code". The string lives for the whole program.
#[no_mangle]
pub extern "C" fn fastserve_result_str(code: i32) -> *const std::ffi::c_char {
    let s: &'static [u8] = match code {
        0 => b"ok\0",
        1 => b"partial input: more bytes needed\0",
        2 => b"a required pointer argument was NULL\0",
        3 => b"invalid argument\0",
        4 => b"internal error (panic caught)\0",
        10 => b"invalid method\0",
        11 => b"invalid request target\0",
        12 => b"invalid HTTP version\0",
        13 => b"unsupported HTTP version\0",
        14 => b"invalid line ending\0",
        15 => b"invalid header name\0",
        16 => b"invalid header value\0",
        17 => b"too many headers\0",
        18 => b"invalid status code\0",
        19 => b"invalid chunk size line\0",
        20 => b"chunk data not followed by CRLF\0",
        21 => b"chunked framing overhead too large\0",
        30 => b"system call failed\0",
        31 => b"server already started\0",
        32 => b"server not listening or not started\0",
        33 => b"response already sent or deferred\0",
        _ => b"unknown result code\0",
    };
    s.as_ptr().cast()
}

/// Runs `f`, turning a panic into `FASTSERVE_RESULT_PANIC`.
#[inline(always)]
pub(crate) fn guard(f: impl FnOnce() -> fastserve_result) -> fastserve_result {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(FASTSERVE_RESULT_PANIC)
}

/// Runs `f`, turning a panic into `on_panic`.
#[inline(always)]
pub(crate) fn guard_or<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(on_panic)
}

/// A borrowed byte slice from a C pointer and length; NULL is only allowed with
/// length 0.
///
/// # Safety
/// When non-NULL, `p` must be valid for reads of `len` bytes for `'a`.
#[inline(always)]
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: usize) -> Option<&'a [u8]> {
    // SAFETY: forwarded contract.
    unsafe { slice(p, len) }
}

/// As [`bytes`], for any element type.
///
/// # Safety
/// When non-NULL, `p` must be valid for reads of `len` elements for `'a`.
#[inline(always)]
pub(crate) unsafe fn slice<'a, T>(p: *const T, len: usize) -> Option<&'a [T]> {
    if p.is_null() {
        return if len == 0 { Some(&[]) } else { None };
    }
    // SAFETY: the caller guarantees `p` is valid for `len` elements.
    Some(unsafe { std::slice::from_raw_parts(p, len) })
}

/// As [`bytes`], mutable.
///
/// # Safety
/// When non-NULL, `p` must be valid for reads and writes of `len` bytes for `'a`,
/// with no other live reference to them.
#[inline(always)]
pub(crate) unsafe fn bytes_mut<'a>(p: *mut u8, len: usize) -> Option<&'a mut [u8]> {
    if p.is_null() {
        return if len == 0 { Some(&mut []) } else { None };
    }
    // SAFETY: the caller guarantees exclusive access to `len` bytes at `p`.
    Some(unsafe { std::slice::from_raw_parts_mut(p, len) })
}
