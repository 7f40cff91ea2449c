//! Response ordering. Output goes straight to the writer while nothing is
//! held; behind a deferred or streamed response, later ones wait, rendered,
//! until it completes.

use std::collections::VecDeque;

use super::output::{ExtBody, Output};
use super::pool::BufPool;
use super::request::Ticket;
use super::stream::{self, Framing, StreamError};
use super::tally::Tally;

/// Bytes rendered while an earlier response was still open.
#[derive(Default)]
struct Rendered {
    bytes: Vec<u8>,
    body: Option<ExtBody>,
    /// Further pieces of a stream (rare: only while it waits its turn).
    more: Vec<(Vec<u8>, Option<ExtBody>)>,
}

impl Rendered {
    fn push(&mut self, f: impl FnOnce(&mut Vec<u8>) -> Option<ExtBody>) {
        if self.body.is_none() && self.more.is_empty() {
            let ext = f(&mut self.bytes);
            self.body = ext;
        } else {
            let mut bytes = Vec::new();
            let ext = f(&mut bytes);
            self.more.push((bytes, ext));
        }
    }

    fn write_to(self, out: &mut Output, pool: &mut BufPool) {
        let Rendered { bytes, body, more } = self;
        out.render(pool, |buf| {
            buf.extend_from_slice(&bytes);
            body
        });
        for (bytes, body) in more {
            out.render(pool, |buf| {
                buf.extend_from_slice(&bytes);
                body
            });
        }
    }
}

enum Slot {
    /// Deferred: answered later with this ticket.
    Pending(Ticket),
    Done(Rendered),
    /// A streamed response: its head is out (or in `data`, while it waits its
    /// turn), its body goes out piece by piece until `ended`.
    Stream {
        framing: Framing,
        data: Rendered,
        ended: bool,
    },
}

struct Held {
    seq: u64,
    /// The response's status once known (0 while pending).
    status: u16,
    slot: Slot,
}

#[derive(Default)]
pub(crate) struct Slots {
    pub(crate) out: Output,
    held: VecDeque<Held>,
    /// Per-request accounting, when the driver asked for it.
    pub(crate) tally: Option<Box<Tally>>,
}

impl Slots {
    /// Queues response `seq`, rendered by `f` (which returns a body to send
    /// from its own storage, if any).
    #[inline]
    pub(crate) fn emit(
        &mut self,
        seq: u64,
        status: u16,
        pool: &mut BufPool,
        f: impl FnOnce(&mut Vec<u8>) -> Option<ExtBody>,
    ) {
        if self.held.is_empty() {
            self.out.render(pool, f);
            self.ended(seq, status);
        } else {
            let mut data = Rendered::default();
            data.push(f);
            self.held.push_back(Held {
                seq,
                status,
                slot: Slot::Done(data),
            });
        }
    }

    /// Whether a response rendered now goes straight to the writer's
    /// buffer (nothing is held): the caller may then render into
    /// `out.buf` and call [`Slots::emitted`], as `emit` does.
    #[inline]
    pub(crate) fn straight(&self) -> bool {
        self.held.is_empty()
    }

    /// Response `seq`, rendered into `out.buf` from `before` on while
    /// [`Slots::straight`], is queued.
    #[inline]
    pub(crate) fn emitted(&mut self, seq: u64, status: u16, before: usize) {
        self.out.appended(before);
        self.ended(seq, status);
    }

    /// Response `seq` is queued in full.
    #[inline]
    fn ended(&mut self, seq: u64, status: u16) {
        if let Some(t) = &mut self.tally {
            t.ended(seq, status, self.out.queued());
        }
    }

    /// Keeps a place for a response that completes later.
    pub(crate) fn hold(&mut self, ticket: Ticket) {
        self.held.push_back(Held {
            seq: ticket.seq,
            status: 0,
            slot: Slot::Pending(ticket),
        });
    }

