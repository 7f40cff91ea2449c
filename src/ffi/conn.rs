//! One HTTP/1.1 server connection without I/O, for programs that run
//! their own event loop (libuv, uvloop, Node, a game loop). The program
//! reads from its socket and feeds the bytes in; it gets the parsed
//! requests back as a batch (the flat layout of the batch routes); it
//! answers them, now or later, in any order; it takes the pending output
//! as iovecs, writes them, and reports how much was written. The loop, for
//! each readable or writable socket:
//!
//! ```c
//! while (fastserve_conn_wants_read(c) && (n = read(fd, buf, sizeof buf)) > 0) {
//!     fastserve_conn_batch b;
//!     fastserve_conn_feed(c, buf, n, &b);        // n == 0: fastserve_conn_feed_eof
//!     for (size_t i = 0; i < b.count; i++)       // now or later, any order:
//!         fastserve_conn_respond(c, b.requests[i].id, 200, hdrs, hlen, body, blen);
//! }
//! fastserve_iovec iov[16];
//! size_t k = fastserve_conn_output(c, iov, 16);
//! ssize_t w = writev(fd, (struct iovec *)iov, k);
//! if (w > 0) fastserve_conn_written(c, w);        // then feed 0 bytes: held-back requests
//! if (fastserve_conn_should_close(c)) close(fd);
//! ```
//!
//! `c-examples/own_loop.c` is a complete epoll server built this way.

use std::collections::VecDeque;
use std::ffi::{c_char, c_void};

use super::batch::{columns, fastserve_batch_request};
use super::bytes;
use super::config::fastserve_config;
use super::error::{header_lines_problem, invalid, null, null_with_len};
use super::fastserve_result::{self, *};
use crate::parse::Header;
use crate::proto::date::DateCache;
use crate::proto::flat::{self, FlatBatch, Reply};
use crate::proto::{self, BufPool, Conn, Ctx, ProtoConfig, Request, Responder, Service, Ticket};

/// A sans-I/O HTTP/1.1 server connection: it parses, frames, orders and
/// renders; the program does every read, write and close. Owned by the
/// caller, from `fastserve_conn_new` to `fastserve_conn_free`. Not
/// thread-safe: use each one from one thread at a time (different
/// connections may be used on different threads).
pub struct fastserve_conn {
    conn: Conn,
    cfg: ProtoConfig,
    pool: BufPool,
    headers: Vec<Header<'static>>,
    date: DateCache,
    flat: FlatBatch,
    /// Tickets of unanswered requests; index 0 has id `base`.
    tickets: VecDeque<Option<Ticket>>,
    base: u64,
    scratch: Vec<u8>,
    /// The last batch as one block: records, then data.
    block: Vec<u64>,
    /// Streamed responses in progress: (request id, sequence number).
    pub(crate) streams: Vec<(u64, u64)>,
}

/// The requests parsed by one `fastserve_conn_feed`: `count` records in
/// `requests` (see `fastserve_batch_request`) and their bytes in `data`,
/// which directly follows the records (`data == (const char *)(requests +
/// count)`).
/// Valid until the next `fastserve_conn_feed`, `fastserve_conn_feed_eof` or
/// `fastserve_conn_free` on the same connection, whatever was answered.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct fastserve_conn_batch {
    pub requests: *const fastserve_batch_request,
    pub count: usize,
    pub data: *const c_char,
    pub data_len: usize,
}

/// One piece of output; the same layout as `struct iovec` from
/// `<sys/uio.h>`, so an array of them can be passed to `writev`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct fastserve_iovec {
    pub base: *const c_void,
    pub len: usize,
}

const _: () = assert!(std::mem::size_of::<fastserve_iovec>() == std::mem::size_of::<libc::iovec>());
const _: () = assert!(
    std::mem::offset_of!(fastserve_iovec, len) == std::mem::offset_of!(libc::iovec, iov_len)
);
const _: () =
    assert!(std::mem::size_of::<std::io::IoSlice<'_>>() == std::mem::size_of::<libc::iovec>());

/// Defers every request and lays it out flat.
struct Collect<'a> {
    flat: &'a mut FlatBatch,
    tickets: &'a mut VecDeque<Option<Ticket>>,
    next_id: u64,
}

impl Service for Collect<'_> {
    fn handle(&mut self, req: &Request<'_>, res: &mut Responder<'_>) {
        if !self.flat.push(0, self.next_id, 0, res.head_only(), req) {
            return res.send(proto::Response::empty(503));
        }
        self.next_id += 1;
        self.tickets.push_back(Some(res.defer()));
    }
}

