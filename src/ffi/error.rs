//! Every call that can fail returns a `fastserve_result`; 0 is success.
//! Beside the code, `fastserve_last_error` holds a sentence about the last
//! failure on the calling thread, the way libcurl's error buffer does.
//!
//! Which calls set it: every call that returns a `fastserve_result` other
//! than `FASTSERVE_RESULT_OK` and `FASTSERVE_RESULT_PARTIAL`, and the calls
//! whose comment says they set it when they return NULL. Calls that succeed
//! leave it as it was, so read it right after the failed call. The
//! picohttpparser functions (`phr_*`) never touch it.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int};
use std::fmt::Display;

use super::fastserve_str;

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
    /// Chunked body: the trailer section is larger than the decoder allows.
    FASTSERVE_RESULT_TRAILER_TOO_LARGE = 22,
    /// A system call failed (bind, listen, thread creation, ...).
    FASTSERVE_RESULT_IO = 30,
    /// The server is running; routes and listeners are fixed.
    FASTSERVE_RESULT_ALREADY_STARTED = 31,
    /// The server is not listening or not started yet.
    FASTSERVE_RESULT_NOT_STARTED = 32,
    /// The response was already sent or deferred.
    FASTSERVE_RESULT_RESPONSE_CLOSED = 33,
    /// A stream's budget is used up: nothing was queued. Write again after
    /// FASTSERVE_STREAM_WRITABLE.
    FASTSERVE_RESULT_WOULD_BLOCK = 34,
    /// The client went away: the stream or connection is closed.
    FASTSERVE_RESULT_CLOSED = 35,
}

use fastserve_result::*;

use crate::proto::flat::{self, LineProblem};
use crate::proto::{header_field_problem, FieldProblem};

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

fn describe(code: i32) -> &'static [u8] {
    match code {
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
        22 => b"chunked trailer section too large\0",
        30 => b"system call failed\0",
        31 => b"server already started\0",
        32 => b"server not listening or not started\0",
        33 => b"response already sent or deferred\0",
        34 => b"would block: write again once writable\0",
        35 => b"closed: the client went away\0",
        _ => b"unknown result code\0",
    }
}

ffi_fn! {
    /// A static, NUL-terminated description of a result code, e.g. "invalid
    /// argument"; unknown codes give "unknown result code". Never NULL; the
    /// string lives as long as the program. Any thread.
    ///
    /// On an internal panic: returns "".
    #[on_panic(c"".as_ptr())]
    #[no_mangle]
    pub extern "C" fn fastserve_result_str(code: i32) -> *const c_char {
        describe(code).as_ptr().cast()
    }
}

ffi_fn! {
    /// What went wrong in the last failed fastserve call on this thread, as
    /// a NUL-terminated sentence, e.g. "route path \"x\" must start with
    /// '/'" or "bind 127.0.0.1:80: Permission denied (os error 13)". Calls
    /// that succeed leave it unchanged; before any failure it is "".
    /// Never NULL.
    ///
    /// The string belongs to the library and stays valid until the next
    /// fastserve call on the same thread: copy it to keep it. Each thread
    /// has its own (a handler's failures are on its worker thread).
    ///
    /// On an internal panic: returns "".
    #[on_panic(c"".as_ptr())]
    #[no_mangle]
    pub extern "C" fn fastserve_last_error() -> *const c_char {
        DETAIL
            .try_with(|d| match d.try_borrow() {
                Ok(d) if !d.is_empty() => d.as_ptr().cast(),
                _ => c"".as_ptr(),
            })
            .unwrap_or(c"".as_ptr())
    }
}

thread_local! {
    /// The `fastserve_last_error` text, NUL-terminated (empty before any).
    static DETAIL: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Whether the call running on this thread recorded its own detail.
    static RECORDED: Cell<bool> = const { Cell::new(false) };
}

fn record(msg: &dyn Display) {
    // A call from a thread-local destructor finds DETAIL gone; a signal
    // handler may interrupt a write to it. Both keep the old text.
    let _ = DETAIL.try_with(|d| {
        if let Ok(mut d) = d.try_borrow_mut() {
            use std::io::Write;
            d.clear();
            let _ = write!(d, "{msg}");
            d.retain(|&b| b != 0);
            d.push(0);
        }
    });
}

