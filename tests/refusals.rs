//! What the engine refuses at the edge of a message. Chunked trailers are
//! header fields: strict decoding refuses what a header section would
//! refuse, their size counts against `max_header_bytes`, and a request placed
//! after `0\r\n` is never swallowed as trailer. A target with a fragment is
//! malformed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use fastserve::ffi::fastserve_result::*;
use fastserve::ffi::parse::*;
use fastserve::parse::{ChunkedDecoder, Decoded, Error, Mode};
use fastserve::server::{Handler, ResponseBuilder, Routed, Server, ServerConfig};

fn decode(body: &[u8], mode: Mode) -> Result<Decoded, Error> {
    let mut buf = body.to_vec();
    ChunkedDecoder::new(true).decode(&mut buf, mode)
}

#[test]
fn strict_trailers_follow_the_header_rules_and_pico_mode_keeps_its_own() {
    let ok: &[&[u8]] = &[
        b"1\r\na\r\n0\r\n\r\n",
        b"1\r\na\r\n0\r\nX-Sum: 1\r\nY:2\r\n\r\n",
        b"1\r\na\r\n0\r\nX-Empty:\r\n\r\n",
    ];
    for b in ok {
        assert!(
            matches!(
                decode(b, Mode::Strict),
                Ok(Decoded::Complete { len: 1, rest: 0 })
            ),
            "{b:?}"
        );
    }
    let bad: &[(&[u8], Error)] = &[
        (b"0\r\nno colon here\r\n\r\n", Error::HeaderName),
        (b"0\r\nX-A: 1\r\n folded\r\n\r\n", Error::HeaderName),
        (b"0\r\nX-A : 1\r\n\r\n", Error::HeaderName),
        (b"0\r\n: empty name\r\n\r\n", Error::HeaderName),
        // a whole request after the last chunk is not a trailer section
        (
            b"0\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n",
            Error::HeaderName,
        ),
        (b"0\r\nX-A: \x01\r\n\r\n", Error::HeaderValue),
    ];
    for (b, e) in bad {
        assert_eq!(
            decode(b, Mode::Strict),
            Err(*e),
            "{:?}",
            String::from_utf8_lossy(b)
        );
        // picohttpparser's rules: any line up to an empty one
        assert!(matches!(
            decode(b, Mode::Pico),
            Ok(Decoded::Complete { .. }) | Err(_)
        ));
    }
    assert!(matches!(
        decode(b"0\r\nno colon here\r\n\r\n", Mode::Pico),
        Ok(Decoded::Complete { .. })
    ));
}

#[test]
fn strict_trailer_length_is_counted_across_calls() {
    let mut d = ChunkedDecoder::new(true);
    let mut a = b"2\r\nab\r\n0\r\nX-Long: ".to_vec();
    assert!(matches!(
        d.decode(&mut a, Mode::Strict),
        Ok(Decoded::Partial { len: 2 })
    ));
    assert_eq!(d.trailer_len(), 8);
    let mut b = b"0123456789\r\n\r\n".to_vec();
    assert!(matches!(
        d.decode(&mut b, Mode::Strict),
        Ok(Decoded::Complete { len: 0, rest: 0 })
    ));
    assert_eq!(d.trailer_len(), 8 + 14);
}

#[test]
fn c_decoder_refuses_a_trailer_section_past_its_limit() {
    let mut body = b"1\r\na\r\n0\r\n".to_vec();
    for i in 0..1000 {
        body.extend_from_slice(format!("X-F{i}: 0123456789\r\n").as_bytes());
    }
    body.extend_from_slice(b"\r\n");
    for (max, want) in [
        (None, FASTSERVE_RESULT_TRAILER_TOO_LARGE),
        (Some(1 << 20), FASTSERVE_RESULT_OK),
    ] {
        let d = fastserve_chunked_decoder_new(0, true);
        assert!(!d.is_null());
        let mut buf = body.clone();
        let (mut len, mut rest) = (buf.len(), 0usize);
        // SAFETY: `d` is live until freed below; `buf` is writable for `len`.
        unsafe {
            if let Some(m) = max {
                assert_eq!(
                    fastserve_chunked_decoder_set_max_trailer(d, m),
                    FASTSERVE_RESULT_OK
                );
            }
            let r = fastserve_chunked_decode(d, buf.as_mut_ptr().cast(), &mut len, &mut rest);
            assert_eq!(r, want);
            fastserve_chunked_decoder_free(d);
        }
    }
}

struct Echo;
impl Handler for Echo {
    fn call(&self, req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        res.body(req.body).map_err(|_| ())
    }
}