impl fastserve_conn {
    fn process(&mut self, out: Option<&mut fastserve_conn_batch>) {
        self.date.refresh();
        self.flat.clear();
        let next_id = self.base + self.tickets.len() as u64;
        let mut c = Collect {
            flat: &mut self.flat,
            tickets: &mut self.tickets,
            next_id,
        };
        let mut ctx = Ctx {
            cfg: &self.cfg,
            pool: &mut self.pool,
            date: &self.date.text,
        };
        self.conn.process(&mut c, &mut ctx, &mut self.headers);
        if let Some(out) = out {
            let p = self.flat.pack(&mut self.block);
            *out = fastserve_conn_batch {
                requests: p.records.as_ptr().cast(),
                count: p.records.len(),
                data: p.data.as_ptr().cast(),
                data_len: p.data.len(),
            };
        }
    }

    /// Takes the ticket of request `id`, if it is waiting for an answer.
    pub(crate) fn take_ticket(&mut self, id: u64) -> Option<Ticket> {
        let i = id.checked_sub(self.base)?;
        let ticket = self.tickets.get_mut(i as usize).and_then(Option::take)?;
        while let Some(None) = self.tickets.front() {
            self.tickets.pop_front();
            self.base += 1;
        }
        Some(ticket)
    }

    pub(crate) fn conn_ref(&self) -> &Conn {
        &self.conn
    }

    /// The connection core, and what it borrows for one call.
    pub(crate) fn core(&mut self) -> (&mut Conn, Ctx<'_>) {
        self.date.refresh();
        let ctx = Ctx {
            cfg: &self.cfg,
            pool: &mut self.pool,
            date: &self.date.text,
        };
        (&mut self.conn, ctx)
    }

    /// Answers request `id`. False if it is not waiting for an answer.
    fn answer(&mut self, id: u64, r: &Reply<'_>) -> bool {
        let Some(ticket) = self.take_ticket(id) else {
            return false;
        };
        self.date.refresh();
        let resp = r.to_response(&mut self.scratch);
        self.conn.complete(
            ticket,
            resp,
            &mut Ctx {
                cfg: &self.cfg,
                pool: &mut self.pool,
                date: &self.date.text,
            },
        );
        true
    }
}

/// The connection behind `c`.
///
/// # Safety
/// `c` is NULL or a live connection, used by this thread alone.
pub(crate) unsafe fn conn_mut<'a>(
    c: *mut fastserve_conn,
) -> Result<&'a mut fastserve_conn, fastserve_result> {
    // SAFETY: by contract.
    unsafe { c.as_mut() }.ok_or_else(|| null("c"))
}

ffi_fn! {
    /// Creates a connection with the limits and `Server` name of `cfg`
    /// (copied; NULL means the defaults). The caller owns it: free it with
    /// `fastserve_conn_free`.
    ///
    /// # Safety
    /// `cfg` is NULL or a configuration from `fastserve_config_new` that was
    /// not freed.
    ///
    /// On an internal panic: returns NULL.
    #[on_panic(std::ptr::null_mut())]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_new(
        cfg: *const fastserve_config,
    ) -> *mut fastserve_conn {
        // SAFETY: a non-NULL `cfg` is a live configuration by contract.
        let cfg = match unsafe { cfg.as_ref() } {
            Some(c) => c.inner.clone(),
            None => crate::server::ServerConfig::default(),
        };
        let max_headers = cfg.proto.limits.max_headers;
        Box::into_raw(Box::new(fastserve_conn {
            conn: Conn::new(),
            cfg: cfg.proto,
            pool: BufPool::new(cfg.buffer_size, 2),
            headers: vec![Header::EMPTY; max_headers],
            date: DateCache::default(),
            flat: FlatBatch::default(),
            tickets: VecDeque::new(),
            base: 0,
            scratch: Vec::new(),
            block: Vec::new(),
            streams: Vec::new(),
        }))
    }
}

ffi_fn! {
    /// Frees a connection and every buffer it holds; batches and output it
    /// handed out become invalid. NULL does nothing.
    ///
    /// # Safety
    /// `c` is NULL or a connection from `fastserve_conn_new` that was not
    /// freed; it must not be used afterwards.
    ///
    /// On an internal panic: returns, and the connection may leak.
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_free(c: *mut fastserve_conn) {
        if !c.is_null() {
            // SAFETY: by contract from `Box::into_raw` in
            // `fastserve_conn_new`, and freed once.
            drop(unsafe { Box::from_raw(c) });
        }
    }
}

