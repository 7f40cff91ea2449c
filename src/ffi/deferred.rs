//! A handler that cannot answer at once defers its response: it gets a
//! new handle, hands it to another thread, and returns. That thread fills
//! the response with the `fastserve_response_*` calls and sends it.
//! Responses on one connection still leave in request order.
//!
//! Large bodies can be sent without a copy (`fastserve_response_body_borrowed`):
//! the library then calls back when it no longer needs the bytes.

use std::ffi::{c_char, c_void};

use super::error::{note, null_with_len};
use super::fastserve_result::{self, *};
use super::request::{build_result, fastserve_response, res};
use crate::proto::{ExtBody, ExtBytes};
use crate::server::ResponseBuilder;

/// Called once, on any thread, with the `userdata` given beside a borrowed
/// body, when the library no longer needs the body's bytes.
pub type fastserve_release_fn = Option<unsafe extern "C" fn(userdata: *mut c_void)>;

ffi_fn! {
    /// Sets a body that is sent from `body` without a copy. The bytes must
    /// stay valid and unchanged until `release(userdata)` is called (once,
    /// from any thread) after they were sent or dropped. `release` may be
    /// NULL. It is also called, at once, when this call returns
    /// `FASTSERVE_RESULT_RESPONSE_CLOSED`; not after a NULL argument.
    ///
    /// # Safety
    /// `res` is the response of the handler call running on this thread, or
    /// a deferred handle not yet sent, used by one thread at a time; `body`
    /// is NULL (with `len == 0`) or readable for `len` bytes until released;
    /// `release` is NULL or callable from any thread with `userdata`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_response_body_borrowed(
        res: *mut fastserve_response,
        body: *const c_char,
        len: usize,
        release: fastserve_release_fn,
        userdata: *mut c_void,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let r = match unsafe { self::res(res) } {
            Ok(r) => r,
            Err(e) => return e,
        };
        if body.is_null() && len != 0 {
            return null_with_len("body", len);
        }
        let ptr = if body.is_null() {
            std::ptr::NonNull::<u8>::dangling().as_ptr()
        } else {
            body.cast::<u8>()
        };
        let b = BorrowedBody {
            ptr,
            len,
            release,
            userdata,
        };
        build_result(r.body_ext(ExtBody::Foreign(Box::new(b))), String::new)
    }
}

/// A C caller's body: `release(userdata)` runs when it is no longer needed.
struct BorrowedBody {
    ptr: *const u8,
    len: usize,
    release: fastserve_release_fn,
    userdata: *mut c_void,
}

// SAFETY: the C API contract of `fastserve_response_body_borrowed`: the bytes
// stay valid and unchanged until `release`, which may run on any thread.
unsafe impl Send for BorrowedBody {}

impl ExtBytes for BorrowedBody {
    fn bytes(&self) -> &[u8] {
        // SAFETY: valid for `len` bytes until released (see `Send`); `ptr`
        // is never NULL (a dangling pointer stands for an empty body).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for BorrowedBody {
    fn drop(&mut self) {
        if let Some(f) = self.release {
            // SAFETY: the caller gave this callback for exactly this call.
            unsafe { f(self.userdata) }
        }
    }
}

ffi_fn! {
    /// Detaches the response from the handler call and returns a new
    /// handle to fill and then `fastserve_response_send`, from any thread
    /// (one at a time). The handler's own `res` must not be used again.
    /// Returns NULL, and sets `fastserve_last_error`, if `res` is NULL or
    /// was already sent or deferred. A deferred handle that is never sent
    /// holds its connection's later responses back until the request
    /// timeout answers it 503: always send it.
    ///
    /// # Safety
    /// `res` is NULL or the response of the handler call running on this
    /// thread.
    ///
    /// On an internal panic: returns NULL.
    #[on_panic(std::ptr::null_mut())]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_response_defer(
        res: *mut fastserve_response,
    ) -> *mut fastserve_response {
        // SAFETY: forwarded contract.
        let Ok(r) = (unsafe { self::res(res) }) else {
            return std::ptr::null_mut();
        };
        match r.defer() {
            Ok(d) => Box::into_raw(d).cast::<fastserve_response>(),
            Err(_) => {
                note("the response was already sent or deferred");
                std::ptr::null_mut()
            }
        }
    }
}

