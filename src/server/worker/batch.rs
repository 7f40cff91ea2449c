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

use super::{Completion, Mailbox, Worker};
use crate::proto::flat::{self, Columns, FlatBatch, FlatRecord, ReplyBuf, ReplyError};
use crate::proto::{self, Request, Responder, Ticket};

/// The application code behind every batch route of a server.
pub trait BatchHandler: Send + Sync {
    /// Answers the requests of `batch`, through [`Batch::respond`], now or
    /// (with status 0) later through the server's `complete`. Requests left
    /// unanswered when it returns get a 500. Runs on a worker thread.
    fn call(&self, batch: &mut Batch<'_>);
}

/// The requests one worker collected in one pass, valid during the
/// [`BatchHandler::call`] that received it.
pub struct Batch<'a> {
    records: &'a [FlatRecord],
    data: &'a [u8],
    replies: &'a mut ReplyBuf,
}

impl Batch<'_> {
    pub fn records(&self) -> &[FlatRecord] {
        self.records
    }

    pub fn data(&self) -> &[u8] {
        self.data
    }

    /// Answers the next `status.len()` requests, in order (see
    /// [`crate::proto::flat`] for the columnar form). May be called several
    /// times; the replies are copied.
    pub fn respond(&mut self, replies: Columns<'_>) -> Result<(), ReplyError> {
        if self.replies.len() + replies.len() > self.records.len() {
            return Err(ReplyError::TooMany);
        }
        self.replies.extend(replies)
    }
}

/// Where a deferred batch request must be answered.
struct Origin {
    token: usize,
    gen: u32,
    ticket: Ticket,
}

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
    link: Arc<BatchLink>,
    id_base: u64,
    next: u64,
    flat: FlatBatch,
    origins: Vec<Origin>,
    replies: ReplyBuf,
    headers: Vec<u8>,
    touched: Vec<usize>,
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
            link,
            id_base: ((links.len() - 1) as u64) << WORKER_SHIFT,
            next: 0,
            flat: FlatBatch::default(),
            origins: Vec::new(),
            replies: ReplyBuf::default(),
            headers: Vec::new(),
            touched: Vec::new(),
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
            return res.send(error(500));
        }
        let id = self.id_base | (self.next & ((1 << WORKER_SHIFT) - 1));
        if !self.flat.push(tag, id, token as u32, res.head_only(), req) {
            return res.send(error(503));
        }
        self.next += 1;
        let ticket = res.defer();
        self.origins.push(Origin { token, gen, ticket });
    }
}

fn error(status: u16) -> proto::Response<'static> {
    proto::Response {
        status,
        headers: b"",
        body: proto::Body::Copy(b""),
    }
}

impl Mailbox {
    /// Posts several completions with one lock and at most one wake-up.
    pub(crate) fn post_many(&self, mut cs: Vec<Completion>) {
        if cs.is_empty() {
            return;
        }
        let was_empty = {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            let e = q.is_empty();
            q.append(&mut cs);
            e
        };
        if was_empty {
            let _ = self.waker.wake();
        }
    }
}

impl Worker {
    /// Hands the collected batch to the batch handler and applies its
    /// answers; repeats while writing those answers let more requests in.
    pub(super) fn flush_batch(&mut self) {
        while !self.batch.flat.is_empty() {
            self.flush_once();
        }
    }

    fn flush_once(&mut self) {
        let b = &mut self.batch;
        b.replies.clear();
        if let Some(h) = &b.handler {
            let mut batch = Batch {
                records: b.flat.records(),
                data: b.flat.data(),
                replies: &mut b.replies,
            };
            // A panic in the handler answers the whole batch with 500s.
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.call(&mut batch)))
                .is_err()
            {
                b.replies.clear();
            }
        }
        let cfg = &self.shared.cfg.proto;
        let mut deferred = Vec::new();
        let mut replies = b.replies.columns().iter();
        let mut last = usize::MAX;
        for (rec, o) in b.flat.records().iter().zip(b.origins.drain(..)) {
            let r = replies.next();
            if let Some(r) = &r {
                if r.status == 0 {
                    deferred.push((rec.id, o));
                    continue;
                }
            }
            let Some(e) = self.conns.get_mut(o.token) else {
                continue;
            };
            if e.gen != o.gen {
                continue; // the connection closed; its slot was reused
            }
            let resp = match &r {
                Some(r)
                    if (200..=999).contains(&r.status)
                        && flat::reply_headers(&mut b.headers, r) =>
                {
                    proto::Response {
                        status: r.status,
                        headers: &b.headers,
                        body: proto::Body::Copy(r.body),
                    }
                }
                _ => error(500),
            };
            e.conn
                .complete(o.ticket, resp, cfg, &mut self.pool, &self.date);
            if o.token != last {
                b.touched.push(o.token);
                last = o.token;
            }
        }
        drop(replies);
        b.flat.clear();
        if !deferred.is_empty() {
            let mut p = b.link.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.extend(deferred);
        }
        let mut touched = std::mem::take(&mut self.batch.touched);
        for &idx in &touched {
            if self.conns.contains(idx) {
                self.drive(idx);
            }
        }
        touched.clear();
        self.batch.touched = touched;
    }
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
        let ok = (200..=999).contains(&r.status) && flat::reply_headers(&mut headers, &r);
        posts[w].push(Completion {
            token: o.token,
            gen: o.gen,
            ticket: o.ticket,
            status: if ok { r.status } else { 500 },
            headers: if ok { headers.clone() } else { Vec::new() },
            body: if ok { r.body.to_vec() } else { Vec::new() },
            ext: None,
        });
    }
    for (l, p) in links.iter().zip(posts) {
        l.mailbox.post_many(p);
    }
    Ok(unknown)
}
