//! A handler (`fastserve_handler`) gets the request and the response it
//! fills in. Everything the request returns points into the connection's
//! buffer and is valid until the handler returns: copy what a deferred
//! response needs. The response is sent when the handler returns, unless
//! the handler deferred it (see "Deferred responses").
//!
//! ```c
//! static int echo(const fastserve_request *req, fastserve_response *res, void *userdata)
//! {
//!     fastserve_str body = fastserve_request_body(req);
//!     fastserve_response_header(res, "Content-Type", 12, "text/plain", 10);
//!     return fastserve_response_body(res, body.ptr, body.len) != FASTSERVE_RESULT_OK;
//! }
//! ```

use std::ffi::{c_char, c_int};
use std::fs::File;
use std::os::fd::FromRawFd;

use super::error::{fail, header_problem, invalid, null, null_with_len};
use super::fastserve_result::{self, *};
use super::{bytes, fastserve_str};
use crate::server::{BuildError, ResponseBuilder, Routed};

/// A request, handed to a handler and valid until it returns. Use it only
/// on the handler's thread.
pub struct fastserve_request {
    _opaque: [u8; 0],
}

/// A response under construction. The one a handler receives (inline) is
/// valid until the handler returns, on the handler's thread. After
/// `fastserve_response_defer` the new handle may be used from any thread,
/// one thread at a time, until `fastserve_response_send` consumes it.
pub struct fastserve_response {
    _opaque: [u8; 0],
}

/// # Safety
/// `r` is NULL or the request of a running handler call.
unsafe fn req<'a>(r: *const fastserve_request) -> Option<&'a Routed<'a>> {
    // SAFETY: by contract `r` is NULL or points to a live `Routed`.
    unsafe { r.cast::<Routed<'a>>().as_ref() }
}

ffi_fn! {
    /// The method, e.g. "GET"; `ptr` NULL for a NULL `req`.
    ///
    /// # Safety
    /// `req` is NULL or the request of the handler call running on this
    /// thread.
    ///
    /// On an internal panic: returns { NULL, 0 }.
    #[on_panic(fastserve_str::NONE)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_request_method(
        req: *const fastserve_request,
    ) -> fastserve_str {
        // SAFETY: forwarded contract.
        unsafe { self::req(req) }.map_or(fastserve_str::NONE, |r| fastserve_str::of(r.method))
    }
}

ffi_fn! {
    /// The path: the request target up to `?`. For an absolute-form target
    /// (`GET http://host/a?b`) the path after the authority (`/a`; `/` when
    /// empty), and the `Host` field reads as that authority; for `OPTIONS *`
    /// `*`, for `CONNECT host:port` the target.
    ///
    /// # Safety
    /// As `fastserve_request_method`.
    ///
    /// On an internal panic: returns { NULL, 0 }.
    #[on_panic(fastserve_str::NONE)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_request_path(
        req: *const fastserve_request,
    ) -> fastserve_str {
        // SAFETY: forwarded contract.
        unsafe { self::req(req) }.map_or(fastserve_str::NONE, |r| fastserve_str::of(r.path))
    }
}

ffi_fn! {
    /// The query string after `?` (without it); `ptr` is NULL when there is
    /// no `?`.
    ///
    /// # Safety
    /// As `fastserve_request_method`.
    ///
    /// On an internal panic: returns { NULL, 0 }.
    #[on_panic(fastserve_str::NONE)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_request_query(
        req: *const fastserve_request,
    ) -> fastserve_str {
        // SAFETY: forwarded contract.
        match unsafe { self::req(req) } {
            Some(r) => r.query.map_or(fastserve_str::NONE, fastserve_str::of),
            None => fastserve_str::NONE,
        }
    }
}