/// Sends `raw` and reads until the server closes: every response it wrote.
fn exchange(port: u16, raw: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(raw).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn engine_answers_bad_or_oversized_trailers_and_serves_no_smuggled_request() {
    let mut srv = Server::new(ServerConfig::default());
    srv.route(None, b"/", true, std::sync::Arc::new(Echo))
        .unwrap();
    let port = srv.listen("127.0.0.1:0".parse().unwrap()).unwrap().port();
    srv.start().unwrap();

    let head =
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    let good = exchange(
        port,
        format!("{head}3\r\nabc\r\n0\r\nX-Sum: 3\r\n\r\n").as_bytes(),
    );
    assert!(
        good.starts_with("HTTP/1.1 200 ") && good.ends_with("abc"),
        "{good}"
    );

    // the front end that ends the body at `0\r\n` would see two requests;
    // we see one, refused, and answer nothing for /admin
    let smuggle = exchange(
        port,
        format!(
            "{}3\r\nabc\r\n0\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n",
            head.replace("Connection: close\r\n", "")
        )
        .as_bytes(),
    );
    assert!(smuggle.starts_with("HTTP/1.1 400 "), "{smuggle}");
    assert_eq!(smuggle.matches("HTTP/1.1 ").count(), 1, "{smuggle}");

    let mut big = format!("{head}3\r\nabc\r\n0\r\n");
    while big.len() < 70_000 {
        big.push_str("X-Filler: 0123456789012345678901234567890123456789\r\n");
    }
    big.push_str("\r\n");
    let r = exchange(port, big.as_bytes());
    assert!(r.starts_with("HTTP/1.1 431 "), "{}", &r[..r.len().min(200)]);

    srv.stop();
    srv.wait().unwrap();
}

#[path = "support/fuzz_checks.rs"]
mod fuzz_checks;

#[test]
fn trailer_rules_are_the_header_rules() {
    let cases: &[&[u8]] = &[
        b"\r\n",
        b"X: 1\r\n\r\n",
        b"X: 1\r\nY:\t2 \r\n\r\n",
        b"X : 1\r\n\r\n",
        b" X: 1\r\n\r\n",
        b"X: 1\r\n folded\r\n\r\n",
        b"no colon\r\n\r\n",
        b"X: \x80\xff\r\n\r\n",
        b"X: a\rb\r\n\r\n",
        b"X: a\nb\r\n\r\n",
        b"X: 1\n\n",
        b"X: 1\r\n",
        b"X",
        b"",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ];
    for c in cases {
        fuzz_checks::check_trailers(c);
    }
    // past the decoder's overhead guard, unfinished (found by the chunked
    // fuzz target): the decoder refuses it while the header parser waits
    let mut long = b"G: ".to_vec();
    long.resize(110 * 1024, b'x');
    fuzz_checks::check_trailers(&long);
}

#[test]
fn trailer_rules_match_header_rules_on_generated_sections() {
    // short sections over the bytes that matter, from a fixed seed
    let alphabet = b"Xa1:- \t\r\n\x01\x80;";
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..50_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 14) as usize;
        let section: Vec<u8> = (0..len)
            .map(|i| alphabet[((x >> (4 * i)) % alphabet.len() as u64) as usize])
            .collect();
        fuzz_checks::check_trailers(&section);
    }
}

#[test]
fn a_fragment_in_the_target_is_refused() {
    let mut srv = Server::new(ServerConfig::default());
    srv.route(None, b"/", true, std::sync::Arc::new(Echo))
        .unwrap();
    let port = srv.listen("127.0.0.1:0".parse().unwrap()).unwrap().port();
    srv.start().unwrap();
    for target in ["/page#top", "/a?b=1#frag", "/#"] {
        let r = exchange(
            port,
            format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .as_bytes(),
        );
        assert!(
            r.starts_with("HTTP/1.1 400 ") && r.contains("Connection: close"),
            "{target}: {r}"
        );
        assert_eq!(
            r.matches("HTTP/1.1 ").count(),
            1,
            "nothing after the refusal: {r}"
        );
    }
    srv.stop();
    srv.wait().unwrap();
}