ffi_fn! {
    /// Finishes the response. For the handler's own `res` it is optional
    /// (the response goes out when the handler returns). A deferred handle
    /// is posted to its worker and freed, whatever the result: do not use
    /// it afterwards.
    ///
    /// # Safety
    /// `res` is the response of the handler call running on this thread, or
    /// a deferred handle not yet sent, used by one thread at a time.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC (a deferred
    /// handle may then leak, and its request be answered 503 at the request
    /// timeout).
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_response_send(
        res: *mut fastserve_response,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let r = match unsafe { self::res(res) } {
            Ok(r) => r,
            Err(e) => return e,
        };
        let detached = r.is_detached();
        let out = build_result(r.send(), String::new);
        if detached {
            // SAFETY: a detached builder came from `Box::into_raw` in
            // `fastserve_response_defer`; it is consumed here, once.
            drop(unsafe { Box::from_raw(res.cast::<ResponseBuilder>()) });
        }
        out
    }
}

/// How a deferred response ended, for its `fastserve_end_fn`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum fastserve_end_reason {
    /// It reached its connection (sent, streamed or switched).
    FASTSERVE_END_SENT = 0,
    /// The request timeout answered it 503 first: nobody waits for it.
    FASTSERVE_END_TIMEOUT = 1,
    /// Its client left before it was sent: nobody waits for it.
    FASTSERVE_END_GONE = 2,
}

/// Told once how a deferred response ended, with the `userdata` given
/// beside it, on the connection's worker thread (or inside
/// `fastserve_response_on_end`, when it ended before). Free `userdata`
/// here. Must not block.
pub type fastserve_end_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, reason: fastserve_end_reason)>;

struct CEnd {
    f: unsafe extern "C" fn(*mut c_void, fastserve_end_reason),
    userdata: *mut c_void,
}

// SAFETY: the contract of `fastserve_response_on_end`: the callback may be
// called once from the worker thread with `userdata`.
unsafe impl Send for CEnd {}

impl CEnd {
    fn call(self, why: crate::server::EndReason) {
        use crate::server::EndReason;
        let reason = match why {
            EndReason::Sent => fastserve_end_reason::FASTSERVE_END_SENT,
            EndReason::Timeout => fastserve_end_reason::FASTSERVE_END_TIMEOUT,
            EndReason::Gone => fastserve_end_reason::FASTSERVE_END_GONE,
        };
        // SAFETY: the caller gave this callback and pointer for this
        // response; it is called once (`self` is consumed).
        unsafe { (self.f)(self.userdata, reason) }
    }
}

ffi_fn! {
    /// Has `on_end(userdata, reason)` called exactly once when the response
    /// ends: `FASTSERVE_END_SENT` once it reached its connection, or, if
    /// nobody waits for it any more, `FASTSERVE_END_TIMEOUT` (the request
    /// timeout answered 503) or `FASTSERVE_END_GONE` (the client left): stop
    /// the work done for it. Sending the handle after that is a harmless
    /// no-op (still send or free it). On the handler's own `res`, it
    /// applies when the handler returns (SENT at once unless it deferred);
    /// on a deferred handle, before it is sent.
    ///
    /// # Safety
    /// `res` is the response of the handler call running on this thread, or
    /// a deferred handle not yet sent, used by one thread at a time;
    /// `on_end` is callable as `fastserve_end_fn` says with `userdata`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_response_on_end(
        res: *mut fastserve_response,
        on_end: fastserve_end_fn,
        userdata: *mut c_void,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let r = match unsafe { self::res(res) } {
            Ok(r) => r,
            Err(e) => return e,
        };
        let Some(f) = on_end else {
            return super::error::null("on_end");
        };
        let c = CEnd { f, userdata };
        let hook: crate::server::EndHook = Box::new(move |why| c.call(why));
        build_result(r.on_end(hook), String::new)
    }
}