ffi_fn! {
    /// The request target exactly as sent (an absolute-form one with its
    /// scheme and authority).
    ///
    /// # Safety
    /// As `fastserve_request_method`.
    ///
    /// On an internal panic: returns { NULL, 0 }.
    #[on_panic(fastserve_str::NONE)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_request_target(
        req: *const fastserve_request,
    ) -> fastserve_str {
        // SAFETY: forwarded contract.
        unsafe { self::req(req) }.map_or(fastserve_str::NONE, |r| fastserve_str::of(r.target))
    }
}

ffi_fn! {
    /// The body (Content-Length or decoded chunked); empty when there is
    /// none. Pass it to `fastserve_response_body` as it is to echo it.
    ///
    /// # Safety
    /// As `fastserve_request_method`.
    ///
    /// On an internal panic: returns { NULL, 0 }.
    #[on_panic(fastserve_str::NONE)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_request_body(
        req: *const fastserve_request,
    ) -> fastserve_str {
        // SAFETY: forwarded contract.
        unsafe { self::req(req) }.map_or(fastserve_str::NONE, |r| fastserve_str::of(r.body))
    }
}

ffi_fn! {
    /// 0 for HTTP/1.0, 1 for HTTP/1.1; -1 for a NULL request.
    ///
    /// # Safety
    /// As `fastserve_request_method`.
    ///
    /// On an internal panic: returns -1.
    #[on_panic(-1)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_request_minor_version(
        req: *const fastserve_request,
    ) -> c_int {
        // SAFETY: forwarded contract.
        unsafe { self::req(req) }.map_or(-1, |r| r.minor_version as c_int)
    }
}

ffi_fn! {
    /// The value of the first header named `name` (compared
    /// case-insensitively); `ptr` is NULL when there is none. `Host` is the
    /// authority of an absolute-form target, which replaces it.
    ///
    /// # Safety
    /// As `fastserve_request_method`; `name` is readable for `name_len`
    /// bytes.
    ///
    /// On an internal panic: returns { NULL, 0 }.
    #[on_panic(fastserve_str::NONE)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_request_header(
        req: *const fastserve_request,
        name: *const c_char,
        name_len: usize,
    ) -> fastserve_str {
        // SAFETY: forwarded contract.
        let (Some(r), Some(n)) = (unsafe { self::req(req) }, unsafe { bytes(name, name_len) })
        else {
            return fastserve_str::NONE;
        };
        r.header(n).map_or(fastserve_str::NONE, fastserve_str::of)
    }
}

ffi_fn! {
    /// How many header fields the request has (0 for NULL).
    ///
    /// # Safety
    /// As `fastserve_request_method`.
    ///
    /// On an internal panic: returns 0.
    #[on_panic(0)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_request_header_count(
        req: *const fastserve_request,
    ) -> usize {
        // SAFETY: forwarded contract.
        unsafe { self::req(req) }.map_or(0, |r| r.headers.len())
    }
}

ffi_fn! {
    /// Writes the name and value of the `i`-th header field, in the order
    /// received, to `*name` and `*value`. `FASTSERVE_RESULT_INVALID_ARGUMENT`
    /// when `i` is not below `fastserve_request_header_count`.
    ///
    /// # Safety
    /// As `fastserve_request_method`; `name` and `value` are writable.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_request_header_at(
        req: *const fastserve_request,
        i: usize,
        name: *mut fastserve_str,
        value: *mut fastserve_str,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let Some(r) = (unsafe { self::req(req) }) else {
            return null("req");
        };
        // SAFETY: writable by contract when non-NULL.
        let (Some(n), Some(v)) = (unsafe { name.as_mut() }, unsafe { value.as_mut() }) else {
            return null(if name.is_null() { "name" } else { "value" });
        };
        match r.headers.get(i) {
            Some(h) => {
                *n = fastserve_str::of(h.name());
                *v = fastserve_str::of(h.value());
                FASTSERVE_RESULT_OK
            }
            None => invalid(format_args!(
                "header index {i} is past the last of {}",
                r.headers.len()
            )),
        }
    }
}

