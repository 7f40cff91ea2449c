//! Lingering close: a connection the engine closes after an error answer
//! (400, 413, 431, ...) shuts its write side and reads and drops what the
//! client still sends, for a bounded time and number of bytes, before the
//! socket closes. A client that pipelined past the bad request reads the
//! whole answer and then the end, never a reset. Over real sockets, many
//! times over: without the linger the reset is a race.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fastserve::server::{Handler, ResponseBuilder, Routed, Server, ServerConfig};

struct Echo;
impl Handler for Echo {
    fn call(&self, req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        res.body(req.body).map_err(|_| ())
    }
}

fn server(tune: impl FnOnce(&mut ServerConfig)) -> (Server, SocketAddr) {
    let mut cfg = ServerConfig::default();
    cfg.proto.limits.max_head = 4096;
    cfg.proto.limits.max_body = 1024;
    tune(&mut cfg);
    let mut srv = Server::new(cfg);
    srv.route_static(Some(b"GET"), b"/", false, 200, b"", b"Hello, World!")
        .unwrap();
    srv.route(Some(b"POST"), b"/echo", false, Arc::new(Echo))
        .unwrap();
    let addr = srv.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    srv.start().unwrap();
    (srv, addr)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Everything up to the end of the stream; an error (a reset) is returned
/// with what was read before it.
fn read_to_end(s: &mut TcpStream) -> Result<Vec<u8>, (std::io::Error, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err((e, out)),
        }
    }
}

/// A whole response with `status`, its body as long as `Content-Length`
/// says, and nothing after it.
fn assert_whole(resp: &[u8], status: u16, round: usize) {
    let text = String::from_utf8_lossy(resp);
    let start = format!("HTTP/1.1 {status} ");
    assert!(text.starts_with(&start), "round {round}: {text:?}");
    let end = text.find("\r\n\r\n").expect("a complete head") + 4;
    let len: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("Content-Length")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(resp.len(), end + len, "round {round}: {text:?}");
    assert!(text.contains("Connection: close\r\n"), "round {round}");
}

/// Sends `bad` and then `extra` in a second write, as a pipelining client
/// would; the client must be able to send it all, then read the error
/// answer whole and the end of the stream.
fn bad_then_more(addr: SocketAddr, bad: &[u8], extra: &[u8], status: u16, round: usize) {
    let mut s = connect(addr);
    s.write_all(bad).unwrap();
    // the more arrives before the server reads, while it answers, or after
    let gap = Duration::from_micros((round % 16) as u64 * 20);
    let t = Instant::now();
    while t.elapsed() < gap {
        std::hint::spin_loop();
    }
    let sent = s.write_all(extra);
    let got = read_to_end(&mut s);
    if let Err((e, partial)) = &got {
        panic!(
            "round {round}: read failed: {e} (send: {sent:?}) after {:?}",
            String::from_utf8_lossy(partial)
        );
    }
    assert!(sent.is_ok(), "round {round}: send failed: {sent:?}");
    assert_whole(&got.unwrap(), status, round);
}

const BAD_LINE: &[u8] = b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n";

fn junk(n: usize) -> Vec<u8> {
    let line = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    line.iter().copied().cycle().take(n).collect()
}

#[test]
fn a_bad_request_line_then_256k_pipelined_reads_the_400_then_the_end() {
    let (_srv, addr) = server(|_| {});
    let extra = junk(256 << 10);
    for round in 0..40 {
        bad_then_more(addr, BAD_LINE, &extra, 400, round);
    }
}

#[test]
fn a_bad_request_line_then_a_little_more_reads_the_400_then_the_end() {
    let (_srv, addr) = server(|_| {});
    for round in 0..600 {
        let extra = junk(1 + round % 97);
        bad_then_more(addr, BAD_LINE, &extra, 400, round);
    }
}

#[test]
fn headers_too_large_then_more_reads_the_431_then_the_end() {
    let (_srv, addr) = server(|_| {});
    let mut bad = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    bad.extend(std::iter::repeat(b'a').take(8192));
    bad.extend_from_slice(b"\r\n\r\n");
    let extra = junk(64 << 10);
    for round in 0..40 {
        bad_then_more(addr, &bad, &extra, 431, round);
    }
}

#[test]
fn a_body_too_large_then_the_rest_of_it_reads_the_413_then_the_end() {
    let (_srv, addr) = server(|_| {});
    let head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 262144\r\n\r\n";
    let body = vec![b'b'; 256 << 10];
    for round in 0..40 {
        bad_then_more(addr, head, &body, 413, round);
    }
}

/// Sends a bad request line and reads the 400 and the end; the server still
/// has the connection open (lingering) until it gives up.
fn lingering_client(addr: SocketAddr) -> TcpStream {
    let mut s = connect(addr);
    s.write_all(BAD_LINE).unwrap();
    let got = read_to_end(&mut s).map_err(|(e, _)| e).unwrap();
    assert_whole(&got, 400, 0);
    s
}

