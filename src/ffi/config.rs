//! A configuration holds the engine's limits and timeouts. Create one, set
//! what differs from the defaults, pass it to `fastserve_server_new` or
//! `fastserve_conn_new` (which copy it), and free it. Each setter refuses
//! 0 and out-of-range values with `FASTSERVE_RESULT_INVALID_ARGUMENT` and
//! then leaves the setting as it was.

use std::ffi::c_char;
use std::fmt::Display;
use std::time::Duration;

use super::bytes;
use super::error::{fail, invalid, null, null_with_len, Quoted};
use super::fastserve_result::{self, *};
use crate::proto::MAX_BLOCK;
use crate::server::{Driver, ServerConfig};

/// Engine settings. Owned by the caller, from `fastserve_config_new` to
/// `fastserve_config_free`; the calls that take one copy it. Not
/// thread-safe: use each configuration from one thread at a time.
pub struct fastserve_config {
    pub(crate) inner: ServerConfig,
}

ffi_fn! {
    /// Creates a configuration with the defaults (1 worker, 10000
    /// connections per worker, 8 KiB heads, 100 headers, 1 MiB bodies).
    /// The caller owns it: free it with `fastserve_config_free`.
    ///
    /// On an internal panic: returns NULL.
    #[on_panic(std::ptr::null_mut())]
    #[no_mangle]
    pub extern "C" fn fastserve_config_new() -> *mut fastserve_config {
        Box::into_raw(Box::new(fastserve_config {
            inner: ServerConfig::default(),
        }))
    }
}

ffi_fn! {
    /// Frees a configuration. NULL does nothing.
    ///
    /// # Safety
    /// `cfg` is NULL or a configuration from `fastserve_config_new` that was
    /// not freed; it must not be used afterwards.
    ///
    /// On an internal panic: returns, and the configuration may leak.
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_free(cfg: *mut fastserve_config) {
        if !cfg.is_null() {
            // SAFETY: by contract, from `Box::into_raw` in
            // `fastserve_config_new`, and freed once.
            drop(unsafe { Box::from_raw(cfg) });
        }
    }
}

/// Sets one value that must not be 0 (nor over `max`).
///
/// # Safety
/// `cfg` is NULL or a live configuration.
unsafe fn set<T: PartialEq + PartialOrd + Default + Display>(
    cfg: *mut fastserve_config,
    name: &str,
    v: T,
    max: Option<(T, &str)>,
    f: impl FnOnce(&mut ServerConfig, T),
) -> fastserve_result {
    // SAFETY: a non-NULL `cfg` is a live configuration by contract, used by
    // one thread at a time.
    let Some(c) = (unsafe { cfg.as_mut() }) else {
        return null("cfg");
    };
    if v == T::default() {
        return invalid(format_args!("{name} must not be 0"));
    }
    if let Some((max, max_name)) = max {
        if v > max {
            return invalid(format_args!("{name} {v} is over {max_name} ({max})"));
        }
    }
    f(&mut c.inner, v);
    FASTSERVE_RESULT_OK
}

ffi_fn! {
    /// Worker threads (default 1). Each runs its own event loop and
    /// listening socket. 0 and more than 1024 are refused (each worker takes
    /// descriptors and a thread; past the cores, more only cost).
    ///
    /// # Safety
    /// `cfg` is NULL or a configuration from `fastserve_config_new` that was
    /// not freed.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_workers(
        cfg: *mut fastserve_config,
        value: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe { set(cfg, "workers", value, Some((1024, "the limit")), |c, v| c.workers = v) }
    }
}

ffi_fn! {
    /// Most open connections per worker (default 10000); connections past
    /// it are closed as soon as they are accepted. 0 is refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_max_connections(
        cfg: *mut fastserve_config,
        value: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe {
            set(cfg, "max_connections", value, None, |c, v| {
                c.max_connections = v
            })
        }
    }
}

ffi_fn! {
    /// Largest request head in bytes (default 8192); a larger one is
    /// answered 431. 0 is refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_max_header_bytes(
        cfg: *mut fastserve_config,
        value: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe {
            set(cfg, "max_header_bytes", value, None, |c, v| {
                c.proto.limits.max_head = v
            })
        }
    }
}

