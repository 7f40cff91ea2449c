//! Every limit, timeout and fault, against an in-process server over real
//! sockets. Limits and timeouts are set small so that the suite stays fast.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fastserve::proto::ExtBody;
use fastserve::server::{Handler, ResponseBuilder, Routed, Server, ServerConfig};

struct Echo;
impl Handler for Echo {
    fn call(&self, req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        res.body(req.body).map_err(|_| ())
    }
}

/// Defers, and never completes.
struct Never;
impl Handler for Never {
    fn call(&self, _: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        std::mem::forget(res.defer().map_err(|_| ())?);
        Ok(())
    }
}

/// Defers; a thread completes it 100 ms later. Tracks how many are in flight.
struct Slow {
    now: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
}
impl Handler for Slow {
    fn call(&self, _: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        let mut d = res.defer().map_err(|_| ())?;
        let now = self.now.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            now.fetch_sub(1, Ordering::SeqCst);
            d.body(b"slow").unwrap();
            d.send().unwrap();
        });
        Ok(())
    }
}

struct Panics;
impl Handler for Panics {
    fn call(&self, _: &Routed<'_>, _: &mut ResponseBuilder) -> Result<(), ()> {
        panic!("handler bug");
    }
}

struct Fails;
impl Handler for Fails {
    fn call(&self, _: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        res.body(b"half-built").unwrap();
        Err(())
    }
}

/// A 4 MiB body, sent without a copy.
struct Big;
impl Handler for Big {
    fn call(&self, _: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        res.body_ext(ExtBody::Owned(vec![b'x'; 4 << 20]))
            .map_err(|_| ())
    }
}

struct Srv {
    srv: Server,
    addr: SocketAddr,
    slow_max: Arc<AtomicUsize>,
}

fn server(tune: impl FnOnce(&mut ServerConfig)) -> Srv {
    let mut cfg = ServerConfig::default();
    tune(&mut cfg);
    let mut srv = Server::new(cfg);
    srv.route_static(
        Some(b"GET"),
        b"/plaintext",
        false,
        200,
        b"",
        b"Hello, World!",
    )
    .unwrap();
    srv.route(Some(b"POST"), b"/echo", false, Arc::new(Echo))
        .unwrap();
    srv.route(None, b"/never", false, Arc::new(Never)).unwrap();
    let (now, max) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    srv.route(
        None,
        b"/slow",
        false,
        Arc::new(Slow {
            now,
            max: max.clone(),
        }),
    )
    .unwrap();
    srv.route(None, b"/panic", false, Arc::new(Panics)).unwrap();
    srv.route(None, b"/fail", false, Arc::new(Fails)).unwrap();
    srv.route(None, b"/big", false, Arc::new(Big)).unwrap();
    let addr = srv.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    srv.start().unwrap();
    Srv {
        srv,
        addr,
        slow_max: max,
    }
}

impl Srv {
    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.set_nodelay(true).unwrap();
        s
    }

    /// One request on a fresh connection; the whole answer, up to the close.
    fn ask(&self, raw: &[u8]) -> Vec<u8> {
        let mut s = self.connect();
        s.write_all(raw).unwrap();
        read_to_close(&mut s)
    }

    fn works(&self) {
        let mut s = self.connect();
        s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        assert!(read_to_close(&mut s).ends_with(b"Hello, World!"));
    }

    fn wait_open(&self, n: u64) {
        let t = Instant::now();
        while self.srv.stats().open_connections != n {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "open connections: {:?}",
                self.srv.stats()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return out,
            Err(e) => panic!("read: {e} after {:?}", String::from_utf8_lossy(&out)),
        }
    }
}

fn status(resp: &[u8]) -> u16 {
    std::str::from_utf8(&resp[9..12]).unwrap().parse().unwrap()
}

