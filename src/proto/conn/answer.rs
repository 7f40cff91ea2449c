//! The output side of a connection: answers completed after the request
//! (deferred and streamed responses, protocol switches), the engine's own
//! error answers, and what the driver writes.

use crate::proto::framing::ConnHeader;
use crate::proto::head_memo::{self, HeadMemo};
use crate::proto::render::{self, Body, Response};
use crate::proto::request::Ticket;
use crate::proto::stream::{self, StreamError};
use crate::proto::Ctx;

use super::{Conn, Gate};

impl Conn {
    /// Completes a deferred response. Returns false for an unknown ticket.
    pub fn complete(&mut self, ticket: Ticket, r: Response<'_>, ctx: &mut Ctx<'_>) -> bool {
        self.complete_via(ticket, r, ctx, None)
    }

    /// As [`Conn::complete`], a copied body's head taken from `memo` when
    /// it fits (see [`HeadMemo`]): batch and deferred answers repeat their
    /// heads as handlers' do.
    pub(crate) fn complete_memo(
        &mut self,
        ticket: Ticket,
        r: Response<'_>,
        ctx: &mut Ctx<'_>,
        memo: &mut HeadMemo,
    ) -> bool {
        self.complete_via(ticket, r, ctx, Some(memo))
    }

    fn complete_via(
        &mut self,
        ticket: Ticket,
        r: Response<'_>,
        ctx: &mut Ctx<'_>,
        memo: Option<&mut HeadMemo>,
    ) -> bool {
        let server = ctx.cfg.server_name.as_deref();
        let date = ctx.date;
        let unread = self
            .body
            .as_ref()
            .is_some_and(|b| b.seq == ticket.seq && b.gate == Gate::Waiting);
        let conn = if unread || self.last_while_draining(ticket.seq) {
            ConnHeader::Close
        } else {
            ticket.conn
        };
        let head_only = ticket.head_only;
        let done = self.slots.fill(ticket.seq, r.status, ctx.pool, |dst| {
            if let (Body::Copy(b), Some(m)) = (&r.body, memo) {
                head_memo::response_memo(
                    dst, m, r.status, r.headers, b, server, date, conn, head_only,
                );
                return None;
            }
            render::response(dst, r, server, date, conn, head_only)
        });
        if done && unread {
            // answered without reading the body: it is not wanted
            self.body = None;
            self.cut();
        }
        if done {
            self.sync_released();
        }
        done
    }

    /// Starts streaming the deferred response `ticket` (see
    /// [`Responder::stream`]). Returns false for an unknown ticket.
    pub fn stream_start(
        &mut self,
        ticket: Ticket,
        status: u16,
        headers: &[u8],
        len: Option<usize>,
        ctx: &mut Ctx<'_>,
    ) -> bool {
        let h = stream::head(status, ticket.head_only, len, ticket.minor);
        let close = h.framing == stream::Framing::Close;
        let conn = if close || self.last_while_draining(ticket.seq) {
            ConnHeader::Close
        } else {
            ticket.conn
        };
        let (date, server) = (ctx.date, ctx.cfg.server_name.as_deref());
        let ok = self
            .slots
            .open_stream(ticket.seq, status, true, h.framing, ctx.pool, |dst| {
                render::stream_head(dst, status, server, date, &h, conn, headers)
            });
        if ok && close {
            self.no_more = true;
            self.closing = true;
        }
        ok
    }

    /// Appends a piece of body to stream `seq`. It goes out when every
    /// response before it has; a HEAD request's pieces are dropped.
    pub fn stream_write(
        &mut self,
        seq: u64,
        data: Body<'_>,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), StreamError> {
        let n = data.len();
        self.slots.stream_piece(seq, n, ctx.pool, |buf| match data {
            Body::Copy(b) => {
                buf.extend_from_slice(b);
                None
            }
            Body::Ext(e) => Some(e),
        })
    }

    /// Ends stream `seq`; `trailers` (complete `Name: value\r\n` lines) go
    /// out when the body is chunked. Responses behind it follow. On
    /// `TooShort` the connection closes after what was written.
    pub fn stream_end(
        &mut self,
        seq: u64,
        trailers: &[u8],
        ctx: &mut Ctx<'_>,
    ) -> Result<(), StreamError> {
        let r = self.slots.end_stream(seq, trailers, ctx.pool, false);
        if r.is_err() && r != Err(StreamError::Unknown) {
            self.cut();
        }
        self.sync_released();
        r.map(|_| ())
    }

