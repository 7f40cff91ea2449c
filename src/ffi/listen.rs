//! Where a server listens: any number of listeners, each added by one call
//! before `fastserve_server_start`: TCP addresses or host names, Unix socket
//! paths and abstract names, a descriptor the caller bound, and the sockets
//! systemd passed. TCP addresses get one `SO_REUSEPORT` socket per worker;
//! a Unix socket or an adopted descriptor is shared by the workers.
//!
//! Each call takes flags: `FASTSERVE_LISTEN_PROXY` makes every connection
//! on that listener start with a PROXY protocol header (v1 or v2, from a
//! load balancer), whose client address handlers then see
//! (`fastserve_request_peer`). A connection whose header is missing,
//! malformed, truncated or not complete within the PROXY header timeout
//! (`fastserve_config_set_proxy_header_timeout_ms`) is closed without a
//! response. A v2 `LOCAL` header (a health check) keeps the socket's peer.
//!
//! ```c
//! fastserve_server_listen_tcp(srv, "::", 2, 8080, 0);  // IPv6 and IPv4
//! fastserve_server_listen_unix(srv, "/run/app.sock", 13, 0660, FASTSERVE_LISTEN_PROXY);
//! fastserve_server_listen_systemd(srv, NULL, 0, 0);    // every passed socket
//! ```

use std::ffi::{c_char, c_int};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use super::bytes;
use super::error::{fail, invalid, null_with_len, Quoted};
use super::fastserve_result::{self, *};
use super::server::{fastserve_server, server_mut, server_result};
use crate::server::{ListenOptions, ServerError};

/// Listen flag: connections start with a PROXY protocol header (v1 or v2).
pub const FASTSERVE_LISTEN_PROXY: u32 = 1;
/// Listen flag: an IPv6 address takes IPv6 connections only. Without it
/// `::` takes IPv4 connections too (`IPV6_V6ONLY` off).
pub const FASTSERVE_LISTEN_V6ONLY: u32 = 2;

fn options(flags: u32, mode: Option<u32>) -> Result<ListenOptions, fastserve_result> {
    let known = FASTSERVE_LISTEN_PROXY | FASTSERVE_LISTEN_V6ONLY;
    if flags & !known != 0 {
        return Err(invalid(format_args!("unknown listen flags {flags:#x}")));
    }
    Ok(ListenOptions {
        proxy: flags & FASTSERVE_LISTEN_PROXY != 0,
        v6only: flags & FASTSERVE_LISTEN_V6ONLY != 0,
        mode,
    })
}

/// As `server_result`, with a descriptor or name the caller got wrong as
/// `FASTSERVE_RESULT_INVALID_ARGUMENT`.
fn listen_result(r: Result<(), ServerError>, what: &dyn Fn() -> String) -> fastserve_result {
    match r {
        Err(ServerError::Io(e)) if e.kind() == io::ErrorKind::InvalidInput => fail(
            FASTSERVE_RESULT_INVALID_ARGUMENT,
            format_args!("{}: {e}", what()),
        ),
        r => server_result(r, what),
    }
}

/// `fastserve_server_listen` and `_listen_tcp`.
///
/// # Safety
/// As `fastserve_server_listen_tcp`.
pub(crate) unsafe fn listen_tcp(
    srv: *mut fastserve_server,
    host: *const c_char,
    host_len: usize,
    port: u16,
    flags: u32,
) -> fastserve_result {
    // SAFETY: forwarded contract.
    let s = match unsafe { server_mut(srv) } {
        Ok(s) => s,
        Err(e) => return e,
    };
    // SAFETY: readable for `host_len` bytes by contract.
    let Some(h) = (unsafe { bytes(host, host_len) }) else {
        return null_with_len("host", host_len);
    };
    let opts = match options(flags, None) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let Ok(name) = std::str::from_utf8(h) else {
        return invalid(format_args!("host {} is not UTF-8", Quoted(h)));
    };
    if name.is_empty() || name.contains('\0') {
        return invalid(format_args!(
            "host {} is empty or has a NUL byte",
            Quoted(h)
        ));
    }
    let r = s.listen_host(name, port, &opts).map(|_| ());
    let shown = if name.contains(':') && !name.starts_with('[') {
        format!("[{name}]:{port}")
    } else {
        format!("{name}:{port}")
    };
    server_result(r, &|| format!("listen on {shown}"))
}

ffi_fn! {
    /// Adds TCP listeners, as `fastserve_server_listen`, with flags
    /// (`FASTSERVE_LISTEN_PROXY`, `FASTSERVE_LISTEN_V6ONLY`).
    ///
    /// # Safety
    /// `srv` is a server from `fastserve_server_new` that was not freed;
    /// `host` is readable for `host_len` bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_listen_tcp(
        srv: *mut fastserve_server,
        host: *const c_char,
        host_len: usize,
        port: u16,
        flags: u32,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        unsafe { listen_tcp(srv, host, host_len, port, flags) }
    }
}

