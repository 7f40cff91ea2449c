//! One HTTP/1.1 server connection: reads requests, hands them to a
//! [`Service`], and queues the responses in request order.

use std::ops::Range;

use super::framing::{self, BodyFraming};
use super::peer::Peer;
use super::reader::{Input, Reading};
use super::render::Response;
use super::request::Request;
use super::responder::{Responder, Service};
use super::slots::Slots;
use super::tally::{Exchange, Tally};
use super::{bytes, target};
use super::{Ctx, Limits};
use crate::parse::{self, ChunkedDecoder, Decoded, Header, Mode, Status};

mod answer;
mod body;

use body::{BodyStream, Gate};

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
    /// An error answer or an abort cut the input short: the client may
    /// still be sending what will not be read.
    cut_short: bool,
    /// A graceful stop: the request being received is the last one.
    draining: bool,
    /// Peer closed its sending side.
    eof: bool,
    /// `process` stopped under backpressure with input still buffered.
    stalled: bool,
    /// A protocol switch was accepted: the host takes the connection once
    /// the output is written.
    upgraded: bool,
    /// The body being streamed to the service, if any.
    body: Option<BodyStream>,
    /// The largest body the current request may have.
    max_body: usize,
    bytes_in: u64,
    requests: u64,
    peer: Option<Peer>,
    /// The status of the last error answer the connection gave on its own
    /// (a limit, malformed input), until the driver takes it.
    failed: u16,
    hosts: framing::HostMemo,
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
            cut_short: false,
            draining: false,
            eof: false,
            stalled: false,
            upgraded: false,
            body: None,
            max_body: 0,
            bytes_in: 0,
            requests: 0,
            peer: None,
            failed: 0,
            hosts: framing::HostMemo::default(),
        }
    }

    /// Keeps per-request accounting from now on, for
    /// [`Conn::exchanges`]; `text` keeps each request's method, target,
    /// `Referer` and `User-Agent` too.
    pub fn track(&mut self, text: bool) {
        self.slots.tally = Some(Box::new(Tally::new(text)));
    }

    /// The driver's clock, in any unit: requests parsed from now on
    /// start at `now` ([`Exchange::start`]).
    #[inline]
    pub fn set_clock(&mut self, now: u64) {
        if let Some(t) = &mut self.slots.tally {
            t.clock = now;
        }
    }

    /// Whether a tracked request's response was written in full.
    #[inline]
    pub fn has_exchanges(&self) -> bool {
        self.slots
            .tally
            .as_ref()
            .is_some_and(|t| t.has_done(self.slots.out.sent()))
    }

    /// Hands `f` each tracked request whose response was written in full,
    /// in request order; with `all` (before closing), every other one too,
    /// marked incomplete.
    pub fn exchanges(&mut self, all: bool, f: impl FnMut(&Exchange<'_>)) {
        if all {
            self.slots.tally_held();
        }
        let sent = self.slots.out.sent();
        if let Some(t) = &mut self.slots.tally {
            t.drain(sent, all, self.peer.as_ref(), f);
        }
    }

    /// The status of an error the connection answered on its own since
    /// the last call (400, 413, 414, 431, 501, 505), or 0.
    #[inline]
    pub fn take_failed(&mut self) -> u16 {
        std::mem::take(&mut self.failed)
    }

    /// The peer's address, if the driver set it.
    pub fn peer(&self) -> Option<&Peer> {
        self.peer.as_ref()
    }

    /// Sets the peer's address that requests carry from now on.
    pub fn set_peer(&mut self, peer: Option<Peer>) {
        self.peer = peer;
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
        (!self.no_more || self.reading_body())
            && !self.eof
            && !self.backpressured(limits)
            && self.body.as_ref().map_or(true, |b| b.gate == Gate::Open)
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
                    self.dispatch(svc, ctx, headers, span, None, false);
                }
                Reading::Stream => {
                    if !self.pump_body(svc, ctx) {
                        break;
                    }
                }
                Reading::Chunked { head, decoded } => {
                    let start = self.input.pos + head + decoded;
                    if self.input.buf.len() == start {
                        break;
                    }
                    let r = self
                        .decoder
                        .decode(&mut self.input.buf[start..], Mode::Strict);
                    if self.decoder.trailer_len() > limits.max_head {
                        // trailer fields count as header fields
                        self.fail(431, ctx);
                        break;
                    }
                    match r {
                        Ok(Decoded::Partial { len }) => {
                            self.input.buf.truncate(start + len);
                            let decoded = decoded + len;
                            self.input.reading = Reading::Chunked { head, decoded };
                            if decoded > self.max_body {
                                self.fail(413, ctx);
                            }
                            break;
                        }
                        Ok(Decoded::Complete { len, rest }) => {
                            let total = decoded + len;
                            // the bytes after the body were moved to follow it
                            self.input.buf.truncate(start + len + rest);
                            self.input.reading = Reading::Head;
                            if total > self.max_body {
                                self.fail(413, ctx);
                                break;
                            }
                            let span = Span {
                                head,
                                body: head..head + total,
                                end: head + total,
                            };
                            self.dispatch(svc, ctx, headers, span, None, false);
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
        if self.eof && self.body.is_some() {
            self.abort_body(400, svc, ctx); // the client left mid-body
        }
        if self.eof && (!self.backpressured(limits) || self.no_more) && !self.upgraded {
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
        if bytes::find(b'#', req.path).is_some() {
            // a fragment is the client's own; sent, it is a malformed target
            self.fail(400, ctx);
            return false;
        }
        if let Some(t) = &mut self.slots.tally {
            let fields = &hs[..req.headers];
            t.note(
                self.next_seq,
                req.method,
                req.path,
                req.minor_version,
                fields,
                head,
            );
        }
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
        match target::check(req.method, req.path) {
            Ok(None) => {}
            Ok(Some(authority)) => target::override_host(&mut hs[..req.headers], authority),
            Err(status) => {
                self.fail(status, ctx);
                return false;
            }
        }
        let fields = &hs[..req.headers];
        let f = match framing::request(req.minor_version, fields, &mut self.hosts) {
            Ok(f) => f,
            Err(status) => {
                self.fail(status, ctx);
                return false;
            }
        };
        if !f.keep_alive {
            self.no_more = true;
        }
        self.max_body = limits.max_body;
        if !matches!(f.body, BodyFraming::None | BodyFraming::Length(0)) {
            let view = view(
                &req,
                fields,
                &[],
                &avail[..head],
                self.next_seq,
                false,
                self.peer.as_ref(),
            );
            let plan = svc.body_plan(&view);
            self.max_body = plan.max_body.unwrap_or(limits.max_body);
            self.input.body_cap = self.max_body;
            if plan.stream {
                return self.start_body(svc, ctx, req, fields, head, f);
            }
        }
        let len = match f.body {
            BodyFraming::None => 0,
            BodyFraming::Length(len) if len > self.max_body => {
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
        self.dispatch(svc, ctx, &mut [], span, Some((req, fields)), false);
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
        body_follows: bool,
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
                if let Ok(Some(authority)) = target::check(req.method, req.path) {
                    target::override_host(&mut hs[..req.headers], authority);
                }
                (req, &hs[..req.headers])
            }
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight += 1;
        self.requests += 1;
        if let Some(t) = &mut self.slots.tally {
            t.body_in(seq, span.body.len());
        }
        let request = view(
            &req,
            hs,
            &buf[span.body.clone()],
            &buf[..span.body.end],
            seq,
            body_follows,
            self.peer.as_ref(),
        );
        let mut res = Responder {
            out: &mut self.slots,
            pool: ctx.pool,
            cfg: ctx.cfg,
            date: ctx.date,
            seq,
            head_only: req.method == b"HEAD",
            conn: framing::conn_header(req.minor_version, self.no_more || self.draining),
            minor: req.minor_version,
            done: false,
            close_after: false,
            upgrade: false,
            read_body: false,
        };
        svc.handle(&request, &mut res);
        if !res.done {
            res.send(Response::empty(500));
        }
        if res.close_after || self.draining {
            self.no_more = true;
        }
        self.input.pos += span.end;
        let read_body = res.read_body;
        if res.upgrade {
            self.no_more = true;
            self.upgraded = true;
        } else if self.no_more {
            self.closing = true;
        }
        if body_follows {
            if read_body {
                self.read_body(seq, ctx);
            } else if !self.slots.is_open(seq) {
                // answered without reading the body: it is not wanted
                self.body = None;
                self.cut();
            }
        }
        self.sync_released();
    }

    /// Tracks how many responses reached the writer.
    #[inline]
    fn sync_released(&mut self) {
        self.released_seq = self.next_seq - self.slots.held() as u64;
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

    /// Whether a request body is being received (not counting a streamed
    /// body its consumer holds back).
    pub fn reading_body(&self) -> bool {
        match &self.body {
            Some(b) => b.gate == Gate::Open,
            None => self.input.reading_body(),
        }
    }

    /// True once the connection should be closed: no more requests will be
    /// served and every response owed is written.
    pub fn should_close(&self) -> bool {
        self.closing && self.slots.held() == 0 && self.slots.out.unsent() == 0
    }

    /// Stop reading new requests (graceful shutdown). Responses owed still
    /// go out; a request partly received is still read and answered, and so
    /// is the first request of a connection that has sent none yet (its
    /// client could not tell a close from a failure). The last response
    /// says `Connection: close` unless it was already queued.
    pub fn shutdown(&mut self) {
        self.draining = true;
        if !self.reading_request() && self.next_seq > 0 {
            self.no_more = true;
            self.closing = true;
        }
    }

    /// Whether `seq` is the last request while draining: its response,
    /// rendered now, closes the connection.
    fn last_while_draining(&self, seq: u64) -> bool {
        self.draining && seq + 1 == self.next_seq && !self.upgraded
    }

    /// Responses deferred and not yet completed.
    pub fn pending(&self) -> usize {
        self.slots.pending()
    }

    /// Whether the client may still be sending input the connection will
    /// not read: an error answer or an abort cut its request short, or
    /// requests are buffered behind the last one. Closing the socket now
    /// could reset it and lose the answers not yet read; a driver closes
    /// such a connection gracefully (the server's lingering close).
    pub fn may_send_more(&self) -> bool {
        !self.eof && (self.cut_short || self.input.has_input())
    }

    /// Whether the peer finished sending (or left).
    pub fn peer_closed(&self) -> bool {
        self.eof
    }

    /// Whether response `seq` is deferred and not yet completed.
    pub fn is_pending(&self, seq: u64) -> bool {
        self.slots.pending_ticket(seq).is_some()
    }

    /// The oldest deferred response not yet completed: the one
    /// [`Conn::expire_deferred`] would answer.
    pub fn first_pending(&self) -> Option<u64> {
        self.slots.first_pending().map(|t| t.seq)
    }

    /// Bytes received from the client so far.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
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

/// The request as the service sees it.
fn view<'b>(
    req: &parse::Request<'b>,
    headers: &'b [Header<'b>],
    body: &'b [u8],
    region: &'b [u8],
    seq: u64,
    body_follows: bool,
    peer: Option<&'b Peer>,
) -> Request<'b> {
    let (path, query) = target::parts(req.path);
    Request {
        method: req.method,
        target: req.path,
        path,
        query,
        minor_version: req.minor_version,
        headers,
        body,
        body_follows,
        seq,
        peer,
        region,
    }
}
