//! The service interface: each request, and the handle that answers it.

use super::date::DATE_LEN;
use super::framing::ConnHeader;
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
}

impl Responder<'_> {
    /// Sends a response rendered at registration time.
    #[inline]
    pub fn send_static(&mut self, r: &StaticResponse) {
        let (date, conn, head_only) = (self.date, self.conn, self.head_only);
        self.out.emit(self.seq, self.pool, |dst| {
            r.write(dst, date, conn, head_only);
            None
        });
        self.done = true;
    }

    /// Sends a response, adding `Date`, `Content-Length` and, when configured, `Server`.
    pub fn send(&mut self, r: Response<'_>) {
        let (date, conn, head_only) = (self.date, self.conn, self.head_only);
        let server = self.cfg.server_name.as_deref();
        self.out.emit(self.seq, self.pool, |dst| {
            render::response(dst, r, server, date, conn, head_only)
        });
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
            .open_stream(self.seq, false, h.framing, self.pool, |dst| {
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
        self.out.emit(self.seq, self.pool, |dst| {
            render::switch_head(dst, status, server, date, headers);
            None
        });
        self.upgrade = true;
        self.done = true;
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
