//! `fastserve_config_*`, `fastserve_server_*`, `fastserve_request_*`,
//! `fastserve_response_*`: the turnkey engine for C.

use std::ffi::{c_char, c_int, c_void};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use super::fastserve_result::{self, *};

use super::{bytes, guard};
use crate::proto::MAX_BLOCK;
use crate::proto::{ExtBody, ExtBytes, Request};
use crate::server::{BuildError, Handler, ResponseBuilder, Server, ServerConfig, ServerError};

/// Engine settings; copied by `fastserve_server_new`. Not thread-safe.
pub struct fastserve_config {
    pub(crate) inner: ServerConfig,
}

/// A server. `fastserve_server_stop` and `fastserve_server_stats` may be
/// called from any thread at any time (`stop` also from a signal handler);
/// every other call from one thread at a time.
pub struct fastserve_server {
    pub(crate) inner: Server,
}

/// A request, valid only during the handler call that received it. Every
/// string it returns points into the connection's buffer and is valid for
/// that call only: copy what a deferred response needs.
pub struct fastserve_request {
    _opaque: [u8; 0],
}

/// A response under construction. Inline (the one a handler receives) it is
/// valid during the handler call. After `fastserve_response_defer` the new
/// handle may be used from any thread, one thread at a time, until
/// `fastserve_response_send`, which consumes it.
pub struct fastserve_response {
    _opaque: [u8; 0],
}

/// A byte string: `ptr` and `len`, not NUL-terminated. `ptr` is NULL when
/// the value is absent.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct fastserve_str {
    pub ptr: *const c_char,
    pub len: usize,
}

impl fastserve_str {
    const NONE: fastserve_str = fastserve_str {
        ptr: std::ptr::null(),
        len: 0,
    };
    fn of(b: &[u8]) -> Self {
        fastserve_str {
            ptr: b.as_ptr().cast(),
            len: b.len(),
        }
    }
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

/// A request handler. Runs on a worker thread; it must not block for long.
/// It answers through `res` (status, headers, body; sent when it returns) or
/// calls `fastserve_response_defer`. A non-zero return answers 500 unless a
/// response was already sent or deferred.
pub type fastserve_handler = Option<
    unsafe extern "C" fn(
        req: *const fastserve_request,
        res: *mut fastserve_response,
        userdata: *mut c_void,
    ) -> c_int,
>;

/// Called once, on any thread, when a borrowed body is no longer needed.
pub type fastserve_release_fn = Option<unsafe extern "C" fn(userdata: *mut c_void)>;

// ---- config ----

/// Creates a configuration with the defaults (1 worker, 10000 connections per
/// worker, 8 KiB heads, 100 headers, 1 MiB bodies). Free with `fastserve_config_free`.
#[no_mangle]
pub extern "C" fn fastserve_config_new() -> *mut fastserve_config {
    Box::into_raw(Box::new(fastserve_config {
        inner: ServerConfig::default(),
    }))
}

/// Frees a configuration. NULL is a no-op.
///
/// # Safety
/// `cfg` is NULL or from `fastserve_config_new`, and not used again.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_free(cfg: *mut fastserve_config) {
    if !cfg.is_null() {
        // SAFETY: by contract, from `Box::into_raw` and freed once.
        drop(unsafe { Box::from_raw(cfg) });
    }
}

/// # Safety
/// `cfg` is NULL or a valid configuration.
unsafe fn set<T: PartialEq + Default>(
    cfg: *mut fastserve_config,
    v: T,
    f: impl FnOnce(&mut ServerConfig, T),
) -> fastserve_result {
    // SAFETY: a non-NULL `cfg` is valid by contract.
    let Some(c) = (unsafe { cfg.as_mut() }) else {
        return FASTSERVE_RESULT_NULL_ARGUMENT;
    };
    if v == T::default() {
        return FASTSERVE_RESULT_INVALID_ARGUMENT;
    }
    f(&mut c.inner, v);
    FASTSERVE_RESULT_OK
}

