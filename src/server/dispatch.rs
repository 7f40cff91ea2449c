//! The route hop: each request the connection core parsed is routed and
//! answered, with a static response, a handler, or a place in the batch.

use std::sync::Arc;

use super::batch::Batcher;
use super::mailbox::Mailbox;
use super::observe::{ErrorReason, Observer};
use super::response::{Outcome, ResponseBuilder};
use super::router::{ErrorPages, Hit, Routed, Router, Scratch, Target};
use super::stream::{self, BodySink, EndHook, EndReason, StreamState, UpgradeHook};
use crate::proto::{
    Body, BodyPiece, BodyPlan, Flow, HeadMemo, Request, Responder, Response, Service,
};

/// The worker's services, lent to one connection's `process` call.
pub(crate) struct Dispatch<'a> {
    pub(crate) router: &'a Router,
    pub(crate) builder: &'a mut ResponseBuilder,
    /// The head the builder's last response rendered.
    pub(crate) heads: &'a mut HeadMemo,
    pub(crate) mailbox: &'a Arc<Mailbox>,
    pub(crate) errors: &'a ErrorPages,
    pub(crate) batch: &'a mut Batcher,
    pub(crate) scratch: &'a mut Scratch,
    pub(crate) token: usize,
    pub(crate) gen: u32,
    /// Bytes a stream may have queued.
    pub(crate) budget: usize,
    /// The connection's open streams, told when it closes.
    pub(crate) streams: &'a mut Vec<Arc<StreamState>>,
    /// Who takes the connection after a protocol switch.
    pub(crate) upgrade: &'a mut Option<UpgradeHook>,
    /// Who reads the streamed request body.
    pub(crate) body_sink: &'a mut Option<BodySink>,
    /// Who hears how deferred responses end, by sequence number.
    pub(crate) watchers: &'a mut Vec<(u64, EndHook)>,
    pub(crate) obs: &'a Observer,
    pub(crate) stats: &'a super::Stats,
}

impl Service for Dispatch<'_> {
    #[inline]
    fn body_plan(&mut self, req: &Request<'_>) -> BodyPlan {
        self.router
            .plan(req.method, req.path, &mut self.scratch.params)
    }

    fn body(&mut self, _seq: u64, piece: BodyPiece<'_>) -> Flow {
        let Some(sink) = self.body_sink.as_mut() else {
            return Flow::Continue;
        };
        let last = !matches!(piece, BodyPiece::Data(_));
        let flow = stream::feed(sink, piece);
        if last {
            *self.body_sink = None;
        }
        flow
    }

    #[inline]
    fn handle(&mut self, req: &Request<'_>, res: &mut Responder<'_>) {
        let params = &mut self.scratch.params;
        let (h, names) = match self.router.find(req.method, req.path, params) {
            Some(Hit {
                target: Target::Static(s),
                ..
            }) => return res.send_static(s),
            Some(Hit {
                target: Target::Handler(h),
                names,
                ..
            }) => (h, names),
            Some(Hit {
                target: Target::Batch(tag),
                ..
            }) => return self.batch.push(*tag, req, res, self.token, self.gen),
            None => return self.miss(req, res),
        };
        let req = Routed::with_params(req, names, &self.scratch.params);
        let b = &mut *self.builder;
        b.begin(
            self.mailbox,
            self.token,
            self.gen,
            res.ticket(),
            self.budget,
        );
        // a panicking handler answers 500, like a failing one
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.call(&req, b)));
        let ok = matches!(r, Ok(Ok(())));
        if !ok {
            let (reason, status) = match r {
                Err(_) => (ErrorReason::HandlerPanicked, 500),
                _ => (ErrorReason::HandlerFailed, 500),
            };
            self.obs.error(reason, status, req.peer, self.stats);
        }
        if let Some(mut sink) = b.take_body_sink() {
            if req.body_follows {
                res.read_body();
                *self.body_sink = Some(sink);
            } else {
                // read whole already
                if !req.body.is_empty() {
                    stream::feed(&mut sink, BodyPiece::Data(req.body));
                }
                stream::feed(&mut sink, BodyPiece::End);
            }
        }
        let end_hook = b.take_end_hook();
        let seq = res.seq();
        let mut deferred = false;
        match b.finish(ok) {
            Outcome::Defer => {
                res.defer();
                deferred = true;
            }
            Outcome::Send => match b.copied() {
                Some((status, headers, body)) => res.send_memo(status, headers, body, self.heads),
                None => res.send(b.response()),
            },
            Outcome::Stream(len, shared) => {
                let p = b.response();
                res.stream(p.status, p.headers, len);
                self.streams.push(shared);
            }
            Outcome::Upgrade(status, hook) => {
                res.upgrade(status, b.response().headers);
                *self.upgrade = Some(hook);
            }
        }
        if let Some(h) = end_hook {
            if deferred {
                self.watchers.push((seq, h));
            } else {
                stream::tell_end(h, EndReason::Sent);
            }
        }
    }
}

impl Dispatch<'_> {
    /// 404, or 405 with the methods the path has in `Allow`. `OPTIONS *`
    /// (the only method `*` comes with) gets 200 and the server's methods;
    /// a CONNECT, 405 and the server's methods but CONNECT.
    #[cold]
    fn miss(&mut self, req: &Request<'_>, res: &mut Responder<'_>) {
        let head = &mut self.scratch.head;
        head.clear();
        if req.path == b"*" {
            self.router.server_allow(b"", head);
            return res.send(Response {
                status: 200,
                headers: head,
                body: Body::Copy(b""),
            });
        }
        let (page_head, body) = &self.errors.method_not_allowed;
        head.extend_from_slice(page_head);
        if req.method == b"CONNECT" {
            self.router.server_allow(b"CONNECT", head);
        } else if !self.router.allow(req.path, head) {
            return res.send_static(&self.errors.not_found);
        }
        res.send(Response {
            status: 405,
            headers: head,
            body: Body::Copy(body),
        });
    }
}
