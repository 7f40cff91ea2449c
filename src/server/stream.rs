//! Streams both ways: response bodies written from any thread (the
//! producer's handle, its byte budget, and the events that tell it to go on
//! or stop), request bodies read in pieces, and connections handed over
//! after a protocol switch.

use std::fmt;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use super::mailbox::{Completion, Work};
use super::response::Origin;
use crate::proto::{BodyPiece, ExtBody, ExtBytes, Flow};

/// What a stream's producer is told, on the worker thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// The queued bytes fell below half the budget after a write was
    /// refused with [`StreamError::WouldBlock`]: write again.
    Writable,
    /// The last event, sent once: the client went away (further writes
    /// fail), or the stream was ended and the engine holds none of it any
    /// more. The producer's state can be freed here.
    Closed,
}

/// The producer's callback for [`StreamEvent`]s.
pub type StreamEvents = Box<dyn Fn(StreamEvent) + Send + Sync>;

/// Why a stream write was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// The budget is used up: nothing was queued. Write again after
    /// [`StreamEvent::Writable`].
    WouldBlock,
    /// The connection is gone.
    Closed,
    /// More bytes than the announced length.
    TooLong,
    /// Fewer bytes than the announced length at the end (the connection
    /// closes after what was sent).
    TooShort,
    /// A 204 or 304 response has no body.
    NoBody,
    /// A trailer line is not a valid field, or names one the engine writes.
    InvalidTrailer,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StreamError::WouldBlock => {
                "the stream's budget is used up; write again once it is writable"
            }
            StreamError::Closed => "the client went away; the stream is closed",
            StreamError::TooLong => "the data goes past the announced length",
            StreamError::TooShort => {
                "the stream ended before its announced length; the connection closes"
            }
            StreamError::NoBody => "a 204 or 304 response has no body",
            StreamError::InvalidTrailer => {
                "invalid trailer: the name must be a token, the value must hold no \
                 control bytes, and Content-Length, Date, Connection and \
                 Transfer-Encoding are the engine's"
            }
        })
    }
}

impl std::error::Error for StreamError {}

/// State shared by a stream's handle, its queued pieces and the worker.
pub(crate) struct StreamState {
    origin: Origin,
    /// Bytes posted and not yet written to the socket (or dropped).
    queued: AtomicUsize,
    budget: usize,
    /// A write was refused: the next drop below the low mark says so.
    blocked: AtomicBool,
    closed: AtomicBool,
    /// `Closed` was sent.
    told: AtomicBool,
    events: Option<StreamEvents>,
}

impl Drop for StreamState {
    /// Ended and fully handed over (or dropped): the last event.
    fn drop(&mut self) {
        self.tell_closed();
    }
}

impl StreamState {
    pub(crate) fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The client left: writes fail from now on, and the producer is told.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.tell_closed();
    }

    fn tell_closed(&self) {
        if !self.told.swap(true, Ordering::AcqRel) {
            if let Some(ev) = &self.events {
                ev(StreamEvent::Closed);
            }
        }
    }

    fn sent(&self, n: usize) {
        let left = self.queued.fetch_sub(n, Ordering::AcqRel) - n;
        if left <= self.budget / 2
            && self.blocked.swap(false, Ordering::AcqRel)
            && !self.closed.load(Ordering::Acquire)
        {
            if let Some(ev) = &self.events {
                ev(StreamEvent::Writable);
            }
        }
    }
}

/// A piece of body on its way out; dropping it (written, or the connection
/// closed) returns its bytes to the budget.
struct Piece {
    data: Vec<u8>,
    shared: Arc<StreamState>,
}

