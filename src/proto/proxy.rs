//! The PROXY protocol header (v1 text, v2 binary) that a load balancer
//! sends before the first request: who the client is. Parsed with the
//! `ppp` crate, once per connection.

use std::net::SocketAddr;

use ppp::v1;
use ppp::v2;
use ppp::PartialResult;

use super::Peer;

/// The longest header: v2's 16 bytes and a 16-bit payload length. A v1
/// header is at most 107 bytes.
pub const PROXY_HEADER_MAX: usize = 16 + 0xffff;

/// What the bytes received so far say.
#[derive(Debug, PartialEq, Eq)]
pub enum ProxyHeader {
    /// A header may still follow: read more.
    Incomplete,
    /// Not a PROXY header, or a malformed one: close the connection.
    Invalid,
    /// A header of `len` bytes. `peer` is the client it names, or `None`
    /// when the connection's own peer stands (a v2 `LOCAL` command, a v1
    /// `UNKNOWN` or an unspecified family).
    Done { len: usize, peer: Option<Peer> },
}

/// v1's longest header, `\r\n` included.
const V1_MAX: usize = 107;

/// Parses the start of a connection. Bytes past the header are not looked at.
pub fn parse_proxy(input: &[u8]) -> ProxyHeader {
    if input.is_empty() {
        return ProxyHeader::Incomplete;
    }
    if input[0] == b'\r' {
        // v2: its fixed part and length field say when it is complete
        return match v2::Header::try_from(input) {
            Ok(h) => ProxyHeader::Done {
                len: h.header.len(),
                peer: v2_peer(&h),
            },
            Err(e) if e.is_incomplete() => ProxyHeader::Incomplete,
            Err(_) => ProxyHeader::Invalid,
        };
    }
    // v1: its line is parsed whole, once its end is here (ppp takes some
    // prefixes that end at a space for complete, malformed, headers)
    let n = input.len().min(5);
    if input[..n] != b"PROXY"[..n] {
        return ProxyHeader::Invalid;
    }
    let Some(end) = memchr::memchr(b'\n', &input[..input.len().min(V1_MAX)]) else {
        return if input.len() >= V1_MAX {
            ProxyHeader::Invalid
        } else {
            ProxyHeader::Incomplete
        };
    };
    match v1::Header::try_from(&input[..=end]) {
        Ok(h) if h.header.len() == end + 1 => ProxyHeader::Done {
            len: end + 1,
            peer: match h.addresses {
                v1::Addresses::Tcp4(a) => Some(Peer::ip(SocketAddr::from((
                    a.source_address,
                    a.source_port,
                )))),
                v1::Addresses::Tcp6(a) => Some(Peer::ip(SocketAddr::from((
                    a.source_address,
                    a.source_port,
                )))),
                v1::Addresses::Unknown => None,
            },
        },
        _ => ProxyHeader::Invalid,
    }
}