/// [`set`] for a value that must also be at most `max`.
///
/// # Safety
/// `cfg` is NULL or a valid configuration.
unsafe fn set_upto(
    cfg: *mut fastserve_config,
    v: usize,
    max: usize,
    f: impl FnOnce(&mut ServerConfig, usize),
) -> fastserve_result {
    if v > max && !cfg.is_null() {
        return FASTSERVE_RESULT_INVALID_ARGUMENT;
    }
    // SAFETY: forwarded contract.
    unsafe { set(cfg, v, f) }
}

/// Worker threads (default 1). Each runs its own event loop and listener.
/// 0 is refused.
///
/// # Safety
/// `cfg` is NULL or a valid configuration.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_set_workers(
    cfg: *mut fastserve_config,
    value: usize,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    unsafe { set(cfg, value, |c, v| c.workers = v) }
}

/// Most open connections per worker (default 10000); new ones past it are closed at once.
/// 0 is refused.
///
/// # Safety
/// `cfg` is NULL or a valid configuration.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_set_max_connections(
    cfg: *mut fastserve_config,
    value: usize,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    unsafe { set(cfg, value, |c, v| c.max_connections = v) }
}

/// Largest request head in bytes (default 8192); larger gets 431.
/// 0 is refused.
///
/// # Safety
/// `cfg` is NULL or a valid configuration.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_set_max_header_bytes(
    cfg: *mut fastserve_config,
    value: usize,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    unsafe { set(cfg, value, |c, v| c.proto.limits.max_head = v) }
}

/// Longest request line in bytes (default 8192); longer gets 414.
/// 0 is refused.
///
/// # Safety
/// `cfg` is NULL or a valid configuration.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_set_max_request_line(
    cfg: *mut fastserve_config,
    value: usize,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    unsafe { set(cfg, value, |c, v| c.proto.limits.max_request_line = v) }
}

/// Most header fields per request (default 100); more gets 431.
/// 0 is refused.
///
/// # Safety
/// `cfg` is NULL or a valid configuration.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_set_max_headers(
    cfg: *mut fastserve_config,
    value: usize,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    unsafe { set(cfg, value, |c, v| c.proto.limits.max_headers = v) }
}

/// Largest request body in bytes (default 1 MiB); larger gets 413.
/// 0 is refused.
///
/// # Safety
/// `cfg` is NULL or a valid configuration.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_set_max_body(
    cfg: *mut fastserve_config,
    value: usize,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    unsafe { set(cfg, value, |c, v| c.proto.limits.max_body = v) }
}

/// Most requests in flight per connection (default 128); at the limit the
/// connection is not read until responses drain.
/// 0 is refused.
///
/// # Safety
/// `cfg` is NULL or a valid configuration.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_set_max_pipelined(
    cfg: *mut fastserve_config,
    value: usize,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    unsafe { set(cfg, value, |c, v| c.proto.limits.max_pipelined = v) }
}

/// Most unsent response bytes per connection (default 1 MiB); past it the
/// connection is not read until the client reads.
/// 0 is refused.
///
/// # Safety
/// `cfg` is NULL or a valid configuration.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_set_max_unsent_bytes(
    cfg: *mut fastserve_config,
    value: usize,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    unsafe { set(cfg, value, |c, v| c.proto.limits.max_unsent = v) }
}

/// `SO_RCVBUF` of each connection, in bytes (default: the kernel's
/// autotuning, which grows to megabytes). Bounds what a client can queue
/// that the server is not reading. The kernel doubles the value and caps it
/// at `net.core.rmem_max`. 0 and values over `INT_MAX` are refused.
///
/// # Safety
/// `cfg` is NULL or a valid configuration.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_set_socket_recv_buffer(
    cfg: *mut fastserve_config,
    value: usize,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    unsafe {
        set_upto(cfg, value, i32::MAX as usize, |c, v| {
            c.socket_recv_buffer = v
        })
    }
}

