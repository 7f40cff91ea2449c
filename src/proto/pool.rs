//! A free list of byte buffers, so that steady-state serving allocates nothing
//! and idle connections hold no buffer at all.

/// Buffers of `block` bytes (a multiple of 4 KiB). Buffers that grew beyond it
/// are dropped on return instead of kept.
pub struct BufPool {
    free: Vec<Vec<u8>>,
    block: usize,
    max_free: usize,
}

/// Largest block: a connection's read buffer starts at one block.
pub(crate) const MAX_BLOCK: usize = 64 << 20;

impl BufPool {
    /// `block` is rounded up to 4 KiB and kept within 64 MiB.
    pub fn new(block: usize, max_free: usize) -> Self {
        let block = block.clamp(4096, MAX_BLOCK).div_ceil(4096) * 4096;
        BufPool {
            free: Vec::with_capacity(max_free),
            block,
            max_free,
        }
    }

    pub fn block(&self) -> usize {
        self.block
    }

    #[inline]
    pub fn get(&mut self) -> Vec<u8> {
        self.free
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.block))
    }

    #[inline]
    pub fn put(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() == self.block && self.free.len() < self.max_free {
            buf.clear();
            self.free.push(buf);
        }
    }

    /// Buffers waiting for reuse.
    pub fn idle(&self) -> usize {
        self.free.len()
    }
}

impl Default for BufPool {
    fn default() -> Self {
        BufPool::new(16 * 1024, 1024)
    }
}