ffi_fn! {
    /// Sets the peer's address, which every request read from now on
    /// carries (`peer_*` of `fastserve_batch_request`): what `accept(2)` or
    /// getpeername(2) gave, an AF_INET, AF_INET6 or AF_UNIX address of
    /// `len` bytes (copied). NULL clears it. Another family or a short
    /// address returns `FASTSERVE_RESULT_INVALID_ARGUMENT` and changes
    /// nothing.
    ///
    /// # Safety
    /// `c` is a connection from `fastserve_conn_new` that was not freed;
    /// `addr` is NULL or readable for `len` bytes.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_set_peer(
        c: *mut fastserve_conn,
        addr: *const libc::sockaddr,
        len: libc::socklen_t,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let c = match unsafe { conn_mut(c) } {
            Ok(c) => c,
            Err(e) => return e,
        };
        if addr.is_null() {
            c.conn.set_peer(None);
            return FASTSERVE_RESULT_OK;
        }
        // SAFETY: readable for `len` bytes by contract.
        match unsafe { super::read_sockaddr(addr, len) } {
            Ok(p) => {
                c.conn.set_peer(Some(p));
                FASTSERVE_RESULT_OK
            }
            Err(e) => invalid(format_args!("{e}: not an IPv4, IPv6 or Unix socket address")),
        }
    }
}

ffi_fn! {
    /// Feeds `len` bytes received from the peer (copied), parses every
    /// complete request buffered, and writes the batch of new requests to
    /// `*out` (if not NULL; see `fastserve_conn_batch` for how long it stays
    /// valid). `len == 0` only parses: call it so after writing output, to
    /// pick up pipelined requests that were held back by the pipelining
    /// limit.
    ///
    /// Malformed input queues an error response (400, 413, 414, 431, 501,
    /// 505) and the connection then closes: keep writing the output until
    /// `fastserve_conn_should_close`. Bytes fed while
    /// `fastserve_conn_wants_read` is false are kept and parsed later.
    ///
    /// # Safety
    /// `c` is a connection from `fastserve_conn_new` that was not freed;
    /// `data` is NULL (with `len == 0`) or readable for `len` bytes; `out`
    /// is NULL or writable.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_feed(
        c: *mut fastserve_conn,
        data: *const c_char,
        len: usize,
        out: *mut fastserve_conn_batch,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let c = match unsafe { conn_mut(c) } {
            Ok(c) => c,
            Err(e) => return e,
        };
        // SAFETY: readable for `len` bytes by contract.
        let Some(data) = (unsafe { bytes(data, len) }) else {
            return null_with_len("data", len);
        };
        let limits = c.cfg.limits.clone();
        c.conn.feed(data, &mut c.pool, &limits);
        // SAFETY: NULL or writable by contract.
        c.process(unsafe { out.as_mut() });
        FASTSERVE_RESULT_OK
    }
}

ffi_fn! {
    /// The peer closed its sending side. Requests already complete are
    /// still answered; `*out` as in `fastserve_conn_feed`.
    ///
    /// # Safety
    /// `c` is a connection from `fastserve_conn_new` that was not freed;
    /// `out` is NULL or writable.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_feed_eof(
        c: *mut fastserve_conn,
        out: *mut fastserve_conn_batch,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let c = match unsafe { conn_mut(c) } {
            Ok(c) => c,
            Err(e) => return e,
        };
        c.conn.received_eof();
        // SAFETY: NULL or writable by contract.
        c.process(unsafe { out.as_mut() });
        FASTSERVE_RESULT_OK
    }
}

