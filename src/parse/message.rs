//! The parser core, generic over the scanning kernel and the mode. Every entry
//! point here is `#[inline(always)]` so that it is compiled into each kernel's
//! `#[target_feature]` wrapper (see `dispatch.rs`).

use core::mem::MaybeUninit;

use super::scan::{Scan, TOKEN};
use super::{Error, Header};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fail {
    Partial,
    Invalid(Error),
}

pub(crate) type PResult<T> = Result<T, Fail>;

const PARTIAL: Fail = Fail::Partial;

#[inline(always)]
fn bad<T>(e: Error) -> PResult<T> {
    Err(Fail::Invalid(e))
}

/// What a request parse found so far; kept up to date on failure too
/// (picohttpparser's outputs on -2). A slice not yet read stays empty and
/// outside the input; `minor` stays -1 until the version is read.
pub(crate) struct RequestOut<'b> {
    pub method: &'b [u8],
    pub path: &'b [u8],
    pub minor: i32,
    pub headers: usize,
}

impl Default for RequestOut<'_> {
    fn default() -> Self {
        RequestOut {
            method: &[],
            path: &[],
            minor: -1,
            headers: 0,
        }
    }
}

/// As [`RequestOut`]; `status` stays 0 until its three digits are read.
pub(crate) struct ResponseOut<'b> {
    pub minor: i32,
    pub status: i32,
    pub reason: &'b [u8],
    pub headers: usize,
}

impl Default for ResponseOut<'_> {
    fn default() -> Self {
        ResponseOut {
            minor: -1,
            status: 0,
            reason: &[],
            headers: 0,
        }
    }
}

#[inline(always)]
fn byte(buf: &[u8], i: usize) -> PResult<u8> {
    match buf.get(i) {
        Some(&b) => Ok(b),
        None => Err(PARTIAL),
    }
}

/// Consumes the line end at `i` (CRLF; bare LF too in pico mode).
#[inline(always)]
fn eol<const STRICT: bool>(buf: &[u8], i: usize) -> PResult<usize> {
    match byte(buf, i)? {
        b'\r' => match byte(buf, i + 1)? {
            b'\n' => Ok(i + 2),
            _ => bad(Error::NewLine),
        },
        b'\n' if !STRICT => Ok(i + 1),
        _ => bad(Error::NewLine),
    }
}

/// A token ending in `next`; returns the index of `next`.
#[inline(always)]
fn token<S: Scan>(s: &mut S, buf: &[u8], i: usize, next: u8, err: Error) -> PResult<usize> {
    // SAFETY: i <= buf.len() (callers index from a consumed prefix), positions
    // only grow, and the dispatcher only runs a kernel the CPU supports.
    let end = unsafe { s.token_end(buf, i) };
    match buf.get(end) {
        None => Err(PARTIAL),
        Some(&b) if b == next => Ok(end),
        Some(_) => bad(err),
    }
}

/// The end of a common method followed by SP, matched in one 8-byte load;
/// `None` leaves the method to the token scan.
#[inline(always)]
fn common_method(buf: &[u8], i: usize) -> Option<usize> {
    let w = match buf.get(i..i + 8) {
        Some(w) => u64::from_le_bytes(w.try_into().unwrap()),
        None => return None,
    };
    const fn word(m: &[u8]) -> (u64, u64) {
        let mut v = 0u64;
        let mut k = 0;
        while k < m.len() {
            v |= (m[k] as u64) << (8 * k);
            k += 1;
        }
        (v, u64::MAX >> (64 - 8 * m.len()))
    }
    const GET: (u64, u64) = word(b"GET ");
    const POST: (u64, u64) = word(b"POST ");
    const HEAD: (u64, u64) = word(b"HEAD ");
    const PUT: (u64, u64) = word(b"PUT ");
    if w & GET.1 == GET.0 {
        return Some(i + 3);
    }
    if w & POST.1 == POST.0 {
        return Some(i + 4);
    }
    if w & HEAD.1 == HEAD.0 {
        return Some(i + 4);
    }
    if w & PUT.1 == PUT.0 {
        return Some(i + 3);
    }
    None
}

/// `HTTP/1.x`; returns (minor, index after it). Needs 9 bytes to decide, as pico.
#[inline(always)]
fn version<const STRICT: bool>(buf: &[u8], i: usize) -> PResult<(i32, usize)> {
    let v = match buf.get(i..i + 9) {
        Some(v) => v,
        None => return Err(PARTIAL),
    };
    if &v[..7] == b"HTTP/1." && v[7].is_ascii_digit() {
        return Ok(((v[7] - b'0') as i32, i + 8));
    }
    if STRICT
        && &v[..5] == b"HTTP/"
        && v[5].is_ascii_digit()
        && v[6] == b'.'
        && v[7].is_ascii_digit()
    {
        return bad(Error::UnsupportedVersion);
    }
    bad(Error::Version)
}

