//! Parser behaviour: known vectors, prefixes, every byte value at every offset,
//! kernel agreement, random splits.

mod support {
    pub mod fuzz_checks;
}

#[path = "support/requests.rs"]
mod requests;
use requests::{LONG, SHORT};

use fastserve::parse::{
    parse_headers, parse_request, parse_response, Config, Error, Header, Kernel, Mode, Status,
};
use support::fuzz_checks::{
    check_chunked, check_headers, check_request, check_response, request_with,
};

fn req(
    data: &[u8],
    mode: Mode,
) -> Result<Option<(usize, Vec<u8>, Vec<u8>, u8, Vec<(Option<Vec<u8>>, Vec<u8>)>)>, Error> {
    let first = request_with(data, mode, Kernel::Swar, 16);
    for k in Kernel::supported() {
        assert_eq!(first, request_with(data, mode, k, 16), "kernel {k:?}");
    }
    first
}

fn hv(name: &str, value: &str) -> (Option<Vec<u8>>, Vec<u8>) {
    (Some(name.as_bytes().to_vec()), value.as_bytes().to_vec())
}

#[test]
fn kernels_are_detected() {
    let ks = Kernel::supported();
    assert_eq!(ks[0], Kernel::Swar);
    assert!(ks.contains(&Kernel::best()));
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512bw") && ks.contains(&Kernel::Avx512) {
        assert_eq!(Kernel::best(), Kernel::Avx512);
    } else if std::is_x86_feature_detected!("avx2") {
        assert_eq!(Kernel::best(), Kernel::Avx2);
    }
}

#[test]
fn parses_benchmark_requests() {
    for mode in [Mode::Strict, Mode::Pico] {
        let (len, m, p, v, h) = req(SHORT, mode).unwrap().unwrap();
        assert_eq!(
            (len, &m[..], &p[..], v, h.len()),
            (SHORT.len(), &b"GET"[..], &b"/plaintext"[..], 1, 6)
        );
        assert_eq!(h[0], hv("Host", "localhost:8080"));
        assert_eq!(h[5], hv("Cache-Control", "no-cache"));
        let (len, _, p, _, h) = req(LONG, mode).unwrap().unwrap();
        assert_eq!(len, LONG.len());
        assert!(p.ends_with(b"pink.jpg"));
        assert_eq!(h.len(), 11);
        assert_eq!(h[10], hv("DNT", "1"));
        assert!(h[8].1.starts_with(b"wp_ozh") && h[8].1.ends_with(b"referral"));
    }
}

