//! The server: create it from a configuration, add routes, listen, start
//! it, and stop it (from any thread, or a signal handler). Routes are
//! static responses, C handlers (see "Requests and responses"), or batch
//! routes (see "Batch routes"); all are fixed once the server starts.
//!
//! ```c
//! fastserve_server *srv = fastserve_server_new(NULL);
//! fastserve_server_route_static(srv, "GET", 3, "/", 1, 0, 200, "text/plain", 10, "hi", 2);
//! if (fastserve_server_listen(srv, "127.0.0.1", 9, 8080) != FASTSERVE_RESULT_OK)
//!     fprintf(stderr, "%s\n", fastserve_last_error());
//! fastserve_server_run(srv);   // until fastserve_server_stop(srv)
//! fastserve_server_free(srv);
//! ```

use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;

use super::bytes;
use super::config::fastserve_config;
use super::error::{fail, invalid, null, null_with_len, Quoted};
use super::fastserve_result::{self, *};
use super::request::{fastserve_request, fastserve_response};
use crate::proto::{body_allowed, valid_status};
use crate::server::{DirOptions, Driver, Handler, ResponseBuilder, Routed, Server, ServerError};
use std::os::unix::ffi::OsStrExt;

/// A server. Owned by the caller, from `fastserve_server_new` to
/// `fastserve_server_free`. `fastserve_server_stop` and
/// `fastserve_server_stats` may be called from any thread at any time
/// (`stop` also from a signal handler); every other call from one thread
/// at a time, and not from the server's own handlers.
pub struct fastserve_server {
    pub(crate) inner: Server,
}

/// Server counters, summed over workers.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct fastserve_stats {
    /// Requests parsed and dispatched (error answers included).
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub open_connections: u64,
    pub accepted_connections: u64,
}

/// Route flag: match every path that starts with the given path.
pub const FASTSERVE_ROUTE_PREFIX: u32 = 1;

/// A request handler. Runs on a worker thread, possibly on several at once
/// with several workers; it must not block for long. It answers through
/// `res` (status, headers, body; sent when it returns) or calls
/// `fastserve_response_defer` to answer later. `req` and `res` are valid
/// until it returns. A non-zero return answers 500 unless a response was
/// already sent or deferred.
pub type fastserve_handler = Option<
    unsafe extern "C" fn(
        req: *const fastserve_request,
        res: *mut fastserve_response,
        userdata: *mut c_void,
    ) -> c_int,
>;

ffi_fn! {
    /// Creates a server from `cfg` (copied; NULL means the defaults). The
    /// caller owns it: free it with `fastserve_server_free`.
    ///
    /// # Safety
    /// `cfg` is NULL or a configuration from `fastserve_config_new` that was
    /// not freed.
    ///
    /// On an internal panic: returns NULL.
    #[on_panic(std::ptr::null_mut())]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_new(
        cfg: *const fastserve_config,
    ) -> *mut fastserve_server {
        // SAFETY: a non-NULL `cfg` is a live configuration by contract.
        let cfg = unsafe { cfg.as_ref() }
            .map(|c| c.inner.clone())
            .unwrap_or_default();
        Box::into_raw(Box::new(fastserve_server {
            inner: Server::new(cfg),
        }))
    }
}

ffi_fn! {
    /// Stops the server if it runs, waits for its workers to exit, and
    /// frees it. NULL does nothing. Deferred responses not sent by then are
    /// dropped.
    ///
    /// # Safety
    /// `srv` is NULL or a server from `fastserve_server_new` that was not
    /// freed; it must not be used afterwards, from any thread.
    ///
    /// On an internal panic: returns, and the server may leak.
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_free(srv: *mut fastserve_server) {
        if !srv.is_null() {
            // SAFETY: by contract, from `Box::into_raw` in
            // `fastserve_server_new`, and freed once.
            drop(unsafe { Box::from_raw(srv) });
        }
    }
}

/// `FASTSERVE_RESULT_OK` or the code and detail of a server error; `what`
/// says what an I/O error was doing.
pub(crate) fn server_result(
    r: Result<(), ServerError>,
    what: &dyn Fn() -> String,
) -> fastserve_result {
    match r {
        Ok(()) => FASTSERVE_RESULT_OK,
        Err(ServerError::Io(e)) => fail(FASTSERVE_RESULT_IO, format_args!("{}: {e}", what())),
        Err(ServerError::AlreadyStarted) => fail(
            FASTSERVE_RESULT_ALREADY_STARTED,
            "the server has started: routes and listeners are fixed",
        ),
        Err(ServerError::NotListening) => fail(
            FASTSERVE_RESULT_NOT_STARTED,
            "the server is not listening: call fastserve_server_listen first",
        ),
        Err(ServerError::NotStarted) => {
            fail(FASTSERVE_RESULT_NOT_STARTED, "the server has not started")
        }
        Err(ServerError::Route(e)) => invalid(e),
    }
}

