//! Batch routes hand every request for them that a worker read in one
//! pass of its event loop to one call, laid out flat in one block of
//! memory, and take the replies back as columns: cheap to cross into any
//! language. The sans-I/O connection (see "Sans-I/O connection") hands out its
//! requests in the same layout.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use super::error::{fail, invalid, null, null_with_len};
use super::fastserve_result::{self, *};
use super::server::{fastserve_server, route_args, route_flags, server_mut, server_result};
use crate::proto::flat::{self, Columns, FlatHeader, FlatRecord, ReplyError};
use crate::server::{Batch, BatchHandler, CompleteError};

/// One request of a batch: 64 bytes, fixed layout. Every `*_off` is a byte
/// offset into the batch's data area (the `data` argument of the batch
/// handler, or `fastserve_conn_batch.data`); strings are not NUL-terminated.
///
/// - method: `data + method_off`, `method_len` bytes;
/// - target (path, then `?` and the query when `flags & FASTSERVE_BATCH_QUERY`):
///   `data + target_off`, `target_len` bytes; the path is its first
///   `path_len` bytes, the query starts at `target_off + path_len + 1`.
///   An absolute-form target (`http://host/p?q`) appears as its path and
///   query (`/p?q`, `/` for an empty path); its authority is the value of
///   the request's `Host` field;
/// - header fields: `header_count` `fastserve_batch_header`s at
///   `data + headers_off` (4-byte aligned);
/// - body (Content-Length or decoded chunked): `data + body_off`, `body_len` bytes;
/// - peer: the client's IP address as text (`"192.0.2.7"`, `"2001:db8::1"`)
///   at `data + peer_off`, `peer_len` bytes, and `peer_port`; with
///   `FASTSERVE_BATCH_PEER_UNIX`, a Unix socket's path (empty when unnamed)
///   and port 0. `peer_len` 0 and no flag: the peer is unknown (a
///   `fastserve_conn` without `fastserve_conn_set_peer`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct fastserve_batch_request {
    /// The `tag` of the batch route that matched (0 for `fastserve_conn_*`).
    pub tag: u32,
    /// `FASTSERVE_BATCH_*` bits.
    pub flags: u32,
    /// The request's id: what `fastserve_server_complete` or
    /// `fastserve_conn_respond` take to answer it.
    pub id: u64,
    pub method_off: u32,
    pub method_len: u32,
    pub target_off: u32,
    pub target_len: u32,
    pub path_len: u32,
    pub header_count: u32,
    pub headers_off: u32,
    pub body_off: u32,
    pub body_len: u32,
    /// A number identifying the connection among the worker's open ones
    /// (0 from `fastserve_conn_*`).
    pub conn: u32,
    pub peer_off: u32,
    pub peer_len: u16,
    pub peer_port: u16,
}

/// One header field of a batch request; offsets into the data area.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct fastserve_batch_header {
    pub name_off: u32,
    pub name_len: u32,
    pub value_off: u32,
    pub value_len: u32,
}

const _: () =
    assert!(std::mem::size_of::<fastserve_batch_request>() == std::mem::size_of::<FlatRecord>());
const _: () =
    assert!(std::mem::align_of::<fastserve_batch_request>() == std::mem::align_of::<FlatRecord>());
const _: () = assert!(
    std::mem::offset_of!(fastserve_batch_request, id) == std::mem::offset_of!(FlatRecord, id)
);
const _: () = assert!(
    std::mem::offset_of!(fastserve_batch_request, conn) == std::mem::offset_of!(FlatRecord, conn)
        && std::mem::offset_of!(fastserve_batch_request, peer_off)
            == std::mem::offset_of!(FlatRecord, peer_off)
        && std::mem::offset_of!(fastserve_batch_request, peer_port)
            == std::mem::offset_of!(FlatRecord, peer_port)
);
const _: () =
    assert!(std::mem::size_of::<fastserve_batch_header>() == std::mem::size_of::<FlatHeader>());

