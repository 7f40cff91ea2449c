//! A response whose body is written in pieces: `fastserve_response_stream`
//! sends the status and headers and returns a stream handle; any thread then
//! writes the body with `fastserve_stream_write` and finishes it with
//! `fastserve_stream_end`. A budget bounds the bytes queued per stream: past
//! it a write returns `FASTSERVE_RESULT_WOULD_BLOCK`, and the event callback
//! says when to write again.

use std::ffi::{c_char, c_void};

use super::error::{fail, invalid, note, null, null_with_len};
use super::fastserve_result::{self, *};
use super::request::{fastserve_response, res};
use crate::server::{ResponseBuilder, Stream, StreamError, StreamEvent};

/// A streamed response body, from `fastserve_response_stream` until
/// `fastserve_stream_end` or `fastserve_stream_abort` frees it. Use it from
/// one thread at a time.
pub struct fastserve_stream {
    _opaque: [u8; 0],
}

/// What a stream's event callback is told.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum fastserve_stream_event {
    /// A write was refused with FASTSERVE_RESULT_WOULD_BLOCK and the queue
    /// has since drained to half the budget: write again.
    FASTSERVE_STREAM_WRITABLE = 1,
    /// The last event, sent exactly once: the client went away (writes now
    /// return FASTSERVE_RESULT_CLOSED; still end or abort the handle), or the
    /// stream was ended or aborted and the library holds none of it any more.
    /// Free `userdata` here.
    FASTSERVE_STREAM_CLOSED = 2,
}

/// Called with the `userdata` given to `fastserve_response_stream`, on the
/// connection's worker thread, or, for the final
/// FASTSERVE_STREAM_CLOSED, possibly inside `fastserve_stream_end` or
/// `fastserve_stream_abort`. Calls for one stream never overlap. It may
/// call `fastserve_stream_write` (on WRITABLE) but must not block.
pub type fastserve_stream_event_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, event: fastserve_stream_event)>;

/// The C caller's callback and its pointer.
struct Events {
    f: unsafe extern "C" fn(*mut c_void, fastserve_stream_event),
    userdata: *mut c_void,
}

// SAFETY: the contract of `fastserve_response_stream`: the callback may be
// called from the worker thread with `userdata`, one call at a time.
unsafe impl Send for Events {}
// SAFETY: as for `Send`; calls never overlap, so sharing is only moving.
unsafe impl Sync for Events {}

impl Events {
    fn call(&self, e: StreamEvent) {
        let ev = match e {
            StreamEvent::Writable => fastserve_stream_event::FASTSERVE_STREAM_WRITABLE,
            StreamEvent::Closed => fastserve_stream_event::FASTSERVE_STREAM_CLOSED,
        };
        // SAFETY: the caller gave this callback and pointer for this stream.
        unsafe { (self.f)(self.userdata, ev) }
    }
}

fn stream_result(r: Result<(), StreamError>) -> fastserve_result {
    match r {
        Ok(()) => FASTSERVE_RESULT_OK,
        Err(StreamError::WouldBlock) => fail(FASTSERVE_RESULT_WOULD_BLOCK, StreamError::WouldBlock),
        Err(StreamError::Closed) => fail(FASTSERVE_RESULT_CLOSED, StreamError::Closed),
        Err(e) => invalid(e),
    }
}

/// # Safety
/// `s` is NULL or a live stream handle, used by this thread alone.
unsafe fn stream<'a>(s: *mut fastserve_stream) -> Result<&'a mut Stream, fastserve_result> {
    // SAFETY: by contract `s` is NULL or a live stream.
    unsafe { s.cast::<Stream>().as_mut() }.ok_or_else(|| null("stream"))
}