/// The client a v2 header names; TLVs, after the addresses, are skipped.
fn v2_peer(h: &v2::Header<'_>) -> Option<Peer> {
    match (h.command, h.addresses) {
        (v2::Command::Local, _) => None,
        (_, v2::Addresses::IPv4(a)) => Some(Peer::ip(SocketAddr::from((
            a.source_address,
            a.source_port,
        )))),
        (_, v2::Addresses::IPv6(a)) => Some(Peer::ip(SocketAddr::from((
            a.source_address,
            a.source_port,
        )))),
        (_, v2::Addresses::Unix(u)) => {
            let end = u
                .source
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(u.source.len());
            Some(Peer::unix(&u.source[..end]))
        }
        (_, v2::Addresses::Unspecified) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(s: &str) -> Option<Peer> {
        Some(Peer::ip(s.parse().unwrap()))
    }

    const SIG: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

    fn v2(cmd: u8, fam: u8, payload: &[u8]) -> Vec<u8> {
        let mut h = SIG.to_vec();
        h.push(0x20 | cmd);
        h.push(fam);
        h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        h.extend_from_slice(payload);
        h
    }

    #[test]
    fn v1_addresses_and_length() {
        let h = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n";
        assert_eq!(
            parse_proxy(h),
            ProxyHeader::Done {
                len: 45,
                peer: peer("192.0.2.1:56324")
            }
        );
        let h = b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n";
        assert_eq!(
            parse_proxy(h),
            ProxyHeader::Done {
                len: h.len(),
                peer: peer("[2001:db8::1]:1")
            }
        );
        let h = b"PROXY UNKNOWN\r\n";
        assert_eq!(
            parse_proxy(h),
            ProxyHeader::Done {
                len: h.len(),
                peer: None
            }
        );
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let full = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
        for n in 1..full.len() {
            assert_eq!(parse_proxy(&full[..n]), ProxyHeader::Incomplete, "{n}");
        }
        let mut payload = vec![192, 0, 2, 1, 198, 51, 100, 2, 0, 80, 1, 187];
        payload.extend_from_slice(&[0x04, 0, 2, 9, 9]); // a NOOP TLV
        let full = v2(1, 0x11, &payload);
        for n in 1..full.len() {
            assert_eq!(parse_proxy(&full[..n]), ProxyHeader::Incomplete, "{n}");
        }
        assert_eq!(
            parse_proxy(&full),
            ProxyHeader::Done {
                len: full.len(),
                peer: peer("192.0.2.1:80")
            }
        );
    }

    #[test]
    fn v2_families_and_commands() {
        let mut p6 = Vec::new();
        p6.extend_from_slice(
            &"2001:db8::7"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        p6.extend_from_slice(&[0; 16]);
        p6.extend_from_slice(&[0x1f, 0x90, 0, 80]);
        let h = v2(1, 0x21, &p6);
        assert_eq!(
            parse_proxy(&h),
            ProxyHeader::Done {
                len: h.len(),
                peer: peer("[2001:db8::7]:8080")
            }
        );
        // LOCAL: a health check; the socket's peer stands
        let h = v2(0, 0x00, &[]);
        assert_eq!(
            parse_proxy(&h),
            ProxyHeader::Done {
                len: 16,
                peer: None
            }
        );
        let h = v2(0, 0x11, &[1; 12]);
        assert_eq!(
            parse_proxy(&h),
            ProxyHeader::Done {
                len: 28,
                peer: None
            }
        );
        let mut unix = [0u8; 216];
        unix[..8].copy_from_slice(b"/run/lb\0");
        let h = v2(1, 0x31, &unix);
        assert_eq!(
            parse_proxy(&h),
            ProxyHeader::Done {
                len: h.len(),
                peer: Some(Peer::unix(b"/run/lb"))
            }
        );
    }

    #[test]
    fn refusals() {
        for bad in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"G",
            b"PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n",
            b"PROXY TCP4 1.2.3.400 1.2.3.4 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 1 99999\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n",
            b"\r\n\r\n\0\r\nQUIX\n",
        ] {
            assert_eq!(
                parse_proxy(bad),
                ProxyHeader::Invalid,
                "{:?}",
                bad.escape_ascii().to_string()
            );
        }
        let long = [b"PROXY TCP4 ".as_slice(), &[b'1'; 120]].concat();
        assert_eq!(parse_proxy(&long), ProxyHeader::Invalid);
        // version 1 in the binary form, an unknown command, a short payload
        let mut h = v2(1, 0x11, &[0; 12]);
        h[12] = 0x11;
        assert_eq!(parse_proxy(&h), ProxyHeader::Invalid);
        assert_eq!(parse_proxy(&v2(2, 0x11, &[0; 12])), ProxyHeader::Invalid);
        assert_eq!(parse_proxy(&v2(1, 0x11, &[0; 4])), ProxyHeader::Invalid);
    }
}