/// `SO_SNDBUF` of each connection, in bytes (default: the kernel's
/// autotuning, which grows to megabytes). Bounds the responses the kernel
/// takes for a client that does not read them. The kernel doubles the value
/// and caps it at `net.core.wmem_max`. 0 and values over `INT_MAX` are
/// refused.
///
/// # Safety
/// `cfg` is NULL or a valid configuration.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_set_socket_send_buffer(
    cfg: *mut fastserve_config,
    value: usize,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    unsafe {
        set_upto(cfg, value, i32::MAX as usize, |c, v| {
            c.socket_send_buffer = v
        })
    }
}

/// Buffer block size in bytes (default 16384, rounded up to 4 KiB).
/// 0 and values over 64 MiB are refused.
///
/// # Safety
/// `cfg` is NULL or a valid configuration.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_set_buffer_size(
    cfg: *mut fastserve_config,
    value: usize,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    unsafe { set_upto(cfg, value, MAX_BLOCK, |c, v| c.buffer_size = v) }
}

/// How long `fastserve_server_stop` lets in-flight requests finish, in ms (default 30000).
/// 0 is refused.
///
/// # Safety
/// `cfg` is NULL or a valid configuration.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_set_shutdown_grace_ms(
    cfg: *mut fastserve_config,
    value: u64,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(cfg, value, |c, v| {
            c.shutdown_grace = Duration::from_millis(v)
        })
    }
}

/// A request head must be complete this many ms after its first byte (default 10000); else 408 and close.
/// 0 is refused.
///
/// # Safety
/// `cfg` is NULL or a valid configuration.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_set_header_timeout_ms(
    cfg: *mut fastserve_config,
    value: u64,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(cfg, value, |c, v| {
            c.timeouts.header = Duration::from_millis(v)
        })
    }
}

/// A request body may pause this many ms between reads (default 30000); else 408 and close.
/// 0 is refused.
///
/// # Safety
/// `cfg` is NULL or a valid configuration.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_set_body_timeout_ms(
    cfg: *mut fastserve_config,
    value: u64,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(cfg, value, |c, v| {
            c.timeouts.body = Duration::from_millis(v)
        })
    }
}

/// An idle keep-alive connection is closed after this many ms (default 60000).
/// 0 is refused.
///
/// # Safety
/// `cfg` is NULL or a valid configuration.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_set_keepalive_timeout_ms(
    cfg: *mut fastserve_config,
    value: u64,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(cfg, value, |c, v| {
            c.timeouts.keepalive = Duration::from_millis(v)
        })
    }
}

/// Output that makes no progress for this many ms drops the connection (default 30000).
/// 0 is refused.
///
/// # Safety
/// `cfg` is NULL or a valid configuration.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_set_write_timeout_ms(
    cfg: *mut fastserve_config,
    value: u64,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(cfg, value, |c, v| {
            c.timeouts.write = Duration::from_millis(v)
        })
    }
}

/// A deferred response not sent within this many ms is answered 503 (default 60000).
/// 0 is refused.
///
/// # Safety
/// `cfg` is NULL or a valid configuration.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_set_request_timeout_ms(
    cfg: *mut fastserve_config,
    value: u64,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(cfg, value, |c, v| {
            c.timeouts.request = Duration::from_millis(v)
        })
    }
}

/// Sets the `Server` header value; `len == 0` removes the header.
///
/// # Safety
/// `cfg` valid; `name` readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fastserve_config_set_server_name(
    cfg: *mut fastserve_config,
    name: *const c_char,
    len: usize,
) -> fastserve_result {
    // SAFETY: pointers valid by contract.
    let (Some(c), Some(n)) = (unsafe { cfg.as_mut() }, unsafe { bytes(name.cast(), len) }) else {
        return FASTSERVE_RESULT_NULL_ARGUMENT;
    };
    if n.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return FASTSERVE_RESULT_INVALID_ARGUMENT;
    }
    c.inner.proto.server_name = (!n.is_empty()).then(|| n.to_vec());
    FASTSERVE_RESULT_OK
}

// ---- server ----