ffi_fn! {
    /// Adds a Unix domain socket listener. `path` (`path_len` bytes, not
    /// NUL-terminated) is a file path, or, starting with `@`, a Linux
    /// abstract name (`@app`; no file, `mode` unused). `mode`
    /// sets the file's permission bits (e.g. `0660`), before any client
    /// can connect; 0 keeps what the umask gives.
    ///
    /// A socket file left by a process that is gone (connecting to it is
    /// refused) is replaced; if a process still listens on it, or the path
    /// is not a socket, the call fails with `FASTSERVE_RESULT_IO`. The file
    /// is removed by `fastserve_server_free` unless another socket replaced
    /// it meanwhile. Clients of a Unix socket have a Unix peer
    /// (`fastserve_request_peer` gives `AF_UNIX`).
    ///
    /// # Safety
    /// `srv` is a server from `fastserve_server_new` that was not freed;
    /// `path` is readable for `path_len` bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_listen_unix(
        srv: *mut fastserve_server,
        path: *const c_char,
        path_len: usize,
        mode: u32,
        flags: u32,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let s = match unsafe { server_mut(srv) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        // SAFETY: readable for `path_len` bytes by contract.
        let Some(p) = (unsafe { bytes(path, path_len) }) else {
            return null_with_len("path", path_len);
        };
        if mode > 0o7777 {
            return invalid(format_args!("mode {mode:#o} is not a permission mode"));
        }
        let opts = match options(flags, (mode != 0).then_some(mode)) {
            Ok(o) => o,
            Err(e) => return e,
        };
        listen_result(s.listen_unix(p, &opts), &|| format!("listen on {}", Quoted(p)))
    }
}

ffi_fn! {
    /// Adopts a listening socket the caller created, bound and put in
    /// listening state: TCP (IPv4 or IPv6) or a Unix stream socket. It is
    /// made non-blocking and close-on-exec, and shared by the workers.
    ///
    /// Ownership: the server takes `fd` in every case. It is closed by
    /// `fastserve_server_free`, or before this call returns when the call
    /// fails (a NULL `srv`, unknown flags, a descriptor that is not a
    /// listening stream socket: `FASTSERVE_RESULT_INVALID_ARGUMENT`). A
    /// negative `fd` is refused with nothing to close. To keep a copy, pass
    /// `dup(fd)`.
    ///
    /// # Safety
    /// `srv` is NULL or a server from `fastserve_server_new` that was not
    /// freed; `fd` is negative or an open descriptor that nothing else
    /// closes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC (`fd` is then
    /// closed, or was adopted).
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_listen_fd(
        srv: *mut fastserve_server,
        fd: c_int,
        flags: u32,
    ) -> fastserve_result {
        if fd < 0 {
            return invalid(format_args!("descriptor {fd} is negative"));
        }
        // SAFETY: an open descriptor handed over by contract; from here the
        // `OwnedFd` alone closes it.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: forwarded contract.
        let s = match unsafe { server_mut(srv) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        let opts = match options(flags, None) {
            Ok(o) => o,
            Err(e) => return e,
        };
        listen_result(s.listen_fd(owned, &opts), &|| format!("adopt descriptor {fd}"))
    }
}

ffi_fn! {
    /// Adopts the sockets systemd passed by socket activation
    /// (`LISTEN_PID`, `LISTEN_FDS`, descriptors from 3): all of them when
    /// `name` is NULL, else those whose `LISTEN_FDNAMES` entry (the unit's
    /// `FileDescriptorName=`) is `name` (`name_len` bytes). Each is adopted
    /// as by `fastserve_server_listen_fd`, with `flags`.
    ///
    /// The inherited descriptors stay open and the environment unchanged;
    /// they are marked close-on-exec and the server listens on duplicates,
    /// so several calls (a name each) or servers may adopt them. Fails with
    /// `FASTSERVE_RESULT_INVALID_ARGUMENT` when the variables are missing,
    /// meant for another process, or name no such socket.
    ///
    /// ```ini
    /// # app.socket                        # app.service: ExecStart=/usr/bin/app
    /// [Socket]
    /// ListenStream=8080
    /// FileDescriptorName=http
    /// ```
    ///
    /// # Safety
    /// `srv` is a server from `fastserve_server_new` that was not freed;
    /// `name` is NULL or readable for `name_len` bytes. No other thread
    /// changes the environment during the call.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_listen_systemd(
        srv: *mut fastserve_server,
        name: *const c_char,
        name_len: usize,
        flags: u32,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let s = match unsafe { server_mut(srv) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        let want = if name.is_null() {
            None
        } else {
            // SAFETY: non-NULL, readable for `name_len` bytes by contract.
            let n = unsafe { bytes(name, name_len) }.unwrap_or_default();
            match std::str::from_utf8(n) {
                Ok(n) => Some(n),
                Err(_) => return invalid(format_args!("name {} is not UTF-8", Quoted(n))),
            }
        };
        let opts = match options(flags, None) {
            Ok(o) => o,
            Err(e) => return e,
        };
        let r = s.listen_systemd(want, &opts).map(|_| ());
        listen_result(r, &|| "systemd socket activation".into())
    }
}