ffi_fn! {
    /// Answers request `id` (from its `fastserve_batch_request`), at any
    /// time and in any order: responses still leave in request order.
    /// `headers` holds zero or more complete `Name: value\r\n` lines
    /// (include `Content-Type` there); `Date`, `Content-Length`, `Server`
    /// and `Connection` are added by the engine and refused in `headers`.
    /// Status 200..999; 204 and 304 have no body. Everything is copied. A
    /// refused status, header line or body answers 500 instead and returns
    /// `FASTSERVE_RESULT_INVALID_ARGUMENT`; an id that is not waiting for an
    /// answer returns `FASTSERVE_RESULT_INVALID_ARGUMENT` and changes
    /// nothing.
    ///
    /// # Safety
    /// `c` is a connection from `fastserve_conn_new` that was not freed;
    /// `headers` and `body` are NULL (with length 0) or readable for their
    /// lengths.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_respond(
        c: *mut fastserve_conn,
        id: u64,
        status: u16,
        headers: *const c_char,
        headers_len: usize,
        body: *const c_char,
        body_len: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let c = match unsafe { conn_mut(c) } {
            Ok(c) => c,
            Err(e) => return e,
        };
        // SAFETY: readable for their lengths by contract.
        let Some(h) = (unsafe { bytes(headers, headers_len) }) else {
            return null_with_len("headers", headers_len);
        };
        // SAFETY: as above.
        let Some(b) = (unsafe { bytes(body, body_len) }) else {
            return null_with_len("body", body_len);
        };
        let r = Reply {
            status,
            content_type: flat::CT_NONE,
            headers: h,
            body: b,
        };
        let valid_status = proto::valid_status(status);
        let valid_headers = flat::valid_header_lines(h);
        let body_ok = b.is_empty() || proto::body_allowed(status);
        if !c.answer(id, &r) {
            return invalid(format_args!("request {id} is not waiting for an answer"));
        }
        if !valid_status {
            return invalid(format_args!(
                "status {status} is outside 200..999; answered 500"
            ));
        }
        if !valid_headers {
            return invalid(format_args!("{}; answered 500", header_lines_problem(h)));
        }
        if !body_ok {
            return invalid(format_args!("a {status} response has no body; answered 500"));
        }
        FASTSERVE_RESULT_OK
    }
}

ffi_fn! {
    /// Answers `count` requests in one call: `ids[i]` gets reply `i`, given
    /// as the columns of `fastserve_batch_respond` (a `FASTSERVE_CT_*` code
    /// in the status word's high 16 bits). A reply with status 0 (and no
    /// bytes) leaves its request unanswered, for later. Ids that are not
    /// waiting are skipped; `*unknown` (if not NULL) receives how many.
    /// `FASTSERVE_RESULT_INVALID_ARGUMENT` (nothing answered) when the
    /// lengths do not add up.
    ///
    /// # Safety
    /// `c` is a connection from `fastserve_conn_new` that was not freed;
    /// `ids`, `status`, `body_lens` and (unless NULL) `header_lens` are
    /// readable for `count` elements, `data` for `data_len` bytes;
    /// `unknown` is NULL or writable.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_respond_batch(
        c: *mut fastserve_conn,
        ids: *const u64,
        status: *const u32,
        header_lens: *const u32,
        body_lens: *const u32,
        count: usize,
        data: *const c_char,
        data_len: usize,
        unknown: *mut usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let c = match unsafe { conn_mut(c) } {
            Ok(c) => c,
            Err(e) => return e,
        };
        // SAFETY: readable for the given counts by contract.
        let cols = match unsafe { columns(status, header_lens, body_lens, count, data, data_len) } {
            Ok(cols) => cols,
            Err(e) => return e,
        };
        // SAFETY: readable for `count` ids by contract.
        let Some(ids) = (unsafe { super::slice(ids, count) }) else {
            return null_with_len("ids", count);
        };
        let mut missed = 0;
        for (&id, r) in ids.iter().zip(cols.iter()) {
            if r.status == 0 && r.headers.is_empty() && r.body.is_empty() {
                continue;
            }
            if !c.answer(id, &r) {
                missed += 1;
            }
        }
        // SAFETY: NULL or writable by contract.
        if let Some(u) = unsafe { unknown.as_mut() } {
            *u = missed;
        }
        FASTSERVE_RESULT_OK
    }
}

ffi_fn! {
    /// Fills up to `max` iovecs with the output ready to send, in order,
    /// and returns how many it filled (0: nothing to send, or `c` NULL).
    /// The memory they point to is valid until the next call other than
    /// `fastserve_conn_output`, `fastserve_conn_unsent`,
    /// `fastserve_conn_wants_read` or `fastserve_conn_should_close` on this
    /// connection. After writing, report the bytes written with
    /// `fastserve_conn_written`.
    ///
    /// # Safety
    /// `c` is NULL or a connection from `fastserve_conn_new` that was not
    /// freed; `iov` is NULL or writable for `max` entries.
    ///
    /// On an internal panic: returns 0.
    #[on_panic(0)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_output(
        c: *const fastserve_conn,
        iov: *mut fastserve_iovec,
        max: usize,
    ) -> usize {
        // SAFETY: a non-NULL `c` is a live connection by contract.
        let Some(c) = (unsafe { c.as_ref() }) else {
            return 0;
        };
        if iov.is_null() || max == 0 {
            return 0;
        }
        let mut tmp = [std::io::IoSlice::new(&[]); 64];
        let n = c.conn.iovecs(&mut tmp[..max.min(64)]);
        for (i, s) in tmp[..n].iter().enumerate() {
            // SAFETY: `iov` is writable for `max > i` entries by contract.
            unsafe {
                *iov.add(i) = fastserve_iovec {
                    base: s.as_ptr().cast(),
                    len: s.len(),
                }
            };
        }
        n
    }
}

