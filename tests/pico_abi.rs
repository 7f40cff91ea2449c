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
