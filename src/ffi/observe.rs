//! What a server tells about itself: an access log, an error hook and
//! metrics. Each is set before the server starts.
//!
//! - The access log gets every request once its response was written in
//!   full (or its connection closed first), in batches: each worker calls it
//!   once per pass of its event loop with the requests it finished in that
//!   pass, on the worker's thread.
//! - The error hook is called when a handler fails, or the engine answers
//!   an error itself (a limit, a timeout, malformed input), or drops a
//!   connection (the client stopped reading, `max_connections`).
//! - Metrics: the counters of `fastserve_stats`, responses by status and a
//!   request latency histogram, read with `fastserve_server_metrics` or
//!   served in Prometheus text on a route (`fastserve_server_route_metrics`).
//!
//! ```c
//! static void log_cb(const fastserve_access_record *r, size_t n, void *ud) {
//!     for (size_t i = 0; i < n; i++)
//!         fprintf(ud, "%.*s %.*s %u %llu\n", (int)r[i].method_len, r[i].method,
//!                 (int)r[i].target_len, r[i].target, r[i].status,
//!                 (unsigned long long)r[i].bytes_out);
//! }
//! fastserve_server_set_access_log(srv, log_cb, stderr);
//! fastserve_server_route_metrics(srv, "/metrics", 8);
//! ```

use std::cell::RefCell;
use std::ffi::{c_char, c_void};
use std::sync::Arc;

use super::error::{fail, null};
use super::fastserve_result::{self, *};
use super::server::{fastserve_server, route_args, server_mut, server_result};
use crate::server::{
    AccessBatch, AccessLog, ErrorEvent, ErrorHook, ErrorReason, LATENCY_BOUNDS_US, STATUS_CODES,
};

/// One request in the access log. Every pointer is valid during the
/// callback only; strings are not NUL-terminated.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct fastserve_access_record {
    /// Empty when the request head could not be parsed (a 400, 414 or 431
    /// answer, or a 408 for a head that never completed).
    pub method: *const c_char,
    pub method_len: usize,
    /// The request target as sent (at most 8 KiB of it).
    pub target: *const c_char,
    pub target_len: usize,
    /// The request's HTTP/1.x minor version (0 when the head was not
    /// parsed).
    pub minor_version: u8,
    /// The `Referer` and `User-Agent` fields, empty when absent.
    pub referer: *const c_char,
    pub referer_len: usize,
    pub user_agent: *const c_char,
    pub user_agent_len: usize,
    /// The client's IP address as text.
    pub peer: *const c_char,
    pub peer_len: usize,
    pub peer_port: u16,
    /// The response's status; 0 when none was sent (the connection
    /// closed while a deferred response was pending).
    pub status: u16,
    /// False when the connection closed before the response was written
    /// in full (then `bytes_out` counts what was).
    pub complete: bool,
    /// The request head plus the body bytes read (decoded, when chunked).
    pub bytes_in: u64,
    /// The response bytes written: status line, header, body (and a
    /// `100 Continue` sent for it).
    pub bytes_out: u64,
    /// From the event-loop pass in which the head was parsed (the clock is
    /// read once per pass, after the poll) to the write of the response's
    /// last byte, in microseconds.
    pub duration_us: u64,
    /// When that pass began, in microseconds since the Unix epoch.
    pub time_us: u64,
}

/// The access log callback: `count` records at `records`, valid until it
/// returns. Runs on a worker thread (several at once with several
/// workers), once per pass of that worker's event loop that finished
/// requests; it must not block for long: copy what it keeps.
pub type fastserve_access_log_fn = Option<
    unsafe extern "C" fn(
        records: *const fastserve_access_record,
        count: usize,
        userdata: *mut c_void,
    ),
>;

/// Why the error hook was called.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum fastserve_error_reason {
    /// A handler returned non-zero: answered 500 unless it had answered.
    FASTSERVE_ERROR_HANDLER_FAILED = 0,
    /// A handler panicked (Rust handlers): answered 500.
    FASTSERVE_ERROR_HANDLER_PANICKED = 1,
    /// Malformed request or body framing: 400.
    FASTSERVE_ERROR_BAD_REQUEST = 2,
    /// The request line passed `max_request_line`: 414.
    FASTSERVE_ERROR_URI_TOO_LONG = 3,
    /// The head passed `max_header_bytes` or `max_headers`: 431.
    FASTSERVE_ERROR_HEAD_TOO_LARGE = 4,
    /// The body passed `max_body` (or the route's): 413.
    FASTSERVE_ERROR_BODY_TOO_LARGE = 5,
    /// An HTTP version (505) or transfer coding (501) not supported.
    FASTSERVE_ERROR_NOT_SUPPORTED = 6,
    /// The head did not arrive within the header timeout: 408.
    FASTSERVE_ERROR_HEADER_TIMEOUT = 7,
    /// The body stalled past the body timeout: 408.
    FASTSERVE_ERROR_BODY_TIMEOUT = 8,
    /// A deferred response took longer than the request timeout: 503.
    FASTSERVE_ERROR_REQUEST_TIMEOUT = 9,
    /// The client read nothing within the write timeout: connection closed.
    FASTSERVE_ERROR_WRITE_TIMEOUT = 10,
    /// `max_connections` were open: the new connection was closed at once.
    FASTSERVE_ERROR_CONNECTION_LIMIT = 11,
}

