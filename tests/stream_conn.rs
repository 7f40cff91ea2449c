//! Streamed responses and protocol switches through the connection core:
//! framing, order among pipelined responses, the errors a producer can make,
//! and the handover of the connection.

use std::io::IoSlice;

use fastserve::parse::Header;
use fastserve::proto::date::DATE_LEN;
use fastserve::proto::{
    Body, BodyPiece, BodyPlan, BufPool, Conn, Ctx, Flow, ProtoConfig, Request, Responder, Response,
    Service, StreamError, Ticket,
};

/// Streams `/s*` (deferring the start for `/sd`), answers the rest at once.
#[derive(Default)]
struct Svc {
    streams: Vec<Ticket>,
    deferred: Vec<Ticket>,
    /// Pieces of streamed request bodies: (seq, piece).
    pieces: Vec<(u64, String)>,
    /// Pause after each piece.
    pause: bool,
}

impl Service for Svc {
    fn body_plan(&mut self, req: &Request<'_>) -> BodyPlan {
        BodyPlan {
            max_body: req.path.starts_with(b"/in").then_some(10),
            stream: req.path.starts_with(b"/in"),
        }
    }

    fn body(&mut self, seq: u64, piece: BodyPiece<'_>) -> Flow {
        let p = match piece {
            BodyPiece::Data(d) => String::from_utf8_lossy(d).into_owned(),
            BodyPiece::End => "<end>".into(),
            BodyPiece::Aborted => "<aborted>".into(),
        };
        self.pieces.push((seq, p));
        if self.pause {
            Flow::Pause
        } else {
            Flow::Continue
        }
    }

    fn handle(&mut self, req: &Request<'_>, res: &mut Responder<'_>) {
        match req.path {
            b"/in" => {
                assert!(req.body_follows && req.body.is_empty());
                res.read_body();
                self.deferred.push(res.defer());
            }
            b"/in-later" | b"/in-unread" => self.deferred.push(res.defer()),
            b"/in-answered" => res.send(Response::empty(403)),
            _ if req.method == b"CONNECT" => self.deferred.push(res.defer()),
            b"/sd" => self.deferred.push(res.defer()),
            b"/up" => res.upgrade(101, b"Upgrade: lines\r\n"),
            b"/slen" => self.streams.push(res.stream(200, b"X-A: 1\r\n", Some(6))),
            p if p.starts_with(b"/s") => self.streams.push(res.stream(200, b"", None)),
            p => res.send(Response {
                status: 200,
                headers: b"",
                body: Body::Copy(p),
            }),
        }
    }
}

struct Rig {
    conn: Conn,
    svc: Svc,
    cfg: ProtoConfig,
    pool: BufPool,
    date: [u8; DATE_LEN],
}