    /// The index in `held` of response `seq` (held responses are
    /// consecutive: behind the first, every later one is held too).
    fn index(&self, seq: u64) -> Option<usize> {
        let idx = self
            .held
            .front()
            .and_then(|h| seq.checked_sub(h.seq))
            .and_then(|i| usize::try_from(i).ok())?;
        (self.held.get(idx)?.seq == seq).then_some(idx)
    }

    /// Renders the pending response `seq` with `f`. Returns false when no
    /// response `seq` is pending.
    pub(crate) fn fill(
        &mut self,
        seq: u64,
        status: u16,
        pool: &mut BufPool,
        f: impl FnOnce(&mut Vec<u8>) -> Option<ExtBody>,
    ) -> bool {
        let Some(idx) = self.index(seq) else {
            return false;
        };
        if !matches!(self.held[idx].slot, Slot::Pending(_)) {
            return false;
        }
        if idx == 0 {
            // the oldest open response: render it straight into the writer
            self.held.pop_front();
            self.out.render(pool, f);
            self.ended(seq, status);
        } else {
            let mut data = Rendered::default();
            data.push(f);
            self.held[idx].slot = Slot::Done(data);
            self.held[idx].status = status;
        }
        self.release(pool);
        true
    }

    /// Starts streaming response `seq`, whose head `f` renders: a pending
    /// one (`pending`), or the one being answered now. Returns false when
    /// `pending` and no response `seq` is pending.
    pub(crate) fn open_stream(
        &mut self,
        seq: u64,
        status: u16,
        pending: bool,
        framing: Framing,
        pool: &mut BufPool,
        f: impl FnOnce(&mut Vec<u8>),
    ) -> bool {
        let idx = if pending {
            match self.index(seq) {
                Some(i) if matches!(self.held[i].slot, Slot::Pending(_)) => Some(i),
                _ => return false,
            }
        } else {
            None
        };
        let mut data = Rendered::default();
        let render = |buf: &mut Vec<u8>| {
            f(buf);
            None
        };
        if idx == Some(0) || (idx.is_none() && self.held.is_empty()) {
            self.out.render(pool, render);
        } else {
            data.push(render);
        }
        let slot = Slot::Stream {
            framing,
            data,
            ended: false,
        };
        match idx {
            Some(i) => {
                self.held[i].slot = slot;
                self.held[i].status = status;
            }
            None => self.held.push_back(Held { seq, status, slot }),
        }
        true
    }

    /// Appends `n` bytes of stream `seq`'s body, the bytes `f` renders after
    /// the framing. `f` is not called when the piece does not go out.
    pub(crate) fn stream_piece(
        &mut self,
        seq: u64,
        n: usize,
        pool: &mut BufPool,
        f: impl FnOnce(&mut Vec<u8>) -> Option<ExtBody>,
    ) -> Result<(), StreamError> {
        let idx = self.index(seq).ok_or(StreamError::Unknown)?;
        let Slot::Stream {
            framing,
            data,
            ended: false,
        } = &mut self.held[idx].slot
        else {
            return Err(StreamError::Unknown);
        };
        let Some(pre) = stream::piece(framing, n)? else {
            return Ok(());
        };
        let chunked = *framing == Framing::Chunked;
        let render = |buf: &mut Vec<u8>| {
            buf.extend_from_slice(pre.as_slice());
            f(buf)
        };
        if idx == 0 {
            self.out.render(pool, render);
            if chunked {
                self.out.render(pool, |buf| {
                    buf.extend_from_slice(b"\r\n");
                    None
                });
            }
        } else {
            data.push(render);
            if chunked {
                data.push(|buf| {
                    buf.extend_from_slice(b"\r\n");
                    None
                });
            }
        }
        Ok(())
    }

