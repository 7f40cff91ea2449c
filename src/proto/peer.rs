//! The address of a connection's peer, as its driver learned it (from
//! `accept`, or later from a PROXY protocol header).

use std::io::Write;
use std::net::SocketAddr;

/// Longest textual IP address: an IPv6 address with an embedded IPv4 one.
const HOST_MAX: usize = 45;

/// The peer of a connection: an IP address and port, or a Unix socket's
/// path (empty for the usual unnamed client socket).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    addr: PeerAddr,
    /// The host as text: the IP address without brackets, or the path.
    /// Rendered once, as every batched request carries it.
    host: Box<[u8]>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerAddr {
    Ip(SocketAddr),
    Unix,
}

impl Peer {
    pub fn ip(addr: SocketAddr) -> Self {
        let mut buf = [0u8; HOST_MAX];
        let mut w = &mut buf[..];
        let _ = write!(w, "{}", addr.ip());
        let n = HOST_MAX - w.len();
        Peer {
            addr: PeerAddr::Ip(addr),
            host: buf[..n].into(),
        }
    }

    /// A Unix socket's peer; `path` is empty for an unnamed socket.
    pub fn unix(path: &[u8]) -> Self {
        Peer {
            addr: PeerAddr::Unix,
            host: path.into(),
        }
    }

    pub fn addr(&self) -> &PeerAddr {
        &self.addr
    }

    /// The IP address as text, or the Unix socket's path.
    pub fn host(&self) -> &[u8] {
        &self.host
    }

    /// The port (0 for a Unix socket).
    pub fn port(&self) -> u16 {
        match self.addr {
            PeerAddr::Ip(a) => a.port(),
            PeerAddr::Unix => 0,
        }
    }

    pub fn is_unix(&self) -> bool {
        self.addr == PeerAddr::Unix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms() {
        let p = Peer::ip("192.0.2.7:4711".parse().unwrap());
        assert_eq!(
            (p.host(), p.port(), p.is_unix()),
            (&b"192.0.2.7"[..], 4711, false)
        );
        let p = Peer::ip("[2001:db8::1]:80".parse().unwrap());
        assert_eq!((p.host(), p.port()), (&b"2001:db8::1"[..], 80));
        let longest = "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:1";
        let p = Peer::ip(longest.parse().unwrap());
        assert_eq!(p.host().len(), 39, "{:?}", p.host()); // std shortens it
        let p = Peer::unix(b"/run/x.sock");
        assert_eq!(
            (p.host(), p.port(), p.is_unix()),
            (&b"/run/x.sock"[..], 0, true)
        );
    }
}
