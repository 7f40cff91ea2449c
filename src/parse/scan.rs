//! Byte-class scanners: the three loops where parsing spends its time.
//!
//! Each kernel answers the same three questions over `buf[pos..]` and returns the
//! index of the first byte that stops the scan, or `buf.len()`. The vector kernels
//! only load whole blocks that lie inside the slice and finish the tail with the
//! scalar loop, so nothing is ever read past `buf.len()`.

/// `tchar` of RFC 9110: `!#$%&'*+-.^_`|~`, digits and letters.
pub(crate) static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        c += 1;
    }
    t
};

#[inline(always)]
pub(crate) fn is_uri_byte(b: u8) -> bool {
    (0x21..0x7f).contains(&b)
}

/// A control byte that ends a field value: anything below SP except HTAB, and DEL.
#[inline(always)]
pub(crate) fn is_value_stop(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// The scanning kernel used by the parser core: a cursor created per parse,
/// queried at increasing positions.
pub(crate) trait Scan {
    fn new() -> Self;
    /// First byte at or after `pos` outside `0x21..=0x7e`.
    ///
    /// # Safety
    /// `pos <= buf.len()`; every query on one cursor uses the same `buf`; the
    /// CPU supports the kernel. (Queries are cheapest at growing positions.)
    unsafe fn uri_end(&mut self, buf: &[u8], pos: usize) -> usize;
    /// First byte at or after `pos` that is a control byte other than HTAB, or DEL.
    ///
    /// # Safety
    /// As for [`Scan::uri_end`].
    unsafe fn value_end(&mut self, buf: &[u8], pos: usize) -> usize;
    /// First byte at or after `pos` that is not a `tchar`.
    ///
    /// # Safety
    /// As for [`Scan::uri_end`].
    unsafe fn token_end(&mut self, buf: &[u8], pos: usize) -> usize;
    /// For a field line starting at `pos`: the first non-`tchar` byte at or
    /// after `pos` (where the colon should be) and the first value stop at or
    /// after `pos` (where the line end should be). Stops are non-`tchar`, so
    /// the first never exceeds the second.
    ///
    /// # Safety
    /// As for [`Scan::uri_end`].
    #[inline(always)]
    unsafe fn field_ends(&mut self, buf: &[u8], pos: usize) -> (usize, usize) {
        // SAFETY: forwarded contract; `pos..name` holds only tokens, which
        // are not stops.
        unsafe {
            let name = self.token_end(buf, pos);
            (name, self.value_end(buf, name))
        }
    }
}

#[inline(always)]
fn scalar_until(buf: &[u8], mut pos: usize, stop: impl Fn(u8) -> bool) -> usize {
    while pos < buf.len() {
        if stop(buf[pos]) {
            return pos;
        }
        pos += 1;
    }
    pos
}

/// Portable kernel: SWAR over 8-byte words, scalar tails.
pub(crate) struct Swar;

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte lane below `n` (`n <= 128`). Only the lowest flagged
/// lane is exact, which is all a forward scan needs.
#[inline(always)]
fn lanes_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(LO * n as u64) & !x & HI
}

#[inline(always)]
fn lanes_equal(x: u64, b: u8) -> u64 {
    lanes_below(x ^ (LO * b as u64), 1)
}

#[inline(always)]
fn load8(buf: &[u8], pos: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&buf[pos..pos + 8]);
    u64::from_le_bytes(w)
}

impl Scan for Swar {
    #[inline(always)]
    fn new() -> Self {
        Swar
    }

    #[inline(always)]
    unsafe fn uri_end(&mut self, buf: &[u8], mut pos: usize) -> usize {
        while pos + 8 <= buf.len() {
            let x = load8(buf, pos);
            // below 0x21, DEL, or high bit set
            let m = lanes_below(x, 0x21) | lanes_equal(x, 0x7f) | (x & HI);
            if m != 0 {
                return pos + (m.trailing_zeros() / 8) as usize;
            }
            pos += 8;
        }
        scalar_until(buf, pos, |b| !is_uri_byte(b))
    }

