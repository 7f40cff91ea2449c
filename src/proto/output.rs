//! The pipelined writer's queue: response bytes in request order, as a pooled
//! byte buffer plus zero-copy body segments, handed out as iovecs, and file
//! ranges, which the driver sends with `sendfile(2)`.
//!
//! File bytes are not memory: they do not count in [`Output::unsent_mem`],
//! the figure `max_unsent` bounds. What bounds a connection's open files is
//! `max_pipelined` (one file per response at most).

use std::collections::VecDeque;
use std::fs::File;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, RawFd};
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
    /// A range of a file, sent with `sendfile(2)`, never read into memory.
    File(FileBody),
}

impl ExtBody {
    /// The bytes of an in-memory body; empty for a file.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            ExtBody::Owned(v) => v,
            ExtBody::Shared(a) => a,
            ExtBody::Foreign(f) => f.bytes(),
            ExtBody::File(_) => &[],
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ExtBody::File(f) => f.len,
            _ => self.as_slice().len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `len` bytes of `file` from `offset`. The file is closed when the value
/// drops: once sent, or when the connection closes.
pub struct FileBody {
    file: File,
    offset: u64,
    len: usize,
}

impl FileBody {
    /// The caller checked that the range lies within the file; should the
    /// file shrink meanwhile, the connection is closed short of `len`.
    pub fn new(file: File, offset: u64, len: usize) -> Self {
        FileBody { file, offset, len }
    }
}

/// The part of a file still to send, for the driver's `sendfile(2)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileChunk {
    pub fd: RawFd,
    pub offset: u64,
    pub len: usize,
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
    /// Unsent bytes of file bodies (part of `unsent`).
    unsent_file: usize,
    /// Bytes queued since the connection opened: where the next byte
    /// lies in the connection's output stream.
    queued: u64,
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
        self.queued += (end - before) as u64;
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
        let n = body.len();
        if n == 0 {
            return;
        }
        self.unsent += n;
        self.queued += n as u64;
        if let ExtBody::File(_) = body {
            self.unsent_file += n;
        }
        self.segs.push_back(Seg::Ext(body, 0));
    }

    /// Unsent bytes, file bodies included.
    #[inline]
    pub(crate) fn unsent(&self) -> usize {
        self.unsent
    }

    /// Bytes queued since the connection opened.
    #[inline]
    pub(crate) fn queued(&self) -> u64 {
        self.queued
    }

    /// Bytes written since the connection opened.
    #[inline]
    pub(crate) fn sent(&self) -> u64 {
        self.queued - self.unsent as u64
    }

    /// Unsent bytes held in memory: what `max_unsent` bounds.
    #[inline]
    pub(crate) fn unsent_mem(&self) -> usize {
        self.unsent - self.unsent_file
    }

    /// The file body at the front of the queue, when everything before it
    /// was written.
    pub(crate) fn front_file(&self) -> Option<FileChunk> {
        match self.segs.front() {
            Some(Seg::Ext(ExtBody::File(f), off)) => Some(FileChunk {
                fd: f.file.as_raw_fd(),
                offset: f.offset + *off as u64,
                len: f.len - off,
            }),
            _ => None,
        }
    }

    /// Fills `iov` with the unsent bytes in order, up to the first file
    /// body; returns how many were filled.
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
                Seg::Ext(ExtBody::File(_), _) => break,
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
                    let left = b.len() - *off;
                    let file = matches!(b, ExtBody::File(_));
                    let used = n.min(left);
                    if file {
                        self.unsent_file -= used;
                    }
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

    /// Releases everything (on close), running body release callbacks and
    /// closing files.
    pub(crate) fn clear(&mut self, pool: &mut BufPool) {
        self.segs.clear();
        self.pos = 0;
        self.queued -= self.unsent as u64; // what stays counted was sent
        self.unsent = 0;
        self.unsent_file = 0;
        pool.put(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(bytes: &[u8]) -> File {
        let mut f = tempfile();
        f.write_all(bytes).unwrap();
        f
    }

    fn tempfile() -> File {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("fastserve-output-{}", std::process::id()));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        f
    }

    fn push(o: &mut Output, pool: &mut BufPool, b: &[u8]) {
        o.render(pool, |buf| {
            buf.extend_from_slice(b);
            None
        });
    }

    #[test]
    fn iovecs_stop_before_a_file_and_resume_after_it() {
        let mut pool = BufPool::new(4096, 4);
        let mut o = Output::default();
        push(&mut o, &mut pool, b"head1");
        o.push_ext(ExtBody::File(FileBody::new(file_of(b"0123456789"), 2, 5)));
        push(&mut o, &mut pool, b"head2");
        assert_eq!(o.unsent(), 15);
        assert_eq!(o.unsent_mem(), 10);

        let first = |o: &Output| {
            let mut iov = [IoSlice::new(&[]); 8];
            let n = o.iovecs(&mut iov);
            (n, iov[..n].iter().map(|s| s.to_vec()).collect::<Vec<_>>())
        };
        assert_eq!(first(&o), (1, vec![b"head1".to_vec()]));
        assert!(o.front_file().is_none(), "the head goes first");

        o.consume(5, &mut pool);
        let f = o.front_file().unwrap();
        assert_eq!((f.offset, f.len), (2, 5));
        assert_eq!(first(&o).0, 0);

        o.consume(3, &mut pool);
        let f = o.front_file().unwrap();
        assert_eq!((f.offset, f.len), (5, 2));
        assert_eq!(o.unsent_mem(), 5);

        o.consume(2, &mut pool);
        assert!(o.front_file().is_none());
        assert_eq!(first(&o), (1, vec![b"head2".to_vec()]));
        o.consume(5, &mut pool);
        assert_eq!(o.unsent(), 0);
    }

    #[test]
    fn an_empty_file_body_queues_nothing() {
        let mut o = Output::default();
        o.push_ext(ExtBody::File(FileBody::new(file_of(b""), 0, 0)));
        assert_eq!(o.unsent(), 0);
        assert!(o.front_file().is_none());
    }
}
