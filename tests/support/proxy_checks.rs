// The PROXY protocol header parser's invariants, shared by the
// `proxy_header` fuzz target and the corpus replay test. Panics when one
// breaks.
#![allow(dead_code)]

use fastserve::proto::{parse_proxy, ProxyHeader, PROXY_HEADER_MAX};

/// A connection's first bytes, parsed as a worker sees them arrive: the
/// verdict never comes early, never changes with more bytes, and a header
/// is found in its own bytes alone.
pub fn check_proxy(data: &[u8]) {
    let whole = parse_proxy(data);
    match &whole {
        ProxyHeader::Done { len, .. } => {
            assert!(
                *len >= 15 && *len <= data.len().min(PROXY_HEADER_MAX),
                "{len}"
            );
            assert_eq!(parse_proxy(&data[..*len]), whole, "the header alone");
            let more = [data, b"GET / HTTP/1.1\r\n\r\n"].concat();
            assert_eq!(parse_proxy(&more), whole, "bytes after it");
            // every shorter prefix still waits (checked at a few points
            // for long headers)
            let step = (*len / 512).max(1);
            for k in (0..*len).step_by(step) {
                assert_eq!(
                    parse_proxy(&data[..k]),
                    ProxyHeader::Incomplete,
                    "prefix {k}"
                );
            }
        }
        ProxyHeader::Incomplete => {
            assert!(data.len() < PROXY_HEADER_MAX);
            if data.first() != Some(&b'\r') {
                assert!(
                    data.len() < 107,
                    "a v1 line longer than 107 bytes still waits"
                );
            }
        }
        ProxyHeader::Invalid => {
            for tail in [&b"\r\n"[..], b"\n", b" 1 2\r\n", &[0u8; 64]] {
                let more = [data, tail].concat();
                assert_eq!(parse_proxy(&more), ProxyHeader::Invalid, "more bytes");
            }
        }
    }
}