/// The request was HEAD: the response's body is not sent.
pub const FASTSERVE_BATCH_HEAD: u32 = 1;
const _: () = assert!(FASTSERVE_BATCH_HEAD == flat::FLAG_HEAD);
/// HTTP/1.1 (otherwise HTTP/1.0).
pub const FASTSERVE_BATCH_HTTP11: u32 = 2;
const _: () = assert!(FASTSERVE_BATCH_HTTP11 == flat::FLAG_HTTP11);
/// The target has a query (after `?`).
pub const FASTSERVE_BATCH_QUERY: u32 = 4;
const _: () = assert!(FASTSERVE_BATCH_QUERY == flat::FLAG_QUERY);
/// The peer is a Unix socket (`peer_off`/`peer_len` give its path).
pub const FASTSERVE_BATCH_PEER_UNIX: u32 = 8;
const _: () = assert!(FASTSERVE_BATCH_PEER_UNIX == flat::FLAG_PEER_UNIX);
/// The body was not read (a route with FASTSERVE_BODY_STREAM): take the
/// request with `fastserve_server_response` and read it with
/// `fastserve_response_read_body`.
pub const FASTSERVE_BATCH_BODY_FOLLOWS: u32 = 16;
const _: () = assert!(FASTSERVE_BATCH_BODY_FOLLOWS == flat::FLAG_BODY_FOLLOWS);

/// Content type codes, in the high 16 bits of a reply's status word. NONE
/// adds no Content-Type (put one in the reply's header lines).
pub const FASTSERVE_CT_NONE: u32 = 0;
const _: () = assert!(FASTSERVE_CT_NONE == flat::CT_NONE);
/// `text/plain; charset=utf-8`
pub const FASTSERVE_CT_TEXT: u32 = 1;
const _: () = assert!(FASTSERVE_CT_TEXT == flat::CT_TEXT);
/// `application/json`
pub const FASTSERVE_CT_JSON: u32 = 2;
const _: () = assert!(FASTSERVE_CT_JSON == flat::CT_JSON);
/// `text/html; charset=utf-8`
pub const FASTSERVE_CT_HTML: u32 = 3;
const _: () = assert!(FASTSERVE_CT_HTML == flat::CT_HTML);
/// `application/octet-stream`
pub const FASTSERVE_CT_OCTET: u32 = 4;
const _: () = assert!(FASTSERVE_CT_OCTET == flat::CT_OCTET);

/// A batch handed to a batch handler; valid until the handler returns, on
/// the handler's thread.
pub struct fastserve_batch {
    _opaque: [u8; 0],
}

/// A batch handler: gets every request for the server's batch routes that one
/// worker read in one pass of its event loop, `count >= 1` of them, in the
/// array `reqs`, with their bytes in `data` (`data_len` bytes), which
/// directly follows the array: `data == (const char *)(reqs + count)`, so
/// one copy of `count * 64 + data_len` bytes from `reqs` takes both. `reqs`,
/// `data` and `batch` are valid until it returns: copy what is needed later.
///
/// It answers with `fastserve_batch_respond`, in request order; a reply with
/// status 0 defers that request, to be answered later through
/// `fastserve_server_complete` with its `id` (from any thread, once that
/// `fastserve_batch_respond` call has returned). Requests it leaves without a
/// reply get a 500. Runs on a worker thread; with several workers, calls may
/// run concurrently.
pub type fastserve_batch_fn = Option<
    unsafe extern "C" fn(
        batch: *mut fastserve_batch,
        reqs: *const fastserve_batch_request,
        count: usize,
        data: *const c_char,
        data_len: usize,
        userdata: *mut c_void,
    ),
>;

struct CBatch {
    f: unsafe extern "C" fn(
        *mut fastserve_batch,
        *const fastserve_batch_request,
        usize,
        *const c_char,
        usize,
        *mut c_void,
    ),
    userdata: *mut c_void,
}

// SAFETY: the C API documents that the batch handler runs on worker threads,
// possibly concurrently, and that `userdata` must allow that.
unsafe impl Send for CBatch {}
// SAFETY: as above.
unsafe impl Sync for CBatch {}