    /// Ends stream `seq` (`trailers` go out when chunked), or with `cut`
    /// leaves its body unfinished. On `TooShort`, or with `cut`, the stream is
    /// ended all the same and the responses behind it dropped: the caller
    /// closes the connection.
    pub(crate) fn end_stream(
        &mut self,
        seq: u64,
        trailers: &[u8],
        pool: &mut BufPool,
        cut: bool,
    ) -> Result<Framing, StreamError> {
        let idx = self.index(seq).ok_or(StreamError::Unknown)?;
        let Slot::Stream {
            framing,
            data,
            ended,
        } = &mut self.held[idx].slot
        else {
            return Err(StreamError::Unknown);
        };
        if *ended {
            return Err(StreamError::Unknown);
        }
        *ended = true;
        let framing = *framing;
        let mut tail = Vec::new();
        let r = if cut {
            Ok(())
        } else {
            stream::end(framing, trailers, &mut tail)
        };
        if !tail.is_empty() {
            if idx == 0 {
                self.out.render(pool, |buf| {
                    buf.extend_from_slice(&tail);
                    None
                });
            } else {
                data.push(|buf| {
                    buf.extend_from_slice(&tail);
                    None
                });
            }
        }
        if framing == Framing::Close || r.is_err() || cut {
            // nothing may follow a body that the connection's end delimits
            self.held.truncate(idx + 1);
        }
        self.release(pool);
        r.map(|()| framing)
    }

    /// The ticket of response `seq` if it is pending.
    pub(crate) fn pending_ticket(&self, seq: u64) -> Option<Ticket> {
        match self.held.get(self.index(seq)?)?.slot {
            Slot::Pending(t) => Some(t),
            _ => None,
        }
    }

    /// Whether response `seq` is still to complete (pending or streaming).
    pub(crate) fn is_open(&self, seq: u64) -> bool {
        self.index(seq).is_some_and(|i| match &self.held[i].slot {
            Slot::Pending(_) => true,
            Slot::Stream { ended, .. } => !ended,
            Slot::Done(_) => false,
        })
    }

    /// Whether bytes written to the writer now come right before response
    /// `seq` (every earlier response is out); `released` counts those out.
    pub(crate) fn next_out(&self, seq: u64, released: u64) -> bool {
        match self.held.front() {
            Some(h) => h.seq == seq,
            None => released == seq,
        }
    }

    /// Drops every response after `seq` (nothing may follow it).
    pub(crate) fn truncate_after(&mut self, seq: u64) {
        if let Some(i) = self.index(seq) {
            self.held.truncate(i + 1);
        }
    }

    /// Moves leading completed responses, and what a leading stream has
    /// so far, to the writer.
    fn release(&mut self, pool: &mut BufPool) {
        while let Some(h) = self.held.front_mut() {
            match &mut h.slot {
                Slot::Pending(_) => return,
                Slot::Stream { data, ended, .. } => {
                    std::mem::take(data).write_to(&mut self.out, pool);
                    if !*ended {
                        return;
                    }
                    let (seq, status) = (h.seq, h.status);
                    self.held.pop_front();
                    self.ended(seq, status);
                }
                Slot::Done(_) => {
                    let Some(Held {
                        seq,
                        status,
                        slot: Slot::Done(data),
                    }) = self.held.pop_front()
                    else {
                        unreachable!()
                    };
                    data.write_to(&mut self.out, pool);
                    self.ended(seq, status);
                }
            }
        }
    }

    /// The oldest response still pending.
    pub(crate) fn first_pending(&self) -> Option<Ticket> {
        self.held.iter().find_map(|h| match h.slot {
            Slot::Pending(t) => Some(t),
            _ => None,
        })
    }

    /// Responses not yet handed to the writer (streams count until ended).
    #[inline]
    pub(crate) fn held(&self) -> usize {
        self.held.len()
    }

    /// Responses deferred and not yet completed or started.
    pub(crate) fn pending(&self) -> usize {
        self.held
            .iter()
            .filter(|h| matches!(h.slot, Slot::Pending(_)))
            .count()
    }

    /// Tells the tally the status of responses started or rendered and
    /// not yet queued in full (before it drains them as incomplete).
    pub(crate) fn tally_held(&mut self) {
        if let Some(t) = &mut self.tally {
            for h in &self.held {
                t.started(h.seq, h.status);
            }
        }
    }

    /// Returns every buffer (on close), running body release callbacks.
    pub(crate) fn clear(&mut self, pool: &mut BufPool) {
        self.out.clear(pool);
        self.held.clear();
    }
}