ffi_fn! {
    /// Longest request line in bytes, without its CRLF (default 8192); a
    /// longer one is answered 414. 0 is refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_max_request_line(
        cfg: *mut fastserve_config,
        value: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe {
            set(cfg, "max_request_line", value, None, |c, v| {
                c.proto.limits.max_request_line = v
            })
        }
    }
}

ffi_fn! {
    /// Most header fields per request (default 100); more is answered 431.
    /// 0 is refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_max_headers(
        cfg: *mut fastserve_config,
        value: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe {
            set(cfg, "max_headers", value, None, |c, v| {
                c.proto.limits.max_headers = v
            })
        }
    }
}

ffi_fn! {
    /// Largest request body in bytes (default 1 MiB); a larger one is
    /// answered 413. 0 is refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_max_body(
        cfg: *mut fastserve_config,
        value: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe {
            set(cfg, "max_body", value, None, |c, v| {
                c.proto.limits.max_body = v
            })
        }
    }
}

ffi_fn! {
    /// Most requests in flight per connection (default 128); at the limit
    /// the connection is not read until responses drain. 0 is refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_max_pipelined(
        cfg: *mut fastserve_config,
        value: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe {
            set(cfg, "max_pipelined", value, None, |c, v| {
                c.proto.limits.max_pipelined = v
            })
        }
    }
}

ffi_fn! {
    /// Most unsent response bytes per connection (default 1 MiB); past it
    /// the connection is not read until the client reads. 0 is refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_max_unsent_bytes(
        cfg: *mut fastserve_config,
        value: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe {
            set(cfg, "max_unsent_bytes", value, None, |c, v| {
                c.proto.limits.max_unsent = v
            })
        }
    }
}

ffi_fn! {
    /// `SO_RCVBUF` of each connection, in bytes (default: the kernel's
    /// autotuning, which grows to megabytes). Bounds what a client can queue
    /// that the server is not reading. The kernel doubles the value and caps
    /// it at `net.core.rmem_max`. 0 and values over `INT_MAX` are refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_socket_recv_buffer(
        cfg: *mut fastserve_config,
        value: usize,
    ) -> fastserve_result {
        let max = Some((i32::MAX as usize, "INT_MAX"));
        // SAFETY: forwarded contract.
        unsafe {
            set(cfg, "socket_recv_buffer", value, max, |c, v| {
                c.socket_recv_buffer = v
            })
        }
    }
}

ffi_fn! {
    /// `SO_SNDBUF` of each connection, in bytes (default: the kernel's
    /// autotuning, which grows to megabytes). Bounds the responses the
    /// kernel takes for a client that does not read them. The kernel doubles
    /// the value and caps it at `net.core.wmem_max`. 0 and values over
    /// `INT_MAX` are refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_socket_send_buffer(
        cfg: *mut fastserve_config,
        value: usize,
    ) -> fastserve_result {
        let max = Some((i32::MAX as usize, "INT_MAX"));
        // SAFETY: forwarded contract.
        unsafe {
            set(cfg, "socket_send_buffer", value, max, |c, v| {
                c.socket_send_buffer = v
            })
        }
    }
}

ffi_fn! {
    /// Buffer block size in bytes (default 16384, rounded up to 4 KiB).
    /// 0 and values over 64 MiB are refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_buffer_size(
        cfg: *mut fastserve_config,
        value: usize,
    ) -> fastserve_result {
        let max = Some((MAX_BLOCK, "64 MiB"));
        // SAFETY: forwarded contract.
        unsafe { set(cfg, "buffer_size", value, max, |c, v| c.buffer_size = v) }
    }
}

ffi_fn! {
    /// Buffers each worker keeps for reuse (default 256, so 4 MiB at the
    /// default buffer size); buffers given back beyond them are freed, and
    /// after a burst of connections the memory goes back to the system. 0 is
    /// refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_spare_buffers(
        cfg: *mut fastserve_config,
        value: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe { set(cfg, "spare_buffers", value, None, |c, v| c.spare_buffers = v) }
    }
}