impl BatchHandler for CBatch {
    fn call(&self, batch: &mut Batch<'_>) {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let p = flat::pack(batch.records(), batch.data(), &mut s);
            let (recs, count, data, data_len) = (
                p.records.as_ptr(),
                p.records.len(),
                p.data.as_ptr(),
                p.data.len(),
            );
            let b = batch as *mut Batch<'_> as *mut fastserve_batch;
            // SAFETY: `recs` holds `count` records (the C layout equals
            // `FlatRecord`'s, asserted above) followed by `data_len` bytes at
            // `data`; they and `b` live until the call returns, which is what
            // the C API promises.
            unsafe { (self.f)(b, recs.cast(), count, data.cast(), data_len, self.userdata) }
        })
    }
}

thread_local! {
    /// Per worker thread: the batch as one block, records then data.
    static SCRATCH: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

ffi_fn! {
    /// Adds a batch route: requests for it are collected and handed to the
    /// batch handler (`fastserve_server_set_batch_handler`) together, tagged
    /// with `tag`. `method`, `path` and `flags` as in
    /// `fastserve_server_route`. A batch request carries its tag, not the
    /// parameters: the host extracts them from the path with the route's
    /// pattern (the engine chose the route; the Python package does this).
    ///
    /// # Safety
    /// `srv` is a server from `fastserve_server_new` that was not freed;
    /// `method` is NULL or readable for `method_len` bytes; `path` is
    /// readable for `path_len` bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_route_batch(
        srv: *mut fastserve_server,
        method: *const c_char,
        method_len: usize,
        path: *const c_char,
        path_len: usize,
        flags: u32,
        tag: u32,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let s = match unsafe { server_mut(srv) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        // SAFETY: readable for their lengths by contract.
        let (method, path) = match unsafe { route_args(method, method_len, path, path_len) } {
            Ok(a) => a,
            Err(e) => return e,
        };
        let prefix = match route_flags(flags) {
            Ok(p) => p,
            Err(e) => return e,
        };
        server_result(s.route_batch(method, path, prefix, tag), &|| "route".into())
    }
}

ffi_fn! {
    /// Sets the handler of all batch routes; without one they answer 500.
    /// `handler` is called with `userdata` on worker threads, possibly
    /// concurrently, until `fastserve_server_free` returns.
    ///
    /// # Safety
    /// `srv` is a server from `fastserve_server_new` that was not freed;
    /// `userdata` is usable from any thread.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_set_batch_handler(
        srv: *mut fastserve_server,
        handler: fastserve_batch_fn,
        userdata: *mut c_void,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let s = match unsafe { server_mut(srv) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        let Some(f) = handler else {
            return null("handler");
        };
        server_result(
            s.set_batch_handler(Arc::new(CBatch { f, userdata })),
            &|| "batch handler".into(),
        )
    }
}

/// The reply columns of the C calls, checked.
///
/// # Safety
/// Each pointer is NULL or readable for `count` elements (`data`: `data_len`
/// bytes).
pub(crate) unsafe fn columns<'a>(
    status: *const u32,
    header_lens: *const u32,
    body_lens: *const u32,
    count: usize,
    data: *const c_char,
    data_len: usize,
) -> Result<Columns<'a>, fastserve_result> {
    // SAFETY: each column is NULL or readable for `count` elements by contract.
    let column = |p: *const u32, name| {
        unsafe { super::slice(p, count) }.ok_or_else(|| null_with_len(name, count))
    };
    let status = column(status, "status")?;
    // NULL header lengths: no reply has header lines
    let header_lens = if header_lens.is_null() {
        &[][..]
    } else {
        column(header_lens, "header_lens")?
    };
    // NULL body lengths (and header lengths): NUL-separated bodies
    let nul_separated = body_lens.is_null() && header_lens.is_empty();
    let body_lens = if nul_separated {
        &[][..]
    } else {
        column(body_lens, "body_lens")?
    };
    // SAFETY: readable for `data_len` bytes by contract.
    let Some(data) = (unsafe { super::bytes(data, data_len) }) else {
        return Err(null_with_len("data", data_len));
    };
    let c = Columns {
        status,
        header_lens,
        body_lens,
        data,
    };
    if c.check().is_err() {
        return Err(if nul_separated {
            let seps = data.iter().filter(|&&b| b == 0).count();
            invalid(format_args!(
                "data holds {seps} NUL separators for {count} replies; it needs count - 1"
            ))
        } else {
            let sum = |l: &[u32]| l.iter().map(|&x| x as u128).sum::<u128>();
            invalid(format_args!(
                "the header and body lengths add up to {} bytes, but data_len is {data_len}",
                sum(header_lens) + sum(body_lens)
            ))
        });
    }
    Ok(c)
}

