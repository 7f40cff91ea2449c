//! Byte-slice searches and compares for the short inputs of the hot path
//! (paths, `Host` values, methods), where a library call's set-up costs
//! more than the work.

/// Where `b` first is in `s`: a loop for short inputs, `memchr` for long.
#[inline]
pub(crate) fn find(b: u8, s: &[u8]) -> Option<usize> {
    if s.len() < 32 {
        s.iter().position(|&x| x == b)
    } else {
        memchr::memchr(b, s)
    }
}

/// Whether `a` and `b` are equal, compared a word at a time (the last
/// word overlapping the one before) and without a `bcmp` call; up to 32
/// bytes in two overlapping loads a side.
#[inline(always)]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().unwrap());
    let half = |s: &[u8], i: usize| u32::from_le_bytes(s[i..i + 4].try_into().unwrap());
    let wide = |s: &[u8], i: usize| u128::from_le_bytes(s[i..i + 16].try_into().unwrap());
    match n {
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        17..=32 => wide(a, 0) == wide(b, 0) && wide(a, n - 16) == wide(b, n - 16),
        _ => {
            let mut i = 0;
            while i + 8 < n {
                if word(a, i) != word(b, i) {
                    return false;
                }
                i += 8;
            }
            word(a, n - 8) == word(b, n - 8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_agrees_with_slice_equality() {
        let base: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for n in 0..base.len() {
            let a = &base[..n];
            assert!(same(a, a.to_vec().as_slice()), "{n}");
            for at in 0..n {
                let mut b = a.to_vec();
                b[at] ^= 0x20;
                assert!(!same(a, &b), "{n} at {at}");
            }
            assert!(!same(a, &base[..n + 1]));
        }
    }

    #[test]
    fn find_agrees_with_position() {
        for n in [0, 1, 7, 31, 32, 33, 100] {
            let mut s = vec![b'x'; n];
            assert_eq!(find(b'#', &s), None);
            for at in 0..n {
                s[at] = b'#';
                assert_eq!(
                    find(b'#', &s),
                    Some(at.min(s.iter().position(|&c| c == b'#').unwrap()))
                );
                s[at] = b'x';
            }
        }
    }
}
