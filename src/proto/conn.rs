//! One HTTP/1.1 server connection: reads requests, hands them to a
//! [`Service`], and queues the responses in request order.

use std::ops::Range;

use super::framing::{self, BodyFraming, ConnHeader};
use super::reader::{Input, Reading};
use super::render::{self, Body, Response};
use super::request::{Request, Ticket};
use super::responder::{Responder, Service};
use super::slots::Slots;
use super::{Ctx, Limits};
use crate::parse::{self, ChunkedDecoder, Decoded, Header, Mode, Status};

/// An HTTP/1.1 server connection.
pub struct Conn {
    input: Input,
    decoder: ChunkedDecoder,
    slots: Slots,
    next_seq: u64,
    /// Requests parsed and not yet fully written.
    in_flight: usize,
    /// Sequence numbers of responses fully appended to the writer.
    released_seq: u64,
    /// No further request heads are parsed (error, `Connection: close`, EOF).
    no_more: bool,
    /// The peer will get no more responses after those queued.
    closing: bool,
    /// Peer closed its sending side.
    eof: bool,
    /// `process` stopped under backpressure with input still buffered.
    stalled: bool,
    bytes_in: u64,
    requests: u64,
}

impl Default for Conn {
    fn default() -> Self {
        Self::new()
    }
}

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Where a complete request lies in the unprocessed input: the head's
/// length, the body's range, and the bytes it used in all.
struct Span {
    head: usize,
    body: Range<usize>,
    end: usize,
}

impl Conn {
    pub fn new() -> Self {
        Conn {
            input: Input::default(),
            decoder: ChunkedDecoder::default(),
            slots: Slots::default(),
            next_seq: 0,
            in_flight: 0,
            released_seq: 0,
            no_more: false,
            closing: false,
            eof: false,
            stalled: false,
            bytes_in: 0,
            requests: 0,
        }
    }

    /// Space to receive into: at least `min(block, room)` bytes. Call
    /// [`Conn::received`] with the count written.
    #[inline]
    pub fn recv_buf(
        &mut self,
        pool: &mut super::BufPool,
        limits: &Limits,
    ) -> &mut [std::mem::MaybeUninit<u8>] {
        self.input.spare(pool, limits)
    }

    /// Records `n` bytes written into [`Conn::recv_buf`].
    ///
    /// # Safety
    /// The first `n` bytes of the slice the last `recv_buf` call returned
    /// were initialised since (by `read(2)`, say).
    #[inline]
    pub unsafe fn received(&mut self, n: usize) {
        // SAFETY: forwarded contract.
        unsafe { self.input.received(n) };
        self.bytes_in += n as u64;
    }

    /// Copies received bytes in (for hosts that own their read buffers).
    pub fn feed(&mut self, data: &[u8], pool: &mut super::BufPool, limits: &Limits) {
        self.input.feed(data, pool, limits);
        self.bytes_in += data.len() as u64;
    }

    /// The peer finished sending.
    pub fn received_eof(&mut self) {
        self.eof = true;
    }

    /// Whether the caller should read more from the peer now. False under
    /// backpressure (too many responses in flight, or too many unsent bytes)
    /// and once reading has ended.
    #[inline]
    pub fn wants_read(&self, limits: &Limits) -> bool {
        (!self.no_more || self.reading_body()) && !self.eof && !self.backpressured(limits)
    }

    /// Whether `process` would take buffered requests now: backpressure held
    /// them back and has since lifted (their responses were written). Process
    /// them before reading more, or the buffer grows.
    #[inline]
    pub fn can_process(&self, limits: &Limits) -> bool {
        self.stalled && !self.backpressured(limits)
    }

    /// Too many responses in flight, or too many bytes unsent: take no more
    /// requests until the client reads.
    #[inline]
    fn backpressured(&self, limits: &Limits) -> bool {
        self.in_flight >= limits.max_pipelined || self.slots.out.unsent_mem() >= limits.max_unsent
    }

    /// Whether input is buffered that `process` has not consumed.
    pub fn has_input(&self) -> bool {
        self.input.has_input()
    }

