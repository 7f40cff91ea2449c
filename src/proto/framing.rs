//! Message framing rules (RFC 9112 §6, RFC 9110 §6.4.1), as pure functions:
//! where a request body ends, whether the connection stays open, whether the
//! request has its one valid `Host` (RFC 9112 §3.2), and what a response's
//! head must say about its body.

use crate::parse::Header;

/// What a request head says about its body and its connection.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Framing {
    pub(crate) body: BodyFraming,
    pub(crate) keep_alive: bool,
    pub(crate) expect_continue: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    None,
    Length(usize),
    Chunked,
}

/// The last valid `Host` value a connection sent. A client sends the same
/// one with every request, so it is checked once.
pub(crate) struct HostMemo {
    len: usize,
    bytes: [u8; HOST_MEMO],
}

const HOST_MEMO: usize = 64;

impl Default for HostMemo {
    fn default() -> Self {
        HostMemo {
            len: 0,
            bytes: [0; HOST_MEMO],
        }
    }
}

impl HostMemo {
    #[inline]
    fn valid(&mut self, v: &[u8]) -> bool {
        if super::bytes::same(v, &self.bytes[..self.len]) {
            return true;
        }
        if !super::target::valid_host(v) {
            return false;
        }
        if let Some(to) = self.bytes.get_mut(..v.len()) {
            to.copy_from_slice(v);
            self.len = v.len();
        }
        true
    }
}

/// Reads the framing and connection options of a request. `Err` holds the
/// status to answer with: conflicting or unknown framing is refused, as it
/// could smuggle a second request past an intermediary; so is an HTTP/1.1
/// request without `Host`, and any with two or an invalid one (400).
/// `hosts` remembers the connection's last valid `Host`.
pub(crate) fn request(
    minor: u8,
    headers: &[Header<'_>],
    hosts: &mut HostMemo,
) -> Result<Framing, u16> {
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut te_seen = false;
    let mut close = false;
    let mut keep_alive = false;
    let mut expect_continue = false;
    let mut host = false;
    for h in headers {
        let name = h.name();
        match name.len() {
            4 if name.eq_ignore_ascii_case(b"host") => {
                if host || !hosts.valid(h.value()) {
                    return Err(400);
                }
                host = true;
            }
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                for part in h.value().split(|&b| b == b',') {
                    let v = part.trim_ascii();
                    if v.is_empty() || v.len() > 15 || !v.iter().all(u8::is_ascii_digit) {
                        return Err(400);
                    }
                    let n = v.iter().fold(0usize, |a, &d| a * 10 + (d - b'0') as usize);
                    match length {
                        Some(l) if l != n => return Err(400),
                        _ => length = Some(n),
                    }
                }
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                if te_seen || minor == 0 {
                    return Err(400);
                }
                te_seen = true;
                let mut codings = h.value().split(|&b| b == b',').map(<[u8]>::trim_ascii);
                let last = codings.next_back().unwrap_or(b"");
                if !last.eq_ignore_ascii_case(b"chunked") {
                    return Err(400);
                }
                if codings.any(|c| c.eq_ignore_ascii_case(b"chunked")) {
                    return Err(400);
                }
                if h.value().contains(&b',') {
                    return Err(501); // a coding other than chunked
                }
                chunked = true;
            }
            10 if name.eq_ignore_ascii_case(b"connection") => {
                for opt in h.value().split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                    if opt.eq_ignore_ascii_case(b"close") {
                        close = true;
                    } else if opt.eq_ignore_ascii_case(b"keep-alive") {
                        keep_alive = true;
                    }
                }
            }
            6 if name.eq_ignore_ascii_case(b"expect") => {
                if h.value().trim_ascii().eq_ignore_ascii_case(b"100-continue") {
                    expect_continue = true;
                } else {
                    return Err(417);
                }
            }
            _ => {}
        }
    }
    if (chunked && length.is_some()) || (!host && minor >= 1) {
        return Err(400);
    }
    let body = match (chunked, length) {
        (true, _) => BodyFraming::Chunked,
        (false, Some(0)) | (false, None) => BodyFraming::None,
        (false, Some(n)) => BodyFraming::Length(n),
    };
    Ok(Framing {
        body,
        keep_alive: !close && (minor >= 1 || keep_alive),
        expect_continue: expect_continue && minor >= 1,
    })
}

