//! Streamed responses and protocol switches on a sans-I/O connection. The
//! program bounds what a stream queues itself, with
//! `fastserve_conn_unsent`; request bodies always arrive whole here.

use std::ffi::c_char;

use super::bytes;
use super::conn::{conn_mut, fastserve_conn};
use super::error::{header_lines_problem, invalid, null_with_len};
use super::fastserve_result::{self, *};
use crate::proto::flat;
use crate::proto::{Body, StreamError};

fn stream_result(r: Result<(), StreamError>) -> fastserve_result {
    match r {
        Ok(()) => FASTSERVE_RESULT_OK,
        Err(e) => invalid(e),
    }
}

/// `headers` as checked header lines.
///
/// # Safety
/// NULL with length 0, or readable for `len` bytes.
unsafe fn lines<'a>(headers: *const c_char, len: usize) -> Result<&'a [u8], fastserve_result> {
    // SAFETY: forwarded contract.
    let h = unsafe { bytes(headers, len) }.ok_or_else(|| null_with_len("headers", len))?;
    if !flat::valid_header_lines(h) {
        return Err(invalid(header_lines_problem(h)));
    }
    Ok(h)
}

ffi_fn! {
    /// Answers request `id` with a streamed response: the status and
    /// `headers` (as for `fastserve_conn_respond`) now, the body with
    /// `fastserve_conn_stream_write`, then `fastserve_conn_stream_end`.
    /// `length` is the body's length (sent as `Content-Length`), or -1:
    /// chunked for HTTP/1.1, ended by the connection's close for HTTP/1.0.
    /// Responses to later requests wait for the end. An id that is not
    /// waiting, a bad status or bad header lines return
    /// `FASTSERVE_RESULT_INVALID_ARGUMENT` and change nothing.
    ///
    /// # Safety
    /// `c` is a connection from `fastserve_conn_new` that was not freed;
    /// `headers` is NULL (with length 0) or readable for `headers_len` bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_stream_start(
        c: *mut fastserve_conn,
        id: u64,
        status: u16,
        headers: *const c_char,
        headers_len: usize,
        length: i64,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let c = match unsafe { conn_mut(c) } {
            Ok(c) => c,
            Err(e) => return e,
        };
        // SAFETY: forwarded contract.
        let h = match unsafe { lines(headers, headers_len) } {
            Ok(h) => h,
            Err(e) => return e,
        };
        if !crate::proto::valid_status(status) || length < -1 {
            return invalid(format_args!(
                "status {status} must be within 200..=999 and length {length} at least -1"
            ));
        }
        let Some(ticket) = c.take_ticket(id) else {
            return invalid(format_args!("request {id} is not waiting for an answer"));
        };
        let len = usize::try_from(length).ok();
        let (conn, mut ctx) = c.core();
        conn.stream_start(ticket, status, h, len, &mut ctx);
        c.streams.push((id, ticket.seq));
        FASTSERVE_RESULT_OK
    }
}

ffi_fn! {
    /// Appends a copy of `data` to the body of streamed response `id`.
    /// Nothing bounds what is queued but the program: watch
    /// `fastserve_conn_unsent`. `FASTSERVE_RESULT_INVALID_ARGUMENT` for an id
    /// not streaming, past the announced length, or for a 204 or 304.
    ///
    /// # Safety
    /// `c` is a connection from `fastserve_conn_new` that was not freed;
    /// `data` is NULL (with `len == 0`) or readable for `len` bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_stream_write(
        c: *mut fastserve_conn,
        id: u64,
        data: *const c_char,
        len: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let c = match unsafe { conn_mut(c) } {
            Ok(c) => c,
            Err(e) => return e,
        };
        // SAFETY: forwarded contract.
        let Some(d) = (unsafe { bytes(data, len) }) else {
            return null_with_len("data", len);
        };
        let Some(&(_, seq)) = c.streams.iter().find(|s| s.0 == id) else {
            return stream_result(Err(StreamError::Unknown));
        };
        let (conn, mut ctx) = c.core();
        stream_result(conn.stream_write(seq, Body::Copy(d), &mut ctx))
    }
}