/// Writes a byte every 20 ms until a write fails (the server closed and
/// reset the connection); how long that took from `from`.
fn trickle_until_refused(s: &mut TcpStream, from: Instant, limit: Duration) -> Duration {
    loop {
        if s.write_all(b"x").is_err() {
            return from.elapsed();
        }
        assert!(from.elapsed() < limit, "still open after {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn open(srv: &Server) -> u64 {
    srv.stats().open_connections
}

/// Waits until the server holds `n` connections; how long that took.
fn until_open(srv: &Server, n: u64, limit: Duration) -> Duration {
    let t = Instant::now();
    while open(srv) != n {
        assert!(t.elapsed() < limit, "{} open after {limit:?}", open(srv));
        std::thread::sleep(Duration::from_millis(5));
    }
    t.elapsed()
}

#[test]
fn a_client_that_keeps_sending_is_cut_off_after_the_linger_timeout() {
    for ms in [300u64, 1500] {
        let (srv, addr) = server(|c| c.timeouts.linger = Duration::from_millis(ms));
        let t = Instant::now();
        let mut s = lingering_client(addr);
        let took = trickle_until_refused(&mut s, t, Duration::from_secs(10));
        let want = Duration::from_millis(ms);
        assert!(took >= want, "closed after {took:?}, before {want:?}");
        assert!(
            took < want + Duration::from_secs(2),
            "closed after {took:?}"
        );
        until_open(&srv, 0, Duration::from_secs(2));
    }
}

#[test]
fn a_client_that_reads_the_answer_and_stays_is_closed_after_the_linger_timeout() {
    let (srv, addr) = server(|c| c.timeouts.linger = Duration::from_millis(400));
    let t = Instant::now();
    let _s = lingering_client(addr);
    assert_eq!(open(&srv), 1, "lingering");
    until_open(&srv, 0, Duration::from_secs(5));
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(400), "closed after {took:?}");
    assert!(took < Duration::from_millis(2400), "closed after {took:?}");
}

#[test]
fn a_client_that_closes_ends_the_linger_at_once() {
    let (srv, addr) = server(|c| c.timeouts.linger = Duration::from_secs(30));
    for _ in 0..20 {
        let s = lingering_client(addr);
        drop(s);
        until_open(&srv, 0, Duration::from_secs(2));
    }
}

#[test]
fn lingering_stops_after_a_bounded_number_of_bytes() {
    // far more than the socket buffers hold: the server must read and drop
    // its share and give up well before the 30 s timeout
    let (srv, addr) = server(|c| c.timeouts.linger = Duration::from_secs(30));
    let mut s = connect(addr);
    s.write_all(BAD_LINE).unwrap();
    let t = Instant::now();
    let chunk = junk(64 << 10);
    let mut sent = 0usize;
    while s.write_all(&chunk).is_ok() {
        sent += chunk.len();
        assert!(
            sent < 256 << 20,
            "the server read 256 MiB and still lingers"
        );
    }
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    until_open(&srv, 0, Duration::from_secs(2));
    // the answer and its end were acknowledged before the reset
    let got = read_to_end(&mut s).map_err(|(e, _)| e).unwrap();
    assert_whole(&got, 400, 0);
}

#[test]
fn lingering_connections_give_way_to_new_ones_at_the_connection_limit() {
    let (srv, addr) = server(|c| {
        c.max_connections = 2;
        c.timeouts.linger = Duration::from_secs(30);
    });
    let _a = lingering_client(addr);
    let _b = lingering_client(addr);
    assert_eq!(open(&srv), 2);
    for _ in 0..5 {
        let mut s = connect(addr);
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let got = read_to_end(&mut s).map_err(|(e, _)| e).unwrap();
        assert!(
            got.ends_with(b"Hello, World!"),
            "{:?}",
            String::from_utf8_lossy(&got)
        );
        assert!(open(&srv) <= 2);
    }
}

#[test]
fn the_c_api_sets_the_linger_timeout() {
    use fastserve::ffi::config::*;
    use fastserve::ffi::fastserve_result::*;
    use fastserve::ffi::server::*;
    // SAFETY: each object is used while live and freed once; the host
    // string is a live local.
    unsafe {
        let cfg = fastserve_config_new();
        assert_eq!(
            fastserve_config_set_linger_timeout_ms(cfg, 0),
            FASTSERVE_RESULT_INVALID_ARGUMENT
        );
        assert_eq!(
            fastserve_config_set_linger_timeout_ms(std::ptr::null_mut(), 300),
            FASTSERVE_RESULT_NULL_ARGUMENT
        );
        assert_eq!(
            fastserve_config_set_linger_timeout_ms(cfg, 300),
            FASTSERVE_RESULT_OK
        );
        let srv = fastserve_server_new(cfg);
        fastserve_config_free(cfg);
        let host = "127.0.0.1";
        let r = fastserve_server_listen(srv, host.as_ptr().cast(), host.len(), 0);
        assert_eq!(r, FASTSERVE_RESULT_OK);
        assert_eq!(fastserve_server_start(srv), FASTSERVE_RESULT_OK);
        let addr = SocketAddr::from(([127, 0, 0, 1], fastserve_server_port(srv)));
        let t = Instant::now();
        let mut s = lingering_client(addr);
        let took = trickle_until_refused(&mut s, t, Duration::from_secs(10));
        assert!(took >= Duration::from_millis(300), "closed after {took:?}");
        assert!(took < Duration::from_millis(2300), "closed after {took:?}");
        fastserve_server_stop(srv);
        fastserve_server_wait(srv);
        fastserve_server_free(srv);
    }
}
