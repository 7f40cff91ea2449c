//! Deferred responses on their way back to the worker that owns their
//! connection, from any thread.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

use super::parts::Parts;
use super::stream::{BodySink, EndHook, StreamState, UpgradeHook};
use crate::proto::{ExtBody, Ticket};

/// Work for a connection, on its way back to the worker that owns it.
pub(crate) struct Completion {
    pub(crate) token: usize,
    pub(crate) gen: u32,
    pub(crate) ticket: Ticket,
    pub(crate) work: Work,
}

pub(crate) enum Work {
    /// A deferred response.
    Respond(Parts),
    /// A deferred response streamed: its head, and its announced length.
    Stream(Parts, Option<usize>, Arc<StreamState>),
    /// A piece of a stream's body.
    Data(ExtBody),
    /// The end of a stream, with its trailer lines.
    End(Vec<u8>),
    /// A stream cut off.
    Abort,
    /// A deferred response that switches protocols: its head, and who takes
    /// the connection.
    Upgrade(Parts, UpgradeHook),
    /// The handler reads the streamed request body.
    ReadBody(BodySink),
    /// Reading the body goes on after a pause.
    ResumeBody,
    /// Tell this hook how the response ends.
    Watch(EndHook),
}

/// How a worker is woken: mio's waker (epoll), or an eventfd the io_uring
/// driver keeps a read queued on.
pub(crate) enum Waker {
    Poll(mio::Waker),
    EventFd(OwnedFd),
}

impl Waker {
    fn wake(&self) {
        match self {
            Waker::Poll(w) => {
                let _ = w.wake();
            }
            Waker::EventFd(fd) => {
                let one: u64 = 1;
                // SAFETY: writes 8 bytes from a live u64 to an eventfd the
                // waker owns. EAGAIN means the counter is full: a wake-up is
                // pending anyway.
                let _ = unsafe { libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
            }
        }
    }
}

/// The worker's inbox; any thread may post.
pub(crate) struct Mailbox {
    /// `None` once the worker has stopped: posts are dropped.
    queue: Mutex<Option<Vec<Completion>>>,
    waker: Waker,
}

impl Mailbox {
    pub(crate) fn new(waker: Waker) -> Self {
        Mailbox {
            queue: Mutex::new(Some(Vec::new())),
            waker,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Vec<Completion>>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn post(&self, c: Completion) {
        let was_empty = {
            let mut q = self.lock();
            let Some(q) = q.as_mut() else {
                return; // dropped outside the lock: its drop may post again
            };
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
            let mut q = self.lock();
            let Some(q) = q.as_mut() else {
                return;
            };
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
        self.lock().as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The worker stopped: drops what is queued and whatever comes later
    /// (their pieces hold the mailbox, which would otherwise never be freed).
    pub(crate) fn close(&self) {
        let left = self.lock().take();
        drop(left);
    }

    /// Wakes the worker's poll. Async-signal-safe: an eventfd write.
    pub(crate) fn wake(&self) {
        self.waker.wake();
    }
}