ffi_fn! {
    /// The client's address, the way getpeername(2) gives it: up to `*len`
    /// bytes of a `struct sockaddr_in` or `sockaddr_in6` (TCP) or
    /// `sockaddr_un` (a Unix socket) are copied to `addr`, and `*len`
    /// receives the address's full size; a `struct sockaddr_storage` always
    /// holds it. `*len` becomes 0 when the address is not known (a
    /// `fastserve_conn` whose host did not call `fastserve_conn_set_peer`).
    ///
    /// ```c
    /// struct sockaddr_storage ss;
    /// socklen_t len = sizeof ss;
    /// fastserve_request_peer(req, (struct sockaddr *)&ss, &len);
    /// ```
    ///
    /// # Safety
    /// As `fastserve_request_method`; `len` is writable and `addr` writable
    /// for `*len` bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_request_peer(
        req: *const fastserve_request,
        addr: *mut libc::sockaddr,
        len: *mut libc::socklen_t,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let Some(r) = (unsafe { self::req(req) }) else {
            return null("req");
        };
        // SAFETY: writable by contract when non-NULL.
        let Some(len) = (unsafe { len.as_mut() }) else {
            return null("len");
        };
        if addr.is_null() && *len != 0 {
            return null_with_len("addr", *len as usize);
        }
        match r.peer {
            // SAFETY: writable for `*len` bytes by contract.
            Some(p) => unsafe { super::write_sockaddr(p, addr, len) },
            None => *len = 0,
        }
        FASTSERVE_RESULT_OK
    }
}

ffi_fn! {
    /// The value of the path parameter `name` of the route's pattern (say
    /// `id` in `/users/{id}`, or `path` in `/files/{path*}`),
    /// percent-decoded: it may hold any byte, `/` and NUL included (a
    /// `%2F` in a one-segment parameter is a `/` in the value; matching
    /// was done on the raw path, see `fastserve_request_path`). `ptr` is
    /// NULL when the route has no parameter of that name. Valid until the
    /// handler returns.
    ///
    /// # Safety
    /// As `fastserve_request_method`; `name` is readable for `name_len`
    /// bytes.
    ///
    /// On an internal panic: returns { NULL, 0 }.
    #[on_panic(fastserve_str::NONE)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_request_param(
        req: *const fastserve_request,
        name: *const c_char,
        name_len: usize,
    ) -> fastserve_str {
        // SAFETY: forwarded contract.
        let (Some(r), Some(n)) = (unsafe { self::req(req) }, unsafe { bytes(name, name_len) })
        else {
            return fastserve_str::NONE;
        };
        r.param(n).map_or(fastserve_str::NONE, fastserve_str::of)
    }
}

ffi_fn! {
    /// How many path parameters the route captured (0 for NULL, and for
    /// routes without parameters).
    ///
    /// # Safety
    /// As `fastserve_request_method`.
    ///
    /// On an internal panic: returns 0.
    #[on_panic(0)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_request_param_count(
        req: *const fastserve_request,
    ) -> usize {
        // SAFETY: forwarded contract.
        unsafe { self::req(req) }.map_or(0, |r| r.param_count())
    }
}

ffi_fn! {
    /// Writes the name and the percent-decoded value of the `i`-th path
    /// parameter, in pattern order, to `*name` and `*value`.
    /// `FASTSERVE_RESULT_INVALID_ARGUMENT` when `i` is not below
    /// `fastserve_request_param_count`.
    ///
    /// # Safety
    /// As `fastserve_request_method`; `name` and `value` are writable.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_request_param_at(
        req: *const fastserve_request,
        i: usize,
        name: *mut fastserve_str,
        value: *mut fastserve_str,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let Some(r) = (unsafe { self::req(req) }) else {
            return null("req");
        };
        // SAFETY: writable by contract when non-NULL.
        let (Some(n), Some(v)) = (unsafe { name.as_mut() }, unsafe { value.as_mut() }) else {
            return null(if name.is_null() { "name" } else { "value" });
        };
        match r.param_at(i) {
            Some((pn, pv)) => {
                *n = fastserve_str::of(pn);
                *v = fastserve_str::of(pv);
                FASTSERVE_RESULT_OK
            }
            None => invalid(format_args!(
                "parameter index {i} is past the last of {}",
                r.param_count()
            )),
        }
    }
}