impl Rig {
    fn new() -> Self {
        Rig {
            conn: Conn::new(),
            svc: Svc::default(),
            cfg: ProtoConfig::default(),
            pool: BufPool::new(4096, 16),
            date: *b"Mon, 30 Nov 2026 09:00:00 GMT",
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        let mut headers = vec![Header::EMPTY; 100];
        self.conn.feed(bytes, &mut self.pool, &self.cfg.limits);
        let mut ctx = Ctx {
            cfg: &self.cfg,
            pool: &mut self.pool,
            date: &self.date,
        };
        self.conn.process(&mut self.svc, &mut ctx, &mut headers);
    }

    /// Calls `f` with the connection and a context for it.
    fn call<R>(&mut self, f: impl FnOnce(&mut Conn, &mut Ctx<'_>) -> R) -> R {
        let mut ctx = Ctx {
            cfg: &self.cfg,
            pool: &mut self.pool,
            date: &self.date,
        };
        f(&mut self.conn, &mut ctx)
    }

    fn write(&mut self, seq: u64, data: &[u8]) -> Result<(), StreamError> {
        self.call(|conn, ctx| conn.stream_write(seq, Body::Copy(data), ctx))
    }

    fn end(&mut self, seq: u64, trailers: &[u8]) -> Result<(), StreamError> {
        self.call(|conn, ctx| conn.stream_end(seq, trailers, ctx))
    }

    /// Everything written so far, with the date blanked.
    fn take(&mut self) -> String {
        let mut iov = [IoSlice::new(&[]); 64];
        let n = self.conn.iovecs(&mut iov);
        let bytes: Vec<u8> = iov[..n].iter().flat_map(|s| s.iter().copied()).collect();
        let len = bytes.len();
        self.conn.written(len, &mut self.pool);
        String::from_utf8(bytes)
            .unwrap()
            .replace(std::str::from_utf8(&self.date).unwrap(), "D")
    }
}

#[test]
fn chunked_stream_between_pipelined_responses() {
    let mut r = Rig::new();
    r.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /s HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    let s = r.svc.streams[0].seq;
    assert_eq!(
        r.take(),
        "HTTP/1.1 200 OK\r\nDate: D\r\nContent-Length: 2\r\n\r\n/a\
         HTTP/1.1 200 OK\r\nDate: D\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    r.write(s, b"hello").unwrap();
    r.write(s, b"").unwrap();
    assert_eq!(r.take(), "5\r\nhello\r\n", "/b waits behind the stream");
    r.end(s, b"X-Sum: 5\r\n").unwrap();
    assert_eq!(
        r.take(),
        "0\r\nX-Sum: 5\r\n\r\nHTTP/1.1 200 OK\r\nDate: D\r\nContent-Length: 2\r\n\r\n/b"
    );
    assert_eq!(r.end(s, b""), Err(StreamError::Unknown));
    assert!(!r.conn.should_close());
}

#[test]
fn deferred_stream_waits_its_turn_then_flushes() {
    let mut r = Rig::new();
    r.send(b"GET /sd HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.take(), "");
    let t = r.svc.deferred[0];
    r.call(|conn, ctx| {
        assert!(conn.stream_start(t, 201, b"", Some(3), ctx));
        assert!(
            !conn.stream_start(t, 201, b"", Some(3), ctx),
            "started once"
        );
    });
    r.write(t.seq, b"ab").unwrap();
    assert_eq!(r.write(t.seq, b"cd"), Err(StreamError::TooLong));
    r.write(t.seq, b"c").unwrap();
    r.end(t.seq, b"X-Ignored: 1\r\n").unwrap();
    assert_eq!(
        r.take(),
        "HTTP/1.1 201 Created\r\nDate: D\r\nContent-Length: 3\r\n\r\nabc\
         HTTP/1.1 200 OK\r\nDate: D\r\nContent-Length: 2\r\n\r\n/c"
    );
}

#[test]
fn stream_behind_a_pending_response_is_held_in_order() {
    let mut r = Rig::new();
    r.send(b"GET /sd HTTP/1.1\r\nHost: x\r\n\r\nGET /s HTTP/1.1\r\nHost: x\r\n\r\n");
    let (t, s) = (r.svc.deferred[0], r.svc.streams[0].seq);
    r.write(s, b"xy").unwrap();
    r.end(s, b"").unwrap();
    assert_eq!(r.take(), "", "the stream waits for the deferred response");
    r.call(|conn, ctx| {
        assert!(conn.complete(t, Response::empty(204), ctx));
    });
    assert_eq!(
        r.take(),
        "HTTP/1.1 204 No Content\r\nDate: D\r\n\r\n\
         HTTP/1.1 200 OK\r\nDate: D\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n"
    );
    assert!(r.conn.is_idle());
}

#[test]
fn http10_stream_without_length_ends_with_the_connection() {
    let mut r = Rig::new();
    r.send(b"GET /s HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /a HTTP/1.0\r\n\r\n");
    let s = r.svc.streams[0].seq;
    r.write(s, b"body").unwrap();
    r.end(s, b"X-T: 1\r\n").unwrap();
    assert_eq!(
        r.take(),
        "HTTP/1.1 200 OK\r\nDate: D\r\nConnection: close\r\n\r\nbody",
        "no request after it is answered"
    );
    assert!(r.conn.should_close());
}

#[test]
fn head_gets_the_head_only() {
    let mut r = Rig::new();
    r.send(b"HEAD /slen HTTP/1.1\r\nHost: x\r\n\r\n");
    let s = r.svc.streams[0].seq;
    r.write(s, b"abcdef").unwrap();
    r.end(s, b"").unwrap();
    assert_eq!(
        r.take(),
        "HTTP/1.1 200 OK\r\nDate: D\r\nContent-Length: 6\r\nX-A: 1\r\n\r\n"
    );
}

#[test]
fn short_stream_and_abort_close_the_connection() {
    let mut r = Rig::new();
    r.send(b"GET /slen HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    let s = r.svc.streams[0].seq;
    r.write(s, b"abc").unwrap();
    assert_eq!(r.end(s, b""), Err(StreamError::TooShort));
    assert!(r.take().ends_with("\r\n\r\nabc"), "/a is dropped");
    assert!(r.conn.should_close());

    let mut r = Rig::new();
    r.send(b"GET /s HTTP/1.1\r\nHost: x\r\n\r\n");
    let s = r.svc.streams[0].seq;
    r.write(s, b"abc").unwrap();
    r.call(|conn, ctx| {
        conn.stream_abort(s, ctx);
    });
    assert!(
        r.take().ends_with("3\r\nabc\r\n"),
        "no last chunk: the client sees the cut"
    );
    assert!(r.conn.should_close());
}

#[test]
fn no_body_for_204() {
    let mut r = Rig::new();
    r.send(b"GET /sd HTTP/1.1\r\nHost: x\r\n\r\n");
    let t = r.svc.deferred[0];
    r.call(|conn, ctx| {
        assert!(conn.stream_start(t, 204, b"", None, ctx));
    });
    assert_eq!(r.write(t.seq, b"x"), Err(StreamError::NoBody));
    r.end(t.seq, b"").unwrap();
    assert_eq!(r.take(), "HTTP/1.1 204 No Content\r\nDate: D\r\n\r\n");
}

#[test]
fn upgrade_hands_over_after_earlier_responses_with_the_bytes_past_it() {
    let mut r = Rig::new();
    r.send(b"GET /sd HTTP/1.1\r\nHost: x\r\n\r\nGET /up HTTP/1.1\r\nHost: x\r\nUpgrade: lines\r\nConnection: upgrade\r\n\r\nhello\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(!r.conn.upgraded(), "an earlier response is pending");
    assert!(
        !r.conn.wants_read(&r.cfg.limits),
        "the engine reads no more"
    );
    let t = r.svc.deferred[0];
    r.call(|conn, ctx| {
        assert!(conn.complete(t, Response::empty(200), ctx));
    });
    assert!(!r.conn.upgraded(), "not yet written");
    assert_eq!(
        r.take(),
        "HTTP/1.1 200 OK\r\nDate: D\r\nContent-Length: 0\r\n\r\n\
         HTTP/1.1 101 Switching Protocols\r\nDate: D\r\nConnection: upgrade\r\nUpgrade: lines\r\n\r\n"
    );
    assert!(r.conn.upgraded());
    assert!(!r.conn.should_close());
    assert_eq!(
        r.conn.take_upgrade(&mut r.pool),
        b"hello\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    );
}

#[test]
fn deferred_upgrade_drops_what_the_client_sent_against_the_protocol() {
    let mut r = Rig::new();
    r.send(
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let t = r.svc.deferred[0];
    assert_eq!(r.take(), "", "/a waits behind the CONNECT");
    r.call(|conn, ctx| {
        assert!(conn.complete_upgrade(t, 200, b"", ctx));
    });
    assert_eq!(
        r.take(),
        "HTTP/1.1 200 OK\r\nDate: D\r\n\r\n",
        "no framing, nothing after"
    );
    assert!(r.conn.upgraded());
}

fn pieces(r: &Rig) -> Vec<&str> {
    r.svc.pieces.iter().map(|(_, p)| p.as_str()).collect()
}

#[test]
fn streamed_body_arrives_in_pieces_then_the_next_request() {
    let mut r = Rig::new();
    r.send(b"POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\nabc");
    assert_eq!(pieces(&r), ["abc"]);
    r.send(b"defgGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(pieces(&r), ["abc", "defg", "<end>"]);
    let t = r.svc.deferred[0];
    r.call(|conn, ctx| {
        assert!(conn.complete(t, Response::empty(201), ctx));
    });
    let out = r.take();
    assert!(
        out.starts_with("HTTP/1.1 201 Created\r\n") && out.ends_with("\r\n\r\n/a"),
        "{out}"
    );
}

#[test]
fn streamed_chunked_body_with_pause_and_resume() {
    let mut r = Rig::new();
    r.svc.pause = true;
    r.send(
        b"POST /in-later HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
    );
    assert!(pieces(&r).is_empty());
    assert_eq!(r.take(), "", "no 100 Continue before the handler reads");
    assert!(
        !r.conn.wants_read(&r.cfg.limits),
        "nothing is read before the handler asks"
    );
    let seq = r.svc.deferred[0].seq;
    r.call(|conn, ctx| {
        assert!(conn.read_body(seq, ctx));
    });
    assert_eq!(r.take(), "HTTP/1.1 100 Continue\r\n\r\n");
    assert!(r.conn.wants_read(&r.cfg.limits));
    r.send(b"3\r\nabc\r\n2\r\nde\r\n");
    assert_eq!(
        pieces(&r),
        ["abcde"],
        "decoded in place, one piece per read"
    );
    assert!(!r.conn.wants_read(&r.cfg.limits), "paused");
    r.call(|conn, ctx| {
        conn.read_body(seq, ctx);
    });
    r.send(b"1\r\nf\r\n0\r\n\r\n");
    assert_eq!(pieces(&r), ["abcde", "f", "<end>"]);
}

#[test]
fn streamed_body_past_the_route_limit_is_413() {
    let mut r = Rig::new();
    r.send(b"POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n");
    assert!(
        r.take().starts_with("HTTP/1.1 413 "),
        "known too long before reading"
    );
    assert!(r.conn.should_close());

    let mut r = Rig::new();
    r.send(b"POST /in HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n");
    assert_eq!(
        pieces(&r),
        ["<aborted>"],
        "16 bytes decoded at once: none passed on"
    );
    let out = r.take();
    assert!(
        out.starts_with("HTTP/1.1 413 ") && out.contains("Connection: close"),
        "{out}"
    );
    assert!(r.conn.should_close());
}

#[test]
fn a_body_the_handler_does_not_want_closes_the_connection() {
    let mut r = Rig::new();
    r.send(b"POST /in-answered HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcdeGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(r.take().starts_with("HTTP/1.1 403 "));
    assert!(pieces(&r).is_empty() && r.conn.should_close());

    let mut r = Rig::new();
    r.send(b"POST /in-unread HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n");
    let t = r.svc.deferred[0];
    r.call(|conn, ctx| {
        assert!(conn.complete(t, Response::empty(200), ctx));
    });
    assert!(r.take().contains("Connection: close"));
    assert!(r.conn.should_close());
}

#[test]
fn client_leaving_mid_body_aborts_it() {
    let mut r = Rig::new();
    r.send(b"POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nabc");
    r.conn.received_eof();
    r.send(b"");
    assert_eq!(pieces(&r), ["abc", "<aborted>"]);
    assert!(r.conn.should_close() || r.take().contains("Connection: close"));
}
