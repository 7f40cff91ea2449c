//! A graceful stop drains: requests in flight are answered with
//! `Connection: close`, no further request is read from any connection, and
//! the workers exit once those answers are written, long before
//! `shutdown_grace` (20 s here) runs out.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use fastserve::server::{Handler, ResponseBuilder, Routed, Server, ServerConfig};

const GRACE: Duration = Duration::from_secs(20);
/// How long a stop may take here before it counts as waiting out the grace.
const BOUND: Duration = Duration::from_secs(10);

/// Defers; another thread answers 300 ms later.
struct Later;
impl Handler for Later {
    fn call(&self, _: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        let mut d = res.defer().map_err(|_| ())?;
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            d.body(b"later").unwrap();
            d.send().unwrap();
        });
        Ok(())
    }
}

/// Holds the worker for 300 ms (a handler that should not block, but does).
struct Block;
impl Handler for Block {
    fn call(&self, _: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        std::thread::sleep(Duration::from_millis(300));
        res.body(b"blocked").map_err(|_| ())
    }
}

fn server() -> (Arc<Server>, SocketAddr) {
    let mut srv = Server::new(ServerConfig {
        shutdown_grace: GRACE,
        ..Default::default()
    });
    srv.route_static(
        Some(b"GET"),
        b"/plaintext",
        false,
        200,
        b"",
        b"Hello, World!",
    )
    .unwrap();
    srv.route(Some(b"GET"), b"/later", false, Arc::new(Later))
        .unwrap();
    srv.route(Some(b"GET"), b"/block", false, Arc::new(Block))
        .unwrap();
    let addr = srv.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    srv.start().unwrap();
    (Arc::new(srv), addr)
}

/// Stops the server; the receiver hears once every worker has exited.
fn stop(srv: &Arc<Server>) -> mpsc::Receiver<()> {
    srv.stop();
    let (tx, rx) = mpsc::channel();
    let srv = srv.clone();
    std::thread::spawn(move || {
        srv.wait().unwrap();
        let _ = tx.send(());
    });
    rx
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// One response from `buf`: (its length, its status, whether it says
/// `Connection: close`), or None while incomplete.
fn response(buf: &[u8]) -> Option<(usize, u16, bool)> {
    let mut hs = [httparse::EMPTY_HEADER; 16];
    let mut r = httparse::Response::new(&mut hs);
    let head = match r.parse(buf).expect("a well-formed response") {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return None,
    };
    let mut len = 0;
    let mut close = false;
    for h in r.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            len = std::str::from_utf8(h.value).unwrap().parse().unwrap();
        }
        if h.name.eq_ignore_ascii_case("connection") {
            close = h.value.eq_ignore_ascii_case(b"close");
        }
    }
    (buf.len() >= head + len).then(|| (head + len, r.code.unwrap(), close))
}

/// Reads one whole response.
fn read_one(s: &mut TcpStream, buf: &mut Vec<u8>) -> (u16, bool) {
    loop {
        if let Some((n, status, close)) = response(buf) {
            buf.drain(..n);
            return (status, close);
        }
        let mut b = [0u8; 4096];
        let n = s.read(&mut b).unwrap();
        assert!(n > 0, "closed mid-response after {buf:?}");
        buf.extend_from_slice(&b[..n]);
    }
}

/// After the last response: the connection ends, and a request sent now is
/// not answered.
fn ends_without_reading_more(s: &mut TcpStream) {
    let _ = s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut rest = Vec::new();
    match s.read_to_end(&mut rest) {
        Ok(_) => assert!(
            rest.is_empty(),
            "answered after the last response: {rest:?}"
        ),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
    }
}

#[test]
fn a_request_half_received_at_stop_is_answered_with_close() {
    let (srv, addr) = server();
    let mut s = connect(addr);
    let mut buf = Vec::new();
    s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_one(&mut s, &mut buf), (200, false));
    // the server reads half a head, then the stop comes
    s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let exited = stop(&srv);
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(b"\r\n").unwrap();
    assert_eq!(read_one(&mut s, &mut buf), (200, true));
    ends_without_reading_more(&mut s);
    exited
        .recv_timeout(BOUND)
        .expect("the workers exit once the answer is written");
}

#[test]
fn a_deferred_request_at_stop_is_answered_with_close() {
    let (srv, addr) = server();
    let mut s = connect(addr);
    let mut buf = Vec::new();
    s.write_all(b"GET /later HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100)); // read, and deferred
    let exited = stop(&srv);
    assert_eq!(read_one(&mut s, &mut buf), (200, true));
    ends_without_reading_more(&mut s);
    exited.recv_timeout(BOUND).expect("the workers exit");
}

#[test]
fn idle_connections_close_at_stop() {
    let (srv, addr) = server();
    let mut s = connect(addr);
    let mut buf = Vec::new();
    s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_one(&mut s, &mut buf), (200, false));
    let exited = stop(&srv);
    exited.recv_timeout(BOUND).expect("the workers exit");
    ends_without_reading_more(&mut s);
}