/// The builder behind a response handle.
///
/// # Safety
/// `r` is NULL or a live response handle, used by this thread alone.
pub(crate) unsafe fn res<'a>(
    r: *mut fastserve_response,
) -> Result<&'a mut ResponseBuilder, fastserve_result> {
    // SAFETY: by contract `r` is NULL or a live builder.
    unsafe { r.cast::<ResponseBuilder>().as_mut() }.ok_or_else(|| null("res"))
}

/// `fastserve_response_header` for a field that is not the last
/// response's: out of line, so that one that is costs no more than the
/// compare.
#[inline(never)]
fn add_header(r: &mut ResponseBuilder, name: &[u8], value: &[u8]) -> fastserve_result {
    build_result(r.header(name, value), || header_problem(name, value))
}

/// `FASTSERVE_RESULT_OK`, or the code of a refused change and its detail
/// (`what` explains an invalid argument).
pub(crate) fn build_result(
    r: Result<(), BuildError>,
    what: impl FnOnce() -> String,
) -> fastserve_result {
    match r {
        Ok(()) => FASTSERVE_RESULT_OK,
        Err(BuildError::Closed) => fail(
            FASTSERVE_RESULT_RESPONSE_CLOSED,
            "the response was already sent or deferred",
        ),
        Err(BuildError::InvalidHeader) | Err(BuildError::InvalidStatus) => invalid(what()),
        Err(e @ BuildError::BodyNotAllowed(_)) => invalid(e),
        Err(e @ BuildError::InvalidFile(_)) => invalid(e),
    }
}

ffi_fn! {
    /// Sets the status code: 200 by default, 200..999 allowed.
    ///
    /// # Safety
    /// `res` is the response of the handler call running on this thread, or
    /// a deferred handle not yet sent, used by one thread at a time.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_response_status(
        res: *mut fastserve_response,
        status: u16,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        match unsafe { self::res(res) } {
            Ok(r) => build_result(r.status(status), || {
                format!("status {status} is outside 200..999")
            }),
            Err(e) => e,
        }
    }
}

ffi_fn! {
    /// Adds a header field (both copied). The name must be a token and the
    /// value free of control bytes; `Content-Length`, `Date`, `Connection`
    /// and `Transfer-Encoding` are set by the engine and refused here.
    ///
    /// # Safety
    /// As `fastserve_response_status`; `name` and `value` are readable for
    /// their lengths.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_response_header(
        res: *mut fastserve_response,
        name: *const c_char,
        name_len: usize,
        value: *const c_char,
        value_len: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let r = match unsafe { self::res(res) } {
            Ok(r) => r,
            Err(e) => return e,
        };
        // SAFETY: readable for their lengths by contract.
        let Some(n) = (unsafe { bytes(name, name_len) }) else {
            return null_with_len("name", name_len);
        };
        // SAFETY: as above.
        let Some(v) = (unsafe { bytes(value, value_len) }) else {
            return null_with_len("value", value_len);
        };
        if r.header_again(n, v) {
            return FASTSERVE_RESULT_OK;
        }
        add_header(r, n, v)
    }
}

