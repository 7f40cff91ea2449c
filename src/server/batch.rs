//! Batch routes: a worker collects the requests for batch routes while it
//! reads and processes its ready connections, then hands all of them to the
//! batch handler in one call at the end of the event-loop pass, and takes all
//! the answers back in one call. A host language (Python through ctypes)
//! then pays one crossing per batch instead of one per request.
//!
//! Every batched request is deferred on its connection, so responses still
//! leave in request order. A reply with status 0 stays deferred: it is
//! answered later, from any thread, through [`complete`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::mailbox::{Completion, Mailbox, Work};
use super::parts::Parts;
use crate::proto::flat::{self, Columns, FlatBatch, FlatRecord, Reply, ReplyError};
use crate::proto::{self, Request, Responder, Ticket};

/// The application code behind every batch route of a server.
pub trait BatchHandler: Send + Sync {
    /// Answers the requests of `batch`, through [`Batch::respond`], now or
    /// (with status 0) later through the server's `complete`, which accepts
    /// an id once the respond call that deferred it has returned. Requests left
    /// unanswered when it returns get a 500. Runs on a worker thread.
    fn call(&self, batch: &mut Batch<'_>);
}

/// Told of deferred batch requests whose answer nobody waits for any more:
/// the request timeout answered them 503, or their client left. Their work
/// can stop; answering them later is a harmless no-op. Runs on a worker
/// thread.
pub type BatchCancel = Arc<dyn Fn(&[u64]) + Send + Sync>;

/// The requests one worker collected in one pass, valid during the
/// [`BatchHandler::call`] that received it. Replies are applied as they are
/// given: nothing is copied on the way.
pub struct Batch<'a> {
    records: &'a [FlatRecord],
    data: &'a [u8],
    sink: &'a mut dyn Sink,
    answered: usize,
}

/// Where a batch's replies go, one by one, in request order.
trait Sink {
    fn reply(&mut self, index: usize, r: &Reply<'_>);
    /// The end of one respond call: deferred requests become completable.
    fn done(&mut self);
}

impl Batch<'_> {
    pub fn records(&self) -> &[FlatRecord] {
        self.records
    }

    pub fn data(&self) -> &[u8] {
        self.data
    }

    /// Answers the next `replies.len()` requests, in order (see
    /// [`crate::proto::flat`] for the columnar form). May be called several
    /// times. A set of the wrong shape is refused whole.
    pub fn respond(&mut self, replies: Columns<'_>) -> Result<(), ReplyError> {
        replies.check()?;
        self.room(replies.len())?;
        self.deliver(replies.iter());
        Ok(())
    }

    /// Answers the next `count` requests with the same status word and the
    /// bodies in `data`, separated by single NUL bytes.
    pub fn respond_text(
        &mut self,
        status: u32,
        count: usize,
        data: &[u8],
    ) -> Result<(), ReplyError> {
        self.room(count)?;
        let seps = data.iter().filter(|&&b| b == 0).count();
        if count == 0 && !data.is_empty() || count > 0 && seps != count - 1 {
            return Err(ReplyError::Shape);
        }
        if count == 0 {
            return Ok(());
        }
        self.deliver(data.split(|&b| b == 0).map(|body| plain(status, body)));
        Ok(())
    }

    /// Answers the next `count` requests with the same status word and the
    /// same body: a batch of one route whose handler answers alike.
    pub fn respond_same(
        &mut self,
        status: u32,
        count: usize,
        body: &[u8],
    ) -> Result<(), ReplyError> {
        self.room(count)?;
        self.deliver(std::iter::repeat(plain(status, body)).take(count));
        Ok(())
    }

    /// Refuses more replies than requests left unanswered.
    fn room(&self, count: usize) -> Result<(), ReplyError> {
        if self.answered + count > self.records.len() {
            return Err(ReplyError::TooMany);
        }
        Ok(())
    }

