//! The `phr_*` exports, called through their C signatures.

use std::ffi::{c_char, c_int};
use std::ptr;

use fastserve::ffi::pico::*;
use fastserve::parse::Header;

struct Req {
    ret: c_int,
    method: Vec<u8>,
    path: Vec<u8>,
    minor: c_int,
    headers: Vec<(Option<Vec<u8>>, Vec<u8>)>,
}

fn parse(buf: &[u8], max: usize, last_len: usize) -> Req {
    let mut h = vec![Header::EMPTY; max];
    let (mut m, mut ml, mut p, mut pl, mut minor, mut n) = (ptr::null(), 0, ptr::null(), 0, 0, max);
    // SAFETY: every pointer refers to a live local of the right type.
    let ret = unsafe {
        phr_parse_request(
            buf.as_ptr().cast(),
            buf.len(),
            &mut m,
            &mut ml,
            &mut p,
            &mut pl,
            &mut minor,
            h.as_mut_ptr(),
            &mut n,
            last_len,
        )
    };
    let take = |p: *const c_char, l: usize| {
        if p.is_null() {
            vec![]
        } else {
            // SAFETY: the parser set `p`/`l` to a range inside `buf`.
            unsafe { std::slice::from_raw_parts(p.cast::<u8>(), l) }.to_vec()
        }
    };
    Req {
        ret,
        method: take(m, ml),
        path: take(p, pl),
        minor,
        headers: h[..n]
            .iter()
            .map(|h| {
                (
                    (!h.is_continuation()).then(|| h.name().to_vec()),
                    h.value().to_vec(),
                )
            })
            .collect(),
    }
}

#[test]
fn request_outputs() {
    let r = parse(
        b"GET /hoge HTTP/1.1\r\nHost: example.com\r\nCookie: \r\n\r\n",
        4,
        0,
    );
    assert_eq!(r.ret, 51);
    assert_eq!(
        (&r.method[..], &r.path[..], r.minor),
        (&b"GET"[..], &b"/hoge"[..], 1)
    );
    assert_eq!(r.headers.len(), 2);
    // outputs are reset on entry
    let r = parse(b"GET", 4, 0);
    assert_eq!(
        (r.ret, r.minor, r.method.len(), r.headers.len()),
        (-2, -1, 0, 0)
    );
    // capacity: running out is an error
    assert_eq!(
        parse(b"GET / HTTP/1.1\r\na: b\r\nc: d\r\n\r\n", 1, 0).ret,
        -1
    );
    assert_eq!(parse(b"GET / HTTP/1.1\r\n\r\n", 0, 0).ret, 18);
}

#[test]
fn last_len_shortcut() {
    let full = b"GET /hoge HTTP/1.1\r\nHost: example.com\r\n\r\n";
    for last in 1..full.len() {
        // incomplete since `last`: -2 without a parse
        assert_eq!(parse(&full[..full.len() - 1], 4, last).ret, -2);
        assert_eq!(parse(full, 4, last).ret, full.len() as c_int);
    }
    // a bare CR inside the scanned window fails fast
    assert_eq!(parse(b"GET / HTTP/1.1\r\nA: b\rx", 4, 18).ret, -1);
}

#[test]
fn response_and_headers() {
    let buf = b"HTTP/1.1 500 Internal Server Error\r\nA: b\r\n\r\n";
    let (mut minor, mut status, mut msg, mut msg_len, mut n) = (0, 0, ptr::null(), 0, 4);
    let mut h = vec![Header::EMPTY; 4];
    // SAFETY: live locals.
    let r = unsafe {
        phr_parse_response(
            buf.as_ptr().cast(),
            buf.len(),
            &mut minor,
            &mut status,
            &mut msg,
            &mut msg_len,
            h.as_mut_ptr(),
            &mut n,
            0,
        )
    };
    assert_eq!(
        (r, minor, status, msg_len, n),
        (buf.len() as c_int, 1, 500, 21, 1)
    );
    let hb = b"A: b\r\nC:  d \r\n\r\nrest";
    let mut n = 4;
    // SAFETY: live locals.
    let r = unsafe { phr_parse_headers(hb.as_ptr().cast(), hb.len(), h.as_mut_ptr(), &mut n, 0) };
    assert_eq!((r, n), (16, 2));
    assert_eq!(h[1].value(), b"d");
}

fn decode(dec: &mut phr_chunked_decoder, data: &[u8]) -> (isize, Vec<u8>, Vec<u8>) {
    let mut b = data.to_vec();
    let mut n = b.len();
    // SAFETY: `b` holds `n` bytes.
    let r = unsafe { phr_decode_chunked(dec, b.as_mut_ptr().cast(), &mut n) };
    let rest = if r >= 0 {
        b[n..n + r as usize].to_vec()
    } else {
        vec![]
    };
    (r, b[..n].to_vec(), rest)
}

