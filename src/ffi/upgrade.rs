//! Protocol switches: a handler accepts `Upgrade` (say, WebSocket) or a
//! `CONNECT`, and once its response and every earlier one are written the
//! library hands the socket, and any bytes it read past the request, to the
//! application and never touches it again.

use std::ffi::{c_char, c_int, c_void};
use std::os::fd::IntoRawFd;

use super::error::null;
use super::fastserve_result::{self, *};
use super::request::{build_result, fastserve_response, res};
use crate::server::{ResponseBuilder, Upgraded};

/// Takes a connection after a protocol switch, on the connection's worker
/// thread. `fd` is the connected socket, non-blocking, now owned by the
/// callee (close it when done); `data` holds the `len` bytes the client sent
/// past the request, valid during the call. When the connection failed
/// before the switch was written, `fd` is -1 and `len` 0: free `userdata`.
/// Called exactly once. Must not block the worker: hand `fd` to another
/// thread or event loop.
pub type fastserve_upgrade_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, fd: c_int, data: *const c_char, len: usize)>;

/// The C caller's callback and its pointer.
struct Hook {
    f: unsafe extern "C" fn(*mut c_void, c_int, *const c_char, usize),
    userdata: *mut c_void,
}

// SAFETY: the contract of `fastserve_response_upgrade`: the callback may be
// called once from the worker thread with `userdata`.
unsafe impl Send for Hook {}

impl Hook {
    fn call(self, conn: Option<Upgraded>) {
        match conn {
            Some(u) => {
                let fd = u.fd.into_raw_fd();
                // SAFETY: the caller gave this callback and pointer for this
                // response; `rest` outlives the call; the fd is now theirs.
                unsafe { (self.f)(self.userdata, fd, u.rest.as_ptr().cast(), u.rest.len()) }
            }
            // SAFETY: as above; -1 says the connection failed.
            None => unsafe { (self.f)(self.userdata, -1, std::ptr::null(), 0) },
        }
    }
}

ffi_fn! {
    /// Accepts a protocol switch. `status` is 101, answering a request with
    /// `Upgrade` (the headers set on `res` should name the protocol, as
    /// `Upgrade: websocket`; the library adds `Connection: upgrade`), or a
    /// 2xx answering a `CONNECT`. The response has no body. Requests the
    /// client pipelined after this one are not served.
    ///
    /// Works on the handler's own `res` and on a deferred handle, which this
    /// call consumes whatever its result. On success `on_upgrade` is called
    /// exactly once, as `fastserve_upgrade_fn` says; not at all on failure.
    ///
    /// # Safety
    /// `res` is the response of the handler call running on this thread, or
    /// a deferred handle not yet sent, used by one thread at a time;
    /// `on_upgrade` is callable as described with `userdata`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_response_upgrade(
        res: *mut fastserve_response,
        status: u16,
        on_upgrade: fastserve_upgrade_fn,
        userdata: *mut c_void,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let r = match unsafe { self::res(res) } {
            Ok(r) => r,
            Err(e) => return e,
        };
        let detached = r.is_detached();
        let out = match on_upgrade {
            None => null("on_upgrade"),
            Some(f) => {
                let hook = Hook { f, userdata };
                build_result(
                    r.upgrade(status, Box::new(move |conn| hook.call(conn))),
                    || format!("status {status}: a protocol switch answers 101, or 2xx to CONNECT"),
                )
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