fn closes_with(resp: &[u8], code: u16) {
    assert_eq!(
        status(resp),
        code,
        "{}",
        String::from_utf8_lossy(&resp[..resp.len().min(200)])
    );
    assert!(resp.windows(19).any(|w| w == b"Connection: close\r\n"));
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn header_bytes_limit() {
    let s = server(|c| c.proto.limits.max_head = 1024);
    let big = format!(
        "GET /plaintext HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
        "a".repeat(1100)
    );
    closes_with(&s.ask(big.as_bytes()), 431);
    // sent in pieces, never completing, the head is refused once over the limit
    let mut c = s.connect();
    c.write_all(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    for _ in 0..12 {
        let _ = c.write_all(&[b'X'; 100]);
        std::thread::sleep(ms(2));
    }
    closes_with(&read_to_close(&mut c), 431);
    s.works();
}

#[test]
fn header_count_limit() {
    let s = server(|c| c.proto.limits.max_headers = 5);
    // with Host and Connection: 6 fields, one too many
    let ok: String = (0..4).map(|i| format!("X{i}: y\r\n")).collect();
    assert_eq!(
        status(
            &s.ask(
                format!("GET /plaintext HTTP/1.1\r\nHost: x\r\n{ok}Connection: close\r\n\r\n")
                    .as_bytes()
            )
        ),
        431
    );
    let three: String = (0..3).map(|i| format!("X{i}: y\r\n")).collect();
    assert_eq!(
        status(
            &s.ask(
                format!("GET /plaintext HTTP/1.1\r\nHost: x\r\n{three}Connection: close\r\n\r\n")
                    .as_bytes()
            )
        ),
        200
    );
}

#[test]
fn request_line_limit() {
    let s = server(|c| c.proto.limits.max_request_line = 256);
    // "GET /" + path + " HTTP/1.1" is 14 bytes besides the path: a line of
    // exactly the limit is served, one byte more is not
    let at_limit = s.ask(
        format!(
            "GET /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "a".repeat(242)
        )
        .as_bytes(),
    );
    assert_eq!(status(&at_limit), 404);
    closes_with(
        &s.ask(format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(243)).as_bytes()),
        414,
    );
    closes_with(
        &s.ask(format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(300)).as_bytes()),
        414,
    );
    // and before the line ends
    let mut c = s.connect();
    c.write_all(format!("GET /{}", "a".repeat(300)).as_bytes())
        .unwrap();
    closes_with(&read_to_close(&mut c), 414);
}

#[test]
fn body_size_limit() {
    let s = server(|c| c.proto.limits.max_body = 1000);
    // refused from Content-Length alone, before any body byte is sent
    let mut c = s.connect();
    c.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n")
        .unwrap();
    closes_with(&read_to_close(&mut c), 413);
    // a chunked body is refused once it grows past the limit
    let chunk = format!("{:x}\r\n{}\r\n", 600, "b".repeat(600));
    let raw =
        format!("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}{chunk}0\r\n\r\n");
    closes_with(&s.ask(raw.as_bytes()), 413);
    let ok = s.ask(
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1000\r\n\r\n{}",
            "c".repeat(1000)
        )
        .as_bytes(),
    );
    assert!(ok.ends_with(&[b'c'; 1000]));
}

#[test]
fn connection_limit_makes_room_by_closing_the_longest_idle() {
    let s = server(|c| c.max_connections = 5);
    let mut idle: Vec<TcpStream> = Vec::new();
    for _ in 0..5 {
        idle.push(s.connect());
        std::thread::sleep(Duration::from_millis(5)); // distinct idle times
    }
    s.wait_open(5);
    s.works(); // a sixth: served, in the place of the first
    let mut b = [0u8; 16];
    assert_eq!(
        idle[0].read(&mut b).unwrap_or(0),
        0,
        "the connection idle the longest was closed"
    );
    drop(idle);
    s.wait_open(0);
}

