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

/// The scanning kernel used by the parser core. Implementations are zero-sized.
pub(crate) trait Scan {
    /// First byte at or after `pos` outside `0x21..=0x7e`.
    ///
    /// # Safety
    /// `pos <= buf.len()`, and the CPU supports the kernel's instruction set.
    unsafe fn uri_end(buf: &[u8], pos: usize) -> usize;
    /// First byte at or after `pos` that is a control byte other than HTAB, or DEL.
    ///
    /// # Safety
    /// As for [`Scan::uri_end`].
    unsafe fn value_end(buf: &[u8], pos: usize) -> usize;
    /// First byte at or after `pos` that is not a `tchar`.
    ///
    /// # Safety
    /// As for [`Scan::uri_end`].
    unsafe fn token_end(buf: &[u8], pos: usize) -> usize;
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
    unsafe fn uri_end(buf: &[u8], mut pos: usize) -> usize {
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
    unsafe fn value_end(buf: &[u8], mut pos: usize) -> usize {
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
    unsafe fn token_end(buf: &[u8], pos: usize) -> usize {
        scalar_until(buf, pos, |b| !TOKEN[b as usize])
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Sse42};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{scalar_until, Scan, TOKEN};
    use core::arch::x86_64::*;

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

    /// 128-bit kernel, for CPUs with SSE4.2 but no AVX2.
    pub(crate) struct Sse42;
    /// 256-bit kernel.
    pub(crate) struct Avx2;

    impl Scan for Sse42 {
        #[inline]
        #[target_feature(enable = "sse4.2")]
        unsafe fn uri_end(buf: &[u8], mut pos: usize) -> usize {
            let p = buf.as_ptr();
            let lo = _mm_set1_epi8(0x20);
            let hi = _mm_set1_epi8(0x7f);
            while pos + 16 <= buf.len() {
                // SAFETY: pos + 16 <= len, so the 16-byte load is in bounds.
                let v = _mm_loadu_si128(p.add(pos) as *const __m128i);
                // signed compare: bytes >= 0x80 are negative and fail `> 0x20`
                let ok = _mm_and_si128(_mm_cmpgt_epi8(v, lo), _mm_cmplt_epi8(v, hi));
                let m = !_mm_movemask_epi8(ok) & 0xffff;
                if m != 0 {
                    return pos + m.trailing_zeros() as usize;
                }
                pos += 16;
            }
            scalar_until(buf, pos, |b| !super::is_uri_byte(b))
        }

        #[inline]
        #[target_feature(enable = "sse4.2")]
        unsafe fn value_end(buf: &[u8], mut pos: usize) -> usize {
            let p = buf.as_ptr();
            let c1f = _mm_set1_epi8(0x1f);
            let tab = _mm_set1_epi8(b'\t' as i8);
            let del = _mm_set1_epi8(0x7f);
            while pos + 16 <= buf.len() {
                // SAFETY: pos + 16 <= len.
                let v = _mm_loadu_si128(p.add(pos) as *const __m128i);
                let ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v);
                let stop = _mm_or_si128(
                    _mm_andnot_si128(_mm_cmpeq_epi8(v, tab), ctl),
                    _mm_cmpeq_epi8(v, del),
                );
                let m = _mm_movemask_epi8(stop);
                if m != 0 {
                    return pos + m.trailing_zeros() as usize;
                }
                pos += 16;
            }
            scalar_until(buf, pos, super::is_value_stop)
        }

        #[inline]
        #[target_feature(enable = "sse4.2")]
        unsafe fn token_end(buf: &[u8], mut pos: usize) -> usize {
            let p = buf.as_ptr();
            // SAFETY: both tables are 16 bytes.
            let lo_t = _mm_loadu_si128(TOKEN_LO.as_ptr() as *const __m128i);
            let hi_t = _mm_loadu_si128(TOKEN_HI.as_ptr() as *const __m128i);
            let nib = _mm_set1_epi8(0x0f);
            while pos + 16 <= buf.len() {
                // SAFETY: pos + 16 <= len.
                let v = _mm_loadu_si128(p.add(pos) as *const __m128i);
                let l = _mm_shuffle_epi8(lo_t, _mm_and_si128(v, nib));
                let h = _mm_shuffle_epi8(hi_t, _mm_and_si128(_mm_srli_epi16(v, 4), nib));
                let bad = _mm_cmpeq_epi8(_mm_and_si128(l, h), _mm_setzero_si128());
                let m = _mm_movemask_epi8(bad);
                if m != 0 {
                    return pos + m.trailing_zeros() as usize;
                }
                pos += 16;
            }
            scalar_until(buf, pos, |b| !TOKEN[b as usize])
        }
    }

    impl Scan for Avx2 {
        #[inline]
        #[target_feature(enable = "avx2")]
        unsafe fn uri_end(buf: &[u8], mut pos: usize) -> usize {
            let p = buf.as_ptr();
            let lo = _mm256_set1_epi8(0x20);
            let hi = _mm256_set1_epi8(0x7f);
            while pos + 32 <= buf.len() {
                // SAFETY: pos + 32 <= len, so the 32-byte load is in bounds.
                let v = _mm256_loadu_si256(p.add(pos) as *const __m256i);
                let ok = _mm256_and_si256(_mm256_cmpgt_epi8(v, lo), _mm256_cmpgt_epi8(hi, v));
                let m = !(_mm256_movemask_epi8(ok) as u32);
                if m != 0 {
                    return pos + m.trailing_zeros() as usize;
                }
                pos += 32;
            }
            Sse42::uri_end(buf, pos)
        }

        #[inline]
        #[target_feature(enable = "avx2")]
        unsafe fn value_end(buf: &[u8], mut pos: usize) -> usize {
            let p = buf.as_ptr();
            let c1f = _mm256_set1_epi8(0x1f);
            let tab = _mm256_set1_epi8(b'\t' as i8);
            let del = _mm256_set1_epi8(0x7f);
            while pos + 32 <= buf.len() {
                // SAFETY: pos + 32 <= len.
                let v = _mm256_loadu_si256(p.add(pos) as *const __m256i);
                let ctl = _mm256_cmpeq_epi8(_mm256_min_epu8(v, c1f), v);
                let stop = _mm256_or_si256(
                    _mm256_andnot_si256(_mm256_cmpeq_epi8(v, tab), ctl),
                    _mm256_cmpeq_epi8(v, del),
                );
                let m = _mm256_movemask_epi8(stop) as u32;
                if m != 0 {
                    return pos + m.trailing_zeros() as usize;
                }
                pos += 32;
            }
            Sse42::value_end(buf, pos)
        }

        #[inline]
        #[target_feature(enable = "avx2")]
        unsafe fn token_end(buf: &[u8], mut pos: usize) -> usize {
            let p = buf.as_ptr();
            // SAFETY: both tables are 16 bytes; broadcast to both lanes.
            let lo_t =
                _mm256_broadcastsi128_si256(_mm_loadu_si128(TOKEN_LO.as_ptr() as *const __m128i));
            let hi_t =
                _mm256_broadcastsi128_si256(_mm_loadu_si128(TOKEN_HI.as_ptr() as *const __m128i));
            let nib = _mm256_set1_epi8(0x0f);
            while pos + 32 <= buf.len() {
                // SAFETY: pos + 32 <= len.
                let v = _mm256_loadu_si256(p.add(pos) as *const __m256i);
                let l = _mm256_shuffle_epi8(lo_t, _mm256_and_si256(v, nib));
                let h = _mm256_shuffle_epi8(hi_t, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib));
                let bad = _mm256_cmpeq_epi8(_mm256_and_si256(l, h), _mm256_setzero_si256());
                let m = _mm256_movemask_epi8(bad) as u32;
                if m != 0 {
                    return pos + m.trailing_zeros() as usize;
                }
                pos += 32;
            }
            Sse42::token_end(buf, pos)
        }
    }
}
