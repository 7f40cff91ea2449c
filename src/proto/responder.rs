//! The service interface: each request, and the handle that answers it.

use super::date::DATE_LEN;
use super::framing::ConnHeader;
use super::head_memo::{self, HeadMemo};
use super::pool::BufPool;
use super::render::{self, Response, StaticResponse};
use super::request::{Request, Ticket};
use super::slots::Slots;
use super::stream;
use super::ProtoConfig;

/// What the connection does with each request.
pub trait Service {
    /// Answers `req` through `res`: send now, or `defer` and complete later
    /// with [`super::Conn::complete`]. Leaving it unanswered sends a 500.
    fn handle(&mut self, req: &Request<'_>, res: &mut Responder<'_>);

    /// How to take the body of `req` (whose `body` is empty): called once
    /// its head is complete, for requests that have a body.
    fn body_plan(&mut self, _req: &Request<'_>) -> BodyPlan {
        BodyPlan::default()
    }

    /// A piece of the streamed body of request `seq` (see
    /// [`BodyPlan::stream`]).
    fn body(&mut self, _seq: u64, _piece: BodyPiece<'_>) -> Flow {
        Flow::Continue
    }
}

/// How a request's body is taken.
#[derive(Clone, Copy, Debug, Default)]
pub struct BodyPlan {
    /// The largest body allowed (over it: 413); `None` for the limits'.
    pub max_body: Option<usize>,
    /// Call `handle` at once, with the head, and pass the body to
    /// [`Service::body`] in pieces as it arrives, in constant memory,
    /// instead of reading it whole first.
    pub stream: bool,
}

/// A piece of a streamed request body.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyPiece<'a> {
    Data(&'a [u8]),
    /// The body is complete.
    End,
    /// The body will not complete: the client broke the framing, passed
    /// `max_body`, stalled, or left.
    Aborted,
}

/// Whether the reader goes on after a piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Read no more of the body until [`super::Conn::read_body`].
    Pause,
}

/// Writes the response for one request.
pub struct Responder<'a> {
    pub(crate) out: &'a mut Slots,
    pub(crate) pool: &'a mut BufPool,
    pub(crate) cfg: &'a ProtoConfig,
    pub(crate) date: &'a [u8; DATE_LEN],
    pub(crate) seq: u64,
    pub(crate) head_only: bool,
    pub(crate) conn: ConnHeader,
    pub(crate) minor: u8,
    pub(crate) done: bool,
    /// A body delimited by the connection's end was started: no request
    /// after this one is served.
    pub(crate) close_after: bool,
    /// The connection is handed over once this response is written.
    pub(crate) upgrade: bool,
    /// The handler asked for the streamed body.
    pub(crate) read_body: bool,
}

impl Responder<'_> {
    /// Sends a response rendered at registration time.
    #[inline]
    pub fn send_static(&mut self, r: &StaticResponse) {
        let (date, conn, head_only) = (self.date, self.conn, self.head_only);
        self.out.emit(self.seq, r.status(), self.pool, |dst| {
            r.write(dst, date, conn, head_only);
            None
        });
        self.done = true;
    }

    /// Sends a response, adding `Date`, `Content-Length` and, when configured, `Server`.
    #[inline]
    pub fn send(&mut self, r: Response<'_>) {
        let (date, conn, head_only) = (self.date, self.conn, self.head_only);
        let server = self.cfg.server_name.as_deref();
        self.out.emit(self.seq, r.status, self.pool, |dst| {
            render::response(dst, r, server, date, conn, head_only)
        });
        self.done = true;
    }

    /// As [`Responder::send`], for a body copied from `body`, with the
    /// head copied from `memo` when it fits (see [`HeadMemo`]).
    #[inline]
    pub(crate) fn send_memo(
        &mut self,
        status: u16,
        headers: &[u8],
        body: &[u8],
        memo: &mut HeadMemo,
    ) {
        let (date, conn, head_only) = (self.date, self.conn, self.head_only);
        let server = self.cfg.server_name.as_deref();
        let (s, h) = (server, headers);
        if self.out.straight() {
            // not through `emit`'s closure: a call and its set-up saved
            let buf = self.out.out.buf(self.pool);
            let before = buf.len();
            head_memo::response_memo(buf, memo, status, h, body, s, date, conn, head_only);
            self.out.emitted(self.seq, status, before);
        } else {
            self.out.emit(self.seq, status, self.pool, |dst| {
                head_memo::response_memo(dst, memo, status, h, body, s, date, conn, head_only);
                None
            });
        }
        self.done = true;
    }

    /// Starts a streamed response: the head now, the body later in pieces
    /// through [`super::Conn::stream_write`] and [`super::Conn::stream_end`]
    /// with the returned ticket. `len` is the body's length when known;
    /// without it the body is chunked (HTTP/1.1) or ends with the
    /// connection (HTTP/1.0). `headers` holds complete `Name: value\r\n`
    /// lines.
    pub fn stream(&mut self, status: u16, headers: &[u8], len: Option<usize>) -> Ticket {
        let ticket = self.ticket();
        let h = stream::head(status, self.head_only, len, self.minor);
        let close = h.framing == stream::Framing::Close;
        let conn = if close { ConnHeader::Close } else { self.conn };
        let (date, server) = (self.date, self.cfg.server_name.as_deref());
        self.out
            .open_stream(self.seq, status, false, h.framing, self.pool, |dst| {
                render::stream_head(dst, status, server, date, &h, conn, headers)
            });
        self.close_after |= close;
        self.done = true;
        ticket
    }

    /// Accepts a protocol switch: sends `status` (101 for `Upgrade`, 2xx
    /// for `CONNECT`) with `headers` and no body. Once it and every earlier
    /// response are written, [`super::Conn::upgraded`] says so and the
    /// host takes the connection over.
    pub fn upgrade(&mut self, status: u16, headers: &[u8]) {
        let (date, server) = (self.date, self.cfg.server_name.as_deref());
        self.out.emit(self.seq, status, self.pool, |dst| {
            render::switch_head(dst, status, server, date, headers);
            None
        });
        self.upgrade = true;
        self.done = true;
    }

    /// Starts the body of a request whose body follows
    /// ([`Request::body_follows`]): its pieces go to [`Service::body`]. Until
    /// this (or [`super::Conn::read_body`]) the body is not read, and a
    /// client that expects `100 Continue` does not get it.
    pub fn read_body(&mut self) {
        self.read_body = true;
    }

    /// Promises a response later, through [`super::Conn::complete`] with this ticket.
    pub fn defer(&mut self) -> Ticket {
        let ticket = self.ticket();
        self.out.hold(ticket);
        self.done = true;
        ticket
    }

    /// The ticket [`Responder::defer`] would return.
    pub fn ticket(&self) -> Ticket {
        Ticket {
            seq: self.seq,
            head_only: self.head_only,
            conn: self.conn,
            minor: self.minor,
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