/// Records `msg` as the detail of a failing call and returns `code`.
pub(crate) fn fail(code: fastserve_result, msg: impl Display) -> fastserve_result {
    record(&msg);
    let _ = RECORDED.try_with(|r| r.set(true));
    code
}

/// `FASTSERVE_RESULT_NULL_ARGUMENT` for the argument `name`.
#[cold]
#[inline(never)]
pub(crate) fn null(name: &str) -> fastserve_result {
    fail(
        FASTSERVE_RESULT_NULL_ARGUMENT,
        format_args!("{name} is NULL"),
    )
}

/// `FASTSERVE_RESULT_NULL_ARGUMENT` for a NULL pointer given a length.
#[cold]
#[inline(never)]
pub(crate) fn null_with_len(name: &str, len: usize) -> fastserve_result {
    fail(
        FASTSERVE_RESULT_NULL_ARGUMENT,
        format_args!("{name} is NULL but its length is {len}"),
    )
}

/// `FASTSERVE_RESULT_INVALID_ARGUMENT` with its reason.
pub(crate) fn invalid(msg: impl Display) -> fastserve_result {
    fail(FASTSERVE_RESULT_INVALID_ARGUMENT, msg)
}

/// Records the detail of a call that fails by returning NULL.
pub(crate) fn note(msg: impl Display) {
    record(&msg);
}

/// Records a caught panic, with its message.
pub(crate) fn panicked(name: &str, payload: &(dyn Any + Send)) {
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    let _ = RECORDED.try_with(|r| r.set(false));
    record(&format_args!(
        "internal error in {name} (please report it): {msg}"
    ));
}

/// A byte string for a detail message: quoted, escaped, and cut short.
pub(crate) struct Quoted<'a>(pub &'a [u8]);

impl Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const MAX: usize = 64;
        let cut = self.0.len() > MAX;
        let s = String::from_utf8_lossy(&self.0[..self.0.len().min(MAX)]);
        write!(
            f,
            "\"{}{}\"",
            s.escape_debug(),
            if cut { "..." } else { "" }
        )
    }
}

/// What a return value does at the end of an export (see [`super::boundary`]).
pub(crate) trait Outcome: Sized {
    fn finish(self) -> Self {
        self
    }
}

impl Outcome for fastserve_result {
    /// A failure that recorded no detail of its own gets the code's name,
    /// so that the detail never describes an older call.
    #[inline(always)]
    fn finish(self) -> Self {
        if !matches!(self, FASTSERVE_RESULT_OK | FASTSERVE_RESULT_PARTIAL)
            && !RECORDED.try_with(|r| r.replace(false)).unwrap_or(true)
        {
            let text = describe(self as i32);
            record(&std::str::from_utf8(&text[..text.len() - 1]).unwrap_or("failed"));
        }
        self
    }
}

impl Outcome for () {}
impl Outcome for bool {}
impl Outcome for u16 {}
impl Outcome for u32 {}
impl Outcome for usize {}
impl Outcome for c_int {}
impl Outcome for isize {}
impl Outcome for fastserve_str {}
impl<T> Outcome for *const T {}
impl<T> Outcome for *mut T {}

/// Why a response header field was refused, in words.
pub(crate) fn header_problem(name: &[u8], value: &[u8]) -> String {
    match header_field_problem(name, value) {
        Some(p) => field_problem(name, p),
        None => format!("header {} refused", Quoted(name)),
    }
}

fn field_problem(name: &[u8], p: FieldProblem) -> String {
    match p {
        FieldProblem::EmptyName => "header name is empty".into(),
        FieldProblem::NameNotToken => format!("header name {} is not a token", Quoted(name)),
        FieldProblem::ControlInValue => {
            format!("value of header {} has a control byte", Quoted(name))
        }
        FieldProblem::Reserved => format!("header {} is set by the engine", Quoted(name)),
    }
}

/// Why a block of `Name: value\r\n` header lines was refused, in words.
pub(crate) fn header_lines_problem(block: &[u8]) -> String {
    match flat::header_lines_problem(block) {
        Some(LineProblem::NoCrlf(rest)) => {
            format!("header line {} does not end with CRLF", Quoted(rest))
        }
        Some(LineProblem::NoColon(line)) => format!("header line {} has no ':'", Quoted(line)),
        Some(LineProblem::Field(name, _, p)) => field_problem(name, p),
        None => "header lines refused".into(),
    }
}
