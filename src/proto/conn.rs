//! One HTTP/1.1 connection: request framing, pipelining, response ordering.

use std::collections::VecDeque;

use super::date::DATE_LEN;
use super::output::{ExtBody, Output};
use super::pool::BufPool;
use super::render::{self, Body, ConnHeader, Response, StaticResponse};
use super::{Limits, ProtoConfig};
use crate::parse::{self, ChunkedDecoder, Decoded, Header, Mode, Status};

/// A parsed request, borrowed from the connection's read buffer for the
/// duration of one [`Service::handle`] call.
pub struct Request<'a> {
    pub method: &'a [u8],
    /// The request target as sent (path and query).
    pub target: &'a [u8],
    pub path: &'a [u8],
    /// The part after `?`, if any.
    pub query: Option<&'a [u8]>,
    pub minor_version: u8,
    pub headers: &'a [Header<'a>],
    pub body: &'a [u8],
    /// Position of this request on its connection, from 0.
    pub seq: u64,
    /// The head and the body as one slice of the read buffer (a chunked
    /// body is decoded in place right behind the head). Private, so that
    /// every field above lies inside it.
    pub(crate) region: &'a [u8],
}

impl Request<'_> {
    /// First header with this name, compared case-insensitively.
    pub fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.name().eq_ignore_ascii_case(name))
            .map(|h| h.value())
    }
}

/// What the connection does with each request.
pub trait Service {
    /// Answers `req` through `res`: send now, or `defer` and complete later
    /// with [`Conn::complete`]. Leaving it unanswered sends a 500.
    fn handle(&mut self, req: &Request<'_>, res: &mut Responder<'_>);
}

/// Identifies a deferred response on its connection, and how to render it.
#[derive(Clone, Copy)]
pub struct Ticket {
    pub seq: u64,
    head_only: bool,
    conn: ConnHeader,
}

/// Writes the response for one request.
pub struct Responder<'a> {
    out: &'a mut Slots,
    pool: &'a mut BufPool,
    cfg: &'a ProtoConfig,
    date: &'a [u8; DATE_LEN],
    seq: u64,
    head_only: bool,
    conn: ConnHeader,
    done: bool,
}

impl Responder<'_> {
    /// Sends a response rendered at registration time.
    #[inline]
    pub fn send_static(&mut self, r: &StaticResponse) {
        let (date, conn, head_only) = (self.date, self.conn, self.head_only);
        self.out.emit(
            self.seq,
            self.pool,
            |dst| r.write(dst, date, conn, head_only),
            None,
        );
        self.done = true;
    }

    /// Sends a response, adding `Date`, `Content-Length` and, when configured, `Server`.
    pub fn send(&mut self, r: Response<'_>) {
        let (date, conn, head_only, server) = (
            self.date,
            self.conn,
            self.head_only,
            self.cfg.server_name.as_deref(),
        );
        let len = r.body.len();
        let (copy, ext) = match r.body {
            Body::Copy(b) => (b, None),
            Body::Ext(e) => (&[][..], (!head_only).then_some(e)),
        };
        self.out.emit(
            self.seq,
            self.pool,
            |dst| {
                render::head(dst, r.status, server, date, Some(len), conn, r.headers);
                if !head_only {
                    dst.extend_from_slice(copy);
                }
            },
            ext,
        );
        self.done = true;
    }

    /// Promises a response later, through [`Conn::complete`] with this ticket.
    pub fn defer(&mut self) -> Ticket {
        let ticket = self.ticket();
        self.out.held.push_back(Held {
            seq: self.seq,
            data: None,
            ticket: Some(ticket),
        });
        self.done = true;
        ticket
    }

    /// The ticket [`Responder::defer`] would return.
    pub fn ticket(&self) -> Ticket {
        Ticket {
            seq: self.seq,
            head_only: self.head_only,
            conn: self.conn,
        }
    }

    /// Whether the request was HEAD (the body will not be sent).
    pub fn head_only(&self) -> bool {
        self.head_only
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }
}

/// A deferred response, rendered when it completes.
struct Rendered {
    bytes: Vec<u8>,
    body: Option<ExtBody>,
}

struct Held {
    seq: u64,
    data: Option<Rendered>,
    /// How to render it, while it is still pending.
    ticket: Option<Ticket>,
}

/// Response ordering: output goes straight to the writer while nothing is
/// held; behind a deferred response, later ones wait in `held`.
#[derive(Default)]
struct Slots {
    out: Output,
    held: VecDeque<Held>,
}