/// One error. Valid during the hook's call only.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct fastserve_error_event {
    pub reason: fastserve_error_reason,
    /// The status answered; 0 when the connection was closed without one.
    pub status: u16,
    pub peer_port: u16,
    /// The client's IP address as text, not NUL-terminated.
    pub peer: *const c_char,
    pub peer_len: usize,
    /// A short description of the reason, NUL-terminated, static.
    pub text: *const c_char,
}

/// The error hook. Runs on the worker thread where the error happened, at
/// once; it must not block for long.
pub type fastserve_error_fn =
    Option<unsafe extern "C" fn(event: *const fastserve_error_event, userdata: *mut c_void)>;

/// The layout version `fastserve_server_metrics` writes.
pub const FASTSERVE_METRICS_VERSION: u32 = 1;

/// Metrics, summed over workers. Set `size` to `sizeof(fastserve_metrics)`
/// before the call: a later library with a larger struct fills only the
/// fields the caller knows; an older one sets `size` to what it wrote.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct fastserve_metrics {
    /// In: the struct's size as the caller knows it. Out: bytes written.
    pub size: u32,
    /// Out: `FASTSERVE_METRICS_VERSION` of the library.
    pub version: u32,
    /// As in `fastserve_stats`.
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub open_connections: u64,
    pub accepted_connections: u64,
    /// The latency histogram's upper bounds in microseconds, and the
    /// requests per bucket (not cumulative): bucket i holds requests that
    /// took at most `latency_bounds_us[i]` and more than the bound before;
    /// bucket 16 the rest. Kept only with metrics enabled.
    pub latency_bounds_us: [u64; 16],
    pub latency_buckets: [u64; 17],
    pub latency_sum_us: u64,
    /// Responses per status class: [0] none sent, [1] 1xx ... [5] 5xx.
    pub status_classes: [u64; 6],
    /// Responses of each status in `status_codes` (common ones).
    pub status_codes: [u16; 20],
    pub status_counts: [u64; 20],
    /// Errors per `fastserve_error_reason` (index = its value); counted
    /// whether or not a hook is set.
    pub errors: [u64; 16],
}

fn c_reason(r: ErrorReason) -> fastserve_error_reason {
    use fastserve_error_reason::*;
    match r {
        ErrorReason::HandlerFailed => FASTSERVE_ERROR_HANDLER_FAILED,
        ErrorReason::HandlerPanicked => FASTSERVE_ERROR_HANDLER_PANICKED,
        ErrorReason::BadRequest => FASTSERVE_ERROR_BAD_REQUEST,
        ErrorReason::UriTooLong => FASTSERVE_ERROR_URI_TOO_LONG,
        ErrorReason::HeadTooLarge => FASTSERVE_ERROR_HEAD_TOO_LARGE,
        ErrorReason::BodyTooLarge => FASTSERVE_ERROR_BODY_TOO_LARGE,
        ErrorReason::NotSupported => FASTSERVE_ERROR_NOT_SUPPORTED,
        ErrorReason::HeaderTimeout => FASTSERVE_ERROR_HEADER_TIMEOUT,
        ErrorReason::BodyTimeout => FASTSERVE_ERROR_BODY_TIMEOUT,
        ErrorReason::RequestTimeout => FASTSERVE_ERROR_REQUEST_TIMEOUT,
        ErrorReason::WriteTimeout => FASTSERVE_ERROR_WRITE_TIMEOUT,
        ErrorReason::ConnectionLimit => FASTSERVE_ERROR_CONNECTION_LIMIT,
    }
}