/// Creates a server from `cfg` (copied; NULL means the defaults). Free it
/// with `fastserve_server_free`.
///
/// # Safety
/// `cfg` is NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn fastserve_server_new(
    cfg: *const fastserve_config,
) -> *mut fastserve_server {
    // SAFETY: a non-NULL `cfg` is valid by contract.
    let cfg = unsafe { cfg.as_ref() }
        .map(|c| c.inner.clone())
        .unwrap_or_default();
    Box::into_raw(Box::new(fastserve_server {
        inner: Server::new(cfg),
    }))
}

/// Stops the server if it runs, waits for its workers, and frees it. NULL is a no-op.
///
/// # Safety
/// `srv` is NULL or from `fastserve_server_new`, and not used again.
#[no_mangle]
pub unsafe extern "C" fn fastserve_server_free(srv: *mut fastserve_server) {
    if !srv.is_null() {
        // SAFETY: by contract, from `Box::into_raw` and freed once.
        let s = unsafe { Box::from_raw(srv) };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(s)));
    }
}

pub(crate) fn server_result(r: Result<(), ServerError>) -> fastserve_result {
    match r {
        Ok(()) => FASTSERVE_RESULT_OK,
        Err(ServerError::Io(_)) => FASTSERVE_RESULT_IO,
        Err(ServerError::AlreadyStarted) => FASTSERVE_RESULT_ALREADY_STARTED,
        Err(ServerError::NotListening) | Err(ServerError::NotStarted) => {
            FASTSERVE_RESULT_NOT_STARTED
        }
    }
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
        // SAFETY: non-NULL, readable by contract.
        Some(unsafe { bytes(method.cast(), method_len) }.ok_or(FASTSERVE_RESULT_NULL_ARGUMENT)?)
    };
    // SAFETY: readable by contract.
    let path = unsafe { bytes(path.cast(), path_len) }.ok_or(FASTSERVE_RESULT_NULL_ARGUMENT)?;
    if path.first() != Some(&b'/') && path != b"*" {
        return Err(FASTSERVE_RESULT_INVALID_ARGUMENT);
    }
    Ok((method, path))
}

fn content_type_line(ct: &[u8]) -> Option<Vec<u8>> {
    if ct.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return None;
    }
    Some(if ct.is_empty() {
        Vec::new()
    } else {
        [&b"Content-Type: "[..], ct, b"\r\n"].concat()
    })
}

/// Adds a static route: the response (status, Content-Type, body) is rendered
/// now, and served with the current Date without calling out. `method` NULL
/// matches any method (a GET route also answers HEAD). `flags` may hold
/// `FASTSERVE_ROUTE_PREFIX`. Everything is copied.
///
/// # Safety
/// `srv` valid; every pointer readable for its length.
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
    body: *const u8,
    body_len: usize,
) -> fastserve_result {
    guard(|| {
        // SAFETY: pointers valid by contract.
        unsafe {
            let Some(s) = srv.as_mut() else {
                return FASTSERVE_RESULT_NULL_ARGUMENT;
            };
            let (method, path) = match route_args(method, method_len, path, path_len) {
                Ok(a) => a,
                Err(e) => return e,
            };
            let (Some(ct), Some(body)) = (
                bytes(content_type.cast(), content_type_len),
                bytes(body, body_len),
            ) else {
                return FASTSERVE_RESULT_NULL_ARGUMENT;
            };
            let Some(ct) = content_type_line(ct) else {
                return FASTSERVE_RESULT_INVALID_ARGUMENT;
            };
            if !(200..=999).contains(&status) {
                return FASTSERVE_RESULT_INVALID_ARGUMENT;
            }
            let prefix = flags & FASTSERVE_ROUTE_PREFIX != 0;
            server_result(
                s.inner
                    .route_static(method, path, prefix, status, &ct, body),
            )
        }
    })
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
    fn call(&self, req: &Request<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        let req = req as *const Request<'_> as *const fastserve_request;
        let res = res as *mut ResponseBuilder as *mut fastserve_response;
        // SAFETY: both pointers are valid for the call, which is what the C
        // API promises the handler.
        match unsafe { (self.f)(req, res, self.userdata) } {
            0 => Ok(()),
            _ => Err(()),
        }
    }
}