ffi_fn! {
    /// How long `fastserve_server_stop` lets requests in flight finish, in
    /// ms (default 30000). 0 is refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_shutdown_grace_ms(
        cfg: *mut fastserve_config,
        value: u64,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe {
            set(cfg, "shutdown_grace_ms", value, None, |c, v| {
                c.shutdown_grace = Duration::from_millis(v)
            })
        }
    }
}

ffi_fn! {
    /// A request head must be complete this many ms after its first byte
    /// (default 10000); else 408 and the connection closes. 0 is refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_header_timeout_ms(
        cfg: *mut fastserve_config,
        value: u64,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe {
            set(cfg, "header_timeout_ms", value, None, |c, v| {
                c.timeouts.header = Duration::from_millis(v)
            })
        }
    }
}

ffi_fn! {
    /// A request body may pause this many ms between reads (default 30000);
    /// else 408 and the connection closes. 0 is refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_body_timeout_ms(
        cfg: *mut fastserve_config,
        value: u64,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe {
            set(cfg, "body_timeout_ms", value, None, |c, v| {
                c.timeouts.body = Duration::from_millis(v)
            })
        }
    }
}

ffi_fn! {
    /// An idle keep-alive connection is closed after this many ms (default
    /// 60000). 0 is refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_keepalive_timeout_ms(
        cfg: *mut fastserve_config,
        value: u64,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe {
            set(cfg, "keepalive_timeout_ms", value, None, |c, v| {
                c.timeouts.keepalive = Duration::from_millis(v)
            })
        }
    }
}

ffi_fn! {
    /// Output that makes no progress for this many ms drops the connection
    /// (default 30000). 0 is refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_write_timeout_ms(
        cfg: *mut fastserve_config,
        value: u64,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe {
            set(cfg, "write_timeout_ms", value, None, |c, v| {
                c.timeouts.write = Duration::from_millis(v)
            })
        }
    }
}

ffi_fn! {
    /// A deferred response not sent within this many ms is answered 503
    /// (default 60000). 0 is refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_request_timeout_ms(
        cfg: *mut fastserve_config,
        value: u64,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe {
            set(cfg, "request_timeout_ms", value, None, |c, v| {
                c.timeouts.request = Duration::from_millis(v)
            })
        }
    }
}

ffi_fn! {
    /// The least average rate, in bytes per second, at which a request body
    /// must arrive once `min_rate_grace_ms` has passed since it began
    /// (default 240, as Kestrel's); slower, the request gets 408 and the
    /// connection closes. 0 removes the minimum.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_min_body_rate(
        cfg: *mut fastserve_config,
        bytes_per_second: u64,
    ) -> fastserve_result {
        // SAFETY: a non-NULL `cfg` is a live configuration by contract.
        let Some(c) = (unsafe { cfg.as_mut() }) else {
            return null("cfg");
        };
        c.inner.timeouts.min_body_rate = bytes_per_second;
        FASTSERVE_RESULT_OK
    }
}

ffi_fn! {
    /// The least average rate, in bytes per second, at which a client must
    /// take the responses waiting for it once `min_rate_grace_ms` has passed
    /// since they began waiting (default 240); slower, the connection is
    /// dropped. 0 removes the minimum.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_min_send_rate(
        cfg: *mut fastserve_config,
        bytes_per_second: u64,
    ) -> fastserve_result {
        // SAFETY: a non-NULL `cfg` is a live configuration by contract.
        let Some(c) = (unsafe { cfg.as_mut() }) else {
            return null("cfg");
        };
        c.inner.timeouts.min_send_rate = bytes_per_second;
        FASTSERVE_RESULT_OK
    }
}

ffi_fn! {
    /// How long a body or a response may go at any rate before the minimum
    /// rates apply, in ms (default 5000). 0 is refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_min_rate_grace_ms(
        cfg: *mut fastserve_config,
        value: u64,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe {
            set(cfg, "min_rate_grace_ms", value, None, |c, v| {
                c.timeouts.min_rate_grace = Duration::from_millis(v)
            })
        }
    }
}

