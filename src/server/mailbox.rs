//! Deferred responses on their way back to the worker that owns their
//! connection, from any thread.

use std::sync::Mutex;

use mio::Waker;

use super::parts::Parts;
use crate::proto::Ticket;

/// A deferred response on its way back to the worker.
pub(crate) struct Completion {
    pub(crate) token: usize,
    pub(crate) gen: u32,
    pub(crate) ticket: Ticket,
    pub(crate) parts: Parts,
}

/// The worker's inbox; any thread may post.
pub(crate) struct Mailbox {
    queue: Mutex<Vec<Completion>>,
    waker: Waker,
}

impl Mailbox {
    pub(crate) fn new(waker: Waker) -> Self {
        Mailbox {
            queue: Mutex::new(Vec::new()),
            waker,
        }
    }

    pub(crate) fn post(&self, c: Completion) {
        let was_empty = {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            q.push(c);
            q.len() == 1
        };
        if was_empty {
            self.wake();
        }
    }

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
            self.wake();
        }
    }

    /// Takes everything posted so far.
    pub(crate) fn take(&self) -> Vec<Completion> {
        std::mem::take(&mut *self.queue.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Wakes the worker's poll. Async-signal-safe: an eventfd write.
    pub(crate) fn wake(&self) {
        let _ = self.waker.wake();
    }
}