/// The server behind `srv`.
///
/// # Safety
/// `srv` is NULL or a live server, not used by another thread meanwhile.
pub(crate) unsafe fn server_mut<'a>(
    srv: *mut fastserve_server,
) -> Result<&'a mut Server, fastserve_result> {
    // SAFETY: by contract.
    unsafe { srv.as_mut() }
        .map(|s| &mut s.inner)
        .ok_or_else(|| null("srv"))
}

/// Whether the route flags ask for a prefix route; unknown bits are refused
/// (a newer flag passed to an older library must not be ignored).
pub(crate) fn route_flags(flags: u32) -> Result<bool, fastserve_result> {
    if flags & !FASTSERVE_ROUTE_PREFIX != 0 {
        return Err(invalid(format_args!("unknown route flags {flags:#x}")));
    }
    Ok(flags & FASTSERVE_ROUTE_PREFIX != 0)
}

/// Method and path arguments of the route calls; a NULL method matches any.
///
/// # Safety
/// Pointers readable for their lengths.
pub(crate) unsafe fn route_args<'a>(
    method: *const c_char,
    method_len: usize,
    path: *const c_char,
    path_len: usize,
) -> Result<(Option<&'a [u8]>, &'a [u8]), fastserve_result> {
    let method = if method.is_null() {
        None
    } else {
        // SAFETY: non-NULL, readable for `method_len` bytes by contract.
        Some(
            unsafe { bytes(method, method_len) }
                .ok_or_else(|| null_with_len("method", method_len))?,
        )
    };
    // SAFETY: readable for `path_len` bytes by contract.
    let path = unsafe { bytes(path, path_len) }.ok_or_else(|| null_with_len("path", path_len))?;
    // a CONNECT target is an authority (host:port)
    let connect = method == Some(b"CONNECT".as_slice());
    if path.first() != Some(&b'/') && path != b"*" && !(connect && !path.is_empty()) {
        return Err(invalid(format_args!(
            "route path {} must start with '/' (or be \"*\", or an authority for CONNECT)",
            Quoted(path)
        )));
    }
    Ok((method, path))
}

/// The Content-Type header line of a static response ("" for none).
/// The Content-Type line and the body of a static response.
///
/// # Safety
/// Each pointer is NULL with length 0, or readable for its length.
unsafe fn static_parts<'a>(
    content_type: *const c_char,
    content_type_len: usize,
    body: *const c_char,
    body_len: usize,
) -> Result<(Vec<u8>, &'a [u8]), fastserve_result> {
    // SAFETY: forwarded contract.
    let Some(ct) = (unsafe { bytes(content_type, content_type_len) }) else {
        return Err(null_with_len("content_type", content_type_len));
    };
    // SAFETY: forwarded contract.
    let Some(body) = (unsafe { bytes(body, body_len) }) else {
        return Err(null_with_len("body", body_len));
    };
    Ok((content_type_line(ct)?, body))
}

fn content_type_line(ct: &[u8]) -> Result<Vec<u8>, fastserve_result> {
    if ct.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(invalid(format_args!(
            "content type {} has a control byte",
            Quoted(ct)
        )));
    }
    Ok(if ct.is_empty() {
        Vec::new()
    } else {
        [&b"Content-Type: "[..], ct, b"\r\n"].concat()
    })
}

ffi_fn! {
    /// Adds a static route: the response (status, Content-Type, body) is
    /// rendered now, and served with the current Date without calling out.
    /// `method` NULL matches any method (a GET route also answers HEAD).
    /// `path` and `flags` as in `fastserve_server_route`. `content_type_len == 0`
    /// sends no Content-Type. Status 200..999; 204 and 304 with an empty
    /// body. Everything is copied.
    ///
    /// # Safety
    /// `srv` is a server from `fastserve_server_new` that was not freed;
    /// `method` is NULL or readable for `method_len` bytes, and so are
    /// `path`, `content_type` and `body` for their lengths.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_route_static(
        srv: *mut fastserve_server,
        method: *const c_char,
        method_len: usize,
        path: *const c_char,
        path_len: usize,
        flags: u32,
        status: u16,
        content_type: *const c_char,
        content_type_len: usize,
        body: *const c_char,
        body_len: usize,
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
            let (ct, body) = match static_parts(content_type, content_type_len, body, body_len) {
                Ok(p) => p,
                Err(e) => return e,
            };
            if !valid_status(status) {
                return invalid(format_args!("status {status} is outside 200..999"));
            }
            if !body.is_empty() && !body_allowed(status) {
                return invalid(format_args!("a {status} response has no body"));
            }
            let prefix = match route_flags(flags) {
                Ok(p) => p,
                Err(e) => return e,
            };
            server_result(
                s.route_static(method, path, prefix, status, &ct, body),
                &|| "route".into(),
            )
        }
    }
}