fn reply_result(r: Result<(), ReplyError>) -> fastserve_result {
    match r {
        Ok(()) => FASTSERVE_RESULT_OK,
        Err(ReplyError::TooMany) => invalid("more replies than requests waiting for one"),
        Err(ReplyError::Shape) => invalid("the reply columns do not add up"),
    }
}

/// The batch of the running handler call.
///
/// # Safety
/// `batch` is NULL or the batch of the batch handler call running on this
/// thread.
unsafe fn batch_mut<'a, 'b>(
    batch: *mut fastserve_batch,
) -> Result<&'a mut Batch<'b>, fastserve_result> {
    // SAFETY: by contract.
    unsafe { batch.cast::<Batch<'b>>().as_mut() }.ok_or_else(|| null("batch"))
}

ffi_fn! {
    /// Answers the next `count` requests of the batch, in order. Replies are
    /// columns, so that they are cheap to build in any language:
    /// - `status[i]`: status code (200..999) in the low 16 bits, a
    ///   `FASTSERVE_CT_*` content type code in the high 16 bits; a status of 0
    ///   defers the request (answer it later with `fastserve_server_complete`);
    /// - `header_lens[i]`: byte length of reply `i`'s extra header lines; pass
    ///   NULL when no reply has any;
    /// - `body_lens[i]`: byte length of reply `i`'s body;
    /// - `data`: reply 0's header lines, reply 0's body, reply 1's header lines, ...
    ///
    /// When both `header_lens` and `body_lens` are NULL, `data` holds the
    /// bodies separated by single NUL bytes (`count - 1` of them): text replies
    /// joined in one step, with no lengths to compute.
    ///
    /// Header lines are complete `Name: value\r\n` lines; `Date`,
    /// `Content-Length`, `Server` and `Connection` are added by the engine (and
    /// refused here). A reply with a bad status, content type or header line,
    /// or a body for a 204 or 304, is answered 500. Everything is copied: the arrays may be freed at once. May
    /// be called several times per batch; each call continues where the last
    /// stopped. Returns `FASTSERVE_RESULT_INVALID_ARGUMENT` (and answers
    /// nothing) when the lengths do not add up or there are more replies than
    /// requests.
    ///
    /// # Safety
    /// `batch` is the batch of the batch handler call running on this
    /// thread; `status`, `body_lens` and (unless NULL) `header_lens` are
    /// readable for `count` elements, `data` for `data_len` bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_batch_respond(
        batch: *mut fastserve_batch,
        status: *const u32,
        header_lens: *const u32,
        body_lens: *const u32,
        count: usize,
        data: *const c_char,
        data_len: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let b = match unsafe { batch_mut(batch) } {
            Ok(b) => b,
            Err(e) => return e,
        };
        // SAFETY: readable for the given counts by contract.
        match unsafe { columns(status, header_lens, body_lens, count, data, data_len) } {
            Ok(c) => reply_result(b.respond(c)),
            Err(e) => e,
        }
    }
}

ffi_fn! {
    /// Answers the next `count` requests of the batch with the same status
    /// word (status | `FASTSERVE_CT_*` << 16) and the bodies in `data`,
    /// separated by single NUL bytes (`count - 1` of them). The common case
    /// of handlers that return text, in one call with nothing to measure.
    /// Copied; returns `FASTSERVE_RESULT_INVALID_ARGUMENT` (and answers
    /// nothing) when the count of separators is wrong or there are more
    /// replies than requests.
    ///
    /// # Safety
    /// `batch` is the batch of the batch handler call running on this
    /// thread; `data` is readable for `data_len` bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_batch_respond_text(
        batch: *mut fastserve_batch,
        status: u32,
        count: usize,
        data: *const c_char,
        data_len: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let b = match unsafe { batch_mut(batch) } {
            Ok(b) => b,
            Err(e) => return e,
        };
        // SAFETY: readable for `data_len` bytes by contract.
        let Some(d) = (unsafe { super::bytes(data, data_len) }) else {
            return null_with_len("data", data_len);
        };
        match b.respond_text(status, count, d) {
            Err(ReplyError::Shape) => {
                let seps = d.iter().filter(|&&b| b == 0).count();
                invalid(format_args!(
                    "data holds {seps} NUL separators for {count} replies; it needs count - 1"
                ))
            }
            r => reply_result(r),
        }
    }
}