    /// Parses every complete request buffered and hands each to `svc`.
    /// `headers` is scratch space for the parser, at least
    /// `limits.max_headers` long to allow that many fields.
    pub fn process<S: Service>(
        &mut self,
        svc: &mut S,
        ctx: &mut Ctx<'_>,
        headers: &mut [Header<'_>],
    ) {
        let limits = &ctx.cfg.limits;
        while !self.backpressured(limits) {
            match self.input.reading {
                Reading::Head => {
                    if self.no_more || !self.next_head(svc, ctx, headers) {
                        break;
                    }
                }
                Reading::Length { head, len } => {
                    if self.input.avail().len() < head + len {
                        break;
                    }
                    self.input.reading = Reading::Head;
                    let span = Span {
                        head,
                        body: head..head + len,
                        end: head + len,
                    };
                    self.dispatch(svc, ctx, headers, span, None);
                }
                Reading::Chunked { head, decoded } => {
                    let start = self.input.pos + head + decoded;
                    if self.input.buf.len() == start {
                        break;
                    }
                    match self
                        .decoder
                        .decode(&mut self.input.buf[start..], Mode::Strict)
                    {
                        Ok(Decoded::Partial { len }) => {
                            self.input.buf.truncate(start + len);
                            let decoded = decoded + len;
                            self.input.reading = Reading::Chunked { head, decoded };
                            if decoded > limits.max_body {
                                self.fail(413, ctx);
                            }
                            break;
                        }
                        Ok(Decoded::Complete { len, rest }) => {
                            let total = decoded + len;
                            // the bytes after the body were moved to follow it
                            self.input.buf.truncate(start + len + rest);
                            self.input.reading = Reading::Head;
                            if total > limits.max_body {
                                self.fail(413, ctx);
                                break;
                            }
                            let span = Span {
                                head,
                                body: head..head + total,
                                end: head + total,
                            };
                            self.dispatch(svc, ctx, headers, span, None);
                        }
                        Err(_) => {
                            self.fail(400, ctx);
                            break;
                        }
                    }
                }
            }
        }
        self.stalled = self.backpressured(limits)
            && self.has_input()
            && (!self.no_more || self.reading_body());
        self.input.release_if_drained(ctx.pool);
        if self.eof && (!self.backpressured(limits) || self.no_more) {
            // nothing more can arrive: what is buffered and incomplete is dropped
            self.no_more = true;
            self.closing = true;
        }
    }

    /// Parses the next head. Returns false when no progress can be made.
    fn next_head<S: Service>(
        &mut self,
        svc: &mut S,
        ctx: &mut Ctx<'_>,
        headers: &mut [Header<'_>],
    ) -> bool {
        let limits = &ctx.cfg.limits;
        // SAFETY: the input buffer is neither written nor reallocated while
        // `avail` and the request borrowed from it are in use: dispatching
        // touches only the output side and the counters, and `fail` only
        // moves the read position.
        let avail: &[u8] = unsafe {
            let a = self.input.avail();
            std::slice::from_raw_parts(a.as_ptr(), a.len())
        };
        if avail.is_empty() {
            return false;
        }
        // An incomplete head is parsed again only once an empty line arrived.
        if self.input.scanned > 0 {
            let from = self.input.scanned.saturating_sub(3);
            if !avail[from..]
                .windows(2)
                .any(|w| w == b"\n\n" || w == b"\n\r")
            {
                self.input.scanned = avail.len();
                return self.head_too_big(ctx);
            }
        }
        let max = limits.max_headers.min(headers.len());
        // SAFETY: the header array is only borrowed for `avail`'s lifetime
        // below: `hs` does not outlive this function, and the input buffer is
        // not touched while it is alive.
        let hs: &mut [Header<'_>] = unsafe {
            std::mem::transmute::<&mut [Header<'_>], &mut [Header<'_>]>(&mut headers[..max])
        };
        let (head, req) = match parse::parse_request(avail, hs, &parse::Config::strict()) {
            Ok(Status::Complete { len, value }) => (len, value),
            Ok(Status::Partial) => {
                self.input.scanned = avail.len();
                return self.head_too_big(ctx);
            }
            Err(e) => {
                let status = match e {
                    parse::Error::TooManyHeaders => 431,
                    parse::Error::UnsupportedVersion => 505,
                    _ => 400,
                };
                self.fail(status, ctx);
                return false;
            }
        };
        self.input.scanned = 0;
        if head > limits.max_request_line
            && framing::request_line_len(avail) > limits.max_request_line
        {
            self.fail(414, ctx);
            return false;
        }
        if head > limits.max_head {
            self.fail(431, ctx);
            return false;
        }
        let fields = &hs[..req.headers];
        let f = match framing::request(req.minor_version, fields) {
            Ok(f) => f,
            Err(status) => {
                self.fail(status, ctx);
                return false;
            }
        };
        if !f.keep_alive {
            self.no_more = true;
        }
        let len = match f.body {
            BodyFraming::None => 0,
            BodyFraming::Length(len) if len > limits.max_body => {
                self.fail(413, ctx);
                return false;
            }
            BodyFraming::Length(len) => len,
            BodyFraming::Chunked => {
                self.decoder = ChunkedDecoder::new(true);
                self.input.reading = Reading::Chunked { head, decoded: 0 };
                if f.expect_continue && avail.len() == head {
                    self.send_continue(ctx);
                }
                return true;
            }
        };
        if avail.len() < head + len {
            self.input.reading = Reading::Length { head, len };
            if f.expect_continue {
                self.send_continue(ctx);
            }
            return false;
        }
        let span = Span {
            head,
            body: head..head + len,
            end: head + len,
        };
        self.dispatch(svc, ctx, &mut [], span, Some((req, fields)));
        true
    }

    fn head_too_big(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let avail = self.input.avail();
        let limits = &ctx.cfg.limits;
        let line_ended = avail.contains(&b'\n');
        if !line_ended && framing::request_line_len(avail) > limits.max_request_line {
            self.fail(414, ctx);
        } else if avail.len() > limits.max_head {
            self.fail(431, ctx);
        }
        false
    }

    fn send_continue(&mut self, ctx: &mut Ctx<'_>) {
        // An interim response may only go out when it is next in order.
        if self.slots.held() == 0 && self.released_seq == self.next_seq {
            self.slots.out.render(ctx.pool, |buf| {
                buf.extend_from_slice(CONTINUE);
                None
            });
        }
    }

    /// Hands a complete request to the service. A request whose body came
    /// after its head comes without `parsed`: its head is parsed again.
    #[inline]
    fn dispatch<'b, S: Service>(
        &mut self,
        svc: &mut S,
        ctx: &mut Ctx<'_>,
        headers: &mut [Header<'_>],
        span: Span,
        parsed: Option<(parse::Request<'b>, &'b [Header<'b>])>,
    ) {
        // SAFETY: as in `next_head`: the input buffer is not written or
        // reallocated until this function returns.
        let buf: &[u8] = unsafe {
            let a = self.input.avail();
            std::slice::from_raw_parts(a.as_ptr(), a.len())
        };
        let (req, hs) = match parsed {
            Some(p) => p,
            None => {
                // the header array went to other connections meanwhile
                let max = ctx.cfg.limits.max_headers.min(headers.len());
                // SAFETY: the borrow ends with this function.
                let hs: &mut [Header<'_>] = unsafe {
                    std::mem::transmute::<&mut [Header<'_>], &mut [Header<'_>]>(&mut headers[..max])
                };
                let Ok(Status::Complete { value: req, .. }) =
                    parse::parse_request(&buf[..span.head], hs, &parse::Config::strict())
                else {
                    unreachable!("a parsed head parses again")
                };
                (req, &hs[..req.headers])
            }
        };
        let (path, query) = match memchr::memchr(b'?', req.path) {
            Some(q) => (&req.path[..q], Some(&req.path[q + 1..])),
            None => (req.path, None),
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight += 1;
        self.requests += 1;
        let request = Request {
            method: req.method,
            target: req.path,
            path,
            query,
            minor_version: req.minor_version,
            headers: hs,
            body: &buf[span.body.clone()],
            seq,
            region: &buf[..span.body.end],
        };
        let mut res = Responder {
            out: &mut self.slots,
            pool: ctx.pool,
            cfg: ctx.cfg,
            date: ctx.date,
            seq,
            head_only: req.method == b"HEAD",
            conn: framing::conn_header(req.minor_version, self.no_more),
            done: false,
        };
        svc.handle(&request, &mut res);
        if !res.done {
            res.send(Response::empty(500));
        }
        self.input.pos += span.end;
        if self.no_more {
            self.closing = true;
        }
        self.sync_released();
    }

    /// Tracks how many responses reached the writer.
    #[inline]
    fn sync_released(&mut self) {
        self.released_seq = self.next_seq - self.slots.held() as u64;
    }

    /// Completes a deferred response. Returns false for an unknown ticket.
    pub fn complete(&mut self, ticket: Ticket, r: Response<'_>, ctx: &mut Ctx<'_>) -> bool {
        let server = ctx.cfg.server_name.as_deref();
        let date = ctx.date;
        let done = self.slots.fill(ticket.seq, ctx.pool, |dst| {
            render::response(dst, r, server, date, ticket.conn, ticket.head_only)
        });
        if done {
            self.sync_released();
        }
        done
    }

    /// Answers the oldest deferred response still pending with `status` (its
    /// handler took too long). A late completion for it is then ignored.
    pub fn expire_deferred(&mut self, status: u16, ctx: &mut Ctx<'_>) -> bool {
        let Some(ticket) = self.slots.first_pending() else {
            return false;
        };
        let r = Response {
            status,
            headers: b"Content-Type: text/plain\r\n",
            body: Body::Copy(render::reason(status).as_bytes()),
        };
        self.complete(ticket, r, ctx)
    }

    /// Whether part of a request head is buffered.
    pub fn reading_head(&self) -> bool {
        !self.no_more && self.has_input() && !self.reading_body()
    }

    /// Answers with an error status and closes after it.
    fn fail(&mut self, status: u16, ctx: &mut Ctx<'_>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight += 1;
        let body = render::reason(status).as_bytes();
        let server = ctx.cfg.server_name.as_deref();
        let date = ctx.date;
        self.slots.emit(seq, ctx.pool, |dst| {
            let extra = b"Content-Type: text/plain\r\n";
            let len = Some(body.len() + 1);
            render::head(dst, status, server, date, len, ConnHeader::Close, extra);
            dst.extend_from_slice(body);
            dst.push(b'\n');
            None
        });
        self.no_more = true;
        self.closing = true;
        self.input.discard();
        self.sync_released();
    }

    /// Answers a request that is still being read (timeouts) with `status`,
    /// if no byte of a response to it was queued, and closes after it.
    pub fn abort(&mut self, status: u16, ctx: &mut Ctx<'_>) {
        if self.reading_request() {
            self.fail(status, ctx);
        }
    }

    /// The file body to `sendfile(2)` next, once the bytes before it are
    /// written; [`Conn::iovecs`] stops before it. Only the engine's server
    /// queues file bodies.
    #[inline]
    pub fn out_file(&self) -> Option<super::FileChunk> {
        self.slots.out.front_file()
    }

    /// The unsent output as iovecs, up to the next file body; returns how
    /// many were filled.
    pub fn iovecs<'a>(&'a self, iov: &mut [std::io::IoSlice<'a>]) -> usize {
        self.slots.out.iovecs(iov)
    }

    /// The unsent output when it is one contiguous slice.
    #[inline]
    pub fn out_single(&self) -> Option<&[u8]> {
        self.slots.out.single()
    }

    pub fn unsent(&self) -> usize {
        self.slots.out.unsent()
    }

    /// Records `n` bytes written to the peer.
    #[inline]
    pub fn written(&mut self, n: usize, pool: &mut super::BufPool) {
        self.slots.out.consume(n, pool);
        if self.slots.out.unsent() == 0 {
            // every released response is fully written
            self.in_flight = self.slots.held();
        }
    }

    /// All responses owed so far are written and none is pending.
    pub fn is_idle(&self) -> bool {
        self.slots.out.unsent() == 0
            && self.slots.held() == 0
            && !self.reading_body()
            && !self.has_input()
    }

    /// Whether a request is partly received (a head or a body in progress).
    pub fn reading_request(&self) -> bool {
        (!self.no_more && self.has_input()) || self.reading_body()
    }

    /// Whether a request body is being received.
    pub fn reading_body(&self) -> bool {
        self.input.reading_body()
    }

    /// True once the connection should be closed: no more requests will be
    /// served and every response owed is written.
    pub fn should_close(&self) -> bool {
        self.closing && self.slots.held() == 0 && self.slots.out.unsent() == 0
    }

    /// Stop reading new requests (graceful shutdown). Responses owed still go out.
    pub fn shutdown(&mut self) {
        if !self.reading_request() {
            self.no_more = true;
            self.closing = true;
        }
    }

    /// Responses deferred and not yet completed.
    pub fn pending(&self) -> usize {
        self.slots.pending()
    }

    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Returns all buffers to `pool` (on close).
    pub fn release(&mut self, pool: &mut super::BufPool) {
        self.slots.clear(pool);
        self.input.release(pool);
    }
}