#[inline(always)]
pub(crate) fn request<'b, S: Scan, const STRICT: bool>(
    buf: &'b [u8],
    headers: &mut [MaybeUninit<Header<'b>>],
    out: &mut RequestOut<'b>,
) -> PResult<usize> {
    // One empty line before the request line is tolerated (RFC 9112 2.2).
    let mut i = match byte(buf, 0)? {
        b'\r' | b'\n' => eol::<STRICT>(buf, 0)?,
        _ => 0,
    };

    let mut scan = S::new();
    let m_end = match common_method(buf, i) {
        Some(end) => end,
        None => token(&mut scan, buf, i, b' ', Error::Method)?,
    };
    out.method = &buf[i..m_end];
    i = m_end + 1;
    if !STRICT {
        while byte(buf, i)? == b' ' {
            i += 1;
        }
    }

    let start = i;
    loop {
        // SAFETY: i <= buf.len(); kernel supported (see `token`).
        i = unsafe { scan.uri_end(buf, i) };
        match byte(buf, i)? {
            b' ' => break,
            b if b >= 0x80 && !STRICT => i += 1,
            _ => return bad(Error::Target),
        }
    }
    out.path = &buf[start..i];
    i += 1;
    if !STRICT {
        while byte(buf, i)? == b' ' {
            i += 1;
        }
    }
    if out.method.is_empty() {
        return bad(Error::Method);
    }
    if out.path.is_empty() {
        return bad(Error::Target);
    }

    let (minor, after) = version::<STRICT>(buf, i)?;
    out.minor = minor;
    i = eol::<STRICT>(buf, after)?;
    fields::<S, STRICT>(&mut scan, buf, i, headers, &mut out.headers)
}

#[inline(always)]
pub(crate) fn response<'b, S: Scan, const STRICT: bool>(
    buf: &'b [u8],
    headers: &mut [MaybeUninit<Header<'b>>],
    out: &mut ResponseOut<'b>,
) -> PResult<usize> {
    let (minor, mut i) = version::<false>(buf, 0)?;
    out.minor = minor;
    if buf[i] != b' ' {
        return bad(Error::Status);
    }
    i += 1;
    if !STRICT {
        while byte(buf, i)? == b' ' {
            i += 1;
        }
    }
    let code = match buf.get(i..i + 4) {
        Some(c) => c,
        None => return Err(PARTIAL),
    };
    let mut status = 0;
    for &d in &code[..3] {
        if !d.is_ascii_digit() {
            return bad(Error::Status);
        }
        status = status * 10 + (d - b'0') as i32;
    }
    out.status = status;
    i += 3;

    // The reason phrase, with the SP that separates it.
    let start = i;
    let mut scan = S::new();
    // SAFETY: i <= buf.len(); kernel supported.
    let stop = unsafe { scan.value_end(buf, i) };
    let next = line_end::<STRICT>(buf, stop)?;
    let mut reason = &buf[start..stop];
    if let Some((&first, rest)) = reason.split_first() {
        if first != b' ' {
            return bad(Error::Status);
        }
        reason = rest;
        if !STRICT {
            while let Some((b' ', r)) = reason.split_first() {
                reason = r;
            }
        }
    }
    out.reason = reason;
    fields::<S, STRICT>(&mut scan, buf, next, headers, &mut out.headers)
}

/// The byte at `stop` ended a value scan: it must start the line end.
#[inline(always)]
fn line_end<const STRICT: bool>(buf: &[u8], stop: usize) -> PResult<usize> {
    match byte(buf, stop)? {
        b'\r' | b'\n' => eol::<STRICT>(buf, stop),
        _ => bad(Error::HeaderValue),
    }
}

#[inline(always)]
fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The first byte at or after `v` (and before `e`) that is not SP or HTAB.
#[cold]
#[inline(never)]
fn skip_ows(buf: &[u8], mut v: usize, e: usize) -> usize {
    while v < e && is_ows(buf[v]) {
        v += 1;
    }
    v
}

#[inline(always)]
fn trim_end(v: &[u8]) -> &[u8] {
    let mut n = v.len();
    while n > 0 && (v[n - 1] == b' ' || v[n - 1] == b'\t') {
        n -= 1;
    }
    &v[..n]
}