/// Adds a handler route. `method` NULL matches any method (a GET route also
/// answers HEAD, with the body left out). `userdata` is passed to every call,
/// from worker threads, possibly concurrently with several workers.
///
/// # Safety
/// `srv` valid; pointers readable for their lengths.
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
    guard(|| {
        // SAFETY: pointers valid by contract.
        unsafe {
            let Some(s) = srv.as_mut() else {
                return FASTSERVE_RESULT_NULL_ARGUMENT;
            };
            let Some(f) = handler else {
                return FASTSERVE_RESULT_NULL_ARGUMENT;
            };
            let (method, path) = match route_args(method, method_len, path, path_len) {
                Ok(a) => a,
                Err(e) => return e,
            };
            let prefix = flags & FASTSERVE_ROUTE_PREFIX != 0;
            server_result(
                s.inner
                    .route(method, path, prefix, Arc::new(CHandler { f, userdata })),
            )
        }
    })
}

/// Replaces the response for unknown paths (status 404) or for a known path
/// with another method (status 405).
///
/// # Safety
/// `srv` valid; pointers readable for their lengths.
#[no_mangle]
pub unsafe extern "C" fn fastserve_server_set_error_page(
    srv: *mut fastserve_server,
    status: u16,
    content_type: *const c_char,
    content_type_len: usize,
    body: *const u8,
    body_len: usize,
) -> fastserve_result {
    guard(|| {
        // SAFETY: pointers valid by contract.
        unsafe {
            let Some(s) = srv.as_mut() else {
                return FASTSERVE_RESULT_NULL_ARGUMENT;
            };
            let (Some(ct), Some(body)) = (
                bytes(content_type.cast(), content_type_len),
                bytes(body, body_len),
            ) else {
                return FASTSERVE_RESULT_NULL_ARGUMENT;
            };
            let Some(ct) = content_type_line(ct) else {
                return FASTSERVE_RESULT_INVALID_ARGUMENT;
            };
            if status != 404 && status != 405 {
                return FASTSERVE_RESULT_INVALID_ARGUMENT;
            }
            server_result(s.inner.error_page(status, &ct, body))
        }
    })
}

/// Binds the listening sockets: an IPv4 or IPv6 literal (`host`, not
/// NUL-terminated) and a port; port 0 picks a free one (see
/// `fastserve_server_port`). Errors surface here, not in `start`.
///
/// # Safety
/// `srv` valid; `host` readable for `host_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fastserve_server_listen(
    srv: *mut fastserve_server,
    host: *const c_char,
    host_len: usize,
    port: u16,
) -> fastserve_result {
    guard(|| {
        // SAFETY: pointers valid by contract.
        unsafe {
            let (Some(s), Some(h)) = (srv.as_mut(), bytes(host.cast(), host_len)) else {
                return FASTSERVE_RESULT_NULL_ARGUMENT;
            };
            let Some(ip) = std::str::from_utf8(h)
                .ok()
                .and_then(|h| h.parse::<IpAddr>().ok())
            else {
                return FASTSERVE_RESULT_INVALID_ARGUMENT;
            };
            server_result(s.inner.listen(SocketAddr::new(ip, port)).map(|_| ()))
        }
    })
}

/// The bound port, or 0 before a successful `fastserve_server_listen`.
///
/// # Safety
/// `srv` is NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn fastserve_server_port(srv: *const fastserve_server) -> u16 {
    // SAFETY: a non-NULL `srv` is valid by contract.
    unsafe { srv.as_ref() }
        .and_then(|s| s.inner.local_addr())
        .map_or(0, |a| a.port())
}

/// Starts the worker threads and returns. Routes are fixed from here on.
///
/// # Safety
/// `srv` is NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn fastserve_server_start(srv: *mut fastserve_server) -> fastserve_result {
    guard(|| {
        // SAFETY: a non-NULL `srv` is valid by contract.
        let Some(s) = (unsafe { srv.as_mut() }) else {
            return FASTSERVE_RESULT_NULL_ARGUMENT;
        };
        server_result(s.inner.start())
    })
}