ffi_fn! {
    /// Bytes of output waiting to be sent (0 for NULL).
    ///
    /// # Safety
    /// `c` is NULL or a connection from `fastserve_conn_new` that was not
    /// freed.
    ///
    /// On an internal panic: returns 0.
    #[on_panic(0)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_unsent(c: *const fastserve_conn) -> usize {
        // SAFETY: a non-NULL `c` is a live connection by contract.
        unsafe { c.as_ref() }.map_or(0, |c| c.conn.unsent())
    }
}

ffi_fn! {
    /// Records that the first `n` bytes of the output were sent. `n` larger
    /// than `fastserve_conn_unsent` is refused
    /// (`FASTSERVE_RESULT_INVALID_ARGUMENT`).
    ///
    /// # Safety
    /// `c` is a connection from `fastserve_conn_new` that was not freed.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_written(
        c: *mut fastserve_conn,
        n: usize,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let c = match unsafe { conn_mut(c) } {
            Ok(c) => c,
            Err(e) => return e,
        };
        let unsent = c.conn.unsent();
        if n > unsent {
            return invalid(format_args!(
                "{n} bytes written, but only {unsent} were waiting"
            ));
        }
        c.conn.written(n, &mut c.pool);
        FASTSERVE_RESULT_OK
    }
}

ffi_fn! {
    /// Whether to read from the peer now. False under backpressure (too
    /// many unanswered or unsent responses: write first, then feed 0
    /// bytes), once no more requests will be read, and for NULL.
    ///
    /// # Safety
    /// `c` is NULL or a connection from `fastserve_conn_new` that was not
    /// freed.
    ///
    /// On an internal panic: returns false.
    #[on_panic(false)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_wants_read(c: *const fastserve_conn) -> bool {
        // SAFETY: a non-NULL `c` is a live connection by contract.
        unsafe { c.as_ref() }.is_some_and(|c| c.conn.wants_read(&c.cfg.limits))
    }
}

ffi_fn! {
    /// True once the connection should be closed: no more requests will be
    /// served (`Connection: close`, HTTP/1.0, an error, or EOF) and every
    /// response owed has been written. NULL gives true.
    ///
    /// # Safety
    /// `c` is NULL or a connection from `fastserve_conn_new` that was not
    /// freed.
    ///
    /// On an internal panic: returns true.
    #[on_panic(true)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_should_close(c: *const fastserve_conn) -> bool {
        // SAFETY: a non-NULL `c` is a live connection by contract.
        unsafe { c.as_ref() }.map_or(true, |c| c.conn.should_close())
    }
}

ffi_fn! {
    /// Requests handed out and not answered yet (0 for NULL).
    ///
    /// # Safety
    /// `c` is NULL or a connection from `fastserve_conn_new` that was not
    /// freed.
    ///
    /// On an internal panic: returns 0.
    #[on_panic(0)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_pending(c: *const fastserve_conn) -> usize {
        // SAFETY: a non-NULL `c` is a live connection by contract.
        unsafe { c.as_ref() }.map_or(0, |c| c.tickets.iter().filter(|t| t.is_some()).count())
    }
}

ffi_fn! {
    /// Stops reading new requests (graceful shutdown): requests already
    /// handed out are still answered, and so is a request partly received
    /// (or, on a connection that has sent nothing yet, its first one); the
    /// last response says `Connection: close` unless it was already queued.
    /// Then `fastserve_conn_should_close` turns true.
    ///
    /// # Safety
    /// `c` is a connection from `fastserve_conn_new` that was not freed.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_shutdown(c: *mut fastserve_conn) -> fastserve_result {
        // SAFETY: forwarded contract.
        let c = match unsafe { conn_mut(c) } {
            Ok(c) => c,
            Err(e) => return e,
        };
        c.conn.shutdown();
        FASTSERVE_RESULT_OK
    }
}