ffi_fn! {
    /// Ends streamed response `id`. `trailers` (complete `Name: value\r\n`
    /// lines, or NULL) follow a chunked body. Fewer bytes than announced
    /// return `FASTSERVE_RESULT_INVALID_ARGUMENT` and close the connection
    /// after what was written, so that the client sees the cut; `abort`
    /// non-zero does so on purpose.
    ///
    /// # Safety
    /// `c` is a connection from `fastserve_conn_new` that was not freed;
    /// `trailers` is NULL (with length 0) or readable for `trailers_len`
    /// bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_stream_end(
        c: *mut fastserve_conn,
        id: u64,
        trailers: *const c_char,
        trailers_len: usize,
        abort: bool,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let c = match unsafe { conn_mut(c) } {
            Ok(c) => c,
            Err(e) => return e,
        };
        // SAFETY: forwarded contract.
        let t = match unsafe { lines(trailers, trailers_len) } {
            Ok(t) => t,
            Err(e) => return e,
        };
        let Some(i) = c.streams.iter().position(|s| s.0 == id) else {
            return stream_result(Err(StreamError::Unknown));
        };
        let (_, seq) = c.streams.swap_remove(i);
        let (conn, mut ctx) = c.core();
        if abort {
            conn.stream_abort(seq, &mut ctx);
            return FASTSERVE_RESULT_OK;
        }
        stream_result(conn.stream_end(seq, t, &mut ctx))
    }
}

ffi_fn! {
    /// Answers request `id` with a protocol switch: `status` 101 (the
    /// library adds `Connection: upgrade`; name the protocol in `headers`,
    /// as `Upgrade: websocket\r\n`) or a 2xx to a `CONNECT`, with no body.
    /// No later request is served. Once `fastserve_conn_upgraded` says so,
    /// write nothing more from the connection: the socket belongs to the new
    /// protocol, starting with the bytes `fastserve_conn_upgrade_rest` gives.
    ///
    /// # Safety
    /// `c` is a connection from `fastserve_conn_new` that was not freed;
    /// `headers` is NULL (with length 0) or readable for `headers_len` bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_upgrade(
        c: *mut fastserve_conn,
        id: u64,
        status: u16,
        headers: *const c_char,
        headers_len: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let c = match unsafe { conn_mut(c) } {
            Ok(c) => c,
            Err(e) => return e,
        };
        // SAFETY: forwarded contract.
        let h = match unsafe { lines(headers, headers_len) } {
            Ok(h) => h,
            Err(e) => return e,
        };
        if status != 101 && !(200..300).contains(&status) {
            return invalid(format_args!(
                "status {status}: a protocol switch answers 101, or 2xx to CONNECT"
            ));
        }
        let Some(ticket) = c.take_ticket(id) else {
            return invalid(format_args!("request {id} is not waiting for an answer"));
        };
        let (conn, mut ctx) = c.core();
        conn.complete_upgrade(ticket, status, h, &mut ctx);
        FASTSERVE_RESULT_OK
    }
}

ffi_fn! {
    /// Whether a protocol switch was accepted and every response before and
    /// including it is written: the socket now belongs to the new protocol.
    ///
    /// # Safety
    /// `c` is NULL or a connection from `fastserve_conn_new` that was not
    /// freed.
    ///
    /// On an internal panic: returns false.
    #[on_panic(false)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_upgraded(c: *const fastserve_conn) -> bool {
        // SAFETY: by contract.
        unsafe { c.as_ref() }.is_some_and(|c| c.conn_ref().upgraded())
    }
}

ffi_fn! {
    /// Copies up to `cap` of the bytes received past the request that
    /// switched protocols (the new protocol's first bytes) to `buf`, and
    /// returns how many there are in all: call it with `cap` 0 for the size.
    ///
    /// # Safety
    /// `c` is NULL or a connection from `fastserve_conn_new` that was not
    /// freed; `buf` is NULL (with `cap == 0`) or writable for `cap` bytes.
    ///
    /// On an internal panic: returns 0.
    #[on_panic(0)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_upgrade_rest(
        c: *const fastserve_conn,
        buf: *mut c_char,
        cap: usize,
    ) -> usize {
        // SAFETY: by contract.
        let Some(c) = (unsafe { c.as_ref() }) else {
            return 0;
        };
        let rest = c.conn_ref().upgrade_rest();
        // SAFETY: writable for `cap` bytes by contract.
        if let Some(out) = unsafe { super::bytes_mut(buf, cap) } {
            let n = out.len().min(rest.len());
            out[..n].copy_from_slice(&rest[..n]);
        }
        rest.len()
    }
}