#[test]
fn connection_limit_refuses_when_every_connection_is_owed_an_answer() {
    let s = server(|c| c.max_connections = 5);
    let busy: Vec<TcpStream> = (0..5)
        .map(|_| {
            let mut c = s.connect();
            c.write_all(b"GET /never HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            c
        })
        .collect();
    s.wait_open(5);
    std::thread::sleep(Duration::from_millis(50)); // all five read and deferred
    let mut extra = s.connect();
    let mut b = [0u8; 16];
    assert_eq!(
        extra.read(&mut b).unwrap_or(0),
        0,
        "the sixth connection is closed at once: none may make room"
    );
    drop(busy);
}

#[test]
fn pipelined_requests_held_limit() {
    let s = server(|c| c.proto.limits.max_pipelined = 4);
    let mut c = s.connect();
    c.write_all(&b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n".repeat(20))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.windows(4).filter(|w| w == b"slow").count() < 20 {
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    let max = s.slow_max.load(Ordering::SeqCst);
    assert!(
        (1..=4).contains(&max),
        "{max} requests were in flight at once"
    );
}

#[test]
fn unsent_bytes_limit_stops_reading() {
    let s = server(|c| {
        c.proto.limits.max_unsent = 64 * 1024;
        c.timeouts.write = Duration::from_secs(10);
    });
    let mut c = s.connect();
    c.write_all(&b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n".repeat(50))
        .unwrap();
    std::thread::sleep(ms(300));
    // the client reads nothing: the server must not have answered all 50 (200 MiB)
    let held = s.srv.stats().requests;
    assert!(
        held < 5,
        "{held} requests were taken in while the client did not read"
    );
    // once the client reads, everything arrives
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    while total < 50 * (4 << 20) {
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0);
        total += n;
    }
    assert_eq!(s.srv.stats().requests, 50);
}

/// Requests a client that never reads gets served: with socket buffers
/// capped, what the kernel holds for it is bounded as well as what the
/// server holds, and nothing is lost once it reads.
fn served_while_not_reading(s: &Srv) -> (u64, u64) {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(8 * 1024).unwrap();
    sock.set_send_buffer_size(8 * 1024).unwrap();
    sock.connect(&s.addr.into()).unwrap();
    let mut c: TcpStream = sock.into();
    c.set_nonblocking(true).unwrap();
    let req = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n";
    let batch = req.repeat(256);
    let (mut sent, mut off, mut quiet) = (0u64, 0usize, Instant::now());
    // write until neither the client's writes nor the server move for 300 ms
    let mut served = s.srv.stats().requests;
    while quiet.elapsed() < ms(300) {
        match c.write(&batch[off..]) {
            Ok(n) => {
                sent += ((off + n) / req.len() - off / req.len()) as u64;
                off = (off + n) % batch.len();
                quiet = Instant::now();
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(ms(10)),
            Err(e) => panic!("{e}"),
        }
        let now = s.srv.stats().requests;
        if now != served {
            served = now;
            quiet = Instant::now();
        }
        assert!(sent < 10_000_000, "the server never pushed back");
    }
    // finish the request cut off mid-way, then read every answer
    c.set_nonblocking(false).unwrap();
    // from another thread: the client's send buffer may be full until it reads
    let mut writer = c.try_clone().unwrap();
    let cut = off % req.len();
    let rest = if cut == 0 {
        Vec::new()
    } else {
        req[cut..].to_vec()
    };
    let finish = std::thread::spawn(move || writer.write_all(&rest).unwrap());
    sent += u64::from(cut != 0);
    let (mut answers, mut tail, mut buf) = (0u64, Vec::new(), vec![0u8; 64 * 1024]);
    while answers < sent {
        let n = match c.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => panic!("{answers} of {sent} answers"),
            Err(e) => panic!("{e}"),
        };
        assert!(n > 0, "closed after {answers} of {sent} answers");
        tail.extend_from_slice(&buf[..n]);
        let mut at = 0;
        while let Some(i) = find(&tail[at..], b"Hello, World!") {
            at += i + 13;
            answers += 1;
        }
        tail.drain(..at);
    }
    assert_eq!(answers, sent);
    finish.join().unwrap();
    (served, sent)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn socket_buffers_bound_a_client_that_never_reads() {
    let s = server(|c| {
        c.socket_recv_buffer = 16 * 1024;
        c.socket_send_buffer = 16 * 1024;
        c.proto.limits.max_unsent = 4 * 1024;
        c.proto.limits.max_pipelined = 16;
    });
    let (served, sent) = served_while_not_reading(&s);
    // answers of ~110 bytes: the server's send buffer (the kernel doubles it
    // to 32 KiB), the client's receive buffer (16 KiB), max_unsent (4 KiB),
    // and slack for the kernel's accounting
    assert!(
        served <= 1200,
        "{served} answers were produced for a client that read none (of {sent} sent)"
    );
}

#[test]
fn header_timeout_answers_408() {
    let s = server(|c| c.timeouts.header = ms(300));
    let mut c = s.connect();
    c.write_all(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let t = Instant::now();
    // a slowloris: a byte every 50 ms, forever
    let mut sent = 0;
    while t.elapsed() < ms(2000) {
        if c.write_all(b"X").is_err() {
            break;
        }
        sent += 1;
        std::thread::sleep(ms(50));
        c.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        let closed = c.peek(&mut b).is_ok();
        c.set_nonblocking(false).unwrap();
        if closed {
            break;
        }
    }
    let resp = read_to_close(&mut c);
    closes_with(&resp, 408);
    assert!(
        t.elapsed() >= ms(250) && t.elapsed() < ms(1500),
        "{:?} after {sent} bytes",
        t.elapsed()
    );
}

#[test]
fn body_timeout_answers_408() {
    let s = server(|c| c.timeouts.body = ms(300));
    let mut c = s.connect();
    c.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    let t = Instant::now();
    closes_with(&read_to_close(&mut c), 408);
    assert!(t.elapsed() >= ms(250), "{:?}", t.elapsed());
}

#[test]
fn keepalive_timeout_closes_quietly() {
    let s = server(|c| c.timeouts.keepalive = ms(300));
    let mut c = s.connect();
    c.write_all(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = c.read(&mut buf).unwrap();
    assert!(buf[..n].ends_with(b"Hello, World!"));
    let t = Instant::now();
    assert_eq!(read_to_close(&mut c), b"", "closed without a response");
    assert!(
        t.elapsed() >= ms(250) && t.elapsed() < ms(2000),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn write_timeout_drops_a_client_that_stops_reading() {
    let s = server(|c| c.timeouts.write = ms(300));
    let c = s.connect();
    (&c).write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    s.wait_open(1);
    let t = Instant::now();
    s.wait_open(0); // dropped by the server, though the client never closed
    assert!(t.elapsed() >= ms(200), "{:?}", t.elapsed());
    s.works();
}

#[test]
fn request_timeout_answers_503_and_frees_the_slot() {
    let s = server(|c| c.timeouts.request = ms(300));
    let mut c = s.connect();
    c.write_all(b"GET /never HTTP/1.1\r\nHost: x\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let t = Instant::now();
    let resp = read_to_close(&mut c);
    assert_eq!(status(&resp), 503, "{}", String::from_utf8_lossy(&resp));
    assert!(
        resp.ends_with(b"Hello, World!"),
        "the request behind it is answered"
    );
    assert!(t.elapsed() >= ms(250));
}

#[test]
fn handler_panic_and_error_answer_500() {
    let s = server(|_| {});
    for path in ["/panic", "/fail"] {
        let resp = s
            .ask(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes());
        assert_eq!(status(&resp), 500, "{path}");
        assert!(!resp.ends_with(b"half-built"));
    }
    s.works();
}

fn reset(s: TcpStream) {
    // SO_LINGER 0: close sends RST
    let fd = std::os::fd::AsRawFd::as_raw_fd(&s);
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on an open socket with a valid linger struct.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as u32,
        )
    };
    drop(s);
}

#[test]
fn resets_mid_request_body_and_response() {
    let s = server(|_| {});
    let mut c = s.connect();
    c.write_all(b"GET /plaintext HTTP/1.1\r\nHost:").unwrap();
    reset(c);
    let mut c = s.connect();
    c.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        .unwrap();
    reset(c);
    let mut c = s.connect();
    c.write_all(&b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3))
        .unwrap();
    let mut buf = [0u8; 1000];
    c.read_exact(&mut buf).unwrap();
    reset(c);
    s.wait_open(0);
    s.works();
}
