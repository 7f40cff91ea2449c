//! Holding under a slow flood: bodies trickled to hold connections are cut
//! off at a minimum rate, responses taken too slowly drop their connection,
//! and a full connection table makes room by closing the connections that
//! made the least progress, while a normal client is answered throughout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fastserve::proto::ExtBody;
use fastserve::server::{Handler, ResponseBuilder, Routed, Server, ServerConfig};

struct Echo;
impl Handler for Echo {
    fn call(&self, req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        res.body(format!("{}", req.body.len()).as_bytes())
            .map_err(|_| ())
    }
}

struct Big;
impl Handler for Big {
    fn call(&self, _: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        res.body_ext(ExtBody::Owned(vec![b'x'; 8 << 20]))
            .map_err(|_| ())
    }
}

fn server(tune: impl FnOnce(&mut ServerConfig)) -> (Server, SocketAddr) {
    let mut cfg = ServerConfig::default();
    cfg.timeouts.min_rate_grace = Duration::from_secs(1);
    cfg.proto.limits.max_body = 1 << 20;
    tune(&mut cfg);
    let mut srv = Server::new(cfg);
    srv.route(None, b"/echo", false, Arc::new(Echo)).unwrap();
    srv.route(None, b"/big", false, Arc::new(Big)).unwrap();
    srv.route_static(Some(b"GET"), b"/ping", false, 200, b"", b"pong")
        .unwrap();
    let addr = srv.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    srv.start().unwrap();
    (srv, addr)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// A normal client asks every 100 ms while `busy` holds; each answer must
/// come within a second. Returns how many it got.
fn normal_client(addr: SocketAddr, busy: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut n = 0;
        while busy.load(Ordering::Acquire) {
            let t = Instant::now();
            // a connection closed unanswered is asked again, once, as
            // browsers do (a full table may close the newest in a flood's
            // first instants, before it sent anything)
            let mut out = Vec::new();
            for _ in 0..2 {
                let mut s = connect(addr);
                let _ = s.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                out.clear();
                if s.read_to_end(&mut out).is_ok() && !out.is_empty() {
                    break;
                }
            }
            assert!(out.ends_with(b"pong"), "{}", String::from_utf8_lossy(&out));
            assert!(
                t.elapsed() < Duration::from_secs(1),
                "answered in {:?}",
                t.elapsed()
            );
            n += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
        n
    })
}

/// Connections that declare a 100,000-byte body and send it a byte at a time.
fn tricklers(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = connect(addr);
            s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nx")
                .unwrap();
            s
        })
        .collect()
}

fn trickle(conns: &mut [TcpStream]) {
    for s in conns.iter_mut() {
        let _ = s.write_all(b"x");
    }
}

/// What each connection got back by now: its whole answer, if it was closed.
fn answers(conns: &mut [TcpStream]) -> Vec<Vec<u8>> {
    conns
        .iter_mut()
        .map(|s| {
            s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            let mut out = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => return out,
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                    Err(_) => return b"(open)".to_vec(),
                }
            }
        })
        .collect()
}

#[test]
fn trickled_bodies_are_cut_off_at_the_minimum_rate() {
    let (srv, addr) = server(|_| {});
    let busy = Arc::new(AtomicBool::new(true));
    let normal = normal_client(addr, busy.clone());
    let mut slow = tricklers(addr, 100);
    // a byte every 300 ms each: under 4 B/s, never pausing long enough for
    // the 30 s body timeout
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(2500) {
        trickle(&mut slow);
        std::thread::sleep(Duration::from_millis(300));
    }
    let got = answers(&mut slow);
    let cut = got
        .iter()
        .filter(|a| a.starts_with(b"HTTP/1.1 408 "))
        .count();
    assert_eq!(cut, slow.len(), "{:?}", String::from_utf8_lossy(&got[0]));
    busy.store(false, Ordering::Release);
    assert!(normal.join().unwrap() >= 10);
    srv.stop();
}

#[test]
fn a_slow_upload_above_the_rate_is_not_cut_off() {
    let (srv, addr) = server(|_| {});
    let mut s = connect(addr);
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 3000\r\n\r\n",
    )
    .unwrap();
    for _ in 0..30 {
        s.write_all(&[b'u'; 100]).unwrap(); // 1,000 B/s for 3 s
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert!(
        out.starts_with(b"HTTP/1.1 200 ") && out.ends_with(b"3000"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    srv.stop();
}

#[test]
fn a_full_table_makes_room_for_normal_clients() {
    // 10,000 connections in the field; 200 here, with a table of 100
    let (srv, addr) = server(|c| c.max_connections = 100);
    let busy = Arc::new(AtomicBool::new(true));
    let normal = normal_client(addr, busy.clone());
    let mut slow = tricklers(addr, 200);
    for _ in 0..3 {
        trickle(&mut slow);
        std::thread::sleep(Duration::from_millis(300));
    }
    busy.store(false, Ordering::Release);
    assert!(normal.join().unwrap() >= 5, "the normal client got through");
    assert!(srv.stats().open_connections <= 100);
    srv.stop();
}

#[test]
fn responses_taken_too_slowly_drop_the_connection() {
    // a minimum well above what trickles through: TCP sends in window-sized
    // bursts, each worth a long credit at 240 B/s
    let (srv, addr) = server(|c| {
        c.socket_send_buffer = 4096;
        c.timeouts.min_send_rate = 100_000;
    });
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    s.connect(&addr.into()).unwrap();
    let mut s: TcpStream = s.into();
    s.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // take 16 bytes every 100 ms for 3 s: 160 B/s
    let mut buf = [0u8; 16];
    let mut got = 0;
    for _ in 0..30 {
        got += s.read(&mut buf).unwrap_or(0);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        srv.stats().open_connections,
        0,
        "the slow reader was dropped"
    );
    // what the kernels held is all that is left of the 8 MiB answer
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(
        got + rest.len() < 1 << 20,
        "{} bytes arrived",
        got + rest.len()
    );
    srv.stop();
}