/// Length of the request line at the start of `avail`, without its line
/// ending (or of as much of it as has arrived).
pub(crate) fn request_line_len(avail: &[u8]) -> usize {
    let end = memchr::memchr(b'\n', avail).unwrap_or(avail.len());
    end - usize::from(end > 0 && avail[end - 1] == b'\r')
}

/// How a response describes and carries its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ResponseFraming {
    /// The `Content-Length` to send, if any.
    pub(crate) content_length: Option<usize>,
    /// Whether the body bytes follow the head.
    pub(crate) send_body: bool,
}

/// A final response's framing. 204 and 304 have no body and no
/// `Content-Length` (RFC 9110 §8.6: a 304's length would be the selected
/// representation's, which the engine does not know). HEAD gets the length
/// of the body it would have had, and no body.
#[inline]
pub(crate) fn response(status: u16, head_only: bool, body_len: usize) -> ResponseFraming {
    match status {
        204 | 304 => ResponseFraming {
            content_length: None,
            send_body: false,
        },
        _ => ResponseFraming {
            content_length: Some(body_len),
            send_body: !head_only,
        },
    }
}

/// How the head must describe the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnHeader {
    /// HTTP/1.1 keep-alive: nothing to say.
    None,
    /// HTTP/1.0 client that asked for keep-alive.
    KeepAlive,
    /// The connection closes after this response.
    Close,
    /// A 101: the connection switches to the protocol named in `Upgrade`.
    Upgrade,
}