    /// Ends stream `seq` without completing its body, so that the client
    /// sees it cut: the connection closes after what was written.
    pub fn stream_abort(&mut self, seq: u64, ctx: &mut Ctx<'_>) {
        if self.slots.end_stream(seq, b"", ctx.pool, true).is_ok() {
            self.cut();
        }
        self.sync_released();
    }

    /// No more requests or responses: close once the output is written.
    pub(super) fn cut(&mut self) {
        self.no_more = true;
        self.closing = true;
        self.cut_short = true;
        self.input.discard();
    }

    /// Completes the deferred response `ticket` with a protocol switch (see
    /// [`Responder::upgrade`]). Responses to requests the client sent after
    /// it, against the protocol, are dropped. Returns false for an unknown
    /// ticket.
    pub fn complete_upgrade(
        &mut self,
        ticket: Ticket,
        status: u16,
        headers: &[u8],
        ctx: &mut Ctx<'_>,
    ) -> bool {
        let (date, server) = (ctx.date, ctx.cfg.server_name.as_deref());
        self.slots.truncate_after(ticket.seq);
        let done = self.slots.fill(ticket.seq, status, ctx.pool, |dst| {
            render::switch_head(dst, status, server, date, headers);
            None
        });
        if done {
            self.no_more = true;
            self.closing = false;
            self.upgraded = true;
            self.sync_released();
        }
        done
    }

    /// Whether a protocol switch was accepted and every response is
    /// written: the host now takes the connection over, with
    /// [`Conn::take_upgrade`].
    pub fn upgraded(&self) -> bool {
        self.upgraded && self.slots.held() == 0 && self.slots.out.unsent() == 0
    }

    /// The bytes received past the request that switched protocols, without
    /// taking them.
    pub fn upgrade_rest(&self) -> &[u8] {
        self.input.avail()
    }

    /// The bytes the client sent past the request that switched protocols
    /// (the new protocol's first bytes). Returns the buffers to `pool`.
    pub fn take_upgrade(&mut self, pool: &mut crate::proto::BufPool) -> Vec<u8> {
        let rest = self.input.avail().to_vec();
        self.release(pool);
        rest
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
    pub(super) fn fail(&mut self, status: u16, ctx: &mut Ctx<'_>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight += 1;
        let body = render::reason(status).as_bytes();
        let server = ctx.cfg.server_name.as_deref();
        let date = ctx.date;
        self.failed = status;
        self.slots.emit(seq, status, ctx.pool, |dst| {
            let extra = b"Content-Type: text/plain\r\n";
            let len = Some(body.len() + 1);
            render::head(dst, status, server, date, len, ConnHeader::Close, extra);
            dst.extend_from_slice(body);
            dst.push(b'\n');
            None
        });
        self.no_more = true;
        self.closing = true;
        self.cut_short = true;
        self.input.discard();
        self.sync_released();
    }

    /// Answers a request that is still being read (timeouts) with `status`,
    /// if no byte of a response to it was queued, and closes after it.
    ///
    /// For a streamed body, the handler's response is answered `status`
    /// if still pending, and the request whose body the service will not
    /// get in full is returned: tell the body's consumer.
    pub fn abort(&mut self, status: u16, ctx: &mut Ctx<'_>) -> Option<u64> {
        if self.body.is_some() {
            return self.end_body(status, ctx);
        }
        if self.reading_request() {
            self.fail(status, ctx);
        }
        None
    }

    /// The file body to `sendfile(2)` next, once the bytes before it are
    /// written; [`Conn::iovecs`] stops before it. Only the engine's server
    /// queues file bodies.
    #[inline]
    pub fn out_file(&self) -> Option<crate::proto::FileChunk> {
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
    pub fn written(&mut self, n: usize, pool: &mut crate::proto::BufPool) {
        self.slots.out.consume(n, pool);
        if self.slots.out.unsent() == 0 {
            // every released response is fully written
            self.in_flight = self.slots.held();
        }
    }
}