/// The reason's text, NUL-terminated.
fn c_text(r: ErrorReason) -> *const c_char {
    let s: &'static std::ffi::CStr = match r {
        ErrorReason::HandlerFailed => c"handler failed",
        ErrorReason::HandlerPanicked => c"handler panicked",
        ErrorReason::BadRequest => c"malformed request",
        ErrorReason::UriTooLong => c"request line too long",
        ErrorReason::HeadTooLarge => c"request head too large",
        ErrorReason::BodyTooLarge => c"request body too large",
        ErrorReason::NotSupported => c"HTTP version or transfer coding not supported",
        ErrorReason::HeaderTimeout => c"request head timed out",
        ErrorReason::BodyTimeout => c"request body timed out",
        ErrorReason::RequestTimeout => c"handler timed out",
        ErrorReason::WriteTimeout => c"client stopped reading",
        ErrorReason::ConnectionLimit => c"connection limit reached",
    };
    debug_assert_eq!(s.to_bytes(), r.text().as_bytes());
    s.as_ptr()
}

struct CAccessLog {
    f: unsafe extern "C" fn(*const fastserve_access_record, usize, *mut c_void),
    userdata: *mut c_void,
}

// SAFETY: the C API documents that the callback runs on worker threads and
// that `userdata` must be usable from them.
unsafe impl Send for CAccessLog {}
// SAFETY: as above; workers may call it concurrently.
unsafe impl Sync for CAccessLog {}

thread_local! {
    /// The records handed to C, kept for their capacity.
    static RECORDS: RefCell<Vec<fastserve_access_record>> = const { RefCell::new(Vec::new()) };
}

impl AccessLog for CAccessLog {
    fn log(&self, batch: &AccessBatch<'_>) {
        RECORDS.with(|recs| {
            let Ok(mut recs) = recs.try_borrow_mut() else {
                return; // the callback ran a server of its own: not reentrant
            };
            recs.clear();
            recs.extend(batch.iter().map(|r| fastserve_access_record {
                method: r.method.as_ptr().cast(),
                method_len: r.method.len(),
                target: r.target.as_ptr().cast(),
                target_len: r.target.len(),
                minor_version: r.minor_version,
                referer: r.referer.as_ptr().cast(),
                referer_len: r.referer.len(),
                user_agent: r.user_agent.as_ptr().cast(),
                user_agent_len: r.user_agent.len(),
                peer: r.peer_host.as_ptr().cast(),
                peer_len: r.peer_host.len(),
                peer_port: r.peer_port,
                status: r.status,
                complete: r.complete,
                bytes_in: r.bytes_in,
                bytes_out: r.bytes_out,
                duration_us: r.duration_us,
                time_us: r.time_us,
            }));
            // SAFETY: the records and the bytes they point to live until
            // the call returns, which is what the C API promises.
            unsafe { (self.f)(recs.as_ptr(), recs.len(), self.userdata) };
        });
    }
}

struct CErrorHook {
    f: unsafe extern "C" fn(*const fastserve_error_event, *mut c_void),
    userdata: *mut c_void,
}

// SAFETY: as for `CAccessLog`.
unsafe impl Send for CErrorHook {}
// SAFETY: as for `CAccessLog`.
unsafe impl Sync for CErrorHook {}

impl ErrorHook for CErrorHook {
    fn error(&self, e: &ErrorEvent<'_>) {
        let ev = fastserve_error_event {
            reason: c_reason(e.reason),
            status: e.status,
            peer_port: e.peer_port,
            peer: e.peer_host.as_ptr().cast(),
            peer_len: e.peer_host.len(),
            text: c_text(e.reason),
        };
        // SAFETY: `ev` and what it points to live until the call returns.
        unsafe { (self.f)(&ev, self.userdata) };
    }
}

ffi_fn! {
    /// Sets the access log callback (NULL removes it), called with
    /// `userdata` on worker threads until `fastserve_server_free` returns;
    /// see `fastserve_access_log_fn`. Before `start`, else
    /// `FASTSERVE_RESULT_ALREADY_STARTED`. Enables the metrics' status
    /// counts and latency histogram too (they come from the same records).
    ///
    /// # Safety
    /// `srv` is a server from `fastserve_server_new` that was not freed;
    /// `userdata` is usable from any thread.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_set_access_log(
        srv: *mut fastserve_server,
        callback: fastserve_access_log_fn,
        userdata: *mut c_void,
    ) -> fastserve_result {
        // SAFETY: a live server by contract.
        let s = match unsafe { server_mut(srv) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        let log = callback.map(|f| Arc::new(CAccessLog { f, userdata }) as Arc<dyn AccessLog>);
        server_result(s.set_access_log(log), &|| "access log".into())
    }
}