/// `fastserve_conn_state`: part of a request head is buffered (the header
/// timeout runs from its first byte).
pub const FASTSERVE_CONN_READING_HEAD: u32 = 1;
/// A request body is being received (the body timeout runs from the last
/// byte read).
pub const FASTSERVE_CONN_READING_BODY: u32 = 2;
/// Requests were handed out and are not answered yet (the request timeout).
pub const FASTSERVE_CONN_PENDING: u32 = 4;
/// Output is waiting to be written (the write timeout).
pub const FASTSERVE_CONN_UNSENT: u32 = 8;
/// Nothing is owed either way: between requests (the keep-alive timeout).
pub const FASTSERVE_CONN_IDLE: u32 = 16;

ffi_fn! {
    /// What the connection waits for, as `FASTSERVE_CONN_*` bits: a host
    /// runs the timeouts of `fastserve_config` with its own timers from
    /// them, as the server's workers do. When a header or body timeout
    /// passes, call `fastserve_conn_abort(c, 408)`; a request timeout,
    /// `fastserve_conn_expire(c, 503, &id)`; a write or keep-alive timeout,
    /// close the socket. 0 for NULL.
    ///
    /// # Safety
    /// `c` is NULL or a connection from `fastserve_conn_new` that was not
    /// freed.
    ///
    /// On an internal panic: returns 0.
    #[on_panic(0)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_state(c: *const fastserve_conn) -> u32 {
        // SAFETY: a non-NULL `c` is a live connection by contract.
        let Some(c) = (unsafe { c.as_ref() }) else {
            return 0;
        };
        let k = &c.conn;
        let mut bits = 0;
        if k.reading_head() && !k.reading_body() {
            bits |= FASTSERVE_CONN_READING_HEAD;
        }
        if k.reading_body() {
            bits |= FASTSERVE_CONN_READING_BODY;
        }
        if c.tickets.iter().any(Option::is_some) {
            bits |= FASTSERVE_CONN_PENDING;
        }
        if k.unsent() > 0 {
            bits |= FASTSERVE_CONN_UNSENT;
        }
        if k.is_idle() && bits & FASTSERVE_CONN_PENDING == 0 {
            bits |= FASTSERVE_CONN_IDLE;
        }
        bits
    }
}

ffi_fn! {
    /// Answers the request being received (a head or body still
    /// incomplete) with `status`, 400..599 (408 for a timeout), and closes
    /// after it; does nothing when no request is partly received or a
    /// response to it has begun.
    ///
    /// # Safety
    /// `c` is a connection from `fastserve_conn_new` that was not freed.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_abort(
        c: *mut fastserve_conn,
        status: u16,
    ) -> fastserve_result {
        // SAFETY: forwarded contract.
        let c = match unsafe { conn_mut(c) } {
            Ok(c) => c,
            Err(e) => return e,
        };
        if !(400..=599).contains(&status) {
            return invalid(format_args!("status {status} is outside 400..599"));
        }
        c.date.refresh();
        let mut ctx = Ctx {
            cfg: &c.cfg,
            pool: &mut c.pool,
            date: &c.date.text,
        };
        c.conn.abort(status, &mut ctx);
        FASTSERVE_RESULT_OK
    }
}

ffi_fn! {
    /// Answers the oldest request still waiting for an answer with
    /// `status`, 400..599 (503 for a request timeout), and writes its id to
    /// `*id` (if not NULL); a later answer to that id is refused as for any
    /// answered request. Returns false (and changes nothing) when no request
    /// is waiting, or for a NULL `c` or a bad status.
    ///
    /// # Safety
    /// `c` is NULL or a connection from `fastserve_conn_new` that was not
    /// freed; `id` is NULL or writable.
    ///
    /// On an internal panic: returns false.
    #[on_panic(false)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_conn_expire(
        c: *mut fastserve_conn,
        status: u16,
        id: *mut u64,
    ) -> bool {
        // SAFETY: a non-NULL `c` is a live connection by contract.
        let Some(c) = (unsafe { c.as_mut() }) else {
            return false;
        };
        if !(400..=599).contains(&status) {
            return false;
        }
        let Some(i) = c.tickets.iter().position(Option::is_some) else {
            return false;
        };
        let oldest = c.base + i as u64;
        let r = Reply {
            status,
            content_type: flat::CT_TEXT,
            headers: b"",
            body: proto::reason(status).as_bytes(),
        };
        c.answer(oldest, &r);
        // SAFETY: NULL or writable by contract.
        if let Some(id) = unsafe { id.as_mut() } {
            *id = oldest;
        }
        true
    }
}