    #[inline(always)]
    unsafe fn value_end(&mut self, buf: &[u8], mut pos: usize) -> usize {
        while pos + 8 <= buf.len() {
            let x = load8(buf, pos);
            let m = lanes_below(x, 0x20) | lanes_equal(x, 0x7f);
            if m != 0 {
                let at = pos + (m.trailing_zeros() / 8) as usize;
                if buf[at] != b'\t' {
                    return at;
                }
                pos = at + 1;
                continue;
            }
            pos += 8;
        }
        scalar_until(buf, pos, is_value_stop)
    }

    #[inline(always)]
    unsafe fn token_end(&mut self, buf: &[u8], pos: usize) -> usize {
        scalar_until(buf, pos, |b| !TOKEN[b as usize])
    }
}

#[cfg(all(target_arch = "x86_64", fastserve_avx512))]
pub(crate) use x86::Avx512;
#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Sse42};

/// The x86 kernels classify 64 bytes at a time into two bit masks (value stops
/// and non-token bytes) and answer queries from the cached masks. Each header
/// field then costs a few bit operations instead of a load-compare-movemask
/// chain per scan, so consecutive fields do not wait on each other's loads.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{is_uri_byte, scalar_until, Scan, TOKEN};
    use core::arch::x86_64::*;
    use core::marker::PhantomData;

    /// Nibble tables for `tchar`: byte `b` is a token byte iff
    /// `LO[b & 15] & HI[b >> 4] != 0`. Bit `h` of `LO[l]` marks byte `h*16 + l`.
    const TOKEN_LO: [u8; 16] = {
        let mut t = [0u8; 16];
        let mut b = 0;
        while b < 128 {
            if TOKEN[b] {
                t[b & 15] |= 1 << (b >> 4);
            }
            b += 1;
        }
        t
    };
    const TOKEN_HI: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 0, 0, 0, 0, 0, 0, 0, 0];

    /// One instruction set's classifier.
    pub(crate) trait Block {
        /// The stop mask (`STOP`) or the non-token mask of the 32 bytes at
        /// `p`; bit `i` is byte `i`.
        ///
        /// # Safety
        /// `p..p + 32` is readable; the CPU has the instruction set.
        unsafe fn mask<const STOP: bool>(p: *const u8) -> u32;
        /// Both masks (stop, non-token) of the 64 bytes at `p`.
        ///
        /// # Safety
        /// `p..p + 64` is readable; the CPU has the instruction set.
        #[inline(always)]
        unsafe fn masks64(p: *const u8) -> (u64, u64) {
            // SAFETY: two 32-byte halves of the 64 readable bytes (caller).
            unsafe {
                let (lo, hi) = (p, p.add(32));
                (
                    Self::mask::<true>(lo) as u64 | (Self::mask::<true>(hi) as u64) << 32,
                    Self::mask::<false>(lo) as u64 | (Self::mask::<false>(hi) as u64) << 32,
                )
            }
        }
        /// Both masks of the cut block `buf[base..]` (`base <= len < base +
        /// 64`), with bit `len - base` set in both as a sentinel. This one
        /// loads the last 64 bytes of the input and shifts the masks into
        /// place, or classifies a zero-padded copy of a short input.
        ///
        /// # Safety
        /// `base <= buf.len() < base + 64`; the CPU has the instruction set.
        #[inline(always)]
        unsafe fn tail(buf: &[u8], base: usize) -> (u64, u64) {
            let len = buf.len();
            let rem = len - base; // 0..=63
            if len >= 64 {
                // SAFETY: len - 64 + 64 == len, so the 64 bytes are in bounds.
                let (s, t) = unsafe { Self::masks64(buf.as_ptr().add(len - 64)) };
                let end = 1u64 << rem;
                // rem == 0 leaves only the sentinel (a shift by 64 would overflow)
                let shift = (64 - rem) as u32;
                (
                    s.checked_shr(shift).unwrap_or(0) | end,
                    t.checked_shr(shift).unwrap_or(0) | end,
                )
            } else {
                // SAFETY: forwarded contract (instruction set).
                unsafe { padded::<Self>(buf) }
            }
        }
        /// Direct scan for the first byte outside `0x21..=0x7e`.
        ///
        /// # Safety
        /// `pos <= buf.len()`; the CPU has the instruction set.
        unsafe fn uri_end(buf: &[u8], pos: usize) -> usize;
    }

    /// A short input (base == 0): classify a zero-padded copy. NUL is both a
    /// stop and a non-token byte, so bit `len` is the sentinel without further
    /// work.
    ///
    /// # Safety
    /// `buf.len() < 64`; the CPU has the instruction set.
    #[cold]
    #[inline(always)]
    unsafe fn padded<B: Block + ?Sized>(buf: &[u8]) -> (u64, u64) {
        let mut block = [0u8; 64];
        block[..buf.len()].copy_from_slice(buf);
        // SAFETY: the local block holds 64 bytes; the CPU has the instruction
        // set (caller).
        unsafe { B::masks64(block.as_ptr()) }
    }

    pub(crate) struct Sse42Block;
    pub(crate) struct Avx2Block;

    /// 16-byte SSE vectors (SSSE3 shuffles, SSE4.2-class CPUs).
    pub(crate) type Sse42 = Cursor<Sse42Block>;
    /// 32-byte AVX2 vectors.
    pub(crate) type Avx2 = Cursor<Avx2Block>;

    impl Sse42Block {
        #[inline(always)]
        unsafe fn mask16<const STOP: bool>(p: *const u8) -> u32 {
            // SAFETY: the caller guarantees 16 readable bytes at `p`; the
            // tables are 16 bytes each.
            unsafe {
                let v = _mm_loadu_si128(p as *const __m128i);
                let m = if STOP {
                    let ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
                    _mm_or_si128(
                        _mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\t' as i8)), ctl),
                        _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)),
                    )
                } else {
                    let nib = _mm_set1_epi8(0x0f);
                    let lo_t = _mm_loadu_si128(TOKEN_LO.as_ptr() as *const __m128i);
                    let hi_t = _mm_loadu_si128(TOKEN_HI.as_ptr() as *const __m128i);
                    let l = _mm_shuffle_epi8(lo_t, _mm_and_si128(v, nib));
                    let h = _mm_shuffle_epi8(hi_t, _mm_and_si128(_mm_srli_epi16(v, 4), nib));
                    _mm_cmpeq_epi8(_mm_and_si128(l, h), _mm_setzero_si128())
                };
                _mm_movemask_epi8(m) as u32
            }
        }
    }

    impl Block for Sse42Block {
        #[inline(always)]
        unsafe fn mask<const STOP: bool>(p: *const u8) -> u32 {
            // SAFETY: 32 readable bytes at `p` (caller), so two 16-byte halves.
            unsafe { Self::mask16::<STOP>(p) | Self::mask16::<STOP>(p.add(16)) << 16 }
        }

        #[inline(always)]
        unsafe fn uri_end(buf: &[u8], mut pos: usize) -> usize {
            let p = buf.as_ptr();
            while pos + 16 <= buf.len() {
                // SAFETY: pos + 16 <= len, so the load is in bounds.
                let m = unsafe {
                    let v = _mm_loadu_si128(p.add(pos) as *const __m128i);
                    // signed compares: bytes >= 0x80 are negative and fail `> 0x20`
                    let ok = _mm_and_si128(
                        _mm_cmpgt_epi8(v, _mm_set1_epi8(0x20)),
                        _mm_cmplt_epi8(v, _mm_set1_epi8(0x7f)),
                    );
                    !_mm_movemask_epi8(ok) & 0xffff
                };
                if m != 0 {
                    return pos + m.trailing_zeros() as usize;
                }
                pos += 16;
            }
            scalar_until(buf, pos, |b| !is_uri_byte(b))
        }
    }

    impl Block for Avx2Block {
        #[inline(always)]
        unsafe fn mask<const STOP: bool>(p: *const u8) -> u32 {
            // SAFETY: 32 readable bytes at `p` (caller); 16-byte tables.
            unsafe {
                let v = _mm256_loadu_si256(p as *const __m256i);
                let m = if STOP {
                    let ctl = _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1f)), v);
                    _mm256_or_si256(
                        _mm256_andnot_si256(
                            _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\t' as i8)),
                            ctl,
                        ),
                        _mm256_cmpeq_epi8(v, _mm256_set1_epi8(0x7f)),
                    )
                } else {
                    let nib = _mm256_set1_epi8(0x0f);
                    let lo_t = _mm256_broadcastsi128_si256(_mm_loadu_si128(
                        TOKEN_LO.as_ptr() as *const __m128i
                    ));
                    let hi_t = _mm256_broadcastsi128_si256(_mm_loadu_si128(
                        TOKEN_HI.as_ptr() as *const __m128i
                    ));
                    let l = _mm256_shuffle_epi8(lo_t, _mm256_and_si256(v, nib));
                    let h =
                        _mm256_shuffle_epi8(hi_t, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib));
                    _mm256_cmpeq_epi8(_mm256_and_si256(l, h), _mm256_setzero_si256())
                };
                _mm256_movemask_epi8(m) as u32
            }
        }

        #[inline(always)]
        unsafe fn uri_end(buf: &[u8], mut pos: usize) -> usize {
            let p = buf.as_ptr();
            while pos + 32 <= buf.len() {
                // SAFETY: pos + 32 <= len, so the load is in bounds.
                let m = unsafe {
                    let v = _mm256_loadu_si256(p.add(pos) as *const __m256i);
                    let ok = _mm256_and_si256(
                        _mm256_cmpgt_epi8(v, _mm256_set1_epi8(0x20)),
                        _mm256_cmpgt_epi8(_mm256_set1_epi8(0x7f), v),
                    );
                    !(_mm256_movemask_epi8(ok) as u32)
                };
                if m != 0 {
                    return pos + m.trailing_zeros() as usize;
                }
                pos += 32;
            }
            // SAFETY: AVX2 CPUs have SSE4.2; pos <= len.
            unsafe { Sse42Block::uri_end(buf, pos) }
        }
    }

    /// 64-byte AVX-512BW vectors: one load and compares straight into mask
    /// registers classify a whole block, and the cut block at the end of the
    /// input is a masked load, whose masked-off bytes are never touched (and
    /// read as NUL, the sentinel).
    #[cfg(fastserve_avx512)]
    pub(crate) struct Avx512Block;
    #[cfg(fastserve_avx512)]
    pub(crate) type Avx512 = Cursor<Avx512Block>;

    // Only compiled by rustc 1.89+ (build.rs), where these are stable.
    #[cfg(fastserve_avx512)]
    #[clippy::msrv = "1.89"]
    impl Avx512Block {
        /// Both masks (stop, non-token) of the vector `v`.
        ///
        /// # Safety
        /// The CPU has AVX-512F and AVX-512BW.
        #[inline(always)]
        unsafe fn classify(v: __m512i) -> (u64, u64) {
            // SAFETY: register-only intrinsics (caller: the CPU has them);
            // the tables are 16 bytes each.
            unsafe {
                let ctl = _mm512_cmple_epu8_mask(v, _mm512_set1_epi8(0x1f));
                let ctl = _mm512_mask_cmpneq_epi8_mask(ctl, v, _mm512_set1_epi8(b'\t' as i8));
                let stop = ctl | _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(0x7f));
                let nib = _mm512_set1_epi8(0x0f);
                let lo_t =
                    _mm512_broadcast_i32x4(_mm_loadu_si128(TOKEN_LO.as_ptr() as *const __m128i));
                let hi_t =
                    _mm512_broadcast_i32x4(_mm_loadu_si128(TOKEN_HI.as_ptr() as *const __m128i));
                let l = _mm512_shuffle_epi8(lo_t, _mm512_and_si512(v, nib));
                let h = _mm512_shuffle_epi8(hi_t, _mm512_and_si512(_mm512_srli_epi16(v, 4), nib));
                (stop, _mm512_testn_epi8_mask(l, h))
            }
        }

        /// The bytes `p..p + n` (`n <= 64`) in a vector, zeros above them.
        ///
        /// # Safety
        /// `p..p + n` is readable; the CPU has AVX-512F and AVX-512BW.
        #[inline(always)]
        unsafe fn load_upto(p: *const u8, n: usize) -> __m512i {
            let keep = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
            // SAFETY: a masked load reads only the lanes set in `keep`, all
            // inside `p..p + n`; faults on the others are suppressed.
            unsafe { _mm512_maskz_loadu_epi8(keep, p as *const i8) }
        }
    }

    // Only compiled by rustc 1.89+ (build.rs), where these are stable.
    #[cfg(fastserve_avx512)]
    #[clippy::msrv = "1.89"]
    impl Block for Avx512Block {
        #[inline(always)]
        unsafe fn mask<const STOP: bool>(p: *const u8) -> u32 {
            // SAFETY: 32 readable bytes at `p` (caller); AVX-512 CPUs have AVX2.
            unsafe { Avx2Block::mask::<STOP>(p) }
        }

        #[inline(always)]
        unsafe fn masks64(p: *const u8) -> (u64, u64) {
            // SAFETY: 64 readable bytes at `p` (caller); the CPU has AVX-512BW.
            unsafe { Self::classify(_mm512_loadu_si512(p as *const _)) }
        }

        #[inline(always)]
        unsafe fn tail(buf: &[u8], base: usize) -> (u64, u64) {
            // SAFETY: base <= len < base + 64 (caller): the masked load stays
            // inside the input, and byte `len - base` reads as NUL.
            unsafe { Self::classify(Self::load_upto(buf.as_ptr().add(base), buf.len() - base)) }
        }

        #[inline(always)]
        unsafe fn uri_end(buf: &[u8], mut pos: usize) -> usize {
            let p = buf.as_ptr();
            loop {
                let rem = buf.len() - pos;
                // SAFETY: pos <= len (caller), and the load stops at len. A
                // cut block reads NUL at `len`, which ends the scan there.
                let bad = unsafe {
                    let v = Self::load_upto(p.add(pos), rem);
                    // bytes outside 0x21..=0x7e wrap to 0x5e and above
                    let off = _mm512_sub_epi8(v, _mm512_set1_epi8(0x21));
                    !_mm512_cmplt_epu8_mask(off, _mm512_set1_epi8(0x5e))
                };
                if bad != 0 {
                    return pos + bad.trailing_zeros() as usize;
                }
                pos += 64;
            }
        }
    }

    /// Both masks of one 64-byte block `base..base + 64`. Blocks lie on a
    /// grid of 64-byte steps from the start of the input, so the next block's
    /// address never depends on where the parse stands: it can be loaded and
    /// classified while the previous field is still being scanned. At the end
    /// of the input the block is cut short, and bit `len - base` of both masks
    /// is set as a sentinel.
    pub(crate) struct Cursor<B> {
        base: usize,
        /// Value stops: control bytes other than HTAB, and DEL.
        stop: u64,
        /// Bytes that are not `tchar` (a superset of `stop`).
        tok: u64,
        _block: PhantomData<B>,
    }

    impl<B: Block> Cursor<B> {
        /// Classifies the block at `base` (a multiple of 64, `base <= len`).
        /// Near the end of the input the block is cut short ([`Block::tail`]),
        /// so that no load crosses `buf.len()`.
        #[inline(always)]
        unsafe fn load(&mut self, buf: &[u8], base: usize) {
            self.base = base;
            // SAFETY: 64 bytes at `base` are in bounds, or the cut block
            // meets `tail`'s contract; the CPU has the instruction set.
            unsafe {
                (self.stop, self.tok) = if base + 64 <= buf.len() {
                    B::masks64(buf.as_ptr().add(base))
                } else {
                    B::tail(buf, base)
                };
            }
        }

        /// Moves to the block holding `pos` (`pos <= len`).
        #[inline(always)]
        unsafe fn seek(&mut self, buf: &[u8], pos: usize) {
            let next = self.base.wrapping_add(64);
            // SAFETY: the block start is <= pos <= len.
            unsafe {
                if pos.wrapping_sub(next) < 64 {
                    // The usual step: its address is known before `pos` is.
                    self.load(buf, next)
                } else {
                    // The first query, or one past a long request target.
                    // (This stays a branch: no call, which would cost a
                    // vzeroupper and the vector constants at each parse.)
                    self.load(buf, pos & !63)
                }
            }
        }

        /// First byte at or after `pos` flagged in the stop (`STOP`) or the
        /// non-token mask.
        #[inline(always)]
        unsafe fn find<const STOP: bool>(&mut self, buf: &[u8], mut pos: usize) -> usize {
            loop {
                let off = pos.wrapping_sub(self.base);
                if off >= 64 {
                    // SAFETY: pos <= len (caller).
                    unsafe { self.seek(buf, pos) };
                    continue;
                }
                let m = if STOP { self.stop } else { self.tok } >> off;
                if m != 0 {
                    return pos + m.trailing_zeros() as usize;
                }
                // a full block ran out; cut blocks always hold the sentinel
                pos = self.base + 64;
            }
        }
    }

    impl<B: Block> Scan for Cursor<B> {
        #[inline(always)]
        fn new() -> Self {
            Cursor {
                // far from every position, so that the first query seeks
                base: usize::MAX - 255,
                stop: 0,
                tok: 0,
                _block: PhantomData,
            }
        }

        #[inline(always)]
        unsafe fn uri_end(&mut self, buf: &[u8], pos: usize) -> usize {
            // SAFETY: forwarded contract.
            unsafe { B::uri_end(buf, pos) }
        }

        #[inline(always)]
        unsafe fn value_end(&mut self, buf: &[u8], pos: usize) -> usize {
            // SAFETY: forwarded contract.
            unsafe { self.find::<true>(buf, pos) }
        }

        #[inline(always)]
        unsafe fn token_end(&mut self, buf: &[u8], pos: usize) -> usize {
            // SAFETY: forwarded contract.
            unsafe { self.find::<false>(buf, pos) }
        }

        #[inline(always)]
        unsafe fn field_ends(&mut self, buf: &[u8], pos: usize) -> (usize, usize) {
            let mut off = pos.wrapping_sub(self.base);
            if off >= 64 {
                // SAFETY: pos <= len (caller).
                unsafe { self.seek(buf, pos) };
                off = pos - self.base;
            }
            let s = self.stop >> off;
            if s != 0 {
                // The whole line up to its end is in this block; `tok` has
                // every bit of `stop`, so it is not empty either.
                let t = self.tok >> off;
                return (
                    pos + t.trailing_zeros() as usize,
                    pos + s.trailing_zeros() as usize,
                );
            }
            // SAFETY: forwarded contract; the bytes between `pos` and the
            // name end are tokens, hence not stops.
            unsafe {
                let name = self.find::<false>(buf, pos);
                (name, self.find::<true>(buf, name))
            }
        }
    }
}

