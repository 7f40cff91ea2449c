//! A request body streamed to the service in pieces, through a gate the
//! handler opens (and a paused sink closes), with `100 Continue` sent when
//! the handler first asks for a body the client holds back.

use crate::parse::{self, ChunkedDecoder, Decoded, Header, Mode};
use crate::proto::framing::{self, BodyFraming, ConnHeader};
use crate::proto::reader::Reading;
use crate::proto::render::{self, Body, Response};
use crate::proto::responder::{BodyPiece, Flow, Service};
use crate::proto::Ctx;

use super::{Conn, Span, CONTINUE};

/// A request body passed to the service in pieces.
pub(super) struct BodyStream {
    pub(super) seq: u64,
    /// Bytes still to come, or `None` when chunked.
    left: Option<usize>,
    total: usize,
    max: usize,
    pub(super) gate: Gate,
    /// The client waits for `100 Continue` before sending the body.
    expect_continue: bool,
}

/// Whether a streamed body is read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Gate {
    /// The handler has not asked for it yet.
    Waiting,
    Open,
    /// The service asked for a pause.
    Paused,
}

impl Conn {
    /// Hands a request whose body is streamed to the service now, with its
    /// head; the body follows through [`Service::body`].
    pub(super) fn start_body<'b, S: Service>(
        &mut self,
        svc: &mut S,
        ctx: &mut Ctx<'_>,
        req: parse::Request<'b>,
        fields: &'b [Header<'b>],
        head: usize,
        f: framing::Framing,
    ) -> bool {
        let left = match f.body {
            BodyFraming::Length(len) if len > self.max_body => {
                self.fail(413, ctx);
                return false;
            }
            BodyFraming::Length(len) => Some(len),
            _ => {
                self.decoder = ChunkedDecoder::new(true);
                None
            }
        };
        self.body = Some(BodyStream {
            seq: self.next_seq,
            left,
            total: 0,
            max: self.max_body,
            gate: Gate::Waiting,
            expect_continue: f.expect_continue,
        });
        self.input.reading = Reading::Stream;
        let span = Span {
            head,
            body: head..head,
            end: head,
        };
        self.dispatch(svc, ctx, &mut [], span, Some((req, fields)), true);
        true
    }

    /// Opens (or reopens, after [`Flow::Pause`]) the streamed body of
    /// request `seq`: its pieces go to the service from the next
    /// [`Conn::process`] on. Sends `100 Continue` if the client waits for it.
    /// Returns false when no body of request `seq` is being streamed.
    pub fn read_body(&mut self, seq: u64, ctx: &mut Ctx<'_>) -> bool {
        let Some(b) = self.body.as_mut().filter(|b| b.seq == seq) else {
            return false;
        };
        b.gate = Gate::Open;
        if std::mem::take(&mut b.expect_continue)
            && !self.input.has_input()
            && self.slots.next_out(seq, self.released_seq)
        {
            self.slots.out.render(ctx.pool, |buf| {
                buf.extend_from_slice(CONTINUE);
                None
            });
        }
        true
    }

    /// Passes buffered body bytes to the service. Returns false when no
    /// progress can be made.
    pub(super) fn pump_body<S: Service>(&mut self, svc: &mut S, ctx: &mut Ctx<'_>) -> bool {
        let Some(b) = self.body.as_mut() else {
            self.input.reading = Reading::Head;
            return true;
        };
        if b.gate != Gate::Open || !self.input.has_input() {
            return false;
        }
        let start = self.input.pos;
        let (n, done) = match b.left {
            Some(left) => {
                let n = left.min(self.input.buf.len() - start);
                b.left = Some(left - n);
                (n, n == left)
            }
            None => match self
                .decoder
                .decode(&mut self.input.buf[start..], Mode::Strict)
            {
                Ok(Decoded::Partial { len }) => {
                    self.input.buf.truncate(start + len);
                    (len, false)
                }
                Ok(Decoded::Complete { len, rest }) => {
                    // the bytes after the body were moved to follow it
                    self.input.buf.truncate(start + len + rest);
                    (len, true)
                }
                Err(_) => {
                    self.failed = 400;
                    self.abort_body(400, svc, ctx);
                    return false;
                }
            },
        };
        if self.decoder.trailer_len() > ctx.cfg.limits.max_head {
            self.abort_body(431, svc, ctx);
            return false;
        }
        b.total += n;
        if b.total > b.max {
            self.failed = 413;
            self.abort_body(413, svc, ctx);
            return false;
        }
        let seq = b.seq;
        if let Some(t) = &mut self.slots.tally {
            t.body_in(seq, n);
        }
        self.input.pos += n;
        let mut flow = Flow::Continue;
        if n > 0 {
            flow = svc.body(seq, BodyPiece::Data(&self.input.buf[start..start + n]));
        }
        if done {
            self.body = None;
            self.input.reading = Reading::Head;
            svc.body(seq, BodyPiece::End);
            return true;
        }
        if flow == Flow::Pause {
            if let Some(b) = self.body.as_mut() {
                b.gate = Gate::Paused;
            }
            return false;
        }
        n > 0
    }

    /// Ends a streamed body that will not complete: the service hears
    /// `Aborted`, the request is answered `status` unless its handler
    /// answered already, and the connection closes.
    pub(super) fn abort_body<S: Service>(&mut self, status: u16, svc: &mut S, ctx: &mut Ctx<'_>) {
        if let Some(seq) = self.end_body(status, ctx) {
            svc.body(seq, BodyPiece::Aborted);
        }
    }

    /// [`Conn::abort_body`] without the service: returns the request whose
    /// body was streamed, for the host to tell.
    pub(super) fn end_body(&mut self, status: u16, ctx: &mut Ctx<'_>) -> Option<u64> {
        let b = self.body.take()?;
        if let Some(mut t) = self.slots.pending_ticket(b.seq) {
            t.conn = ConnHeader::Close;
            let r = Response {
                status,
                headers: b"Content-Type: text/plain\r\n",
                body: Body::Copy(render::reason(status).as_bytes()),
            };
            self.complete(t, r, ctx);
        }
        self.cut();
        Some(b.seq)
    }
}