    /// Hands `replies` to the sink, in request order, then tells it they
    /// are all there.
    fn deliver<'r>(&mut self, replies: impl Iterator<Item = Reply<'r>>) {
        for r in replies {
            self.sink.reply(self.answered, &r);
            self.answered += 1;
        }
        self.sink.done();
    }
}

/// A reply of `status` (the status in the low 16 bits, a `CT_*` content
/// type above) with `body` and no header lines.
fn plain(status: u32, body: &[u8]) -> Reply<'_> {
    Reply {
        status: (status & 0xffff) as u16,
        content_type: status >> 16,
        headers: b"",
        body,
    }
}

/// Where a batch request must be answered: a connection of the worker
/// (its slab index and generation) and the request's ticket there.
#[derive(Clone, Copy)]
pub(crate) struct Origin {
    pub(crate) token: usize,
    pub(crate) gen: u32,
    pub(crate) ticket: Ticket,
}

/// Delivers an answer to its connection; false when the connection is gone.
pub(crate) type Deliver<'a> = dyn FnMut(Origin, proto::Response<'_>) -> bool + 'a;

/// What a worker shares with the threads that complete its deferred batch
/// requests.
pub(crate) struct BatchLink {
    mailbox: Arc<Mailbox>,
    pending: Mutex<HashMap<u64, Origin>>,
}

/// Request ids: the worker's index in the top 16 bits, a counter below.
const WORKER_SHIFT: u32 = 48;

/// One worker's batch under construction.
pub(crate) struct Batcher {
    handler: Option<Arc<dyn BatchHandler>>,
    cancel: Option<BatchCancel>,
    link: Arc<BatchLink>,
    id_base: u64,
    next: u64,
    flat: FlatBatch,
    origins: Vec<Origin>,
    headers: Vec<u8>,
    touched: Vec<usize>,
    deferred: Vec<(u64, Origin)>,
}

impl Batcher {
    pub(crate) fn new(shared: &super::Shared, mailbox: &Arc<Mailbox>) -> Self {
        let link = Arc::new(BatchLink {
            mailbox: mailbox.clone(),
            pending: Mutex::new(HashMap::new()),
        });
        let mut links = shared.batch_links.lock().unwrap_or_else(|e| e.into_inner());
        links.push(link.clone());
        Batcher {
            handler: shared.batch_handler.clone(),
            cancel: shared.batch_cancel.clone(),
            link,
            id_base: ((links.len() - 1) as u64) << WORKER_SHIFT,
            next: 0,
            flat: FlatBatch::default(),
            origins: Vec::new(),
            headers: Vec::new(),
            touched: Vec::new(),
            deferred: Vec::new(),
        }
    }

    /// Queues `req` for the next batch and defers its response.
    #[inline]
    pub(crate) fn push(
        &mut self,
        tag: u32,
        req: &Request<'_>,
        res: &mut Responder<'_>,
        token: usize,
        gen: u32,
    ) {
        if self.handler.is_none() {
            return res.send(proto::Response::empty(500));
        }
        let id = self.id_base | (self.next & ((1 << WORKER_SHIFT) - 1));
        if !self.flat.push(tag, id, token as u32, res.head_only(), req) {
            return res.send(proto::Response::empty(503));
        }
        self.next += 1;
        let ticket = res.defer();
        self.origins.push(Origin { token, gen, ticket });
    }
}

impl Batcher {
    pub(crate) fn is_empty(&self) -> bool {
        self.flat.is_empty()
    }

    /// Hands the collected batch to the batch handler and delivers its
    /// answers as they come. Returns the connections that got one (their
    /// slab indexes), to be written.
    pub(crate) fn flush(&mut self, deliver: &mut Deliver<'_>) -> &[usize] {
        self.touched.clear();
        let mut apply = Apply {
            deliver,
            records: self.flat.records(),
            origins: &self.origins,
            headers: &mut self.headers,
            touched: &mut self.touched,
            deferred: &mut self.deferred,
            link: &self.link,
        };
        let mut batch = Batch {
            records: self.flat.records(),
            data: self.flat.data(),
            sink: &mut apply,
            answered: 0,
        };
        if let Some(h) = &self.handler {
            // A panic answers what the handler left unanswered with 500s.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.call(&mut batch)));
        }
        let answered = batch.answered;
        for i in answered..self.flat.len() {
            apply.reply(i, &UNANSWERED);
        }
        self.flat.clear();
        self.origins.clear();
        &self.touched
    }
}