ffi_fn! {
    /// On a listener with `FASTSERVE_LISTEN_PROXY`, the PROXY header must be
    /// complete this many ms after the connection is accepted (default
    /// 5000); else the connection closes without a response. 0 is refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_proxy_header_timeout_ms(
        cfg: *mut fastserve_config,
        value: u64,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe {
            set(cfg, "proxy_header_timeout_ms", value, None, |c, v| {
                c.timeouts.proxy_header = Duration::from_millis(v)
            })
        }
    }
}

ffi_fn! {
    /// How long, at most, a connection closed after an error answer (400,
    /// 413, 431, a timeout's 408) lingers, in ms (default 5000): its write
    /// side is shut and what the client still sends is read and dropped, so
    /// that a client that pipelined past the bad request reads the answer
    /// instead of a reset. The socket closes sooner once the client closes
    /// its side or sent 1 MiB more. Lingering connections count against
    /// `max_connections` and are the first to give way to new ones. 0 is
    /// refused.
    ///
    /// # Safety
    /// As `fastserve_config_set_workers`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_linger_timeout_ms(
        cfg: *mut fastserve_config,
        value: u64,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe {
            set(cfg, "linger_timeout_ms", value, None, |c, v| {
                c.timeouts.linger = Duration::from_millis(v)
            })
        }
    }
}

ffi_fn! {
    /// Sets the `Server` header value (copied); `len == 0` removes the
    /// header. A control byte in the value is refused.
    ///
    /// # Safety
    /// `cfg` is NULL or a configuration from `fastserve_config_new` that was
    /// not freed; `name` is NULL or readable for `len` bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_server_name(
        cfg: *mut fastserve_config,
        name: *const c_char,
        len: usize,
    ) -> fastserve_result {
        // SAFETY: a non-NULL `cfg` is a live configuration by contract.
        let Some(c) = (unsafe { cfg.as_mut() }) else {
            return null("cfg");
        };
        // SAFETY: readable for `len` bytes by contract.
        let Some(n) = (unsafe { bytes(name, len) }) else {
            return null_with_len("name", len);
        };
        if n.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return fail(
                FASTSERVE_RESULT_INVALID_ARGUMENT,
                format_args!("server name {} has a control byte", Quoted(n)),
            );
        }
        c.inner.proto.server_name = (!n.is_empty()).then(|| n.to_vec());
        FASTSERVE_RESULT_OK
    }
}

ffi_fn! {
    /// The workers' event loop: `"epoll"`, `"io_uring"` or `"auto"` (the
    /// default, which is epoll today), `len` bytes, not NUL-terminated. The
    /// environment variable `FASTSERVE_DRIVER` (same names) overrides it when
    /// the server starts. Where the kernel refuses io_uring (too old,
    /// `kernel.io_uring_disabled`, a seccomp filter), the server runs on
    /// epoll and says so once on stderr; `fastserve_server_driver` tells
    /// which one runs. Another name is refused.
    ///
    /// # Safety
    /// `cfg` is NULL or a configuration from `fastserve_config_new` that was
    /// not freed; `name` is NULL or readable for `len` bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_config_set_driver(
        cfg: *mut fastserve_config,
        name: *const c_char,
        len: usize,
    ) -> fastserve_result {
        // SAFETY: a non-NULL `cfg` is a live configuration by contract.
        let Some(c) = (unsafe { cfg.as_mut() }) else {
            return null("cfg");
        };
        // SAFETY: readable for `len` bytes by contract.
        let Some(n) = (unsafe { bytes(name, len) }) else {
            return null_with_len("name", len);
        };
        match std::str::from_utf8(n).ok().and_then(Driver::parse) {
            Some(d) => {
                c.inner.driver = d;
                FASTSERVE_RESULT_OK
            }
            None => invalid(format_args!(
                "driver {} is not epoll, io_uring or auto",
                Quoted(n)
            )),
        }
    }
}