#[test]
fn a_connection_that_sent_nothing_yet_gets_its_first_request_answered() {
    let (srv, addr) = server();
    let mut s = connect(addr);
    std::thread::sleep(Duration::from_millis(100)); // accepted
    let exited = stop(&srv);
    std::thread::sleep(Duration::from_millis(100));
    let mut buf = Vec::new();
    s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_one(&mut s, &mut buf), (200, true));
    ends_without_reading_more(&mut s);
    exited.recv_timeout(BOUND).expect("the workers exit");
}

#[test]
fn connections_queued_on_the_listener_at_stop_are_served() {
    let (srv, addr) = server();
    let mut a = connect(addr);
    a.write_all(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100)); // the worker is held
    let exited = stop(&srv);
    // the kernel completes this handshake and queues the connection, with
    // its request, on the listener the stop is about to close
    let mut b = connect(addr);
    b.write_all(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // rendered before the worker saw the stop: no close, but the last one
    let mut buf = Vec::new();
    assert_eq!(read_one(&mut a, &mut buf).0, 200);
    ends_without_reading_more(&mut a);
    let mut buf = Vec::new();
    assert_eq!(read_one(&mut b, &mut buf), (200, true));
    ends_without_reading_more(&mut b);
    exited.recv_timeout(BOUND).expect("the workers exit");
    assert!(connect_refused(addr), "the listener is closed");
}

fn connect_refused(addr: SocketAddr) -> bool {
    matches!(TcpStream::connect(addr), Err(e) if e.kind() == ErrorKind::ConnectionRefused)
}

/// A client that pipelines without pause: a writer thread sends batches of
/// requests until the connection fails; the reader counts whole responses.
struct Pipeliner {
    reader: JoinHandle<Outcome>,
    writer: JoinHandle<()>,
}

#[derive(Debug)]
struct Outcome {
    responses: u64,
    /// Bytes of a response cut off by the end of the connection.
    partial: usize,
    /// How many responses said `Connection: close`, and whether the last did.
    closes: u64,
    last_close: bool,
}

fn pipeliner(addr: SocketAddr, seen: Arc<AtomicU64>, done: Arc<AtomicBool>) -> Pipeliner {
    let s = connect(addr);
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let batch = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n".repeat(32);
        while !done.load(Ordering::Relaxed) && w.write_all(&batch).is_ok() {}
    });
    let reader = std::thread::spawn(move || {
        let mut s = s;
        let mut buf = Vec::new();
        let mut out = Outcome {
            responses: 0,
            partial: 0,
            closes: 0,
            last_close: false,
        };
        let mut b = vec![0u8; 64 * 1024];
        loop {
            let n = match s.read(&mut b) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => panic!("the connection failed instead of ending: {e}"),
            };
            buf.extend_from_slice(&b[..n]);
            while let Some((len, status, close)) = response(&buf) {
                assert_eq!(status, 200);
                assert!(!out.last_close, "a response after one that said close");
                buf.drain(..len);
                out.responses += 1;
                out.closes += close as u64;
                out.last_close = close;
                seen.fetch_add(1, Ordering::Relaxed);
            }
        }
        out.partial = buf.len();
        out
    });
    Pipeliner { reader, writer }
}

#[test]
fn stop_under_pipelined_load_drains_and_exits() {
    let (srv, addr) = server();
    let done = Arc::new(AtomicBool::new(false));
    let counts: Vec<_> = (0..4).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let clients: Vec<_> = counts
        .iter()
        .map(|c| pipeliner(addr, c.clone(), done.clone()))
        .collect();
    // every client is being served when the stop comes
    let t = std::time::Instant::now();
    while counts.iter().any(|c| c.load(Ordering::Relaxed) < 1000) {
        assert!(t.elapsed() < BOUND, "the clients are not served");
        std::thread::sleep(Duration::from_millis(10));
    }
    let exited = stop(&srv);
    let r = exited.recv_timeout(BOUND);
    done.store(true, Ordering::Relaxed);
    r.expect("the workers exit under pipelined load");
    for c in clients {
        let out = c.reader.join().expect("each connection ends cleanly");
        c.writer.join().unwrap();
        assert_eq!(out.partial, 0, "a response was cut off: {out:?}");
        assert!(out.closes <= 1, "{out:?}");
    }
    assert_eq!(srv.stats().open_connections, 0);
}