const UNANSWERED: Reply<'static> = Reply {
    status: 500,
    content_type: flat::CT_NONE,
    headers: b"",
    body: b"",
};

/// Applies a batch's replies to their connections as they come.
struct Apply<'w, 'd> {
    deliver: &'w mut Deliver<'d>,
    records: &'w [FlatRecord],
    origins: &'w [Origin],
    headers: &'w mut Vec<u8>,
    touched: &'w mut Vec<usize>,
    deferred: &'w mut Vec<(u64, Origin)>,
    link: &'w BatchLink,
}

impl Sink for Apply<'_, '_> {
    #[inline]
    fn reply(&mut self, i: usize, r: &Reply<'_>) {
        let o = self.origins[i];
        if r.status == 0 {
            self.deferred.push((self.records[i].id, o));
            return;
        }
        if (self.deliver)(o, r.to_response(self.headers)) && self.touched.last() != Some(&o.token) {
            self.touched.push(o.token);
        }
    }

    fn done(&mut self) {
        if !self.deferred.is_empty() {
            let mut p = self.link.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.extend(self.deferred.drain(..));
        }
    }
}

impl Batcher {
    /// Forgets the deferred requests of connection `token`/`gen` (only
    /// response `seq` of it, if given) and tells the batch handler.
    pub(crate) fn cancel(&mut self, token: usize, gen: u32, seq: Option<u64>) {
        let Some(h) = &self.cancel else { return };
        let ids: Vec<u64> = {
            let mut p = self.link.pending.lock().unwrap_or_else(|e| e.into_inner());
            let ids: Vec<u64> = p
                .iter()
                .filter(|(_, o)| {
                    o.token == token && o.gen == gen && seq.map_or(true, |s| s == o.ticket.seq)
                })
                .map(|(&id, _)| id)
                .collect();
            for id in &ids {
                p.remove(id);
            }
            ids
        };
        if !ids.is_empty() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h(&ids)));
        }
    }
}

/// Takes the deferred batch request `id` out of the pending ones, for a
/// response builder: where it goes, and its worker's mailbox.
pub(crate) fn take(links: &[Arc<BatchLink>], id: u64) -> Option<(Origin, Arc<Mailbox>)> {
    let l = links.get((id >> WORKER_SHIFT) as usize)?;
    let o = l
        .pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id)?;
    Some((o, l.mailbox.clone()))
}

/// How many ids [`complete`] did not know (already answered, or never issued).
pub(crate) fn complete(
    links: &[Arc<BatchLink>],
    ids: &[u64],
    replies: Columns<'_>,
) -> Result<usize, ReplyError> {
    replies.check()?;
    if ids.len() != replies.len() {
        return Err(ReplyError::Shape);
    }
    let mut unknown = 0;
    let mut posts: Vec<Vec<Completion>> = (0..links.len()).map(|_| Vec::new()).collect();
    let mut headers = Vec::new();
    for (&id, r) in ids.iter().zip(replies.iter()) {
        let w = (id >> WORKER_SHIFT) as usize;
        let origin = links.get(w).and_then(|l| {
            l.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id)
        });
        let Some(o) = origin else {
            unknown += 1;
            continue;
        };
        posts[w].push(Completion {
            token: o.token,
            gen: o.gen,
            ticket: o.ticket,
            work: Work::Respond(Parts::copy_of(&r.to_response(&mut headers))),
        });
    }
    for (l, p) in links.iter().zip(posts) {
        l.mailbox.post_many(p);
    }
    Ok(unknown)
}