ffi_fn! {
    /// Answers the next `count` requests of the batch with the same status
    /// word (status | `FASTSERVE_CT_*` << 16) and the same body, `body_len`
    /// bytes at `body` (any bytes, NUL included): handlers that all gave one
    /// answer, with nothing to join. Copied; returns
    /// `FASTSERVE_RESULT_INVALID_ARGUMENT` (and answers nothing) when there
    /// are more replies than requests.
    ///
    /// # Safety
    /// `batch` is the batch of the batch handler call running on this
    /// thread; `body` is readable for `body_len` bytes (NULL when 0).
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_batch_respond_same(
        batch: *mut fastserve_batch,
        status: u32,
        count: usize,
        body: *const c_char,
        body_len: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let b = match unsafe { batch_mut(batch) } {
            Ok(b) => b,
            Err(e) => return e,
        };
        // SAFETY: readable for `body_len` bytes by contract.
        let Some(body) = (unsafe { super::bytes(body, body_len) }) else {
            return null_with_len("body", body_len);
        };
        reply_result(b.respond_same(status, count, body))
    }
}

ffi_fn! {
    /// Answers deferred batch requests (those given status 0) by id, from
    /// any thread, at any time while the server runs. `ids` holds `count`
    /// ids; the other arguments are the columns of `fastserve_batch_respond`
    /// (status 0 is not allowed here: it answers 500). Everything is copied.
    /// Each reply goes to its worker, which sends it in request order.
    /// `*unknown` (if not NULL) receives the number of ids that were not
    /// pending (answered already, or never issued); their replies are
    /// dropped.
    ///
    /// # Safety
    /// `srv` is a server from `fastserve_server_new` that was not freed;
    /// `ids`, `status`, `body_lens` and (unless NULL) `header_lens` are
    /// readable for `count` elements, `data` for `data_len` bytes;
    /// `unknown` is NULL or writable.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_complete(
        srv: *const fastserve_server,
        ids: *const u64,
        status: *const u32,
        header_lens: *const u32,
        body_lens: *const u32,
        count: usize,
        data: *const c_char,
        data_len: usize,
        unknown: *mut usize,
    ) -> fastserve_result {
        // SAFETY: a non-NULL `srv` is a live server by contract.
        let Some(s) = (unsafe { srv.as_ref() }) else {
            return null("srv");
        };
        // SAFETY: readable for the given counts by contract.
        let c = match unsafe { columns(status, header_lens, body_lens, count, data, data_len) } {
            Ok(c) => c,
            Err(e) => return e,
        };
        // SAFETY: readable for `count` ids by contract.
        let Some(ids) = (unsafe { super::slice(ids, count) }) else {
            return null_with_len("ids", count);
        };
        match s.inner.complete(ids, c) {
            Ok(n) => {
                // SAFETY: `unknown` is NULL or writable by contract.
                if let Some(u) = unsafe { unknown.as_mut() } {
                    *u = n;
                }
                FASTSERVE_RESULT_OK
            }
            Err(CompleteError::NotStarted) => {
                fail(FASTSERVE_RESULT_NOT_STARTED, "the server has not started")
            }
            Err(CompleteError::Reply(e)) => reply_result(Err(e)),
        }
    }
}

ffi_fn! {
    /// Takes a batch request that was deferred (status 0) as a deferred
    /// response handle: fill and send it, stream it, switch protocols, or
    /// read its streamed body, like a deferred handler's response, from any
    /// thread. Its id is then no longer known to `fastserve_server_complete`.
    /// Returns NULL, and sets `fastserve_last_error`, for an unknown id
    /// (answered already, or its worker is gone) or a server not running.
    ///
    /// # Safety
    /// `srv` is a server from `fastserve_server_new` that was not freed.
    ///
    /// On an internal panic: returns NULL.
    #[on_panic(std::ptr::null_mut())]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_response(
        srv: *const fastserve_server,
        id: u64,
    ) -> *mut super::request::fastserve_response {
        // SAFETY: a non-NULL `srv` is a live server by contract.
        let Some(s) = (unsafe { srv.as_ref() }) else {
            null("srv");
            return std::ptr::null_mut();
        };
        match s.inner.response(id) {
            Some(b) => Box::into_raw(b).cast(),
            None => {
                super::error::note(format_args!("no deferred batch request has id {id}"));
                std::ptr::null_mut()
            }
        }
    }
}