/// Directory route flag: a path ending in `/` serves that directory's
/// `index.html` (without the slash, a 301 adds it). Without it directories
/// are 404.
pub const FASTSERVE_DIR_INDEX: u32 = 1;

/// Directory route flag: follow symlinks wherever they lead. Without it a
/// symlink may only point (relatively) within the root.
pub const FASTSERVE_DIR_FOLLOW_SYMLINKS: u32 = 2;

ffi_fn! {
    /// Adds a static directory route: GET and HEAD of `prefix` and of every
    /// path below it are answered from the files under `root`, with
    /// sendfile. `flags` may hold `FASTSERVE_DIR_INDEX` and
    /// `FASTSERVE_DIR_FOLLOW_SYMLINKS`. `root` (not NUL-terminated) must be
    /// a directory; it is opened now, and its descriptor kept until
    /// `fastserve_server_free`. Answers carry Content-Type (by extension),
    /// ETag and Last-Modified, honour If-None-Match, If-Modified-Since,
    /// a single `Range` and If-Range; paths that would leave the root
    /// (`..`, encoded or not, encoded `/`, backslashes, symlinks out) are
    /// 404, malformed ones (NUL, a bad `%` escape) 400. Files are opened
    /// and stat-ed on the worker thread. Everything is copied.
    ///
    /// # Safety
    /// `srv` is a server from `fastserve_server_new` that was not freed;
    /// `prefix` and `root` are readable for their lengths.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_route_dir(
        srv: *mut fastserve_server,
        prefix: *const c_char,
        prefix_len: usize,
        root: *const c_char,
        root_len: usize,
        flags: u32,
    ) -> fastserve_result {
        // SAFETY: every pointer is valid for its length by contract.
        unsafe {
            let s = match server_mut(srv) {
                Ok(s) => s,
                Err(e) => return e,
            };
            let (_, prefix) = match route_args(std::ptr::null(), 0, prefix, prefix_len) {
                Ok(a) => a,
                Err(e) => return e,
            };
            let Some(root) = bytes(root, root_len) else {
                return null_with_len("root", root_len);
            };
            if root.is_empty() || root.contains(&0) {
                return invalid(format_args!("root {} is not a path", Quoted(root)));
            }
            if flags & !(FASTSERVE_DIR_INDEX | FASTSERVE_DIR_FOLLOW_SYMLINKS) != 0 {
                return invalid(format_args!("unknown directory route flags {flags:#x}"));
            }
            let opts = DirOptions {
                index: flags & FASTSERVE_DIR_INDEX != 0,
                follow_symlinks: flags & FASTSERVE_DIR_FOLLOW_SYMLINKS != 0,
            };
            let path = std::path::Path::new(std::ffi::OsStr::from_bytes(root));
            server_result(s.route_dir(prefix, path, opts), &|| {
                format!("directory route root {}", Quoted(root))
            })
        }
    }
}

struct CHandler {
    f: unsafe extern "C" fn(
        *const fastserve_request,
        *mut fastserve_response,
        *mut c_void,
    ) -> c_int,
    userdata: *mut c_void,
}

// SAFETY: the C API documents that handlers run on worker threads and that
// `userdata` must be usable from them.
unsafe impl Send for CHandler {}
// SAFETY: as above; workers may call the same handler concurrently.
unsafe impl Sync for CHandler {}

impl Handler for CHandler {
    #[inline]
    fn call(&self, req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        let req = req as *const Routed<'_> as *const fastserve_request;
        let res = res as *mut ResponseBuilder as *mut fastserve_response;
        // SAFETY: both pointers are valid for the call, which is what the C
        // API promises the handler.
        match unsafe { (self.f)(req, res, self.userdata) } {
            0 => Ok(()),
            _ => Err(()),
        }
    }
}