impl ExtBytes for Piece {
    fn bytes(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Piece {
    fn drop(&mut self) {
        self.shared.sent(self.data.len());
    }
}

/// The producer's handle on a streamed response. Write pieces from any
/// thread (one at a time), then [`Stream::end`]. Dropping it unended cuts
/// the body off: the client sees an incomplete response and the connection
/// closes.
pub struct Stream {
    shared: Arc<StreamState>,
    /// Bytes still owed when a length was announced.
    left: Option<usize>,
    no_body: bool,
    ended: bool,
    trailers: Vec<u8>,
}

impl Stream {
    pub(crate) fn new(
        origin: Origin,
        budget: usize,
        status: u16,
        len: Option<usize>,
        events: Option<StreamEvents>,
    ) -> Self {
        Stream {
            shared: Arc::new(StreamState {
                origin,
                queued: AtomicUsize::new(0),
                budget: budget.max(1),
                blocked: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                told: AtomicBool::new(false),
                events,
            }),
            left: len,
            no_body: matches!(status, 204 | 304),
            ended: false,
            trailers: Vec::new(),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<StreamState> {
        &self.shared
    }

    fn post(&self, work: Work) {
        let o = &self.shared.origin;
        o.mailbox.post(Completion {
            token: o.token,
            gen: o.gen,
            ticket: o.ticket,
            work,
        });
    }

    /// Queues a copy of `data`. Refused with `WouldBlock`, queuing nothing,
    /// while the bytes queued reach the budget (one write may overshoot
    /// it, so that a piece larger than the budget still goes).
    pub fn write(&mut self, data: &[u8]) -> Result<(), StreamError> {
        let s = &self.shared;
        if self.ended || s.closed.load(Ordering::Acquire) {
            return Err(StreamError::Closed);
        }
        if data.is_empty() {
            return Ok(());
        }
        if self.no_body {
            return Err(StreamError::NoBody);
        }
        if let Some(left) = self.left {
            self.left = Some(left.checked_sub(data.len()).ok_or(StreamError::TooLong)?);
        }
        if s.queued.load(Ordering::Acquire) >= s.budget {
            s.blocked.store(true, Ordering::Release);
            // a piece sent meanwhile may have missed the flag
            if s.queued.load(Ordering::Acquire) >= s.budget {
                if let Some(left) = &mut self.left {
                    *left += data.len();
                }
                return Err(StreamError::WouldBlock);
            }
        }
        s.queued.fetch_add(data.len(), Ordering::AcqRel);
        let piece = Piece {
            data: data.to_vec(),
            shared: s.clone(),
        };
        self.post(Work::Data(ExtBody::Foreign(Box::new(piece))));
        Ok(())
    }

    /// Adds a trailer field, sent after the body when it is chunked (and
    /// dropped otherwise).
    pub fn trailer(&mut self, name: &[u8], value: &[u8]) -> Result<(), StreamError> {
        if !crate::proto::valid_header_field(name, value) {
            return Err(StreamError::InvalidTrailer);
        }
        let t = &mut self.trailers;
        t.extend_from_slice(name);
        t.extend_from_slice(b": ");
        t.extend_from_slice(value);
        t.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// Ends the body. Short of an announced length, the body is cut off
    /// instead (`TooShort`).
    pub fn end(mut self) -> Result<(), StreamError> {
        self.ended = true;
        if self.left.is_some_and(|l| l > 0) {
            self.post(Work::Abort);
            return Err(StreamError::TooShort);
        }
        let closed = self.shared.closed.load(Ordering::Acquire);
        let trailers = std::mem::take(&mut self.trailers);
        self.post(Work::End(trailers));
        if closed {
            Err(StreamError::Closed)
        } else {
            Ok(())
        }
    }

    /// Whether the client went away.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if !self.ended {
            self.post(Work::Abort);
        }
    }
}

/// A connection handed over after a protocol switch: the socket (still
/// non-blocking) and the bytes the client sent past the request that the
/// engine had already read.
pub struct Upgraded {
    pub fd: OwnedFd,
    pub rest: Vec<u8>,
}

/// Takes the connection after a protocol switch, on the worker thread;
/// `None` when the connection failed before the switch was written.
pub type UpgradeHook = Box<dyn FnOnce(Option<Upgraded>) + Send>;

/// How a deferred response ended, for its [`EndHook`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// It reached its connection (sent, streamed or switched).
    Sent,
    /// The request timeout answered it 503 first: nobody waits for it.
    Timeout,
    /// The client left before it was sent: nobody waits for it.
    Gone,
}

/// Told once how a deferred response ended, on the worker thread (or the
/// thread that registers it, when it ended before): the place to cancel
/// work nobody waits for any more, and to free what the work holds.
pub type EndHook = Box<dyn FnOnce(EndReason) + Send>;

/// Runs an end hook; a panic in it must not take the worker down.
pub(crate) fn tell_end(hook: EndHook, why: EndReason) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(why)));
}

/// Tells the hooks of response `seq` (every one, without `seq`) how it ended.
pub(crate) fn ended(watchers: &mut Vec<(u64, EndHook)>, seq: Option<u64>, why: EndReason) {
    let mut i = 0;
    while i < watchers.len() {
        if seq.map_or(true, |s| s == watchers[i].0) {
            tell_end(watchers.swap_remove(i).1, why);
        } else {
            i += 1;
        }
    }
}

/// Takes a streamed request body piece by piece, on the worker thread:
/// data, then `End`, or `Aborted` when it will not complete. Returning
/// [`Flow::Pause`] stops reading until [`super::ResponseBuilder::resume_body`].
pub type BodySink = Box<dyn FnMut(BodyPiece<'_>) -> Flow + Send>;

/// Passes `piece` to `sink`; a panic in it reads as a pause, for good.
pub(crate) fn feed(sink: &mut BodySink, piece: BodyPiece<'_>) -> Flow {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink(piece))).unwrap_or(Flow::Pause)
}
