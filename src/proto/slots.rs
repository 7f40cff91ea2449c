//! Response ordering. Output goes straight to the writer while nothing is
//! held; behind a deferred response, later ones wait, rendered, until it
//! completes.

use std::collections::VecDeque;

use super::output::{ExtBody, Output};
use super::pool::BufPool;
use super::request::Ticket;

/// A response rendered while an earlier one was still pending.
struct Rendered {
    bytes: Vec<u8>,
    body: Option<ExtBody>,
}

struct Held {
    seq: u64,
    data: Option<Rendered>,
    /// How to render it, while it is still pending.
    ticket: Option<Ticket>,
}

#[derive(Default)]
pub(crate) struct Slots {
    pub(crate) out: Output,
    held: VecDeque<Held>,
}

impl Slots {
    /// Queues response `seq`, rendered by `f` (which returns a body to send
    /// from its own storage, if any).
    #[inline]
    pub(crate) fn emit(
        &mut self,
        seq: u64,
        pool: &mut BufPool,
        f: impl FnOnce(&mut Vec<u8>) -> Option<ExtBody>,
    ) {
        if self.held.is_empty() {
            self.out.render(pool, f);
        } else {
            let mut bytes = Vec::new();
            let body = f(&mut bytes);
            self.held.push_back(Held {
                seq,
                data: Some(Rendered { bytes, body }),
                ticket: None,
            });
        }
    }

    /// Keeps a place for a response that completes later.
    pub(crate) fn hold(&mut self, ticket: Ticket) {
        self.held.push_back(Held {
            seq: ticket.seq,
            data: None,
            ticket: Some(ticket),
        });
    }

    /// Renders the pending response `seq` with `f`. Returns false when no
    /// response `seq` is pending.
    pub(crate) fn fill(
        &mut self,
        seq: u64,
        pool: &mut BufPool,
        f: impl FnOnce(&mut Vec<u8>) -> Option<ExtBody>,
    ) -> bool {
        let Some(idx) = self
            .held
            .front()
            .and_then(|h| seq.checked_sub(h.seq))
            .and_then(|i| usize::try_from(i).ok())
        else {
            return false;
        };
        match self.held.get(idx) {
            Some(h) if h.data.is_none() && h.seq == seq => {}
            _ => return false,
        }
        if idx == 0 {
            // the oldest open response: render it straight into the writer
            self.held.pop_front();
            self.out.render(pool, f);
        } else {
            let mut bytes = Vec::new();
            let body = f(&mut bytes);
            self.held[idx].data = Some(Rendered { bytes, body });
        }
        self.release(pool);
        true
    }

    /// Moves leading completed responses to the writer.
    fn release(&mut self, pool: &mut BufPool) {
        while let Some(Held { data: Some(_), .. }) = self.held.front() {
            let Some(Held { data: Some(r), .. }) = self.held.pop_front() else {
                unreachable!()
            };
            self.out.render(pool, |buf| {
                buf.extend_from_slice(&r.bytes);
                r.body
            });
        }
    }

    /// The oldest response still pending.
    pub(crate) fn first_pending(&self) -> Option<Ticket> {
        self.held
            .iter()
            .find(|h| h.data.is_none())
            .and_then(|h| h.ticket)
    }

    /// Responses not yet handed to the writer.
    #[inline]
    pub(crate) fn held(&self) -> usize {
        self.held.len()
    }

    /// Responses deferred and not yet completed.
    pub(crate) fn pending(&self) -> usize {
        self.held.iter().filter(|h| h.data.is_none()).count()
    }

    /// Returns every buffer (on close), running body release callbacks.
    pub(crate) fn clear(&mut self, pool: &mut BufPool) {
        self.out.clear(pool);
        self.held.clear();
    }
}