ffi_fn! {
    /// Sets the error hook (NULL removes it), called with `userdata` on
    /// worker threads until `fastserve_server_free` returns; see
    /// `fastserve_error_fn`. Before `start`, else
    /// `FASTSERVE_RESULT_ALREADY_STARTED`.
    ///
    /// # Safety
    /// `srv` is a server from `fastserve_server_new` that was not freed;
    /// `userdata` is usable from any thread.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_set_error_hook(
        srv: *mut fastserve_server,
        callback: fastserve_error_fn,
        userdata: *mut c_void,
    ) -> fastserve_result {
        // SAFETY: a live server by contract.
        let s = match unsafe { server_mut(srv) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        let hook = callback.map(|f| Arc::new(CErrorHook { f, userdata }) as Arc<dyn ErrorHook>);
        server_result(s.set_error_hook(hook), &|| "error hook".into())
    }
}

ffi_fn! {
    /// Keeps the status counts and the latency histogram of
    /// `fastserve_metrics` (the other counters are always kept). It costs
    /// a little per request, as an access log does. Before `start`.
    ///
    /// # Safety
    /// `srv` is a server from `fastserve_server_new` that was not freed.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_enable_metrics(
        srv: *mut fastserve_server,
    ) -> fastserve_result {
        // SAFETY: a live server by contract.
        let s = match unsafe { server_mut(srv) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        server_result(s.enable_metrics(), &|| "metrics".into())
    }
}

ffi_fn! {
    /// Adds a GET (and HEAD) route at the exact `path` that answers the
    /// metrics in the Prometheus text format (version 0.0.4), and enables
    /// them as `fastserve_server_enable_metrics` does. Names:
    /// `fastserve_requests_total`, `fastserve_received_bytes_total`,
    /// `fastserve_sent_bytes_total`, `fastserve_open_connections`,
    /// `fastserve_accepted_connections_total`, `fastserve_responses_total`
    /// by `class`, `fastserve_responses_by_code_total` by `code`,
    /// `fastserve_request_duration_seconds` (a histogram), and
    /// `fastserve_errors_total` by `reason`. Before `start`.
    ///
    /// # Safety
    /// `srv` is a server from `fastserve_server_new` that was not freed;
    /// `path` is readable for `path_len` bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_route_metrics(
        srv: *mut fastserve_server,
        path: *const c_char,
        path_len: usize,
    ) -> fastserve_result {
        // SAFETY: a live server, and `path` readable, by contract.
        unsafe {
            let s = match server_mut(srv) {
                Ok(s) => s,
                Err(e) => return e,
            };
            let path = match route_args(std::ptr::null(), 0, path, path_len) {
                Ok((_, p)) => p,
                Err(e) => return e,
            };
            server_result(s.route_metrics(path), &|| "metrics route".into())
        }
    }
}

ffi_fn! {
    /// Writes the metrics to `*out`, whose `size` the caller set to
    /// `sizeof(fastserve_metrics)` (at least 8: `size` and `version`). Any
    /// thread, any time; zeros before `start`. A `size` under 8 is
    /// `FASTSERVE_RESULT_INVALID_ARGUMENT`.
    ///
    /// # Safety
    /// `srv` is NULL or a server from `fastserve_server_new` that was not
    /// freed; `out` is NULL or writable for `out->size` bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_metrics(
        srv: *const fastserve_server,
        out: *mut fastserve_metrics,
    ) -> fastserve_result {
        // SAFETY: a non-NULL `srv` is a live server by contract.
        let Some(s) = (unsafe { srv.as_ref() }) else {
            return null("srv");
        };
        if out.is_null() {
            return null("out");
        }
        // SAFETY: `out` is writable for at least its `size` field by contract.
        let size = unsafe { std::ptr::addr_of!((*out).size).read_unaligned() } as usize;
        if size < 8 {
            return fail(
                FASTSERVE_RESULT_INVALID_ARGUMENT,
                format_args!("out->size is {size}: set it to sizeof(fastserve_metrics)"),
            );
        }
        let m = s.inner.metrics();
        let mut c = fastserve_metrics {
            size: 0,
            version: FASTSERVE_METRICS_VERSION,
            requests: m.requests,
            bytes_in: m.bytes_in,
            bytes_out: m.bytes_out,
            open_connections: m.open_connections,
            accepted_connections: m.accepted,
            latency_bounds_us: LATENCY_BOUNDS_US,
            latency_buckets: m.latency,
            latency_sum_us: m.latency_sum_us,
            status_classes: m.classes,
            status_codes: STATUS_CODES,
            status_counts: m.codes,
            errors: [0; 16],
        };
        c.errors[..m.errors.len()].copy_from_slice(&m.errors);
        let n = size.min(std::mem::size_of::<fastserve_metrics>());
        c.size = n as u32;
        // SAFETY: `out` is writable for `size` bytes, and `n` is at most
        // that and at most the size of `c`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&c as *const fastserve_metrics).cast::<u8>(),
                out.cast::<u8>(),
                n,
            )
        };
        FASTSERVE_RESULT_OK
    }
}
