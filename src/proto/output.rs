//! The pipelined writer's queue: response bytes in request order, as a pooled
//! byte buffer plus zero-copy body segments, handed out as iovecs.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::Arc;

use super::pool::BufPool;

/// Bytes that live outside the engine and are sent from where they are.
/// Dropping the value releases them, once they are sent or the connection
/// closes; the drop may run on any thread.
pub trait ExtBytes: Send {
    fn bytes(&self) -> &[u8];
}

/// A body sent from its own storage.
pub enum ExtBody {
    Owned(Vec<u8>),
    Shared(Arc<[u8]>),
    /// Storage owned by the embedder (a C caller's buffer, say).
    Foreign(Box<dyn ExtBytes>),
}

impl ExtBody {
    pub fn as_slice(&self) -> &[u8] {
        match self {
            ExtBody::Owned(v) => v,
            ExtBody::Shared(a) => a,
            ExtBody::Foreign(f) => f.bytes(),
        }
    }
}

enum Seg {
    /// `buf[..end]`, from the read cursor on.
    Buf(usize),
    /// A body, of which `off` bytes were already written.
    Ext(ExtBody, usize),
}

/// Ordered output of one connection.
#[derive(Default)]
pub(crate) struct Output {
    buf: Vec<u8>,
    /// Bytes of `buf` already written.
    pos: usize,
    segs: VecDeque<Seg>,
    /// Unsent bytes in total.
    unsent: usize,
}

impl Output {
    /// The buffer to append response bytes to; call [`Output::appended`] after.
    #[inline]
    pub(crate) fn buf(&mut self, pool: &mut BufPool) -> &mut Vec<u8> {
        if self.buf.capacity() == 0 {
            self.buf = pool.get();
        }
        &mut self.buf
    }

    /// Records that `buf` grew from `before` bytes.
    #[inline]
    pub(crate) fn appended(&mut self, before: usize) {
        let end = self.buf.len();
        self.unsent += end - before;
        match self.segs.back_mut() {
            Some(Seg::Buf(e)) => *e = end,
            _ => self.segs.push_back(Seg::Buf(end)),
        }
    }

    /// Appends what `f` renders into the buffer, then the body it returns.
    #[inline]
    pub(crate) fn render(
        &mut self,
        pool: &mut BufPool,
        f: impl FnOnce(&mut Vec<u8>) -> Option<ExtBody>,
    ) {
        let buf = self.buf(pool);
        let before = buf.len();
        let ext = f(buf);
        self.appended(before);
        if let Some(e) = ext {
            self.push_ext(e);
        }
    }

    pub(crate) fn push_ext(&mut self, body: ExtBody) {
        let n = body.as_slice().len();
        if n == 0 {
            return;
        }
        self.unsent += n;
        self.segs.push_back(Seg::Ext(body, 0));
    }

    #[inline]
    pub(crate) fn unsent(&self) -> usize {
        self.unsent
    }

    /// Fills `iov` with the unsent bytes in order; returns how many were filled.
    pub(crate) fn iovecs<'a>(&'a self, iov: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        let mut start = self.pos;
        for seg in &self.segs {
            if n == iov.len() {
                break;
            }
            let s: &[u8] = match seg {
                Seg::Buf(end) => {
                    let s = &self.buf[start..*end];
                    start = *end;
                    s
                }
                Seg::Ext(b, off) => &b.as_slice()[*off..],
            };
            if !s.is_empty() {
                iov[n] = IoSlice::new(s);
                n += 1;
            }
        }
        n
    }

    /// The unsent bytes when they form a single slice (the common case).
    #[inline]
    pub(crate) fn single(&self) -> Option<&[u8]> {
        match (self.segs.len(), self.segs.front()) {
            (1, Some(Seg::Buf(end))) => Some(&self.buf[self.pos..*end]),
            _ => None,
        }
    }

    /// Drops `n` written bytes from the front. Returns the buffer to the pool
    /// once everything is sent.
    pub(crate) fn consume(&mut self, mut n: usize, pool: &mut BufPool) {
        self.unsent -= n;
        while n > 0 {
            match self.segs.front_mut() {
                Some(Seg::Buf(end)) => {
                    let left = *end - self.pos;
                    if n < left {
                        self.pos += n;
                        return;
                    }
                    self.pos = *end;
                    n -= left;
                    self.segs.pop_front();
                }
                Some(Seg::Ext(b, off)) => {
                    let left = b.as_slice().len() - *off;
                    if n < left {
                        *off += n;
                        return;
                    }
                    n -= left;
                    self.segs.pop_front();
                }
                None => break,
            }
        }
        if self.segs.is_empty() {
            self.pos = 0;
            pool.put(std::mem::take(&mut self.buf));
        }
    }

    /// Releases everything (on close), running body release callbacks.
    pub(crate) fn clear(&mut self, pool: &mut BufPool) {
        self.segs.clear();
        self.pos = 0;
        self.unsent = 0;
        pool.put(std::mem::take(&mut self.buf));
    }
}
