//! A deferred response's end hook is told once how it ended: sent, answered
//! 503 by the request timeout, or left behind by its client; completing it
//! afterwards is a harmless no-op.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fastserve::server::{EndReason, Handler, ResponseBuilder, Routed, Server, ServerConfig};

/// Defers with an end hook; `/now` answers from another thread at once, the
/// rest never (their builders are kept until the test drops them).
struct Watched {
    ends: Mutex<Sender<EndReason>>,
    kept: Mutex<Vec<Box<ResponseBuilder>>>,
}

impl Handler for Watched {
    fn call(&self, req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        let mut d = res.defer().map_err(|_| ())?;
        let tx = self.ends.lock().unwrap().clone();
        d.on_end(Box::new(move |why| tx.send(why).unwrap()))
            .map_err(|_| ())?;
        if req.path == b"/now" {
            std::thread::spawn(move || {
                d.body(b"now").unwrap();
                d.send().unwrap();
            });
        } else {
            self.kept.lock().unwrap().push(d);
        }
        Ok(())
    }
}

#[test]
fn end_hooks_hear_sent_timeout_and_gone() {
    let (tx, rx) = channel();
    let w = Arc::new(Watched {
        ends: Mutex::new(tx),
        kept: Mutex::new(Vec::new()),
    });
    let mut cfg = ServerConfig::default();
    cfg.timeouts.request = Duration::from_millis(300);
    let mut srv = Server::new(cfg);
    srv.route(None, b"/", true, w.clone()).unwrap();
    let addr = srv.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    srv.start().unwrap();
    let ask = |path: &str| {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        s
    };
    let wait = || rx.recv_timeout(Duration::from_secs(5)).unwrap();

    let mut s = ask("/now");
    assert_eq!(wait(), EndReason::Sent);
    let mut b = [0u8; 256];
    let n = s.read(&mut b).unwrap();
    assert!(b[..n].ends_with(b"now"));

    let mut s = ask("/slow");
    assert_eq!(wait(), EndReason::Timeout);
    let n = s.read(&mut b).unwrap();
    assert!(b[..n].starts_with(b"HTTP/1.1 503 "));

    let s = ask("/gone");
    std::thread::sleep(Duration::from_millis(50));
    drop(s);
    assert_eq!(wait(), EndReason::Gone);

    // completing them now changes nothing and breaks nothing
    for mut d in w.kept.lock().unwrap().drain(..) {
        d.body(b"late").unwrap();
        d.send().unwrap();
    }
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "each hook is told once"
    );
    srv.stop();
}