/// The connection header of a response: `closing` when no further request
/// will be read on the connection.
#[inline]
pub(crate) fn conn_header(minor: u8, closing: bool) -> ConnHeader {
    if closing {
        ConnHeader::Close
    } else if minor == 0 {
        ConnHeader::KeepAlive
    } else {
        ConnHeader::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs<'a>(fields: &'a [(&'a str, &'a str)]) -> Vec<Header<'a>> {
        fields
            .iter()
            .map(|(n, v)| Header::new(Some(n.as_bytes()), v.as_bytes()))
            .collect()
    }

    /// With a `Host` field, which every HTTP/1.1 request needs.
    fn req(minor: u8, fields: &[(&str, &str)]) -> Result<Framing, u16> {
        let mut all = vec![("Host", "example.com")];
        all.extend_from_slice(fields);
        request(minor, &hs(&all), &mut HostMemo::default())
    }

    fn body(minor: u8, fields: &[(&str, &str)]) -> Result<BodyFraming, u16> {
        req(minor, fields).map(|f| f.body)
    }

    #[test]
    fn content_length() {
        assert_eq!(body(1, &[]), Ok(BodyFraming::None));
        assert_eq!(body(1, &[("Content-Length", "0")]), Ok(BodyFraming::None));
        assert_eq!(
            body(1, &[("content-length", " 42 ")]),
            Ok(BodyFraming::Length(42))
        );
        // repeated equal values, in one field or several, are one length
        assert_eq!(
            body(1, &[("Content-Length", "5, 5")]),
            Ok(BodyFraming::Length(5))
        );
        let twice = [("Content-Length", "5"), ("Content-Length", "5")];
        assert_eq!(body(1, &twice), Ok(BodyFraming::Length(5)));
        assert_eq!(body(1, &[("Content-Length", "5, 6")]), Err(400));
        let differ = [("Content-Length", "5"), ("Content-Length", "6")];
        assert_eq!(body(1, &differ), Err(400));
        for bad in ["", "-1", "+5", "0x10", "1 2", "1234567890123456", "5,"] {
            assert_eq!(body(1, &[("Content-Length", bad)]), Err(400), "{bad:?}");
        }
        assert_eq!(
            body(1, &[("Content-Length", "123456789012345")]),
            Ok(BodyFraming::Length(123_456_789_012_345))
        );
    }

    #[test]
    fn chunked() {
        let te = |v| body(1, &[("Transfer-Encoding", v)]);
        assert_eq!(te("chunked"), Ok(BodyFraming::Chunked));
        assert_eq!(te(" Chunked "), Ok(BodyFraming::Chunked));
        // chunked must be last, and once
        assert_eq!(te("chunked, gzip"), Err(400));
        assert_eq!(te("chunked, chunked"), Err(400));
        assert_eq!(te("identity"), Err(400));
        assert_eq!(te(""), Err(400));
        // a coding other than chunked before it is not implemented
        assert_eq!(te("gzip, chunked"), Err(501));
        let twice = [
            ("Transfer-Encoding", "chunked"),
            ("Transfer-Encoding", "chunked"),
        ];
        assert_eq!(body(1, &twice), Err(400));
    }

    #[test]
    fn transfer_encoding_with_content_length_is_refused() {
        let both = [("Content-Length", "3"), ("Transfer-Encoding", "chunked")];
        assert_eq!(body(1, &both), Err(400));
        let reversed = [("Transfer-Encoding", "chunked"), ("Content-Length", "3")];
        assert_eq!(body(1, &reversed), Err(400));
    }

    #[test]
    fn http10() {
        // HTTP/1.0 has no transfer codings; it closes unless it asks not to
        assert_eq!(body(0, &[("Transfer-Encoding", "chunked")]), Err(400));
        assert!(!req(0, &[]).unwrap().keep_alive);
        assert!(req(0, &[("Connection", "keep-alive")]).unwrap().keep_alive);
        assert!(
            !req(0, &[("Connection", "keep-alive, close")])
                .unwrap()
                .keep_alive
        );
        assert_eq!(
            body(0, &[("Content-Length", "2")]),
            Ok(BodyFraming::Length(2))
        );
        // no interim responses for HTTP/1.0 clients
        assert!(
            !req(0, &[("Expect", "100-continue")])
                .unwrap()
                .expect_continue
        );
    }

    #[test]
    fn connection_and_expect() {
        assert!(req(1, &[]).unwrap().keep_alive);
        assert!(
            !req(1, &[("Connection", "Upgrade, Close")])
                .unwrap()
                .keep_alive
        );
        assert!(
            req(1, &[("Expect", "100-Continue")])
                .unwrap()
                .expect_continue
        );
        assert_eq!(req(1, &[("Expect", "something-else")]), Err(417));
    }

    #[test]
    fn host() {
        let no_host = |minor| {
            request(minor, &hs(&[("Accept", "*/*")]), &mut HostMemo::default())
                .map(|f| f.keep_alive)
        };
        assert_eq!(no_host(1), Err(400));
        // HTTP/1.0 may leave it out
        assert_eq!(no_host(0), Ok(false));
        let one =
            |v| request(1, &hs(&[("hOsT", v)]), &mut HostMemo::default()).map(|f| f.keep_alive);
        assert_eq!(one("example.com:8080"), Ok(true));
        assert_eq!(one(""), Ok(true));
        for bad in ["exa mple.com", "a/b", "u@h", "h:99999", "h:x"] {
            assert_eq!(one(bad), Err(400), "{bad:?}");
        }
        for minor in [0, 1] {
            let twice = [("Host", "a"), ("Accept", "*/*"), ("Host", "a")];
            assert_eq!(
                request(minor, &hs(&twice), &mut HostMemo::default()),
                Err(400)
            );
            let bad = [("Host", "a b")];
            assert_eq!(
                request(minor, &hs(&bad), &mut HostMemo::default()),
                Err(400)
            );
        }
    }

    #[test]
    fn response_bodies() {
        let with = |n| ResponseFraming {
            content_length: Some(n),
            send_body: true,
        };
        assert_eq!(response(200, false, 5), with(5));
        assert_eq!(response(404, false, 0), with(0));
        // HEAD: the length the body would have had, and no body
        let head = response(200, true, 5);
        assert_eq!((head.content_length, head.send_body), (Some(5), false));
        for status in [204, 304] {
            for head_only in [false, true] {
                let f = response(status, head_only, 7);
                assert_eq!((f.content_length, f.send_body), (None, false), "{status}");
            }
        }
    }

    #[test]
    fn connection_header() {
        assert_eq!(conn_header(1, false), ConnHeader::None);
        assert_eq!(conn_header(0, false), ConnHeader::KeepAlive);
        assert_eq!(conn_header(1, true), ConnHeader::Close);
        assert_eq!(conn_header(0, true), ConnHeader::Close);
    }

    #[test]
    fn request_line_length() {
        assert_eq!(request_line_len(b"GET / HTTP/1.1\r\nHost: x"), 14);
        assert_eq!(request_line_len(b"GET / HTTP/1.1\n"), 14);
        assert_eq!(request_line_len(b"GET /partial"), 12);
        assert_eq!(request_line_len(b""), 0);
    }
}