/// Every kernel against the scalar definitions: each byte value at each
/// offset of inputs whose lengths cross the 64-byte blocks and leave every
/// possible cut block at the end.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Kernel;

    /// The answers of one kernel for queries at `pos`: uri, value and token
    /// ends on fresh cursors, then `field_ends` and a value scan past its
    /// line end on one cursor.
    type Answers = [usize; 6];

    macro_rules! probe {
        ($name:ident, $scan:ty $(, $feat:literal)?) => {
            $(#[target_feature(enable = $feat)])?
            unsafe fn $name(buf: &[u8], pos: usize) -> Answers {
                // SAFETY: pos <= len (caller); positions grow per cursor; the
                // caller only runs a supported kernel.
                unsafe {
                    let mut s = <$scan>::new();
                    let (name, end) = s.field_ends(buf, pos);
                    let again = s.value_end(buf, (end + 1).min(buf.len()));
                    [
                        <$scan>::new().uri_end(buf, pos),
                        <$scan>::new().value_end(buf, pos),
                        <$scan>::new().token_end(buf, pos),
                        name,
                        end,
                        again,
                    ]
                }
            }
        };
    }
    probe!(probe_swar, Swar);
    #[cfg(target_arch = "x86_64")]
    probe!(probe_sse42, Sse42, "sse4.2");
    #[cfg(target_arch = "x86_64")]
    probe!(probe_avx2, Avx2, "avx2,sse4.2,bmi1,bmi2");
    #[cfg(all(target_arch = "x86_64", fastserve_avx512))]
    probe!(
        probe_avx512,
        Avx512,
        "avx512f,avx512bw,avx2,sse4.2,bmi1,bmi2"
    );

    fn probe(k: Kernel, buf: &[u8], pos: usize) -> Answers {
        assert!(k.is_supported());
        // SAFETY: the kernel is supported (above); pos <= len (callers).
        unsafe {
            match k {
                #[cfg(target_arch = "x86_64")]
                Kernel::Sse42 => probe_sse42(buf, pos),
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx2 => probe_avx2(buf, pos),
                #[cfg(all(target_arch = "x86_64", fastserve_avx512))]
                Kernel::Avx512 => probe_avx512(buf, pos),
                _ => probe_swar(buf, pos),
            }
        }
    }

    fn expected(buf: &[u8], pos: usize) -> Answers {
        let value = |p| scalar_until(buf, p, is_value_stop);
        let name = scalar_until(buf, pos, |b| !TOKEN[b as usize]);
        [
            scalar_until(buf, pos, |b| !is_uri_byte(b)),
            value(pos),
            name,
            name,
            value(name),
            value((value(name) + 1).min(buf.len())),
        ]
    }

    fn check(kernels: &[Kernel], buf: &[u8], pos: usize, what: &str) {
        let want = expected(buf, pos);
        for &k in kernels {
            assert_eq!(probe(k, buf, pos), want, "{k:?} {what} from {pos}");
        }
    }

    /// Every byte value in every lane of full blocks (and a 2-byte cut one).
    #[test]
    fn kernels_agree_on_every_byte_at_every_offset() {
        let kernels = Kernel::supported();
        // 'a' passes every scan, so the byte under test or the end stops it
        let mut buf = vec![b'a'; 130];
        for at in 0..buf.len() {
            for b in 0..=255u8 {
                buf[at] = b;
                for pos in [0, at, at + 1] {
                    check(&kernels, &buf, pos, &format!("byte {b:#04x} at {at}"));
                }
            }
            buf[at] = b'a';
        }
    }

    /// Every length of cut block at the end of the input, alone (short
    /// inputs) and after full blocks, with a stop of each class anywhere.
    #[test]
    fn kernels_agree_at_every_input_end() {
        let kernels = Kernel::supported();
        for len in (0..=70).chain(120..=135) {
            let mut buf = vec![b'a'; len];
            check(&kernels, &buf, 0, &format!("len {len}"));
            for at in 0..len {
                for b in *b"\0\t\n\r :a\x7f\x80\xff" {
                    buf[at] = b;
                    for pos in [0, at + 1] {
                        let what = format!("len {len} byte {b:#04x} at {at}");
                        check(&kernels, &buf, pos, &what);
                    }
                }
                buf[at] = b'a';
            }
        }
    }
}