#[test]
fn chunked_framing() {
    let d = |consume: bool, data: &[u8]| {
        let mut dec = phr_chunked_decoder::new(consume);
        decode(&mut dec, data)
    };
    assert_eq!(
        d(false, b"b\r\nhello world\r\n0\r\n"),
        (0, b"hello world".to_vec(), vec![])
    );
    assert_eq!(
        d(false, b"6;ext=1;b\r\nhello \r\n5\r\nworld\r\n0\r\nx"),
        (1, b"hello world".to_vec(), b"x".to_vec())
    );
    assert_eq!(d(true, b"5\r\nhello\r\n0\r\nT: x\r\n\r\nabc").0, 3);
    assert_eq!(d(true, b"5\r\nhello\r\n0\r\n").0, -2);
    assert_eq!(d(false, b"5 \t;x\r\nhello\r\n0\r\n").0, 0); // BWS then extension
                                                            // 16 hex digits are the most
    assert_eq!(d(false, b"000000000000000f\r\n").0, -2);
    assert_eq!(d(false, b"0000000000000000f\r\n").0, -1);
    for bad in [
        &b"5x\r\nhello"[..],
        b"\r\n",
        b"5\nhello\r\n",
        b"5\r\nhelloX\r\n",
        b"5\r\nhello\n0\r\n",
        b"5\r\nhello\r0\r\n",
    ] {
        assert_eq!(d(false, bad).0, -1, "{:?}", String::from_utf8_lossy(bad));
    }
    let mut dec = phr_chunked_decoder::default();
    assert_eq!(decode(&mut dec, b"5\r\nhe").0, -2);
    // SAFETY: live decoder.
    assert_eq!(unsafe { phr_decode_chunked_is_in_data(&mut dec) }, 1);
}

#[test]
fn chunked_overhead_guard() {
    // one data byte per chunk: ~85% overhead; refused once past 100 KiB
    let mut dec = phr_chunked_decoder::default();
    let piece = b"1\r\na\r\n".repeat(1000);
    let mut fed = 0;
    let mut refused = false;
    for _ in 0..40 {
        let (r, _, _) = decode(&mut dec, &piece);
        fed += piece.len();
        if r == -1 {
            refused = true;
            break;
        }
        assert_eq!(r, -2);
    }
    assert!(refused && fed > 100 * 1024 && fed < 140 * 1024, "fed {fed}");
    // large chunks never trip it
    let mut dec = phr_chunked_decoder::default();
    for _ in 0..100 {
        assert_eq!(
            decode(
                &mut dec,
                &[b"1000\r\n".as_slice(), &[b'x'; 4096], b"\r\n"].concat()
            )
            .0,
            -2
        );
    }
}

#[test]
fn null_pointers_are_errors() {
    let mut n = 0;
    // SAFETY: NULL arguments are checked by the exports.
    unsafe {
        assert_eq!(
            phr_parse_headers(ptr::null(), 0, ptr::null_mut(), ptr::null_mut(), 0),
            -1
        );
        assert_eq!(
            phr_parse_headers(ptr::null(), 5, ptr::null_mut(), &mut n, 0),
            -1
        );
        assert_eq!(
            phr_parse_headers(ptr::null(), 0, ptr::null_mut(), &mut n, 0),
            -2
        );
        assert_eq!(
            phr_decode_chunked(ptr::null_mut(), ptr::null_mut(), ptr::null_mut()),
            -1
        );
        assert_eq!(phr_decode_chunked_is_in_data(ptr::null_mut()), 0);
    }
}

/// What picohttpparser (2025) leaves in its request outputs when it returns
/// -2 on `b`, a prefix of a well-formed request: the method once the SP
/// after it is read, the path once the SP after it is read, the minor version
/// once 9 bytes follow the path's spaces, and the fields whose line ended.
fn pico_partial_request(b: &[u8]) -> (Option<&[u8]>, Option<&[u8]>, c_int, usize) {
    let mut i = match b.first() {
        None => return (None, None, -1, 0),
        Some(b'\r') => 2,
        Some(b'\n') => 1,
        Some(_) => 0,
    };
    let Some(sp) = b.get(i..).and_then(|r| r.iter().position(|&c| c == b' ')) else {
        return (None, None, -1, 0);
    };
    let method = &b[i..i + sp];
    i += sp;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let Some(sp) = b[i..].iter().position(|&c| c == b' ') else {
        return (Some(method), None, -1, 0);
    };
    let path = &b[i..i + sp];
    i += sp;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    if b.len() - i < 9 {
        return (Some(method), Some(path), -1, 0);
    }
    let minor = (b[i + 7] - b'0') as c_int;
    (Some(method), Some(path), minor, complete_fields(&b[i..]))
}

/// Header lines whose line end (LF) was read, after the first line of `b`.
fn complete_fields(b: &[u8]) -> usize {
    let mut lines = b.split_inclusive(|&c| c == b'\n').skip(1);
    lines
        .by_ref()
        .take_while(|l| l.ends_with(b"\n") && *l != b"\r\n" && *l != b"\n")
        .count()
}