/// Blocks until the workers exit (after `fastserve_server_stop`).
///
/// # Safety
/// `srv` is NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn fastserve_server_wait(srv: *const fastserve_server) -> fastserve_result {
    guard(|| {
        // SAFETY: a non-NULL `srv` is valid by contract.
        let Some(s) = (unsafe { srv.as_ref() }) else {
            return FASTSERVE_RESULT_NULL_ARGUMENT;
        };
        server_result(s.inner.wait())
    })
}

/// `fastserve_server_start`, then `fastserve_server_wait`.
///
/// # Safety
/// `srv` is NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn fastserve_server_run(srv: *mut fastserve_server) -> fastserve_result {
    // SAFETY: forwarded contract.
    match unsafe { fastserve_server_start(srv) } {
        FASTSERVE_RESULT_OK => unsafe { fastserve_server_wait(srv) },
        e => e,
    }
}

/// Stops gracefully: no new connections; requests in flight are answered;
/// then connections close and the workers exit. Returns at once. Safe from
/// any thread and from a signal handler (it stores a flag and writes to an
/// eventfd). Called before `start` or `run` (a signal that came early), it
/// still counts: the server stops as soon as it has started.
///
/// # Safety
/// `srv` is NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn fastserve_server_stop(srv: *const fastserve_server) -> fastserve_result {
    // SAFETY: a non-NULL `srv` is valid by contract.
    let Some(s) = (unsafe { srv.as_ref() }) else {
        return FASTSERVE_RESULT_NULL_ARGUMENT;
    };
    s.inner.stop();
    FASTSERVE_RESULT_OK
}