ffi_fn! {
    /// Sets a response's status and header fields the way a batch reply
    /// gives them: `status` is a status word (the status, with a
    /// `FASTSERVE_CT_*` code in the high 16 bits; a status of 0 leaves it
    /// as it is) and `headers` complete `Name: value\r\n` lines. For
    /// answering a request taken with `fastserve_server_response` from a
    /// host that already holds its reply in that form.
    ///
    /// # Safety
    /// `res` is the response of the handler call running on this thread, or
    /// a deferred handle not yet sent, used by one thread at a time;
    /// `headers` is NULL (with length 0) or readable for `headers_len` bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_response_head(
        res: *mut super::request::fastserve_response,
        status: u32,
        headers: *const c_char,
        headers_len: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let r = match unsafe { super::request::res(res) } {
            Ok(r) => r,
            Err(e) => return e,
        };
        // SAFETY: readable for its length by contract.
        let Some(h) = (unsafe { super::bytes(headers, headers_len) }) else {
            return null_with_len("headers", headers_len);
        };
        let code = (status & 0xffff) as u16;
        let reply = flat::Reply {
            status: code,
            content_type: status >> 16,
            headers: h,
            body: b"",
        };
        let mut lines = Vec::new();
        if !flat::reply_headers(&mut lines, &reply) {
            return if h.is_empty() || flat::valid_header_lines(h) {
                invalid(format_args!("unknown content type code {}", status >> 16))
            } else {
                invalid(super::error::header_lines_problem(h))
            };
        }
        if code != 0 {
            let out = super::request::build_result(r.status(code), || {
                format!("status {code} is outside 200..=999")
            });
            if out != FASTSERVE_RESULT_OK {
                return out;
            }
        }
        super::request::build_result(r.header_lines(&lines), String::new)
    }
}

/// Told of deferred batch requests (status 0) whose answer nobody waits for
/// any more: `ids[0..count]`, valid during the call. Called on a worker
/// thread, possibly concurrently from several.
pub type fastserve_batch_cancel_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, ids: *const u64, count: usize)>;

struct CCancel {
    f: unsafe extern "C" fn(*mut c_void, *const u64, usize),
    userdata: *mut c_void,
}

// SAFETY: the C API documents that the callback runs on worker threads and
// that `userdata` must be usable from them.
unsafe impl Send for CCancel {}
// SAFETY: as above; workers may call it concurrently.
unsafe impl Sync for CCancel {}

impl CCancel {
    fn call(&self, ids: &[u64]) {
        // SAFETY: the caller gave this callback and pointer; `ids` lives for
        // the call.
        unsafe { (self.f)(self.userdata, ids.as_ptr(), ids.len()) }
    }
}

ffi_fn! {
    /// Sets who is told when deferred batch requests lose their reader: the
    /// request timeout answered them 503, or their client left. Stop their
    /// work; answering them later (`fastserve_server_complete`) is a harmless
    /// no-op, counted as unknown. `cancel` is called with `userdata` on
    /// worker threads until `fastserve_server_free` returns.
    ///
    /// # Safety
    /// `srv` is a server from `fastserve_server_new` that was not freed;
    /// `userdata` is usable from any thread.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_server_set_batch_cancel(
        srv: *mut fastserve_server,
        cancel: fastserve_batch_cancel_fn,
        userdata: *mut c_void,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let s = match unsafe { server_mut(srv) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        let Some(f) = cancel else {
            return null("cancel");
        };
        let c = CCancel { f, userdata };
        let hook: crate::server::BatchCancel = Arc::new(move |ids: &[u64]| c.call(ids));
        server_result(s.set_batch_cancel(hook), &|| "batch cancel".into())
    }
}