ffi_fn! {
    /// Sets the body, copying `len` bytes from `body`. The bytes of a
    /// request (say `fastserve_request_body`) may be passed as they are.
    /// 204 and 304 responses have no body: a non-empty one is refused
    /// (`FASTSERVE_RESULT_INVALID_ARGUMENT`), and so is setting such a
    /// status after a non-empty body.
    ///
    /// # Safety
    /// As `fastserve_response_status`; `body` is NULL (with `len == 0`) or
    /// readable for `len` bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_response_body(
        res: *mut fastserve_response,
        body: *const c_char,
        len: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let r = match unsafe { self::res(res) } {
            Ok(r) => r,
            Err(e) => return e,
        };
        // SAFETY: readable for `len` bytes by contract.
        let Some(b) = (unsafe { bytes(body, len) }) else {
            return null_with_len("body", len);
        };
        build_result(r.body(b), String::new)
    }
}

ffi_fn! {
    /// Sets a body of `len` bytes and returns where to write them: the
    /// body is built in place, without a buffer of the caller's and a copy.
    /// The bytes start zeroed. The pointer stays valid until the next call
    /// that sets the body or sends the response, and at most until the
    /// handler returns (or, on a deferred handle, until
    /// `fastserve_response_send`); write before then. For `len == 0` the
    /// pointer is not NULL but must not be written. Returns NULL, and sets
    /// `fastserve_last_error`, if `res` is NULL or already sent or deferred,
    /// or if the status is one without a body (204, 304) and `len > 0`.
    ///
    /// # Safety
    /// As `fastserve_response_status`.
    ///
    /// On an internal panic: returns NULL.
    #[on_panic(std::ptr::null_mut())]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_response_body_buffer(
        res: *mut fastserve_response,
        len: usize,
    ) -> *mut c_char {
        // SAFETY: forwarded contract.
        let Ok(r) = (unsafe { self::res(res) }) else {
            return std::ptr::null_mut();
        };
        match r.body_mut(len) {
            Ok(b) => b.as_mut_ptr().cast::<c_char>(),
            Err(e) => {
                build_result(Err(e), || "no body for this status".into());
                std::ptr::null_mut()
            }
        }
    }
}

ffi_fn! {
    /// Sets a body of `length` bytes of the file `fd` from `offset`, sent
    /// with `sendfile(2)` and never copied through user space. Content-Length
    /// is `length`; a HEAD request gets the head only.
    ///
    /// Ownership: the engine takes `fd` in every case, and closes it once
    /// the body is sent, when the connection closes, or, when this call
    /// fails, before it returns. The caller must not use or close `fd`
    /// afterwards. A negative `fd`, or one that is not open, is refused
    /// (`FASTSERVE_RESULT_INVALID_ARGUMENT`) and there is nothing to close.
    /// `fd` must be a regular file and `offset + length` within its size
    /// now (else `FASTSERVE_RESULT_INVALID_ARGUMENT`, `fd` closed); should
    /// the file shrink before it is sent, the connection is closed. The
    /// file position is not used or moved.
    ///
    /// Works on the handler's `res` and on a deferred handle (from any
    /// thread). Responses after it on the connection wait their turn. File
    /// bytes do not count against `max_unsent_bytes` (they are not in
    /// memory); `max_pipelined` bounds how many files one connection holds
    /// open.
    ///
    /// # Safety
    /// As `fastserve_response_status`; `fd` is a descriptor the caller owns
    /// and gives away, or negative.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC (`fd` closed).
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_response_file(
        res: *mut fastserve_response,
        fd: c_int,
        offset: u64,
        length: u64,
    ) -> fastserve_result {
        // SAFETY: F_GETFD only reads the descriptor's flags.
        if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return invalid(format_args!("fd {fd} is not an open descriptor"));
        }
        // SAFETY: an open descriptor the caller hands over by contract; the
        // File closes it on every path from here on.
        let file = unsafe { File::from_raw_fd(fd) };
        // SAFETY: forwarded contract.
        let r = match unsafe { self::res(res) } {
            Ok(r) => r,
            Err(e) => return e,
        };
        build_result(r.body_file(file, offset, length), String::new)
    }
}
