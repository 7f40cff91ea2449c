//! A connection's deadline armed after each turn, and what happens when
//! one passes.

use super::Worker;
use crate::proto::Ctx;
use crate::server::observe::ErrorReason;
use crate::server::stream;
use crate::server::stream::EndReason;
use crate::server::timers::{Expired, NEVER};

impl Worker {
    pub(super) fn arm(&mut self, idx: usize) {
        let t = &self.shared.cfg.timeouts;
        let e = &mut self.conns[idx];
        let v = e.view();
        e.clocks.update(&v, self.now);
        let (at, _) = e.clocks.deadline(&v, t);
        self.timers.arm(&mut e.clocks, at, idx, e.gen);
    }

    pub(super) fn fire_timers(&mut self) {
        while let Some((at, idx, gen)) = self.timers.pop_due(self.now) {
            let Some(e) = self.conns.get_mut(idx) else {
                continue;
            };
            if e.gen != gen || e.clocks.armed != at {
                continue; // closed, or superseded by an earlier entry
            }
            e.clocks.armed = NEVER;
            let v = e.view();
            e.clocks.update(&v, self.now);
            let (due, what) = e.clocks.deadline(&v, &self.shared.cfg.timeouts);
            if due > self.now {
                self.timers.arm(&mut e.clocks, due, idx, gen);
                continue;
            }
            let mut ctx = Ctx {
                cfg: &self.shared.cfg.proto,
                pool: &mut self.pool,
                date: &self.date.text,
            };
            match what {
                Some(Expired::Write) | Some(Expired::SendRate) => {
                    let r = ErrorReason::WriteTimeout;
                    self.obs.error(r, 0, e.conn.peer(), &self.stats);
                    self.close(idx);
                    continue;
                }
                Some(Expired::Idle) | Some(Expired::Proxy) | Some(Expired::Linger) | None => {
                    self.close(idx);
                    continue;
                }
                Some(Expired::Request) => {
                    let seq = e.conn.first_pending();
                    if e.conn.expire_deferred(503, &mut ctx) {
                        stream::ended(&mut e.watchers, seq, EndReason::Timeout);
                        self.batch.cancel(idx, e.gen, seq);
                        let r = ErrorReason::RequestTimeout;
                        self.obs.error(r, 503, e.conn.peer(), &self.stats);
                    }
                    e.clocks.deferred_since = 0;
                }
                Some(w @ (Expired::Body | Expired::BodyRate | Expired::Header)) => {
                    if e.conn.abort(408, &mut ctx).is_some() {
                        e.body_aborted();
                    }
                    e.conn.take_failed(); // reported here, with its reason
                    let r = if w != Expired::Header {
                        ErrorReason::BodyTimeout
                    } else {
                        ErrorReason::HeaderTimeout
                    };
                    self.obs.error(r, 408, e.conn.peer(), &self.stats);
                }
            }
            self.drive(idx);
        }
    }
}