/// As [`pico_partial_request`] for a response: the minor version once 9
/// bytes are in, the status once 4 bytes follow its spaces, the message once
/// its line ended (without the SPs before it).
fn pico_partial_response(b: &[u8]) -> (c_int, c_int, Option<&[u8]>, usize) {
    if b.len() < 9 {
        return (-1, 0, None, 0);
    }
    let minor = (b[7] - b'0') as c_int;
    let mut i = 9;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    if b.len() < i + 4 {
        return (minor, 0, None, 0);
    }
    let status = b[i..i + 3]
        .iter()
        .fold(0, |a, &d| a * 10 + (d - b'0') as c_int);
    i += 3;
    let Some(lf) = b[i..].iter().position(|&c| c == b'\n') else {
        return (minor, status, None, 0);
    };
    let mut msg = &b[i..i + lf];
    if msg.last() == Some(&b'\r') {
        msg = &msg[..msg.len() - 1];
    }
    while msg.first() == Some(&b' ') {
        msg = &msg[1..];
    }
    (minor, status, Some(msg), complete_fields(b))
}

#[test]
fn incomplete_request_leaves_what_was_read() {
    let requests: &[&[u8]] = &[
        b"GET /hoge HTTP/1.1\r\nHost: example.com\r\nCookie: \r\n\r\n",
        b"POST   /a?b=c   HTTP/1.0\r\nfoo: b\r\n  \tc\r\nx: y\r\n\r\n",
        b"\r\nGET / HTTP/1.1\nA: b\n\n",
        b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\r\n",
        b"GET /\xa0\xff HTTP/1.0\r\nh: c\xa2y\r\n\r\n",
    ];
    for full in requests {
        let mut partials = 0;
        for n in 0..full.len() {
            let prefix = &full[..n];
            let r = parse(prefix, 8, 0);
            if r.ret != -2 {
                continue;
            }
            partials += 1;
            let (method, path, minor, fields) = pico_partial_request(prefix);
            let shown = String::from_utf8_lossy(prefix);
            assert_eq!(r.method, method.unwrap_or_default(), "method of {shown:?}");
            assert_eq!(r.path, path.unwrap_or_default(), "path of {shown:?}");
            assert_eq!(r.minor, minor, "minor version of {shown:?}");
            assert_eq!(r.headers.len(), fields, "fields of {shown:?}");
        }
        assert_eq!(partials, full.len(), "every proper prefix is incomplete");
    }
    // not read yet: NULL, as picohttpparser leaves them
    let (mut m, mut ml, mut p, mut pl, mut minor, mut n) = (ptr::null(), 9, ptr::null(), 9, 7, 0);
    let buf = b"GET ";
    // SAFETY: live locals; no header slots.
    let ret = unsafe {
        phr_parse_request(
            buf.as_ptr().cast(),
            buf.len(),
            &mut m,
            &mut ml,
            &mut p,
            &mut pl,
            &mut minor,
            ptr::null_mut(),
            &mut n,
            0,
        )
    };
    assert_eq!((ret, ml, minor), (-2, 3, -1));
    assert_eq!(m, buf.as_ptr().cast());
    assert!(p.is_null() && pl == 0);
}

#[test]
fn incomplete_response_leaves_what_was_read() {
    let responses: &[&[u8]] = &[
        b"HTTP/1.1 200 OK\r\nHost: example.com\r\nCookie: \r\n\r\n",
        b"HTTP/1.0 500   Internal Server Error\nA: b\n\n",
        b"HTTP/1.1   404 \r\nfoo: b\r\n \tc\r\n\r\n",
        b"HTTP/1.1 204\r\n\r\n",
    ];
    for full in responses {
        let mut partials = 0;
        for n in 0..full.len() {
            let b = &full[..n];
            let (mut minor, mut status, mut msg, mut msg_len, mut count) =
                (7, 7, ptr::null(), 9, 8);
            let mut h = vec![Header::EMPTY; 8];
            // SAFETY: live locals, 8 header slots.
            let ret = unsafe {
                phr_parse_response(
                    b.as_ptr().cast(),
                    b.len(),
                    &mut minor,
                    &mut status,
                    &mut msg,
                    &mut msg_len,
                    h.as_mut_ptr(),
                    &mut count,
                    0,
                )
            };
            if ret != -2 {
                continue;
            }
            partials += 1;
            let shown = String::from_utf8_lossy(b);
            let (want_minor, want_status, want_msg, fields) = pico_partial_response(b);
            assert_eq!((minor, status), (want_minor, want_status), "{shown:?}");
            match want_msg {
                None => assert!(msg.is_null() && msg_len == 0, "message of {shown:?}"),
                Some(want) => {
                    // SAFETY: the parser pointed `msg` into `b`.
                    let got = unsafe { std::slice::from_raw_parts(msg.cast::<u8>(), msg_len) };
                    assert_eq!(got, want, "message of {shown:?}");
                }
            }
            assert_eq!(count, fields, "fields of {shown:?}");
        }
        assert_eq!(partials, full.len(), "every proper prefix is incomplete");
    }
}
