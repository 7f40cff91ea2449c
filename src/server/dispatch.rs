//! The route hop: each request the connection core parsed is routed and
//! answered, with a static response, a handler, or a place in the batch.

use std::sync::Arc;

use super::batch::Batcher;
use super::mailbox::Mailbox;
use super::response::{Origin, Outcome, ResponseBuilder};
use super::router::{ErrorPages, Hit, Routed, Router, Scratch, Target};
use crate::proto::{Body, Request, Responder, Response, Service};

/// The worker's services, lent to one connection's `process` call.
pub(crate) struct Dispatch<'a> {
    pub(crate) router: &'a Router,
    pub(crate) builder: &'a mut ResponseBuilder,
    pub(crate) mailbox: &'a Arc<Mailbox>,
    pub(crate) errors: &'a ErrorPages,
    pub(crate) batch: &'a mut Batcher,
    pub(crate) scratch: &'a mut Scratch,
    pub(crate) token: usize,
    pub(crate) gen: u32,
}

impl Service for Dispatch<'_> {
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
            }) => (h, names),
            Some(Hit {
                target: Target::Batch(tag),
                ..
            }) => return self.batch.push(*tag, req, res, self.token, self.gen),
            None => return self.miss(req, res),
        };
        let req = Routed::with_params(req, names, &self.scratch.params);
        let b = &mut *self.builder;
        b.begin(Origin {
            mailbox: self.mailbox.clone(),
            token: self.token,
            gen: self.gen,
            ticket: res.ticket(),
        });
        // a panicking handler answers 500, like a failing one
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.call(&req, b)))
            .is_ok_and(|r| r.is_ok());
        match b.finish(ok) {
            Outcome::Defer => {
                res.defer();
            }
            Outcome::Send => res.send(b.response()),
        }
    }
}

impl Dispatch<'_> {
    /// 404, or 405 with the methods the path has in `Allow`.
    #[cold]
    fn miss(&mut self, req: &Request<'_>, res: &mut Responder<'_>) {
        let head = &mut self.scratch.head;
        head.clear();
        let (page_head, body) = &self.errors.method_not_allowed;
        head.extend_from_slice(page_head);
        if !self.router.allow(req.path, head) {
            return res.send_static(&self.errors.not_found);
        }
        res.send(Response {
            status: 405,
            headers: head,
            body: Body::Copy(body),
        });
    }
}