impl Slots {
    #[inline]
    fn emit(
        &mut self,
        seq: u64,
        pool: &mut BufPool,
        f: impl FnOnce(&mut Vec<u8>),
        ext: Option<ExtBody>,
    ) {
        if self.held.is_empty() {
            let buf = self.out.buf(pool);
            let before = buf.len();
            f(buf);
            self.out.appended(before);
            if let Some(e) = ext {
                self.out.push_ext(e);
            }
        } else {
            let mut bytes = Vec::new();
            f(&mut bytes);
            self.held.push_back(Held {
                seq,
                data: Some(Rendered { bytes, body: ext }),
                ticket: None,
            });
        }
    }

    /// Moves leading completed responses to the writer.
    fn release(&mut self, pool: &mut BufPool) {
        while let Some(Held { data: Some(_), .. }) = self.held.front() {
            let r = self.held.pop_front().unwrap().data.unwrap();
            let buf = self.out.buf(pool);
            let before = buf.len();
            buf.extend_from_slice(&r.bytes);
            self.out.appended(before);
            if let Some(e) = r.body {
                self.out.push_ext(e);
            }
        }
    }
}

/// Where the reader is within the current request.
#[derive(Clone, Copy)]
enum Reading {
    /// Waiting for (the rest of) a request head.
    None,
    /// Head of `head` bytes parsed; `len` body bytes expected after it.
    Length { head: usize, len: usize },
    /// Head of `head` bytes parsed; `decoded` body bytes decoded after it.
    Chunked { head: usize, decoded: usize },
}

/// What the head says about framing and the connection.
struct Framing {
    body: FramingBody,
    keep_alive: bool,
    expect_continue: bool,
}

enum FramingBody {
    None,
    Length(usize),
    Chunked,
}

