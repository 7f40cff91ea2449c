//! Request bodies in pieces: a route can take bodies larger than the
//! server's limit, and stream them to its handler as they arrive instead of
//! buffering them whole. The socket is not read while the handler has not
//! taken what it was given, and `100 Continue` goes out only when the
//! handler asks for the body.

use std::ffi::{c_char, c_int, c_void};

use super::error::{fail, null};
use super::fastserve_result::{self, *};
use super::request::{build_result, fastserve_response, res};
use super::server::{fastserve_server, route_args, server_mut, server_result};
use crate::proto::{BodyPiece, BodyPlan, Flow};

/// Route body flag: call the handler as soon as the head is read, and pass
/// the body to it in pieces (`fastserve_response_read_body`).
pub const FASTSERVE_BODY_STREAM: u32 = 1;

/// What a body callback receives.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum fastserve_body_event {
    /// `len` bytes of the body at `data`.
    FASTSERVE_BODY_DATA = 0,
    /// The body is complete. The last call.
    FASTSERVE_BODY_END = 1,
    /// The body will not complete: the client broke the framing, passed the
    /// route's `max_body`, stalled past the body timeout, or left. The last
    /// call.
    FASTSERVE_BODY_ABORTED = 2,
}

/// Takes a request body piece by piece, on the connection's worker thread.
/// `data` is valid during the call only. Return 0 to go on, or non-zero to
/// pause reading until `fastserve_response_resume_body`. After
/// FASTSERVE_BODY_END or FASTSERVE_BODY_ABORTED it is not called again:
/// free `userdata` there. Must not block.
pub type fastserve_body_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        data: *const c_char,
        len: usize,
        event: fastserve_body_event,
    ) -> c_int,
>;

struct Sink {
    f: unsafe extern "C" fn(*mut c_void, *const c_char, usize, fastserve_body_event) -> c_int,
    userdata: *mut c_void,
}

// SAFETY: the contract of `fastserve_response_read_body`: the callback is
// called from the worker thread with `userdata`, one call at a time.
unsafe impl Send for Sink {}

impl Sink {
    fn piece(&mut self, p: BodyPiece<'_>) -> Flow {
        use fastserve_body_event::*;
        let (data, ev) = match p {
            BodyPiece::Data(d) => (d, FASTSERVE_BODY_DATA),
            BodyPiece::End => (&[][..], FASTSERVE_BODY_END),
            BodyPiece::Aborted => (&[][..], FASTSERVE_BODY_ABORTED),
        };
        // SAFETY: the caller gave this callback and pointer for this body;
        // `data` is valid for the call.
        match unsafe { (self.f)(self.userdata, data.as_ptr().cast(), data.len(), ev) } {
            0 => Flow::Continue,
            _ => Flow::Pause,
        }
    }
}

ffi_fn! {
    /// Sets how requests to the route registered with exactly this method
    /// (NULL for a route of any method) and path take their bodies:
    /// `max_body` bytes at most (0: the server's `max_body`; over it: 413),
    /// and with `flags` FASTSERVE_BODY_STREAM, streamed to the handler. Works
    /// for handler and batch routes. A streamed body is not read until the
    /// handler calls `fastserve_response_read_body`; a handler that answers
    /// without reading it gets the connection closed after its response.
    ///
    /// # Safety
    /// `srv` is a server from `fastserve_server_new` that was not freed;
    /// `method` is NULL or readable for `method_len` bytes; `path` is
    /// readable for `path_len` bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_route_body(
        srv: *mut fastserve_server,
        method: *const c_char,
        method_len: usize,
        path: *const c_char,
        path_len: usize,
        max_body: usize,
        flags: u32,
    ) -> fastserve_result {
        // SAFETY: every pointer is valid for its length by contract.
        unsafe {
            let s = match server_mut(srv) {
                Ok(s) => s,
                Err(e) => return e,
            };
            let (method, path) = match route_args(method, method_len, path, path_len) {
                Ok(a) => a,
                Err(e) => return e,
            };
            if flags & !FASTSERVE_BODY_STREAM != 0 {
                return super::error::invalid(format_args!("unknown body flags {flags:#x}"));
            }
            let plan = BodyPlan {
                max_body: (max_body > 0).then_some(max_body),
                stream: flags & FASTSERVE_BODY_STREAM != 0,
            };
            match s.route_body(method, path, plan) {
                Ok(true) => FASTSERVE_RESULT_OK,
                Ok(false) => super::error::invalid(format_args!(
                    "no route has this method and path {}: add the route first",
                    super::error::Quoted(path)
                )),
                Err(e) => server_result(Err(e), &|| "route body".into()),
            }
        }
    }
}

ffi_fn! {
    /// Reads the request's body through `on_body`, for a route with
    /// FASTSERVE_BODY_STREAM. On the handler's own `res` the body starts when
    /// the handler returns; on a deferred handle, at once. Call it before
    /// the response is sent, streamed or switched, once per request. On a
    /// route that does not stream bodies, the handler's own `res` gets the
    /// whole body (if any) and FASTSERVE_BODY_END when the handler returns,
    /// and a deferred handle gets FASTSERVE_BODY_ABORTED.
    ///
    /// # Safety
    /// `res` is the response of the handler call running on this thread, or
    /// a deferred handle not yet sent, used by one thread at a time;
    /// `on_body` is callable as `fastserve_body_fn` says with `userdata`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_response_read_body(
        res: *mut fastserve_response,
        on_body: fastserve_body_fn,
        userdata: *mut c_void,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let r = match unsafe { self::res(res) } {
            Ok(r) => r,
            Err(e) => return e,
        };
        let Some(f) = on_body else {
            return null("on_body");
        };
        let mut sink = Sink { f, userdata };
        build_result(r.read_body(Box::new(move |p| sink.piece(p))), String::new)
    }
}

ffi_fn! {
    /// Goes on reading the body after the body callback returned non-zero.
    /// On a deferred handle not yet sent, from any thread; on the handler's
    /// own `res`, during the handler call.
    ///
    /// # Safety
    /// `res` is the response of the handler call running on this thread, or
    /// a deferred handle not yet sent, used by one thread at a time.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_response_resume_body(
        res: *mut fastserve_response,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let r = match unsafe { self::res(res) } {
            Ok(r) => r,
            Err(e) => return e,
        };
        match r.resume_body() {
            Ok(()) => FASTSERVE_RESULT_OK,
            Err(_) => fail(
                FASTSERVE_RESULT_RESPONSE_CLOSED,
                "the body is not being read, or the response was already sent",
            ),
        }
    }
}