#[test]
fn pico_vectors() {
    let p = |s: &[u8]| req(s, Mode::Pico);
    assert_eq!(p(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap().0, 18);
    let (_, _, _, v, h) = p(b"GET /hoge HTTP/1.1\r\nHost: example.com\r\nCookie: \r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(
        (v, h),
        (1, vec![hv("Host", "example.com"), hv("Cookie", "")])
    );
    // continuation lines keep their leading whitespace and lose trailing
    let (_, _, _, _, h) = p(b"GET / HTTP/1.0\r\nfoo: \r\nfoo: b\r\n  \tc \r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(
        h,
        vec![hv("foo", ""), hv("foo", "b"), (None, b"  \tc".to_vec())]
    );
    // trailing whitespace of values is trimmed
    let (_, _, _, _, h) = p(b"GET / HTTP/1.0\r\nfoo: a \t \r\n\r\n").unwrap().unwrap();
    assert_eq!(h, vec![hv("foo", "a")]);
    // bare LF, runs of SP, one leading empty line
    assert!(p(b"GET / HTTP/1.1\nHost: a\n\n").unwrap().is_some());
    assert_eq!(p(b"GET   /   HTTP/1.1\r\n\r\n").unwrap().unwrap().2, b"/");
    assert!(p(b"\r\nGET / HTTP/1.1\r\n\r\n").unwrap().is_some());
    // partial
    assert_eq!(p(b"GET /hoge HTTP/1.1\r\n\r"), Ok(None));
    assert_eq!(p(b"GET /hoge HTTP/1.1"), Ok(None));
    // errors
    for bad in [
        &b"GET / HTTP/1.0\r\nfoo : ab\r\n\r\n"[..],
        b"GET / HTTP/1.0\r\n:a\r\n\r\n",
        b" / HTTP/1.0\r\n\r\n",
        b"GET  HTTP/1.0\r\n\r\n",
        b"G\0T / HTTP/1.0\r\n\r\n",
        b"G(T / HTTP/1.0\r\n\r\n",
        b"GET /\x7fhello HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.0\r\nab\xffcd: x\r\n\r\n",
        b"GET / HTTP/1.0\r\nx: a\rb\r\n\r\n",
        b"GET / HTTP/1.0\r\nx: a\x01b\r\n\r\n",
        b"GET / HTTP/1.0\r\nx: a\x7fb\r\n\r\n",
        b"GET / HTTP/1.10\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"GET / HTTP/1.1\r\r\n\r\n",
    ] {
        assert!(p(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
    // high bytes are accepted in the path and in values
    assert!(p(b"GET /\xe3\x81\x82 HTTP/1.1\r\nx: \xff\r\n\r\n")
        .unwrap()
        .is_some());
}

#[test]
fn strict_vectors() {
    let s = |b: &[u8]| req(b, Mode::Strict);
    assert!(s(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap().is_some());
    assert!(s(b"\r\nGET / HTTP/1.1\r\n\r\n").unwrap().is_some());
    let cases: &[(&[u8], Error)] = &[
        (b"GET / HTTP/1.1\nHost: a\n\n", Error::NewLine),
        (b"GET / HTTP/1.1\r\nHost: a\n\r\n", Error::NewLine),
        (b"GET  / HTTP/1.1\r\n\r\n", Error::Target),
        (b"GET /  HTTP/1.1\r\n\r\n", Error::Version),
        (b"GET /\xe3 HTTP/1.1\r\n\r\n", Error::Target),
        (b"GET / HTTP/2.0\r\n\r\n", Error::UnsupportedVersion),
        (b"GET / HTTP/x.0\r\n\r\n", Error::Version),
        (
            b"GET / HTTP/1.1\r\nA: b\r\n  folded\r\n\r\n",
            Error::HeaderName,
        ),
        (b"GET / HTTP/1.1\r\nA : b\r\n\r\n", Error::HeaderName),
        (b"GET / HTTP/1.1\r\nA: b\0c\r\n\r\n", Error::HeaderValue),
        (b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", Error::NewLine),
        (b"G@T / HTTP/1.1\r\n\r\n", Error::Method),
        (b" / HTTP/1.1\r\n\r\n", Error::Method),
    ];
    for (input, want) in cases {
        assert_eq!(s(input), Err(*want), "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn too_many_headers() {
    let mut h = [Header::EMPTY; 2];
    let r = parse_request(
        b"GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n",
        &mut h,
        &Config::strict(),
    );
    assert_eq!(r, Err(Error::TooManyHeaders));
    let r = parse_request(
        b"GET / HTTP/1.1\r\na: 1\r\nb: 2\r\n\r\n",
        &mut h,
        &Config::strict(),
    );
    assert!(matches!(r, Ok(Status::Complete { value, .. }) if value.headers == 2));
}

#[test]
fn every_prefix_is_partial() {
    let resp: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\n";
    for mode in [Mode::Strict, Mode::Pico] {
        for k in Kernel::supported() {
            let cfg = Config {
                mode,
                kernel: Some(k),
            };
            for msg in [SHORT, LONG] {
                for n in 0..msg.len() {
                    let mut h = [Header::EMPTY; 16];
                    assert_eq!(
                        parse_request(&msg[..n], &mut h, &cfg),
                        Ok(Status::Partial),
                        "{k:?} {mode:?} prefix {n}"
                    );
                }
            }
            for n in 0..resp.len() {
                let mut h = [Header::EMPTY; 16];
                assert_eq!(
                    parse_response(&resp[..n], &mut h, &cfg),
                    Ok(Status::Partial),
                    "response prefix {n}"
                );
            }
            let hdrs = &SHORT[25..];
            for n in 0..hdrs.len() {
                let mut h = [Header::EMPTY; 16];
                assert_eq!(
                    parse_headers(&hdrs[..n], &mut h, &cfg),
                    Ok(Status::Partial),
                    "headers prefix {n}"
                );
            }
        }
    }
}

/// A request whose `field` is 40 filler bytes with `b` at offset `at`.
fn with_byte(field: usize, at: usize, b: u8) -> Vec<u8> {
    let mut parts = [
        b"GETGETGETGETGETGETGETGETGETGETGETGETGETG".to_vec(),
        b"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
        b"Xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx".to_vec(),
        b"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv".to_vec(),
    ];
    parts[field][at] = b;
    let [m, p, n, v] = parts;
    [
        &m[..],
        b" ",
        &p,
        b" HTTP/1.1\r\n",
        &n,
        b": ",
        &v,
        b"\r\nHost: x\r\n\r\n",
    ]
    .concat()
}

#[test]
fn every_byte_at_every_offset() {
    use fastserve::parse::Mode::*;
    for field in 0..4 {
        for at in 1..39 {
            for b in 0..=255u8 {
                let msg = with_byte(field, at, b);
                check_request(&msg);
                for mode in [Strict, Pico] {
                    let got = req(&msg, mode);
                    let ok = match (field, mode) {
                        (0, _) => tchar(b),
                        (1, Strict) => (0x21..0x7f).contains(&b),
                        (1, Pico) => b > 0x20 && b != 0x7f,
                        (2, _) => tchar(b),
                        (_, _) => (b >= 0x20 && b != 0x7f) || b == b'\t',
                    };
                    let structural = b == b' ' && field < 2
                        || b == b':' && field == 2
                        || b == b'\n' && field == 3;
                    if structural {
                        continue;
                    }
                    match got {
                        Ok(Some(r)) => {
                            assert!(
                                ok,
                                "field {field} offset {at} byte {b:#x} {mode:?} accepted"
                            );
                            let seen = [&r.1, &r.2, r.4[0].0.as_ref().unwrap(), &r.4[0].1][field];
                            assert_eq!(seen[at], b);
                        }
                        Ok(None) => {
                            panic!("field {field} offset {at} byte {b:#x} {mode:?}: partial")
                        }
                        Err(_) => assert!(
                            !ok,
                            "field {field} offset {at} byte {b:#x} {mode:?} rejected"
                        ),
                    }
                }
            }
        }
    }
}

fn tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// xorshift, so that the random tests are repeatable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_mutations_agree_across_kernels() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let special = b"\r\n \t:\0\x7f\x80\xff;/";
    for i in 0..20_000 {
        let mut m = if i % 2 == 0 {
            SHORT.to_vec()
        } else {
            LONG.to_vec()
        };
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(m.len());
            m[at] = if rng.below(2) == 0 {
                special[rng.below(special.len())]
            } else {
                rng.next() as u8
            };
        }
        let cut = m.len() - rng.below(8);
        check_request(&m[..cut]);
        check_headers(&m[..cut]);
        let mut r =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n".to_vec();
        let at = rng.below(r.len());
        r[at] = special[rng.below(special.len())];
        check_response(&r);
    }
}

#[test]
fn chunked_splits_agree() {
    let bodies: [&[u8]; 4] = [
        b"5\r\nhello\r\n6;a=b\r\n world\r\n0\r\n\r\nNEXT",
        b"5\r\nhello\r\n0\r\nTrailer: x\r\n\r\nGET /",
        b"A \r\n0123456789\r\n0\r\n\r\n",
        b"ffffffffffffffff\r\nabc",
    ];
    for body in bodies {
        for split in 0..=body.len() {
            let mut data = vec![split as u8];
            data.extend_from_slice(body);
            if split < 256 {
                check_chunked(&data);
            }
        }
    }
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let mut b = bodies[rng.below(4)].to_vec();
        let at = rng.below(b.len());
        b[at] = b"\r\n;0aZ \t\x00"[rng.below(9)];
        b.insert(0, rng.next() as u8);
        check_chunked(&b);
    }
}

#[test]
fn responses() {
    let cfg = Config::pico();
    let mut h = [Header::EMPTY; 4];
    let r = parse_response(b"HTTP/1.1 404 Not Found\r\nA: b\r\n\r\n", &mut h, &cfg).unwrap();
    let (_, resp) = r.complete().unwrap();
    assert_eq!(
        (resp.status, resp.reason, resp.minor_version, resp.headers),
        (404, &b"Not Found"[..], 1, 1)
    );
    let (_, resp) = parse_response(b"HTTP/1.0 200\r\n\r\n", &mut h, &cfg)
        .unwrap()
        .complete()
        .unwrap();
    assert_eq!((resp.status, resp.reason), (200, &b""[..]));
    let (_, resp) = parse_response(b"HTTP/1.1   200   OK\r\n\r\n", &mut h, &cfg)
        .unwrap()
        .complete()
        .unwrap();
    assert_eq!(resp.reason, b"OK");
    assert_eq!(
        parse_response(b"HTTP/1.1 2000 OK\r\n\r\n", &mut h, &cfg),
        Err(Error::Status)
    );
    assert_eq!(
        parse_response(b"HTTP/1.1 2x0 OK\r\n\r\n", &mut h, &cfg),
        Err(Error::Status)
    );
    assert_eq!(
        parse_response(b"HTTP/1.1   200   OK\r\n\r\n", &mut h, &Config::strict()),
        Err(Error::Status)
    );
}

/// Field lines of every shape the fast path special-cases (whitespace after
/// the colon and before the line end, empty values, long names and values),
/// moved across the scanners' block boundaries one byte at a time.
#[test]
fn field_shapes_at_every_offset() {
    let long_name = "N".repeat(70);
    let long_value = format!("v{}v", " ".repeat(130));
    let shapes: Vec<(String, &str, &str)> = vec![
        ("Name: value".into(), "Name", "value"),
        ("Name:value".into(), "Name", "value"),
        ("Name:  value".into(), "Name", "value"),
        ("Name:\tvalue".into(), "Name", "value"),
        ("Name: \t value \t ".into(), "Name", "value"),
        ("Name: a  b\tc ".into(), "Name", "a  b\tc"),
        ("Name:".into(), "Name", ""),
        ("Name: ".into(), "Name", ""),
        ("Name:  \t ".into(), "Name", ""),
        ("N: :".into(), "N", ":"),
        (format!("{long_name}: v"), &long_name, "v"),
        (format!("X: {long_value}"), "X", &long_value),
    ];
    for pad in 0..130 {
        for (line, name, value) in &shapes {
            let msg = [
                &b"GET / HTTP/1.1\r\nP: "[..],
                &vec![b'p'; pad],
                b"\r\n",
                line.as_bytes(),
                b"\r\nQ: q\r\n\r\n",
            ]
            .concat();
            check_request(&msg);
            let pv = String::from_utf8(vec![b'p'; pad]).unwrap();
            for mode in [Mode::Strict, Mode::Pico] {
                let (len, .., fields) = req(&msg, mode).unwrap().unwrap();
                assert_eq!(len, msg.len());
                assert_eq!(
                    fields,
                    vec![hv("P", &pv), hv(name, value), hv("Q", "q")],
                    "{line:?} after {pad} bytes, {mode:?}"
                );
            }
        }
    }
}

/// `FASTSERVE_KERNEL` picks each supported kernel in a fresh process (the
/// choice is made once per process), and an unknown name is ignored.
#[test]
fn kernel_forced_by_environment() {
    if let Ok(want) = std::env::var("FASTSERVE_KERNEL_EXPECT") {
        assert_eq!(Kernel::best().name(), want);
        return;
    }
    let ks = Kernel::supported();
    let mut cases: Vec<(&str, &str)> = ks.iter().map(|k| (k.name(), k.name())).collect();
    cases.push(("no-such-kernel", ks.last().unwrap().name()));
    for (forced, want) in cases {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "kernel_forced_by_environment",
                "--test-threads=1",
            ])
            .env("FASTSERVE_KERNEL", forced)
            .env("FASTSERVE_KERNEL_EXPECT", want)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "FASTSERVE_KERNEL={forced}: {text}");
        assert!(text.contains("1 passed"), "{text}");
    }
}