/// An HTTP/1.1 server connection.
pub struct Conn {
    rbuf: Vec<u8>,
    /// Start of unprocessed input in `rbuf`.
    rpos: usize,
    /// Bytes after `rpos` known to hold no complete head.
    scanned: usize,
    body: Reading,
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

impl Conn {
    pub fn new() -> Self {
        Conn {
            rbuf: Vec::new(),
            rpos: 0,
            scanned: 0,
            body: Reading::None,
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
        pool: &mut BufPool,
        limits: &Limits,
    ) -> &mut [std::mem::MaybeUninit<u8>] {
        if self.rbuf.capacity() == 0 {
            self.rbuf = pool.get();
        }
        if self.rpos > 0 && self.rbuf.capacity() - self.rbuf.len() < pool.block() / 4 {
            self.rbuf.drain(..self.rpos);
            self.rpos = 0;
        }
        if self.rbuf.capacity() == self.rbuf.len() {
            // a request bigger than a block: grow up to what the limits allow
            let cap = limits.max_head + limits.max_body + pool.block();
            let want = (self.rbuf.capacity() * 2).min(cap.max(self.rbuf.capacity() + 1));
            self.rbuf.reserve_exact(want - self.rbuf.len());
        }
        self.rbuf.spare_capacity_mut()
    }

    /// Records `n` bytes written into [`Conn::recv_buf`].
    #[inline]
    pub fn received(&mut self, n: usize) {
        let len = self.rbuf.len();
        assert!(n <= self.rbuf.capacity() - len);
        // SAFETY: the caller initialised `n` bytes of the spare capacity.
        unsafe { self.rbuf.set_len(len + n) };
        self.bytes_in += n as u64;
    }

    /// Copies received bytes in (for hosts that own their read buffers).
    pub fn feed(&mut self, data: &[u8], pool: &mut BufPool, limits: &Limits) {
        let mut data = data;
        while !data.is_empty() {
            let spare = self.recv_buf(pool, limits);
            let n = spare.len().min(data.len());
            for (d, s) in spare[..n].iter_mut().zip(data) {
                d.write(*s);
            }
            self.received(n);
            data = &data[n..];
        }
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
        self.in_flight >= limits.max_pipelined || self.slots.out.unsent() >= limits.max_unsent
    }

    /// Whether input is buffered that `process` has not consumed.
    pub fn has_input(&self) -> bool {
        self.rbuf.len() > self.rpos
    }

    /// Parses every complete request buffered and hands each to `svc`.
    pub fn process<S: Service>(
        &mut self,
        svc: &mut S,
        cfg: &ProtoConfig,
        pool: &mut BufPool,
        headers: &mut [Header<'_>],
        date: &[u8; DATE_LEN],
    ) {
        let limits = &cfg.limits;
        while !self.backpressured(limits) {
            match self.body {
                Reading::None => {
                    if self.no_more || !self.next_head(svc, cfg, pool, headers, date) {
                        break;
                    }
                }
                Reading::Length { head, len } => {
                    if self.rbuf.len() - self.rpos < head + len {
                        break;
                    }
                    self.body = Reading::None;
                    self.dispatch(
                        svc,
                        cfg,
                        pool,
                        headers,
                        date,
                        head,
                        head..head + len,
                        head + len,
                        None,
                    );
                }
                Reading::Chunked { head, decoded } => {
                    let start = self.rpos + head + decoded;
                    let raw_len = self.rbuf.len() - start;
                    if raw_len == 0 {
                        break;
                    }
                    match self.decoder.decode(&mut self.rbuf[start..], Mode::Strict) {
                        Ok(Decoded::Partial { len }) => {
                            self.rbuf.truncate(start + len);
                            self.body = Reading::Chunked {
                                head,
                                decoded: decoded + len,
                            };
                            if decoded + len > limits.max_body {
                                self.fail(413, pool, date, cfg);
                            }
                            break;
                        }
                        Ok(Decoded::Complete { len, rest }) => {
                            let total = decoded + len;
                            // the bytes after the body were moved to follow it
                            self.rbuf.truncate(start + len + rest);
                            self.body = Reading::None;
                            if total > limits.max_body {
                                self.fail(413, pool, date, cfg);
                                break;
                            }
                            self.dispatch(
                                svc,
                                cfg,
                                pool,
                                headers,
                                date,
                                head,
                                head..head + total,
                                head + total,
                                None,
                            );
                        }
                        Err(_) => {
                            self.fail(400, pool, date, cfg);
                            break;
                        }
                    }
                }
            }
        }
        self.stalled = self.backpressured(limits)
            && self.has_input()
            && (!self.no_more || self.reading_body());
        if self.rpos == self.rbuf.len()
            && self.rbuf.capacity() > 0
            && matches!(self.body, Reading::None)
        {
            self.rpos = 0;
            self.scanned = 0;
            pool.put(std::mem::take(&mut self.rbuf));
        }
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
        cfg: &ProtoConfig,
        pool: &mut BufPool,
        headers: &mut [Header<'_>],
        date: &[u8; DATE_LEN],
    ) -> bool {
        let limits = &cfg.limits;
        // SAFETY: `rbuf` is neither written nor reallocated while `avail` and
        // the request borrowed from it are in use: dispatching touches only the
        // output side and the counters, and `fail` only moves `rpos`.
        let avail: &[u8] = unsafe {
            std::slice::from_raw_parts(
                self.rbuf.as_ptr().add(self.rpos),
                self.rbuf.len() - self.rpos,
            )
        };
        if avail.is_empty() {
            return false;
        }
        // An incomplete head is parsed again only once an empty line arrived.
        if self.scanned > 0 {
            let from = self.scanned.saturating_sub(3);
            if !avail[from..]
                .windows(2)
                .any(|w| w == b"\n\n" || w == b"\n\r")
            {
                self.scanned = avail.len();
                return self.head_too_big(pool, date, cfg);
            }
        }
        let max = limits.max_headers.min(headers.len());
        // SAFETY: the header array is only borrowed for `buf`'s lifetime below:
        // `hs` does not outlive this function, and `self.rbuf` is not touched
        // while it is alive.
        let hs: &mut [Header<'_>] = unsafe {
            std::mem::transmute::<&mut [Header<'_>], &mut [Header<'_>]>(&mut headers[..max])
        };
        let (head_len, req) = match parse::parse_request(avail, hs, &parse::Config::strict()) {
            Ok(Status::Complete { len, value }) => (len, value),
            Ok(Status::Partial) => {
                self.scanned = avail.len();
                return self.head_too_big(pool, date, cfg);
            }
            Err(e) => {
                let status = match e {
                    parse::Error::TooManyHeaders => 431,
                    parse::Error::UnsupportedVersion => 505,
                    _ => 400,
                };
                self.fail(status, pool, date, cfg);
                return false;
            }
        };
        self.scanned = 0;
        if head_len > limits.max_request_line && request_line_len(avail) > limits.max_request_line {
            self.fail(414, pool, date, cfg);
            return false;
        }
        if head_len > limits.max_head {
            self.fail(431, pool, date, cfg);
            return false;
        }
        let framing = match framing(req.minor_version, &hs[..req.headers]) {
            Ok(f) => f,
            Err(status) => {
                self.fail(status, pool, date, cfg);
                return false;
            }
        };
        if !framing.keep_alive {
            self.no_more = true;
        }
        match framing.body {
            FramingBody::None => {
                self.dispatch(
                    svc,
                    cfg,
                    pool,
                    &mut [],
                    date,
                    head_len,
                    head_len..head_len,
                    head_len,
                    Some((req, &hs[..req.headers])),
                );
            }
            FramingBody::Length(len) => {
                if len > limits.max_body {
                    self.fail(413, pool, date, cfg);
                    return false;
                }
                if avail.len() >= head_len + len {
                    self.dispatch(
                        svc,
                        cfg,
                        pool,
                        &mut [],
                        date,
                        head_len,
                        head_len..head_len + len,
                        head_len + len,
                        Some((req, &hs[..req.headers])),
                    );
                } else {
                    self.body = Reading::Length {
                        head: head_len,
                        len,
                    };
                    if framing.expect_continue {
                        self.send_continue(pool);
                    }
                    return false;
                }
            }
            FramingBody::Chunked => {
                self.decoder = ChunkedDecoder::new(true);
                self.body = Reading::Chunked {
                    head: head_len,
                    decoded: 0,
                };
                if framing.expect_continue && avail.len() == head_len {
                    self.send_continue(pool);
                }
            }
        }
        true
    }

    fn head_too_big(
        &mut self,
        pool: &mut BufPool,
        date: &[u8; DATE_LEN],
        cfg: &ProtoConfig,
    ) -> bool {
        let avail = &self.rbuf[self.rpos..];
        let limits = &cfg.limits;
        let line_ended = avail.contains(&b'\n');
        if !line_ended && request_line_len(avail) > limits.max_request_line {
            self.fail(414, pool, date, cfg);
        } else if avail.len() > limits.max_head {
            self.fail(431, pool, date, cfg);
        }
        false
    }

    fn send_continue(&mut self, pool: &mut BufPool) {
        // An interim response may only go out when it is next in order.
        if self.slots.held.is_empty() && self.released_seq == self.next_seq {
            let buf = self.slots.out.buf(pool);
            let before = buf.len();
            buf.extend_from_slice(CONTINUE);
            self.slots.out.appended(before);
        }
    }

    /// Hands a complete request to the service. `head` is the head length,
    /// `body` the body range and `consumed` the bytes used, all from `rpos`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn dispatch<'b, S: Service>(
        &mut self,
        svc: &mut S,
        cfg: &ProtoConfig,
        pool: &mut BufPool,
        headers: &mut [Header<'_>],
        date: &[u8; DATE_LEN],
        head: usize,
        body: std::ops::Range<usize>,
        consumed: usize,
        parsed: Option<(parse::Request<'b>, &'b [Header<'b>])>,
    ) {
        // SAFETY: as in `next_head`: `rbuf` is not written or reallocated
        // until this function returns.
        let buf: &[u8] = unsafe {
            std::slice::from_raw_parts(
                self.rbuf.as_ptr().add(self.rpos),
                self.rbuf.len() - self.rpos,
            )
        };
        let (req, hs) = match parsed {
            Some(p) => p,
            None => {
                // A request whose body arrived later lost its header array to
                // other connections: parse the (valid) head again.
                let max = cfg.limits.max_headers.min(headers.len());
                // SAFETY: the borrow ends with this function.
                let hs: &mut [Header<'_>] = unsafe {
                    std::mem::transmute::<&mut [Header<'_>], &mut [Header<'_>]>(&mut headers[..max])
                };
                let Ok(Status::Complete { value: req, .. }) =
                    parse::parse_request(&buf[..head], hs, &parse::Config::strict())
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
            body: &buf[body.clone()],
            seq,
            region: &buf[..body.end],
        };
        let conn = if self.no_more {
            ConnHeader::Close
        } else if req.minor_version == 0 {
            ConnHeader::KeepAlive
        } else {
            ConnHeader::None
        };
        let mut res = Responder {
            out: &mut self.slots,
            pool,
            cfg,
            date,
            seq,
            head_only: req.method == b"HEAD",
            conn,
            done: false,
        };
        svc.handle(&request, &mut res);
        if !res.done {
            res.send(Response {
                status: 500,
                headers: b"",
                body: Body::Copy(b""),
            });
        }
        self.rpos += consumed;
        if self.no_more {
            self.closing = true;
        }
        self.sync_released();
    }

    /// Tracks how many responses reached the writer.
    #[inline]
    fn sync_released(&mut self) {
        let held = self.slots.held.len() as u64;
        self.released_seq = self.next_seq - held;
    }

    /// Completes a deferred response. Returns false for an unknown ticket.
    pub fn complete(
        &mut self,
        ticket: Ticket,
        r: Response<'_>,
        cfg: &ProtoConfig,
        pool: &mut BufPool,
        date: &[u8; DATE_LEN],
    ) -> bool {
        let Some(front) = self.slots.held.front() else {
            return false;
        };
        let Some(idx) = ticket.seq.checked_sub(front.seq) else {
            return false;
        };
        match self.slots.held.get(idx as usize) {
            Some(h) if h.data.is_none() && h.seq == ticket.seq => {}
            _ => return false,
        }
        let len = r.body.len();
        let server = cfg.server_name.as_deref();
        if idx == 0 {
            // The oldest open response: render it straight into the writer.
            self.slots.held.pop_front();
            let (copy, ext) = match r.body {
                Body::Copy(b) => (b, None),
                Body::Ext(e) => (&[][..], (!ticket.head_only).then_some(e)),
            };
            let buf = self.slots.out.buf(pool);
            let before = buf.len();
            render::head(
                buf,
                r.status,
                server,
                date,
                Some(len),
                ticket.conn,
                r.headers,
            );
            if !ticket.head_only {
                buf.extend_from_slice(copy);
            }
            self.slots.out.appended(before);
            if let Some(e) = ext {
                self.slots.out.push_ext(e);
            }
            self.slots.release(pool);
            self.sync_released();
            return true;
        }
        let mut bytes = Vec::new();
        render::head(
            &mut bytes,
            r.status,
            server,
            date,
            Some(len),
            ticket.conn,
            r.headers,
        );
        let body = match r.body {
            Body::Copy(b) => {
                if !ticket.head_only {
                    bytes.extend_from_slice(b);
                }
                None
            }
            Body::Ext(e) => (!ticket.head_only).then_some(e),
        };
        if let Some(h) = self.slots.held.get_mut(idx as usize) {
            h.data = Some(Rendered { bytes, body });
        }
        self.slots.release(pool);
        self.sync_released();
        true
    }

    /// Answers the oldest deferred response still pending with `status` (its
    /// handler took too long). A late completion for it is then ignored.
    pub fn expire_deferred(
        &mut self,
        status: u16,
        cfg: &ProtoConfig,
        pool: &mut BufPool,
        date: &[u8; DATE_LEN],
    ) -> bool {
        let Some(ticket) = self
            .slots
            .held
            .iter()
            .find(|h| h.data.is_none())
            .and_then(|h| h.ticket)
        else {
            return false;
        };
        let body = render::reason(status).as_bytes();
        let r = Response {
            status,
            headers: b"Content-Type: text/plain\r\n",
            body: Body::Copy(body),
        };
        self.complete(ticket, r, cfg, pool, date)
    }

    /// Whether part of a request head is buffered.
    pub fn reading_head(&self) -> bool {
        !self.no_more && self.has_input() && matches!(self.body, Reading::None)
    }

    /// Answers with an error status and closes after it.
    fn fail(&mut self, status: u16, pool: &mut BufPool, date: &[u8; DATE_LEN], cfg: &ProtoConfig) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight += 1;
        let body = render::reason(status).as_bytes();
        let server = cfg.server_name.as_deref();
        self.slots.emit(
            seq,
            pool,
            |dst| {
                let extra = b"Content-Type: text/plain\r\n";
                render::head(
                    dst,
                    status,
                    server,
                    date,
                    Some(body.len() + 1),
                    ConnHeader::Close,
                    extra,
                );
                dst.extend_from_slice(body);
                dst.push(b'\n');
            },
            None,
        );
        self.no_more = true;
        self.closing = true;
        self.body = Reading::None;
        self.rpos = self.rbuf.len();
        self.sync_released();
    }

    /// Answers a request that is still being read (timeouts) with `status`,
    /// if no byte of a response to it was queued, and closes after it.
    pub fn abort(
        &mut self,
        status: u16,
        cfg: &ProtoConfig,
        pool: &mut BufPool,
        date: &[u8; DATE_LEN],
    ) {
        if self.reading_request() {
            self.fail(status, pool, date, cfg);
        }
    }

    /// The unsent output as iovecs; returns how many were filled.
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
    pub fn written(&mut self, n: usize, pool: &mut BufPool) {
        self.slots.out.consume(n, pool);
        if self.slots.out.unsent() == 0 {
            // every released response is fully written
            self.in_flight = self.slots.held.len();
        }
    }

    /// All responses owed so far are written and none is pending.
    pub fn is_idle(&self) -> bool {
        self.slots.out.unsent() == 0
            && self.slots.held.is_empty()
            && matches!(self.body, Reading::None)
            && !self.has_input()
    }

    /// Whether a request is partly received (a head or a body in progress).
    pub fn reading_request(&self) -> bool {
        (!self.no_more && self.has_input()) || self.reading_body()
    }

    /// Whether a request body is being received.
    pub fn reading_body(&self) -> bool {
        !matches!(self.body, Reading::None)
    }

    /// True once the connection should be closed: no more requests will be
    /// served and every response owed is written.
    pub fn should_close(&self) -> bool {
        self.closing && self.slots.held.is_empty() && self.slots.out.unsent() == 0
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
        self.slots.held.iter().filter(|h| h.data.is_none()).count()
    }

    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Returns all buffers to `pool` (on close).
    pub fn release(&mut self, pool: &mut BufPool) {
        self.slots.out.clear(pool);
        self.slots.held.clear();
        pool.put(std::mem::take(&mut self.rbuf));
        self.rpos = 0;
    }
}

fn trim(v: &[u8]) -> &[u8] {
    let s = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let e = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(s, |e| e + 1);
    &v[s..e]
}

/// Reads message framing and connection options from the fields. `Err` holds
/// the status to answer with: conflicting or unknown framing is refused, as it
/// could smuggle a second request past an intermediary.
fn framing(minor: u8, headers: &[Header<'_>]) -> Result<Framing, u16> {
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut te_seen = false;
    let mut close = false;
    let mut keep_alive = false;
    let mut expect_continue = false;
    for h in headers {
        let name = h.name();
        match name.len() {
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                for part in h.value().split(|&b| b == b',') {
                    let v = trim(part);
                    if v.is_empty() || v.len() > 15 || !v.iter().all(u8::is_ascii_digit) {
                        return Err(400);
                    }
                    let n = v.iter().fold(0usize, |a, &d| a * 10 + (d - b'0') as usize);
                    match length {
                        Some(l) if l != n => return Err(400),
                        _ => length = Some(n),
                    }
                }
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                if te_seen || minor == 0 {
                    return Err(400);
                }
                te_seen = true;
                let mut codings = h.value().split(|&b| b == b',').map(trim);
                let last = codings.next_back().unwrap_or(b"");
                if !last.eq_ignore_ascii_case(b"chunked") {
                    return Err(400);
                }
                if codings.any(|c| c.eq_ignore_ascii_case(b"chunked")) {
                    return Err(400);
                }
                if h.value().contains(&b',') {
                    return Err(501); // a coding other than chunked
                }
                chunked = true;
            }
            10 if name.eq_ignore_ascii_case(b"connection") => {
                for opt in h.value().split(|&b| b == b',').map(trim) {
                    if opt.eq_ignore_ascii_case(b"close") {
                        close = true;
                    } else if opt.eq_ignore_ascii_case(b"keep-alive") {
                        keep_alive = true;
                    }
                }
            }
            6 if name.eq_ignore_ascii_case(b"expect") => {
                if trim(h.value()).eq_ignore_ascii_case(b"100-continue") {
                    expect_continue = true;
                } else {
                    return Err(417);
                }
            }
            _ => {}
        }
    }
    if chunked && length.is_some() {
        return Err(400);
    }
    let body = match (chunked, length) {
        (true, _) => FramingBody::Chunked,
        (false, Some(0)) | (false, None) => FramingBody::None,
        (false, Some(n)) => FramingBody::Length(n),
    };
    let keep_alive = !close && (minor >= 1 || keep_alive);
    Ok(Framing {
        body,
        keep_alive,
        expect_continue: expect_continue && minor >= 1,
    })
}

/// Length of the request line at the start of `avail`, without its line
/// ending (or of as much of it as has arrived).
fn request_line_len(avail: &[u8]) -> usize {
    let end = avail
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(avail.len());
    end - usize::from(end > 0 && avail[end - 1] == b'\r')
}