ffi_fn! {
    /// Sends the response's status and headers, and returns the handle
    /// that writes its body. `length` is the body's length if known (sent
    /// as `Content-Length`; the body must then be exactly that long), or -1:
    /// the body is then chunked for HTTP/1.1 clients and ends with the
    /// connection for HTTP/1.0 ones. A HEAD request gets the head only
    /// (writes succeed and are dropped); a 204 or 304 has no body.
    ///
    /// Works on the handler's own `res` (the head goes out when the handler
    /// returns; writes may start at once) and on a deferred handle, which
    /// this call consumes whatever its result. Responses pipelined behind
    /// the stream wait for its end.
    ///
    /// `on_event` may be NULL. If not, it is called with `userdata` as
    /// `fastserve_stream_event_fn` says, and FASTSERVE_STREAM_CLOSED always
    /// comes last, once; not at all when this call returns NULL.
    ///
    /// Returns NULL, and sets `fastserve_last_error`, if `res` is NULL or
    /// was already sent, deferred or streamed, or `length` is below -1.
    ///
    /// # Safety
    /// `res` is the response of the handler call running on this thread, or
    /// a deferred handle not yet sent, used by one thread at a time;
    /// `on_event` is NULL or callable as described with `userdata`.
    ///
    /// On an internal panic: returns NULL.
    #[on_panic(std::ptr::null_mut())]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_response_stream(
        res: *mut fastserve_response,
        length: i64,
        on_event: fastserve_stream_event_fn,
        userdata: *mut c_void,
    ) -> *mut fastserve_stream {
        // SAFETY: forwarded contract.
        let Ok(r) = (unsafe { self::res(res) }) else {
            return std::ptr::null_mut();
        };
        let detached = r.is_detached();
        let len = match length {
            -1 => None,
            n => usize::try_from(n).ok(),
        };
        let out = if length < -1 {
            invalid("length must be -1 (unknown) or at least 0");
            std::ptr::null_mut()
        } else {
            let events = on_event.map(|f| {
                let e = Events { f, userdata };
                Box::new(move |ev| e.call(ev)) as crate::server::StreamEvents
            });
            match r.stream(len, events) {
                Ok(s) => Box::into_raw(Box::new(s)).cast::<fastserve_stream>(),
                Err(_) => {
                    note("the response was already sent, deferred or streamed");
                    std::ptr::null_mut()
                }
            }
        };
        if detached {
            // SAFETY: a detached builder came from `Box::into_raw` in
            // `fastserve_response_defer`; it is consumed here, once.
            drop(unsafe { Box::from_raw(res.cast::<ResponseBuilder>()) });
        }
        out
    }
}

ffi_fn! {
    /// Queues a copy of `data` as the next piece of the body. Returns
    /// FASTSERVE_RESULT_WOULD_BLOCK, queuing nothing, while the bytes queued
    /// and not yet sent reach the budget (the `max_unsent_bytes` limit; one
    /// write may overshoot it); FASTSERVE_RESULT_CLOSED once the client has
    /// gone; FASTSERVE_RESULT_INVALID_ARGUMENT past an announced length or for
    /// a 204 or 304.
    ///
    /// # Safety
    /// `s` is a live stream handle, used by one thread at a time; `data` is
    /// NULL (with `len == 0`) or readable for `len` bytes during the call.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_stream_write(
        s: *mut fastserve_stream,
        data: *const c_char,
        len: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let s = match unsafe { stream(s) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        // SAFETY: forwarded contract.
        let Some(d) = (unsafe { super::bytes(data, len) }) else {
            return null_with_len("data", len);
        };
        stream_result(s.write(d))
    }
}

ffi_fn! {
    /// Adds a trailer field, sent after a chunked body (and dropped for a
    /// body with a length). The rules of `fastserve_response_header` apply.
    ///
    /// # Safety
    /// `s` is a live stream handle, used by one thread at a time; `name` and
    /// `value` are readable for their lengths during the call.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_stream_trailer(
        s: *mut fastserve_stream,
        name: *const c_char,
        name_len: usize,
        value: *const c_char,
        value_len: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let s = match unsafe { stream(s) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        // SAFETY: forwarded contract.
        let (Some(n), Some(v)) = (unsafe { super::bytes(name, name_len) }, unsafe {
            super::bytes(value, value_len)
        }) else {
            return null("name or value");
        };
        match s.trailer(n, v) {
            Ok(()) => FASTSERVE_RESULT_OK,
            Err(_) => invalid(super::error::header_problem(n, v)),
        }
    }
}

ffi_fn! {
    /// Ends the body and frees the handle, whatever the result. Responses
    /// pipelined behind the stream follow. Returns FASTSERVE_RESULT_CLOSED if
    /// the client had gone, and FASTSERVE_RESULT_INVALID_ARGUMENT if fewer
    /// bytes than the announced length were written: the body is then cut
    /// off and the connection closed, so that the client sees the failure.
    ///
    /// # Safety
    /// `s` is a live stream handle, used by one thread at a time, and not
    /// used after this call.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_stream_end(s: *mut fastserve_stream) -> fastserve_result {
        if s.is_null() {
            return null("stream");
        }
        // SAFETY: `s` came from `Box::into_raw` in `fastserve_response_stream`
        // and is consumed here, once.
        let s = unsafe { Box::from_raw(s.cast::<Stream>()) };
        stream_result(s.end())
    }
}

ffi_fn! {
    /// Cuts the body off and frees the handle: the client sees an incomplete
    /// response (no last chunk, or fewer bytes than announced) and the
    /// connection closes. For a producer that failed half-way. NULL is
    /// ignored.
    ///
    /// # Safety
    /// `s` is NULL or a live stream handle, used by one thread at a time,
    /// and not used after this call.
    ///
    /// On an internal panic: returns (the handle may leak).
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_stream_abort(s: *mut fastserve_stream) {
        if !s.is_null() {
            // SAFETY: `s` came from `Box::into_raw` in
            // `fastserve_response_stream` and is consumed here, once.
            drop(unsafe { Box::from_raw(s.cast::<Stream>()) });
        }
    }
}
