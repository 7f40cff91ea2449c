//! Batch routes over real sockets: one handler call per batch, columnar
//! replies, deferred replies completed from another thread, panics.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use fastserve::proto::flat::{Columns, FlatRecord, CT_TEXT};
use fastserve::server::{Batch, BatchHandler, Server, ServerConfig};

/// Tag 0: echo the target, as text. Tag 1: defer (answered by the test).
/// Tag 2: panic.
struct Echo {
    calls: AtomicUsize,
    largest: AtomicUsize,
    deferred: Mutex<mpsc::Sender<(u64, String)>>,
}

fn target(r: &FlatRecord, data: &[u8]) -> String {
    String::from_utf8(data[r.target_off as usize..(r.target_off + r.target_len) as usize].to_vec())
        .unwrap()
}

impl BatchHandler for Echo {
    fn call(&self, batch: &mut Batch<'_>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.largest
            .fetch_max(batch.records().len(), Ordering::Relaxed);
        let mut status = Vec::new();
        let mut body_lens = Vec::new();
        let mut data = Vec::new();
        let mut later = Vec::new();
        for r in batch.records() {
            match r.tag {
                0 => {
                    let t = target(r, batch.data());
                    status.push(200 | (CT_TEXT << 16));
                    body_lens.push(t.len() as u32);
                    data.extend_from_slice(t.as_bytes());
                }
                1 => {
                    later.push((r.id, target(r, batch.data())));
                    status.push(0);
                    body_lens.push(0);
                }
                _ => panic!("tag 2 panics"),
            }
        }
        let c = Columns {
            status: &status,
            header_lens: &[],
            body_lens: &body_lens,
            data: &data,
        };
        batch.respond(c).unwrap();
        // ids are completable once the respond call that deferred them returned
        let tx = self.deferred.lock().unwrap();
        for l in later {
            tx.send(l).unwrap();
        }
    }
}

fn server() -> (Server, SocketAddr, Arc<Echo>, mpsc::Receiver<(u64, String)>) {
    let (tx, rx) = mpsc::channel();
    let h = Arc::new(Echo {
        calls: AtomicUsize::new(0),
        largest: AtomicUsize::new(0),
        deferred: Mutex::new(tx),
    });
    let mut s = Server::new(ServerConfig::default());
    s.route_batch(Some(b"GET"), b"/echo/", true, 0).unwrap();
    s.route_batch(Some(b"GET"), b"/later/", true, 1).unwrap();
    s.route_batch(None, b"/panic", false, 2).unwrap();
    s.route_static(Some(b"GET"), b"/static", false, 200, b"", b"static")
        .unwrap();
    s.set_batch_handler(h.clone()).unwrap();
    let addr = s.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    s.start().unwrap();
    (s, addr, h, rx)
}

fn read_bodies(s: &mut TcpStream, n: usize) -> Vec<(u16, String)> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut tmp = [0u8; 65536];
    while out.len() < n {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .unwrap()
                    .parse()
                    .unwrap();
                if buf.len() >= end + 4 + len {
                    let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
                    out.push((head[9..12].parse().unwrap(), body));
                    buf.drain(..end + 4 + len);
                    break;
                }
            }
            let k = s.read(&mut tmp).unwrap();
            assert!(k > 0, "closed after {} responses", out.len());
            buf.extend_from_slice(&tmp[..k]);
        }
    }
    out
}

