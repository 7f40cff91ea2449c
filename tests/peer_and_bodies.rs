//! The peer's address reaches handlers (C handlers, batch records,
//! fastserve_conn hosts), and 204/304 responses never carry a body: one
//! given for them is refused wherever a response is built, and the client
//! reads the next response cleanly. Real sockets where a server runs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use fastserve::ffi::batch::{fastserve_batch_request, FASTSERVE_BATCH_PEER_UNIX};
use fastserve::ffi::conn::*;
use fastserve::ffi::fastserve_result::{self, *};
use fastserve::ffi::request::{fastserve_request, fastserve_request_peer};
use fastserve::proto::flat::{Columns, CT_TEXT};
use fastserve::server::{
    Batch, BatchHandler, BuildError, Handler, ResponseBuilder, Routed, Server, ServerConfig,
};

/// Answers the peer as `fastserve_request_peer` gives it: "ip port".
struct PeerOf;

impl Handler for PeerOf {
    fn call(&self, req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        // SAFETY: all-zero bytes are a valid sockaddr_storage.
        let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of_val(&ss) as libc::socklen_t;
        // the C request handle is the routed request
        let r = req as *const Routed<'_> as *const fastserve_request;
        // SAFETY: `r` is the request of this handler call; `ss` is writable for `len`.
        let rc = unsafe {
            fastserve_request_peer(r, (&mut ss as *mut libc::sockaddr_storage).cast(), &mut len)
        };
        assert_eq!(rc, FASTSERVE_RESULT_OK);
        let text = match ss.ss_family as i32 {
            libc::AF_INET => {
                assert_eq!(len as usize, std::mem::size_of::<libc::sockaddr_in>());
                // SAFETY: the family says so.
                let a =
                    unsafe { &*(&ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
                let ip = std::net::Ipv4Addr::from(a.sin_addr.s_addr.to_ne_bytes());
                format!("{ip} {}", u16::from_be(a.sin_port))
            }
            f => format!("family {f}"),
        };
        res.body(text.as_bytes()).map_err(|_| ())
    }
}

/// 204 with a body: the builder refuses it, in either order, and the
/// handler sends the bare 204.
struct NoContent;

impl Handler for NoContent {
    fn call(&self, _req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        res.status(204).unwrap();
        assert_eq!(res.body(b"no"), Err(BuildError::BodyNotAllowed(204)));
        res.status(200).unwrap();
        res.body(b"yes").unwrap();
        assert_eq!(res.status(304), Err(BuildError::BodyNotAllowed(304)));
        res.body(b"").unwrap();
        res.status(204).unwrap();
        Ok(())
    }
}

/// Batch records: answers "host port" from the record's peer fields.
struct BatchPeer;

impl BatchHandler for BatchPeer {
    fn call(&self, batch: &mut Batch<'_>) {
        let mut status = Vec::new();
        let mut lens = Vec::new();
        let mut data = Vec::new();
        for r in batch.records() {
            let text = match r.tag {
                0 => {
                    let host = &batch.data()[r.peer_off as usize..][..r.peer_len as usize];
                    status.push(200 | (CT_TEXT << 16));
                    format!("{} {}", String::from_utf8_lossy(host), r.peer_port)
                }
                // a 204 with a body: answered 500
                _ => {
                    status.push(204);
                    "oops".to_string()
                }
            };
            lens.push(text.len() as u32);
            data.extend_from_slice(text.as_bytes());
        }
        let c = Columns {
            status: &status,
            header_lens: &[],
            body_lens: &lens,
            data: &data,
        };
        batch.respond(c).unwrap();
    }
}

fn server() -> (Server, SocketAddr) {
    let mut s = Server::new(ServerConfig::default());
    s.route(Some(b"GET"), b"/peer", false, Arc::new(PeerOf))
        .unwrap();
    s.route(Some(b"GET"), b"/204", false, Arc::new(NoContent))
        .unwrap();
    s.route_batch(Some(b"GET"), b"/batch-peer", false, 0)
        .unwrap();
    s.route_batch(Some(b"GET"), b"/batch-204", false, 1)
        .unwrap();
    s.set_batch_handler(Arc::new(BatchPeer)).unwrap();
    let addr = s.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    s.start().unwrap();
    (s, addr)
}

/// Sends `raw`, reads until the server closes.
fn exchange(addr: SocketAddr, raw: &[u8]) -> (TcpStream, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(raw).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    (s, String::from_utf8(out).unwrap())
}

/// Splits responses by Content-Length framing (none: no body).
fn responses(mut text: &str) -> Vec<(u16, String)> {
    let mut v = Vec::new();
    while !text.is_empty() {
        let end = text.find("\r\n\r\n").expect("a complete head") + 4;
        let head = &text[..end];
        let len = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .map_or(0, |n| n.parse().unwrap());
        v.push((
            head[9..12].parse().unwrap(),
            text[end..end + len].to_string(),
        ));
        text = &text[end + len..];
    }
    v
}

const CLOSE: &[u8] = b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

#[test]
fn c_handlers_and_batch_records_get_the_peer() {
    let (srv, addr) = server();
    let raw = [&b"GET /batch-peer HTTP/1.1\r\nHost: x\r\n\r\n"[..], CLOSE].concat();
    let (s, text) = exchange(addr, &raw);
    let me = s.local_addr().unwrap();
    let want = format!("{} {}", me.ip(), me.port());
    assert_eq!(responses(&text), vec![(200, want.clone()), (200, want)]);
    srv.stop();
    srv.wait().unwrap();
}

#[test]
fn no_body_for_204_and_the_next_response_parses() {
    let (srv, addr) = server();
    for first in ["/204", "/batch-204"] {
        let raw =
            format!("GET {first} HTTP/1.1\r\nHost: x\r\n\r\nGET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let (s, text) = exchange(addr, raw.as_bytes());
        let me = s.local_addr().unwrap();
        let r = responses(&text);
        let want = if first == "/204" { 204 } else { 500 };
        assert_eq!(r[0].0, want, "{text}");
        assert_eq!(r[1], (200, format!("{} {}", me.ip(), me.port())), "{text}");
        let head = text.split("\r\n\r\n").next().unwrap();
        if want == 204 {
            assert!(!head.contains("Content-Length"), "{text}");
        }
    }
    srv.stop();
    srv.wait().unwrap();
}

// ------------------------------------------------------------ fastserve_conn

struct C(*mut fastserve_conn);

impl Drop for C {
    fn drop(&mut self) {
        // SAFETY: a live connection from fastserve_conn_new, freed once.
        unsafe { fastserve_conn_free(self.0) }
    }
}

impl C {
    fn new() -> C {
        // SAFETY: NULL asks for the default configuration.
        C(unsafe { fastserve_conn_new(ptr::null()) })
    }

    /// Feeds `raw`; (id, flags, peer host, peer port) of each request.
    fn feed(&self, raw: &[u8]) -> Vec<(u64, u32, Vec<u8>, u16)> {
        let mut b = fastserve_conn_batch {
            requests: ptr::null(),
            count: 0,
            data: ptr::null(),
            data_len: 0,
        };
        // SAFETY: a live connection; `raw` and `b` are live locals.
        let rc = unsafe { fastserve_conn_feed(self.0, raw.as_ptr().cast(), raw.len(), &mut b) };
        assert_eq!(rc, FASTSERVE_RESULT_OK);
        if b.count == 0 {
            return Vec::new();
        }
        // SAFETY: the batch stays valid until the next feed.
        let recs: &[fastserve_batch_request] =
            unsafe { std::slice::from_raw_parts(b.requests, b.count) };
        // SAFETY: as above.
        let data = unsafe { std::slice::from_raw_parts(b.data.cast::<u8>(), b.data_len) };
        recs.iter()
            .map(|r| {
                let host = data[r.peer_off as usize..][..r.peer_len as usize].to_vec();
                (r.id, r.flags, host, r.peer_port)
            })
            .collect()
    }

    fn set_peer<T>(&self, addr: &T, len: usize) -> fastserve_result {
        // SAFETY: `addr` is readable for `len <= size_of::<T>()` bytes.
        unsafe {
            fastserve_conn_set_peer(self.0, (addr as *const T).cast(), len as libc::socklen_t)
        }
    }

    fn output(&self) -> String {
        let mut out = Vec::new();
        let mut iov = [fastserve_iovec {
            base: ptr::null(),
            len: 0,
        }; 8];
        loop {
            // SAFETY: a live connection; `iov` holds 8 entries.
            let n = unsafe { fastserve_conn_output(self.0, iov.as_mut_ptr(), 8) };
            if n == 0 {
                return String::from_utf8(out).unwrap();
            }
            let mut total = 0;
            for v in &iov[..n] {
                // SAFETY: valid until `written`.
                out.extend_from_slice(unsafe {
                    std::slice::from_raw_parts(v.base.cast::<u8>(), v.len)
                });
                total += v.len;
            }
            // SAFETY: a live connection.
            assert_eq!(
                unsafe { fastserve_conn_written(self.0, total) },
                FASTSERVE_RESULT_OK
            );
        }
    }

    fn state(&self) -> u32 {
        // SAFETY: a live connection.
        unsafe { fastserve_conn_state(self.0) }
    }
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

#[test]
fn conn_peer_ipv4_ipv6_unix_and_refusals() {
    let c = C::new();
    assert_eq!(c.feed(GET)[0].2, b"", "no peer until the host sets one");

    // SAFETY: all-zero bytes are valid socket addresses.
    let mut v6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    v6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    v6.sin6_port = 8443u16.to_be();
    v6.sin6_addr.s6_addr = "2001:db8::7"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    assert_eq!(
        c.set_peer(&v6, std::mem::size_of_val(&v6)),
        FASTSERVE_RESULT_OK
    );
    let r = c.feed(GET);
    assert_eq!(
        (
            r[0].2.as_slice(),
            r[0].3,
            r[0].1 & FASTSERVE_BATCH_PEER_UNIX
        ),
        (&b"2001:db8::7"[..], 8443, 0)
    );

    // SAFETY: as above.
    let mut un: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    un.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in un.sun_path.iter_mut().zip(b"/run/app.sock") {
        *d = *s as libc::c_char;
    }
    assert_eq!(
        c.set_peer(&un, std::mem::size_of_val(&un)),
        FASTSERVE_RESULT_OK
    );
    let r = c.feed(GET);
    assert_eq!((r[0].2.as_slice(), r[0].3), (&b"/run/app.sock"[..], 0));
    assert_ne!(r[0].1 & FASTSERVE_BATCH_PEER_UNIX, 0);

    // a short address or an unknown family changes nothing
    assert_eq!(c.set_peer(&v6, 8), FASTSERVE_RESULT_INVALID_ARGUMENT);
    // SAFETY: as above.
    let mut other: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    other.ss_family = libc::AF_PACKET as libc::sa_family_t;
    assert_eq!(c.set_peer(&other, 64), FASTSERVE_RESULT_INVALID_ARGUMENT);
    assert_eq!(c.feed(GET)[0].2, b"/run/app.sock");
    // NULL clears it
    // SAFETY: a live connection; NULL is allowed.
    assert_eq!(
        unsafe { fastserve_conn_set_peer(c.0, ptr::null(), 0) },
        FASTSERVE_RESULT_OK
    );
    assert_eq!(c.feed(GET)[0].2, b"");
}

#[test]
fn conn_refuses_bodies_for_204_and_304() {
    let c = C::new();
    let r = c.feed(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n");
    let respond = |id, status, body: &[u8]| {
        // SAFETY: a live connection; the body is a live slice.
        unsafe {
            fastserve_conn_respond(
                c.0,
                id,
                status,
                ptr::null(),
                0,
                body.as_ptr().cast(),
                body.len(),
            )
        }
    };
    assert_eq!(
        respond(r[0].0, 204, b"body"),
        FASTSERVE_RESULT_INVALID_ARGUMENT
    );
    assert_eq!(respond(r[1].0, 304, b""), FASTSERVE_RESULT_OK);
    assert_eq!(respond(r[2].0, 200, b"ok"), FASTSERVE_RESULT_OK);
    let out = c.output();
    let r = responses(&out);
    assert_eq!(
        r.iter().map(|x| x.0).collect::<Vec<_>>(),
        vec![500, 304, 200],
        "{out}"
    );
    assert_eq!(r[2].1, "ok");
}

#[test]
fn conn_state_abort_and_expire() {
    let c = C::new();
    assert_eq!(c.state(), FASTSERVE_CONN_IDLE);
    assert!(c.feed(b"GET / HTTP/1.1\r\nHost").is_empty());
    assert_eq!(c.state(), FASTSERVE_CONN_READING_HEAD);
    let r = c.feed(b": x\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab");
    assert_eq!(r.len(), 1);
    assert_eq!(
        c.state(),
        FASTSERVE_CONN_READING_BODY | FASTSERVE_CONN_PENDING
    );
    // the request timeout: the oldest waiting request gets 503
    let mut id = u64::MAX;
    // SAFETY: a live connection; `id` is writable.
    assert!(unsafe { fastserve_conn_expire(c.0, 503, &mut id) });
    assert_eq!(id, r[0].0);
    // SAFETY: as above.
    assert!(
        !unsafe { fastserve_conn_expire(c.0, 503, &mut id) },
        "nothing else waits"
    );
    assert_eq!(c.state() & FASTSERVE_CONN_UNSENT, FASTSERVE_CONN_UNSENT);
    // the body timeout: 408, and the connection closes after it
    // SAFETY: a live connection.
    assert_eq!(
        unsafe { fastserve_conn_abort(c.0, 408) },
        FASTSERVE_RESULT_OK
    );
    let out = c.output();
    assert_eq!(
        responses(&out).iter().map(|x| x.0).collect::<Vec<_>>(),
        vec![503, 408],
        "{out}"
    );
    // SAFETY: a live connection.
    assert!(unsafe { fastserve_conn_should_close(c.0) });
    // SAFETY: a live connection.
    assert_eq!(
        unsafe { fastserve_conn_abort(c.0, 200) },
        FASTSERVE_RESULT_INVALID_ARGUMENT
    );
}