/// Reads the counters into `*out`.
///
/// # Safety
/// `srv` valid; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn fastserve_server_stats(
    srv: *const fastserve_server,
    out: *mut fastserve_stats,
) -> fastserve_result {
    // SAFETY: pointers valid by contract.
    let (Some(s), Some(out)) = (unsafe { srv.as_ref() }, unsafe { out.as_mut() }) else {
        return FASTSERVE_RESULT_NULL_ARGUMENT;
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

// ---- request ----

/// # Safety
/// `req` is a request handed to a running handler.
unsafe fn req<'a>(r: *const fastserve_request) -> Option<&'a Request<'a>> {
    // SAFETY: by contract `r` is NULL or points to a live `Request`.
    unsafe { r.cast::<Request<'a>>().as_ref() }
}

/// The method, e.g. `GET`.
///
/// # Safety
/// `req` is the request of a running handler call.
#[no_mangle]
pub unsafe extern "C" fn fastserve_request_method(req: *const fastserve_request) -> fastserve_str {
    // SAFETY: forwarded contract.
    match unsafe { self::req(req) } {
        Some(r) => fastserve_str::of(r.method),
        None => fastserve_str::NONE,
    }
}

/// The path: the request target up to `?`.
///
/// # Safety
/// `req` is the request of a running handler call.
#[no_mangle]
pub unsafe extern "C" fn fastserve_request_path(req: *const fastserve_request) -> fastserve_str {
    // SAFETY: forwarded contract.
    match unsafe { self::req(req) } {
        Some(r) => fastserve_str::of(r.path),
        None => fastserve_str::NONE,
    }
}

/// The query string after `?` (without it); `ptr` is NULL when there is no `?`.
///
/// # Safety
/// `req` is the request of a running handler call.
#[no_mangle]
pub unsafe extern "C" fn fastserve_request_query(req: *const fastserve_request) -> fastserve_str {
    // SAFETY: forwarded contract.
    match unsafe { self::req(req) } {
        Some(r) => r.query.map_or(fastserve_str::NONE, fastserve_str::of),
        None => fastserve_str::NONE,
    }
}

/// The request target exactly as sent.
///
/// # Safety
/// `req` is the request of a running handler call.
#[no_mangle]
pub unsafe extern "C" fn fastserve_request_target(req: *const fastserve_request) -> fastserve_str {
    // SAFETY: forwarded contract.
    match unsafe { self::req(req) } {
        Some(r) => fastserve_str::of(r.target),
        None => fastserve_str::NONE,
    }
}

/// The body (Content-Length or decoded chunked); empty when there is none.
///
/// # Safety
/// `req` is the request of a running handler call.
#[no_mangle]
pub unsafe extern "C" fn fastserve_request_body(req: *const fastserve_request) -> fastserve_str {
    // SAFETY: forwarded contract.
    match unsafe { self::req(req) } {
        Some(r) => fastserve_str::of(r.body),
        None => fastserve_str::NONE,
    }
}

/// 0 for HTTP/1.0, 1 for HTTP/1.1; -1 for a NULL request.
///
/// # Safety
/// `req` is the request of a running handler call.
#[no_mangle]
pub unsafe extern "C" fn fastserve_request_minor_version(req: *const fastserve_request) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { self::req(req) }.map_or(-1, |r| r.minor_version as c_int)
}

/// The first header named `name` (case-insensitive); `ptr` NULL when absent.
///
/// # Safety
/// `req` is the request of a running handler call; `name` readable.
#[no_mangle]
pub unsafe extern "C" fn fastserve_request_header(
    req: *const fastserve_request,
    name: *const c_char,
    name_len: usize,
) -> fastserve_str {
    // SAFETY: forwarded contract.
    let (Some(r), Some(n)) = (unsafe { self::req(req) }, unsafe {
        bytes(name.cast(), name_len)
    }) else {
        return fastserve_str::NONE;
    };
    r.header(n).map_or(fastserve_str::NONE, fastserve_str::of)
}

/// How many header fields the request has.
///
/// # Safety
/// `req` is the request of a running handler call.
#[no_mangle]
pub unsafe extern "C" fn fastserve_request_header_count(req: *const fastserve_request) -> usize {
    // SAFETY: forwarded contract.
    unsafe { self::req(req) }.map_or(0, |r| r.headers.len())
}

/// The `i`-th header field, in the order received.
///
/// # Safety
/// `req` is the request of a running handler call; `name` and `value` writable.
#[no_mangle]
pub unsafe extern "C" fn fastserve_request_header_at(
    req: *const fastserve_request,
    i: usize,
    name: *mut fastserve_str,
    value: *mut fastserve_str,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    let (Some(r), Some(n), Some(v)) = (
        unsafe { self::req(req) },
        unsafe { name.as_mut() },
        unsafe { value.as_mut() },
    ) else {
        return FASTSERVE_RESULT_NULL_ARGUMENT;
    };
    match r.headers.get(i) {
        Some(h) => {
            *n = fastserve_str::of(h.name());
            *v = fastserve_str::of(h.value());
            FASTSERVE_RESULT_OK
        }
        None => FASTSERVE_RESULT_INVALID_ARGUMENT,
    }
}

// ---- response ----

/// # Safety
/// `res` is a live response handle.
unsafe fn res<'a>(r: *mut fastserve_response) -> Option<&'a mut ResponseBuilder> {
    // SAFETY: by contract `r` is NULL or a live builder.
    unsafe { r.cast::<ResponseBuilder>().as_mut() }
}

fn build_result(r: Result<(), BuildError>) -> fastserve_result {
    match r {
        Ok(()) => FASTSERVE_RESULT_OK,
        Err(BuildError::Closed) => FASTSERVE_RESULT_RESPONSE_CLOSED,
        Err(BuildError::InvalidHeader) | Err(BuildError::InvalidStatus) => {
            FASTSERVE_RESULT_INVALID_ARGUMENT
        }
    }
}

/// Sets the status code (200 by default; 200..999).
///
/// # Safety
/// `res` is a live response handle.
#[no_mangle]
pub unsafe extern "C" fn fastserve_response_status(
    res: *mut fastserve_response,
    status: u16,
) -> fastserve_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let Some(r) = (unsafe { self::res(res) }) else {
            return FASTSERVE_RESULT_NULL_ARGUMENT;
        };
        build_result(r.status(status))
    })
}