/// A connection's `Host` is checked on every request: a valid one first
/// does not let a later bad one through, however alike they are.
#[test]
fn every_request_on_a_connection_has_its_host_checked() {
    let mut srv = Server::new(ServerConfig::default());
    srv.route(None, b"/", true, std::sync::Arc::new(Echo))
        .unwrap();
    let port = srv.listen("127.0.0.1:0".parse().unwrap()).unwrap().port();
    srv.start().unwrap();
    let long = "h".repeat(100);
    let cases = [
        ("127.0.0.1:8080", "127.0.0.1:808x"),
        ("127.0.0.1:8080", "127.0.0.1:80800"),
        ("example.com", "example.co/"),
        ("example.com", "exam ple.com"),
        ("", "a b"),
        (long.as_str(), &format!("{}/", &long[..99])),
    ];
    for (good, bad) in cases {
        let r = exchange(
            port,
            format!(
                "GET / HTTP/1.1\r\nHost: {good}\r\n\r\nGET / HTTP/1.1\r\nHost: {good}\r\n\r\n\
                 GET / HTTP/1.1\r\nHost: {bad}\r\n\r\nGET / HTTP/1.1\r\nHost: {good}\r\n\r\n"
            )
            .as_bytes(),
        );
        let statuses: Vec<&str> = r
            .match_indices("HTTP/1.1 ")
            .map(|(i, _)| &r[i + 9..i + 12])
            .collect();
        assert_eq!(
            statuses,
            ["200", "200", "400"],
            "{good:?} then {bad:?}: {r}"
        );
    }
    srv.stop();
    srv.wait().unwrap();
}

/// Adds the header field the request body holds (the name's length in one
/// byte, the name, the value): 200 with the field when the builder takes
/// it, 422 when it refuses it.
struct AddField;
impl Handler for AddField {
    fn call(&self, req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        let (&len, rest) = req.body.split_first().ok_or(())?;
        let (name, value) = rest.split_at(len as usize);
        if res.header(name, value).is_err() {
            res.status(422).map_err(|_| ())?;
        }
        res.body(b"x").map_err(|_| ())
    }
}

/// One request on a kept-alive connection and its response's head.
fn add_field(s: &mut TcpStream, name: &[u8], value: &[u8]) -> Vec<u8> {
    let body = [&[name.len() as u8][..], name, value].concat();
    let mut req = format!(
        "POST /field HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    s.write_all(&req).unwrap();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    // every response here has a one-byte body
    while !got.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        got.push(byte[0]);
    }
    s.read_exact(&mut byte).unwrap();
    got
}

#[test]
fn handler_fields_that_would_break_the_message_are_refused_byte_by_byte() {
    let mut srv = Server::new(ServerConfig::default());
    srv.route(
        Some(b"POST"),
        b"/field",
        false,
        std::sync::Arc::new(AddField),
    )
    .unwrap();
    let port = srv.listen("127.0.0.1:0".parse().unwrap()).unwrap().port();
    srv.start().unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let taken = |head: &[u8], name: &[u8], value: &[u8]| {
        let line = [name, b": ", value, b"\r\n"].concat();
        let ok = head.starts_with(b"HTTP/1.1 200 ");
        let has_line = head.windows(line.len()).any(|w| w == line.as_slice());
        assert!(
            ok == has_line && (ok || head.starts_with(b"HTTP/1.1 422 ")),
            "{}",
            String::from_utf8_lossy(head)
        );
        ok
    };
    for b in 0..=255u8 {
        let token = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        // the byte first, inside, and last in a name
        for name in [vec![b, b'Y'], vec![b'X', b, b'Y'], vec![b'X', b]] {
            let head = add_field(&mut s, &name, b"v");
            assert_eq!(taken(&head, &name, b"v"), token, "name byte {b:#04x}");
        }
        let field = (b >= 0x20 && b != 0x7f) || b == b'\t';
        // and in a short value, and past 16 and 32 bytes of a longer one
        for at in [0, 1, 17, 40] {
            let mut value = vec![b'a'; 48];
            value[at] = b;
            let head = add_field(&mut s, b"X-V", &value);
            assert_eq!(
                taken(&head, b"X-V", &value),
                field,
                "value byte {b:#04x} at {at}"
            );
        }
    }
    for name in [
        &b"Content-Length"[..],
        b"content-length",
        b"DATE",
        b"Connection",
        b"transfer-ENCODING",
    ] {
        // 7: not the engine's own Content-Length of 1
        let head = add_field(&mut s, name, b"7");
        assert!(
            !taken(&head, name, b"7"),
            "{}",
            String::from_utf8_lossy(name)
        );
    }
    for name in [
        &b"Dates"[..],
        b"Dat",
        b"Content-Lengths",
        b"Connectio",
        b"Content-Type",
    ] {
        let head = add_field(&mut s, name, b"1");
        assert!(
            taken(&head, name, b"1"),
            "{}",
            String::from_utf8_lossy(name)
        );
    }
    let head = add_field(&mut s, b"", b"1");
    assert!(head.starts_with(b"HTTP/1.1 422 "));
    srv.stop();
    srv.wait().unwrap();
}
