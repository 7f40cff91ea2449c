//! What other threads send the worker: deferred responses, streams,
//! protocol switches and body reads through the mailbox, and the batch
//! handler's answers.

use super::{hand_over, Worker};
use crate::proto::{Body, BodyPiece, Ctx};
use crate::server::batch::Origin;
use crate::server::mailbox::Work;
use crate::server::stream::{self, EndReason};

impl Worker {
    pub(super) fn drain_mailbox(&mut self) {
        // Every completion first, then one turn per connection: the answers
        // a batch completion brings go out in one write, not one each.
        let mut touched = std::mem::take(&mut self.touched);
        touched.clear();
        for c in self.mailbox.take() {
            let idx = c.token;
            let Some(e) = self.conns.get_mut(idx).filter(|e| e.gen == c.gen) else {
                // the connection closed; its slot may have been reused
                match c.work {
                    Work::Stream(_, _, shared) => shared.close(),
                    Work::Upgrade(_, hook) => hand_over(hook, None),
                    Work::ReadBody(mut sink) => {
                        stream::feed(&mut sink, BodyPiece::Aborted);
                    }
                    Work::Watch(hook) => stream::tell_end(hook, EndReason::Gone),
                    _ => {}
                }
                continue;
            };
            let mut ctx = Ctx {
                cfg: &self.shared.cfg.proto,
                pool: &mut self.pool,
                date: &self.date.text,
            };
            let seq = c.ticket.seq;
            match c.work {
                Work::Respond(mut parts) => {
                    e.conn
                        .complete_memo(c.ticket, parts.response(), &mut ctx, &mut self.heads);
                    stream::ended(&mut e.watchers, Some(seq), EndReason::Sent);
                }
                Work::Watch(hook) => {
                    if e.conn.is_pending(seq) {
                        e.watchers.push((seq, hook));
                    } else {
                        // answered already, and not by its owner: the timeout
                        stream::tell_end(hook, EndReason::Timeout);
                    }
                }
                Work::Stream(mut parts, len, shared) => {
                    let r = parts.response();
                    if e.conn
                        .stream_start(c.ticket, r.status, r.headers, len, &mut ctx)
                    {
                        e.streams.push(shared);
                        stream::ended(&mut e.watchers, Some(seq), EndReason::Sent);
                    } else {
                        shared.close(); // its request timed out meanwhile
                    }
                }
                Work::Data(piece) => {
                    if e.conn
                        .stream_write(seq, Body::Ext(piece), &mut ctx)
                        .is_err()
                    {
                        e.conn.stream_abort(seq, &mut ctx);
                    }
                }
                Work::End(trailers) => {
                    let _ = e.conn.stream_end(seq, &trailers, &mut ctx);
                    e.streams.retain(|s| s.origin().ticket.seq != seq);
                }
                Work::Abort => {
                    e.conn.stream_abort(seq, &mut ctx);
                    e.streams.retain(|s| s.origin().ticket.seq != seq);
                }
                Work::ReadBody(sink) => {
                    e.body_sink = Some(sink);
                    if !e.conn.read_body(seq, &mut ctx) {
                        e.body_aborted(); // no body follows (any more)
                    }
                }
                Work::ResumeBody => {
                    e.conn.read_body(seq, &mut ctx);
                }
                Work::Upgrade(parts, hook) => {
                    if e.conn
                        .complete_upgrade(c.ticket, parts.status, &parts.headers, &mut ctx)
                    {
                        e.upgrade = Some(hook);
                        stream::ended(&mut e.watchers, Some(seq), EndReason::Sent);
                    } else {
                        hand_over(hook, None); // its request timed out meanwhile
                    }
                }
            }
            if touched.last() != Some(&idx) {
                touched.push(idx);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for &idx in &touched {
            if self.conns.contains(idx) {
                self.drive(idx);
            }
        }
        self.touched = touched;
    }

    /// Hands the collected batch to the batch handler and applies its
    /// answers; repeats while writing those answers let more requests in.
    pub(super) fn flush_batch(&mut self) {
        while !self.batch.is_empty() {
            let (conns, pool, heads) = (&mut self.conns, &mut self.pool, &mut self.heads);
            let (cfg, date) = (&self.shared.cfg.proto, &self.date.text);
            let mut deliver = |o: Origin, r: crate::proto::Response<'_>| {
                let Some(e) = conns.get_mut(o.token).filter(|e| e.gen == o.gen) else {
                    return false; // the connection closed; its slot may have been reused
                };
                let mut ctx = Ctx { cfg, pool, date };
                e.conn.complete_memo(o.ticket, r, &mut ctx, heads)
            };
            let mut touched = std::mem::take(&mut self.touched);
            touched.clear();
            touched.extend_from_slice(self.batch.flush(&mut deliver));
            for &idx in &touched {
                if self.conns.contains(idx) {
                    self.drive(idx);
                }
            }
            self.touched = touched;
        }
    }
}
