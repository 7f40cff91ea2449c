//! The read side of a connection: its input buffer, and where the reader
//! is within the current request.

use std::mem::MaybeUninit;

use super::pool::BufPool;
use super::Limits;

/// Where the reader is within the current request.
#[derive(Clone, Copy)]
pub(crate) enum Reading {
    /// Waiting for (the rest of) a request head.
    Head,
    /// Head of `head` bytes parsed; `len` body bytes expected after it.
    Length { head: usize, len: usize },
    /// Head of `head` bytes parsed; `decoded` body bytes decoded after it.
    Chunked { head: usize, decoded: usize },
    /// A body handed to the service in pieces as it arrives (the head was
    /// consumed).
    Stream,
}

/// Received bytes. Idle connections hold no buffer: it comes from the pool
/// on the first read and goes back once everything was consumed.
pub(crate) struct Input {
    pub(crate) buf: Vec<u8>,
    /// Start of unprocessed input in `buf`.
    pub(crate) pos: usize,
    /// Bytes after `pos` known to hold no complete head.
    pub(crate) scanned: usize,
    pub(crate) reading: Reading,
    /// The largest body the current request may have, when a route allows
    /// more than the limits.
    pub(crate) body_cap: usize,
}

impl Default for Input {
    fn default() -> Self {
        Input {
            buf: Vec::new(),
            pos: 0,
            scanned: 0,
            reading: Reading::Head,
            body_cap: 0,
        }
    }
}

impl Input {
    /// Space to receive into: at least `min(block, room)` bytes.
    #[inline]
    pub(crate) fn spare(&mut self, pool: &mut BufPool, limits: &Limits) -> &mut [MaybeUninit<u8>] {
        if self.buf.capacity() == 0 {
            self.buf = pool.get();
        }
        if self.pos > 0 && self.buf.capacity() - self.buf.len() < pool.block() / 4 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if self.buf.capacity() == self.buf.len() {
            // a request bigger than a block: grow up to what the limits allow
            let body = limits.max_body.max(self.body_cap);
            let cap = limits
                .max_head
                .saturating_add(body)
                .saturating_add(pool.block());
            let want = (self.buf.capacity() * 2).min(cap.max(self.buf.capacity() + 1));
            self.buf.reserve_exact(want - self.buf.len());
        }
        self.buf.spare_capacity_mut()
    }

    /// Takes in `n` bytes written at the start of [`Input::spare`].
    ///
    /// # Safety
    /// The first `n` bytes of the slice the last `spare` call returned
    /// were initialised since.
    #[inline]
    pub(crate) unsafe fn received(&mut self, n: usize) {
        let len = self.buf.len();
        assert!(n <= self.buf.capacity() - len);
        // SAFETY: in capacity (checked), and initialised by the contract.
        unsafe { self.buf.set_len(len + n) };
    }

    /// Copies `data` in.
    pub(crate) fn feed(&mut self, mut data: &[u8], pool: &mut BufPool, limits: &Limits) {
        while !data.is_empty() {
            let spare = self.spare(pool, limits);
            let n = spare.len().min(data.len());
            for (d, s) in spare[..n].iter_mut().zip(data) {
                d.write(*s);
            }
            // SAFETY: the loop above initialised the first `n` bytes.
            unsafe { self.received(n) };
            data = &data[n..];
        }
    }

    /// Unprocessed input.
    #[inline]
    pub(crate) fn avail(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    #[inline]
    pub(crate) fn has_input(&self) -> bool {
        self.buf.len() > self.pos
    }

    #[inline]
    pub(crate) fn reading_body(&self) -> bool {
        !matches!(self.reading, Reading::Head)
    }

    /// Drops everything buffered (after an error).
    pub(crate) fn discard(&mut self) {
        self.reading = Reading::Head;
        self.pos = self.buf.len();
    }

    /// Gives the buffer back to the pool when everything in it was used.
    #[inline]
    pub(crate) fn release_if_drained(&mut self, pool: &mut BufPool) {
        if self.pos == self.buf.len() && matches!(self.reading, Reading::Stream) {
            // a streamed body: keep the buffer, from its start
            self.buf.clear();
            self.pos = 0;
        }
        if self.pos == self.buf.len() && self.buf.capacity() > 0 && !self.reading_body() {
            self.pos = 0;
            self.scanned = 0;
            pool.put(std::mem::take(&mut self.buf));
        }
    }

    pub(crate) fn release(&mut self, pool: &mut BufPool) {
        pool.put(std::mem::take(&mut self.buf));
        self.pos = 0;
    }
}