/// Header fields up to and including the empty line. `count` is kept current.
#[inline(always)]
pub(crate) fn fields<'b, S: Scan, const STRICT: bool>(
    scan: &mut S,
    buf: &'b [u8],
    mut i: usize,
    headers: &mut [MaybeUninit<Header<'b>>],
    count: &mut usize,
) -> PResult<usize> {
    let mut n = 0;
    let r = loop {
        i = common_fields(scan, buf, i, headers, &mut n);
        let c = match byte(buf, i) {
            Ok(c) => c,
            Err(e) => break Err(e),
        };
        if c == b'\r' || c == b'\n' {
            break eol::<STRICT>(buf, i);
        }
        if n == headers.len() {
            break bad(Error::TooManyHeaders);
        }
        match field::<S, STRICT>(scan, buf, i, c, n == 0) {
            Ok((h, next)) => {
                headers[n].write(h);
                n += 1;
                i = next;
            }
            Err(e) => break Err(e),
        }
    };
    *count = n;
    r
}

#[inline(always)]
fn field<'b, S: Scan, const STRICT: bool>(
    scan: &mut S,
    buf: &'b [u8],
    mut i: usize,
    first_byte: u8,
    first_field: bool,
) -> PResult<(Header<'b>, usize)> {
    let name = if !first_field && (first_byte == b' ' || first_byte == b'\t') {
        if STRICT {
            return bad(Error::HeaderName); // obs-fold
        }
        None
    } else {
        if !TOKEN[first_byte as usize] {
            return bad(Error::HeaderName);
        }
        let colon = token(scan, buf, i + 1, b':', Error::HeaderName)?;
        let name = &buf[i..colon];
        i = colon + 1;
        loop {
            match byte(buf, i)? {
                b' ' | b'\t' => i += 1,
                _ => break,
            }
        }
        Some(name)
    };
    let start = i;
    // SAFETY: i <= buf.len(); kernel supported.
    let stop = unsafe { scan.value_end(buf, i) };
    let next = line_end::<STRICT>(buf, stop)?;
    Ok((Header::new(name, trim_end(&buf[start..stop])), next))
}

/// The common case, without `Result` plumbing: `name: value CRLF` lines with
/// token names. Stops, without consuming it, at the first line that is
/// anything else (the end of the head, a partial line, obs-fold, a bare LF, an
/// error) and leaves that line to [`field`], which decides exactly.
#[inline(always)]
fn common_fields<'b, S: Scan>(
    scan: &mut S,
    buf: &'b [u8],
    mut i: usize,
    headers: &mut [MaybeUninit<Header<'b>>],
    n: &mut usize,
) -> usize {
    let len = buf.len();
    let p = buf.as_ptr();
    let cap = headers.len();
    let out = headers.as_mut_ptr();
    let mut k = *n;
    while k < cap {
        // SAFETY: i <= len (callers start inside the input, and each line
        // below ends at most at len); positions only grow; the dispatcher
        // only runs a kernel the CPU supports.
        let (colon, e) = unsafe { scan.field_ends(buf, i) };
        // colon <= e, so this puts colon, e and e + 1 inside the input. A
        // line that starts with CR (the end of the head) stops with colon == i.
        if e + 1 >= len {
            break;
        }
        // SAFETY: colon <= e < e + 1 < len (above).
        let (c, crlf) = unsafe { (*p.add(colon), p.add(e).cast::<u16>().read_unaligned()) };
        if (colon == i) | (c != b':') | (crlf != u16::from_le_bytes(*b"\r\n")) {
            break;
        }
        // Now i < colon < e: buf[e] is CR. Usually exactly one SP follows the
        // colon and no whitespace precedes the CR: test for that, and loop
        // only otherwise.
        // SAFETY (byte reads): colon + 1 <= e, v <= e and colon <= e - 1, all
        // below len.
        let mut v = colon + 1 + unsafe { *p.add(colon + 1) == b' ' } as usize;
        if is_ows(unsafe { *p.add(v) }) {
            v = skip_ows(buf, v, e);
        }
        let mut end = e;
        if is_ows(unsafe { *p.add(e - 1) }) && e > v {
            end = v + trim_end(&buf[v..e]).len();
        }
        // SAFETY: i < colon and v <= end <= e < len delimit subslices of
        // buf; k < cap, so the slot exists.
        unsafe {
            let name = buf.get_unchecked(i..colon);
            let value = buf.get_unchecked(v..end);
            (*out.add(k)).write(Header::new(Some(name), value));
        }
        k += 1;
        i = e + 2;
    }
    *n = k;
    i
}