#[test]
fn pipelined_requests_reach_the_handler_in_batches() {
    let (srv, addr, h, _rx) = server();
    let mut s = TcpStream::connect(addr).unwrap();
    let mut reqs = Vec::new();
    for i in 0..100 {
        if i % 10 == 9 {
            reqs.extend_from_slice(b"GET /static HTTP/1.1\r\nHost: x\r\n\r\n");
        } else {
            reqs.extend_from_slice(format!("GET /echo/{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        }
    }
    s.write_all(&reqs).unwrap();
    let got = read_bodies(&mut s, 100);
    for (i, (status, body)) in got.iter().enumerate() {
        let want = if i % 10 == 9 {
            "static".to_string()
        } else {
            format!("/echo/{i}")
        };
        assert_eq!((*status, body), (200, &want));
    }
    assert!(h.largest.load(Ordering::Relaxed) > 1, "no batching");
    assert!(h.calls.load(Ordering::Relaxed) < 90);
    drop(srv);
}

#[test]
fn deferred_replies_complete_from_another_thread_in_order() {
    let (srv, addr, _h, rx) = server();
    let srv = Arc::new(srv);
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reqs = Vec::new();
    for i in 0..30 {
        let kind = if i % 3 == 0 { "later" } else { "echo" };
        reqs.extend_from_slice(format!("GET /{kind}/{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    s.write_all(&reqs).unwrap();
    // collect the 10 deferred ids, then answer them newest first, one call each
    let mut pending: Vec<(u64, String)> = (0..10)
        .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
        .collect();
    pending.reverse();
    let completer = {
        let srv = srv.clone();
        std::thread::spawn(move || {
            for (id, t) in pending {
                let body = format!("done {t}");
                let n = srv
                    .complete(
                        &[id],
                        Columns {
                            status: &[202],
                            header_lens: &[],
                            body_lens: &[body.len() as u32],
                            data: body.as_bytes(),
                        },
                    )
                    .unwrap();
                assert_eq!(n, 0);
                // the same id again is unknown
                let again = Columns {
                    status: &[202],
                    header_lens: &[],
                    body_lens: &[0],
                    data: b"",
                };
                assert_eq!(srv.complete(&[id], again).unwrap(), 1);
            }
        })
    };
    let got = read_bodies(&mut s, 30);
    completer.join().unwrap();
    for (i, (status, body)) in got.iter().enumerate() {
        if i % 3 == 0 {
            assert_eq!(
                (*status, body.as_str()),
                (202, format!("done /later/{i}").as_str())
            );
        } else {
            assert_eq!(
                (*status, body.as_str()),
                (200, format!("/echo/{i}").as_str())
            );
        }
    }
}

#[test]
fn a_panicking_handler_answers_its_batch_with_500() {
    let (_srv, addr, _h, _rx) = server();
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_bodies(&mut s, 1)[0].0, 500);
    s.write_all(b"GET /echo/after HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_bodies(&mut s, 1)[0], (200, "/echo/after".into()));
}

#[test]
fn batch_routes_without_a_handler_answer_500() {
    let mut s = Server::new(ServerConfig::default());
    s.route_batch(None, b"/x", false, 0).unwrap();
    let addr = s.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    s.start().unwrap();
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_bodies(&mut c, 1)[0].0, 500);
}

/// Answers every batch with one body (NUL included) in one respond_same
/// call, after checking that one reply too many is refused whole.
struct Same {
    too_many: Mutex<Vec<bool>>,
}

impl BatchHandler for Same {
    fn call(&self, batch: &mut Batch<'_>) {
        let n = batch.records().len();
        let refused = batch
            .respond_same(200 | (CT_TEXT << 16), n + 1, b"x")
            .is_err();
        self.too_many.lock().unwrap().push(refused);
        batch
            .respond_same(201 | (CT_TEXT << 16), n, b"same\0body")
            .unwrap();
    }
}

#[test]
fn respond_same_answers_the_whole_batch_with_one_body() {
    let h = Arc::new(Same {
        too_many: Mutex::new(Vec::new()),
    });
    let mut s = Server::new(ServerConfig::default());
    s.route_batch(Some(b"GET"), b"/same", false, 0).unwrap();
    s.route_static(Some(b"GET"), b"/static", false, 200, b"", b"static")
        .unwrap();
    s.set_batch_handler(h.clone()).unwrap();
    let addr = s.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    s.start().unwrap();
    let mut c = TcpStream::connect(addr).unwrap();
    let mut reqs = Vec::new();
    for i in 0..40 {
        let path: &[u8] = if i % 8 == 7 { b"/static" } else { b"/same" };
        reqs.extend_from_slice(&[b"GET ", path, b" HTTP/1.1\r\nHost: x\r\n\r\n"].concat());
    }
    c.write_all(&reqs).unwrap();
    for (i, got) in read_bodies(&mut c, 40).into_iter().enumerate() {
        let want = if i % 8 == 7 {
            (200, "static".to_string())
        } else {
            (201, "same\0body".to_string())
        };
        assert_eq!(got, want, "response {i}");
    }
    let refused = h.too_many.lock().unwrap();
    assert!(!refused.is_empty() && refused.iter().all(|&r| r));
}