ffi_fn! {
    /// Adds a handler route. `method` NULL matches any method, else it is
    /// any token ("PURGE" too); a GET route also answers HEAD, with the
    /// body left out. `path` is exact, or a pattern: `{name}` captures one
    /// non-empty segment, a last `{name*}` the non-empty rest of the path
    /// (`/users/{id}`, `/files/{path*}`; see `fastserve_request_param`).
    /// `flags` may hold `FASTSERVE_ROUTE_PREFIX` (for a path without
    /// parameters). Exact paths win over patterns, patterns over prefixes;
    /// the manual's "Routing" says the rest. A method that is not a token
    /// or a malformed pattern is `FASTSERVE_RESULT_INVALID_ARGUMENT`,
    /// with the reason in `fastserve_last_error`. `handler` is called with `userdata` on
    /// worker threads, possibly concurrently with several workers, until
    /// `fastserve_server_free` returns.
    ///
    /// # Safety
    /// `srv` is a server from `fastserve_server_new` that was not freed;
    /// `method` is NULL or readable for `method_len` bytes; `path` is
    /// readable for `path_len` bytes; `userdata` is usable from any thread.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_route(
        srv: *mut fastserve_server,
        method: *const c_char,
        method_len: usize,
        path: *const c_char,
        path_len: usize,
        flags: u32,
        handler: fastserve_handler,
        userdata: *mut c_void,
    ) -> fastserve_result {
        // SAFETY: every pointer is valid for its length by contract.
        unsafe {
            let s = match server_mut(srv) {
                Ok(s) => s,
                Err(e) => return e,
            };
            let Some(f) = handler else {
                return null("handler");
            };
            let (method, path) = match route_args(method, method_len, path, path_len) {
                Ok(a) => a,
                Err(e) => return e,
            };
            let prefix = match route_flags(flags) {
                Ok(p) => p,
                Err(e) => return e,
            };
            let h = Arc::new(CHandler { f, userdata });
            server_result(s.route(method, path, prefix, h), &|| "route".into())
        }
    }
}

ffi_fn! {
    /// Replaces the response for unknown paths (`status` 404) or for a
    /// known path asked with another method (`status` 405; the engine adds
    /// the `Allow` field, listing the methods of the routes of that path).
    /// `content_type_len == 0` sends no Content-Type. Everything is copied.
    ///
    /// # Safety
    /// `srv` is a server from `fastserve_server_new` that was not freed;
    /// `content_type` and `body` are NULL or readable for their lengths.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_set_error_page(
        srv: *mut fastserve_server,
        status: u16,
        content_type: *const c_char,
        content_type_len: usize,
        body: *const c_char,
        body_len: usize,
    ) -> fastserve_result {
        // SAFETY: every pointer is valid for its length by contract.
        unsafe {
            let s = match server_mut(srv) {
                Ok(s) => s,
                Err(e) => return e,
            };
            let (ct, body) = match static_parts(content_type, content_type_len, body, body_len) {
                Ok(p) => p,
                Err(e) => return e,
            };
            if status != 404 && status != 405 {
                return invalid(format_args!("error page status {status} is not 404 or 405"));
            }
            server_result(s.error_page(status, &ct, body), &|| "error page".into())
        }
    }
}

ffi_fn! {
    /// Adds a TCP listener: `host` (`host_len` bytes, not NUL-terminated)
    /// is an IPv4 or IPv6 literal (`::1` or `[::1]`; `::` also takes IPv4)
    /// or a host name, resolved now, with a listener on every address it
    /// has (see "Listeners"). Port 0 picks a free port (see
    /// `fastserve_server_port`). Each call adds listeners; see
    /// `fastserve_server_listen_tcp` for flags. Errors surface here, not in
    /// `start`: `FASTSERVE_RESULT_IO` with the system's reason in
    /// `fastserve_last_error`.
    ///
    /// # Safety
    /// `srv` is a server from `fastserve_server_new` that was not freed;
    /// `host` is readable for `host_len` bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_listen(
        srv: *mut fastserve_server,
        host: *const c_char,
        host_len: usize,
        port: u16,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe { super::listen::listen_tcp(srv, host, host_len, port, 0) }
    }
}

ffi_fn! {
    /// The first TCP listener's port, or 0 before one is added (and for
    /// NULL). Any thread, once `listen` has returned.
    ///
    /// # Safety
    /// `srv` is NULL or a server from `fastserve_server_new` that was not
    /// freed.
    ///
    /// On an internal panic: returns 0.
    #[on_panic(0)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_port(srv: *const fastserve_server) -> u16 {
        // SAFETY: a non-NULL `srv` is a live server by contract.
        unsafe { srv.as_ref() }
            .and_then(|s| s.inner.local_addr())
            .map_or(0, |a| a.port())
    }
}