/// Adds a header field (copied). `Content-Length`, `Date`, `Connection` and
/// `Transfer-Encoding` are set by the engine and refused here.
///
/// # Safety
/// `res` live; `name` and `value` readable for their lengths.
#[no_mangle]
pub unsafe extern "C" fn fastserve_response_header(
    res: *mut fastserve_response,
    name: *const c_char,
    name_len: usize,
    value: *const c_char,
    value_len: usize,
) -> fastserve_result {
    guard(|| {
        // SAFETY: forwarded contract.
        unsafe {
            let (Some(r), Some(n), Some(v)) = (
                self::res(res),
                bytes(name.cast(), name_len),
                bytes(value.cast(), value_len),
            ) else {
                return FASTSERVE_RESULT_NULL_ARGUMENT;
            };
            build_result(r.header(n, v))
        }
    })
}

/// Sets the body, copying `len` bytes from `body`.
///
/// # Safety
/// `res` live; `body` readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fastserve_response_body(
    res: *mut fastserve_response,
    body: *const u8,
    len: usize,
) -> fastserve_result {
    guard(|| {
        // SAFETY: forwarded contract.
        unsafe {
            let (Some(r), Some(b)) = (self::res(res), bytes(body, len)) else {
                return FASTSERVE_RESULT_NULL_ARGUMENT;
            };
            build_result(r.body(b))
        }
    })
}

/// Sets a body that is sent from `body` without a copy. The bytes must stay
/// valid and unchanged until `release(userdata)` is called (once, from any
/// thread) after they were sent or dropped. `release` may be NULL.
///
/// # Safety
/// `res` live; `body` readable for `len` bytes until released.
#[no_mangle]
pub unsafe extern "C" fn fastserve_response_body_borrowed(
    res: *mut fastserve_response,
    body: *const u8,
    len: usize,
    release: fastserve_release_fn,
    userdata: *mut c_void,
) -> fastserve_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let Some(r) = (unsafe { self::res(res) }) else {
            return FASTSERVE_RESULT_NULL_ARGUMENT;
        };
        if body.is_null() && len != 0 {
            return FASTSERVE_RESULT_NULL_ARGUMENT;
        }
        let ptr = if body.is_null() {
            std::ptr::NonNull::<u8>::dangling().as_ptr()
        } else {
            body
        };
        let b = BorrowedBody {
            ptr,
            len,
            release,
            userdata,
        };
        build_result(r.body_ext(ExtBody::Foreign(Box::new(b))))
    })
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

/// Detaches the response from the handler call. Returns a new handle, usable
/// from any thread, to fill and then `fastserve_response_send` later; the
/// handler's own `res` must not be used again. Responses on one connection
/// still go out in request order. Returns NULL if `res` was already sent or
/// deferred. A deferred handle that is never sent holds its connection's
/// later responses back; always send it.
///
/// # Safety
/// `res` is the live inline handle of a running handler.
#[no_mangle]
pub unsafe extern "C" fn fastserve_response_defer(
    res: *mut fastserve_response,
) -> *mut fastserve_response {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: forwarded contract.
        let r = unsafe { self::res(res) }?;
        r.defer()
            .ok()
            .map(|d| Box::into_raw(d).cast::<fastserve_response>())
    }));
    r.ok().flatten().unwrap_or(std::ptr::null_mut())
}

/// Finishes the response. For the inline handle it is optional (the response
/// goes out when the handler returns). For a deferred handle it posts the
/// response to its worker and frees the handle: do not use it afterwards.
///
/// # Safety
/// `res` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn fastserve_response_send(res: *mut fastserve_response) -> fastserve_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let Some(r) = (unsafe { self::res(res) }) else {
            return FASTSERVE_RESULT_NULL_ARGUMENT;
        };
        let detached = r.is_detached();
        let out = build_result(r.send());
        if detached {
            // SAFETY: a detached builder came from `Box::into_raw` in
            // `fastserve_response_defer`; it is consumed here.
            drop(unsafe { Box::from_raw(res.cast::<ResponseBuilder>()) });
        }
        out
    })
}