ffi_fn! {
    /// The event loop the workers run, `"epoll"` or `"io_uring"` (see
    /// `fastserve_config_set_driver`): a static NUL-terminated string, or
    /// NULL before `start` (and for a NULL `srv`). Any thread.
    ///
    /// # Safety
    /// `srv` is NULL or a server from `fastserve_server_new` that was not
    /// freed.
    ///
    /// On an internal panic: returns NULL.
    #[on_panic(std::ptr::null())]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_driver(srv: *const fastserve_server) -> *const c_char {
        // SAFETY: a non-NULL `srv` is a live server by contract.
        let d = unsafe { srv.as_ref() }.and_then(|s| s.inner.driver());
        match d {
            Some(Driver::IoUring) => c"io_uring".as_ptr(),
            Some(_) => c"epoll".as_ptr(),
            None => std::ptr::null(),
        }
    }
}

fn start(s: &mut Server) -> fastserve_result {
    server_result(s.start(), &|| "start the workers".into())
}

fn wait(s: &Server) -> fastserve_result {
    server_result(s.wait(), &|| "wait".into())
}

ffi_fn! {
    /// Starts the worker threads and returns. Needs a successful
    /// `fastserve_server_listen` first. Routes are fixed from here on.
    ///
    /// # Safety
    /// `srv` is NULL or a server from `fastserve_server_new` that was not
    /// freed.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_start(
        srv: *mut fastserve_server,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        match unsafe { server_mut(srv) } {
            Ok(s) => start(s),
            Err(e) => e,
        }
    }
}

ffi_fn! {
    /// Blocks until the workers exit (after `fastserve_server_stop`).
    ///
    /// # Safety
    /// `srv` is NULL or a server from `fastserve_server_new` that was not
    /// freed.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_wait(
        srv: *const fastserve_server,
    ) -> fastserve_result {
        // SAFETY: a non-NULL `srv` is a live server by contract.
        match unsafe { srv.as_ref() } {
            Some(s) => wait(&s.inner),
            None => null("srv"),
        }
    }
}

ffi_fn! {
    /// `fastserve_server_start`, then `fastserve_server_wait`.
    ///
    /// # Safety
    /// `srv` is NULL or a server from `fastserve_server_new` that was not
    /// freed.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_run(srv: *mut fastserve_server) -> fastserve_result {
        // SAFETY: forwarded contract.
        let s = match unsafe { server_mut(srv) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        match start(s) {
            // SAFETY: a live server; shared from here on, as other threads
            // may call stop and stats while this one waits.
            FASTSERVE_RESULT_OK => wait(unsafe { &(*srv).inner }),
            e => e,
        }
    }
}

ffi_fn! {
    /// Stops gracefully: no new connections; requests in flight are
    /// answered; then connections close and the workers exit. Returns at
    /// once. Any thread; with a valid `srv` it only stores a flag and writes
    /// to an eventfd, so it is also safe in a signal handler. Called before
    /// `start` or `run` (a signal that came early), it still counts: the
    /// server stops as soon as it has started.
    ///
    /// # Safety
    /// `srv` is NULL or a server from `fastserve_server_new` that was not
    /// freed.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_stop(
        srv: *const fastserve_server,
    ) -> fastserve_result {
        // SAFETY: a non-NULL `srv` is a live server by contract.
        let Some(s) = (unsafe { srv.as_ref() }) else {
            return null("srv");
        };
        s.inner.stop();
        FASTSERVE_RESULT_OK
    }
}

ffi_fn! {
    /// Writes the counters to `*out`. Any thread.
    ///
    /// # Safety
    /// `srv` is NULL or a server from `fastserve_server_new` that was not
    /// freed; `out` is NULL or writable.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_stats(
        srv: *const fastserve_server,
        out: *mut fastserve_stats,
    ) -> fastserve_result {
        // SAFETY: a non-NULL `srv` is a live server by contract.
        let Some(s) = (unsafe { srv.as_ref() }) else {
            return null("srv");
        };
        // SAFETY: a non-NULL `out` is writable by contract.
        let Some(out) = (unsafe { out.as_mut() }) else {
            return null("out");
        };
        let st = s.inner.stats();
        *out = fastserve_stats {
            requests: st.requests,
            bytes_in: st.bytes_in,
            bytes_out: st.bytes_out,
            open_connections: st.open_connections,
            accepted_connections: st.accepted,
        };
        FASTSERVE_RESULT_OK
    }
}
