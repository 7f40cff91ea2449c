//! The sans-I/O C API (`fastserve_conn_*`) called as C would call it.

use std::ffi::c_char;
use std::ptr;

use fastserve::ffi::batch::{
    fastserve_batch_request, FASTSERVE_BATCH_HEAD, FASTSERVE_BATCH_QUERY, FASTSERVE_CT_TEXT,
};
use fastserve::ffi::conn::*;
use fastserve::ffi::fastserve_result::{self, *};

struct C(*mut fastserve_conn);

impl Drop for C {
    fn drop(&mut self) {
        // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
        unsafe { fastserve_conn_free(self.0) }
    }
}

impl C {
    fn new() -> C {
        // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
        let c = unsafe { fastserve_conn_new(ptr::null()) };
        assert!(!c.is_null());
        C(c)
    }

    /// Feeds bytes; returns (method, target, body, id, flags) of each new request.
    fn feed(&self, data: &[u8]) -> Vec<(String, String, Vec<u8>, u64, u32)> {
        let mut b = fastserve_conn_batch {
            requests: ptr::null(),
            count: 0,
            data: ptr::null(),
            data_len: 0,
        };
        assert_eq!(
            // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
            unsafe { fastserve_conn_feed(self.0, data.as_ptr().cast(), data.len(), &mut b) },
            FASTSERVE_RESULT_OK
        );
        requests(&b)
    }

    fn output(&self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let mut iov = [fastserve_iovec {
                base: ptr::null(),
                len: 0,
            }; 4];
            // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
            let n = unsafe { fastserve_conn_output(self.0, iov.as_mut_ptr(), iov.len()) };
            if n == 0 {
                return out;
            }
            let mut total = 0;
            for v in &iov[..n] {
                // SAFETY: the iovecs point into the connection's output until `written`.
                out.extend_from_slice(unsafe {
                    std::slice::from_raw_parts(v.base.cast::<u8>(), v.len)
                });
                total += v.len;
            }
            assert_eq!(
                // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
                unsafe { fastserve_conn_written(self.0, total) },
                FASTSERVE_RESULT_OK
            );
        }
    }

    fn respond(&self, id: u64, status: u16, headers: &str, body: &[u8]) -> fastserve_result {
        // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
        unsafe {
            fastserve_conn_respond(
                self.0,
                id,
                status,
                headers.as_ptr().cast(),
                headers.len(),
                body.as_ptr().cast(),
                body.len(),
            )
        }
    }
}

fn requests(b: &fastserve_conn_batch) -> Vec<(String, String, Vec<u8>, u64, u32)> {
    if b.count == 0 {
        return Vec::new();
    }
    // the data area directly follows the records
    // SAFETY: the batch view stays valid until the next feed on this connection.
    assert_eq!(b.data, unsafe { b.requests.add(b.count) }.cast::<c_char>());
    let recs: &[fastserve_batch_request] =
        // SAFETY: the batch view stays valid until the next feed on this connection.
        unsafe { std::slice::from_raw_parts(b.requests, b.count) };
    // SAFETY: the batch view stays valid until the next feed on this connection.
    let data = unsafe { std::slice::from_raw_parts(b.data.cast::<u8>(), b.data_len) };
    let s = |o: u32, l: u32| data[o as usize..(o + l) as usize].to_vec();
    recs.iter()
        .map(|r| {
            (
                String::from_utf8(s(r.method_off, r.method_len)).unwrap(),
                String::from_utf8(s(r.target_off, r.target_len)).unwrap(),
                s(r.body_off, r.body_len),
                r.id,
                r.flags,
            )
        })
        .collect()
}

fn bodies(out: &[u8]) -> Vec<(u16, String)> {
    let mut rest = out;
    let mut v = Vec::new();
    while !rest.is_empty() {
        let end = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = std::str::from_utf8(&rest[..end]).unwrap();
        let status = head[9..12].parse().unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        let body_len = if head.contains("X-Head: 1") { 0 } else { len };
        v.push((
            status,
            String::from_utf8_lossy(&rest[end..end + body_len]).into_owned(),
        ));
        rest = &rest[end + body_len..];
    }
    v
}

#[test]
fn pipelined_batch_answered_out_of_order_leaves_in_order() {
    let c = C::new();
    let reqs = c.feed(b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\nHost: x\r\n\r");
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        (reqs[0].0.as_str(), reqs[0].1.as_str(), reqs[0].3),
        ("GET", "/a?x=1", 0)
    );
    assert!(reqs[0].4 & FASTSERVE_BATCH_QUERY != 0);
    assert_eq!(
        (reqs[1].0.as_str(), &reqs[1].2[..], reqs[1].3),
        ("POST", &b"abc"[..], 1)
    );
    let more = c.feed(b"\nHEAD /d HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        more.iter().map(|r| (r.1.as_str(), r.3)).collect::<Vec<_>>(),
        [("/c", 2), ("/d", 3)]
    );
    assert!(more[1].4 & FASTSERVE_BATCH_HEAD != 0);
    // answer backwards: nothing leaves until request 0 is answered
    assert_eq!(
        c.respond(3, 200, "X-Head: 1\r\n", b"head body"),
        FASTSERVE_RESULT_OK
    );
    assert_eq!(c.respond(2, 201, "", b"c"), FASTSERVE_RESULT_OK);
    assert_eq!(
        c.respond(1, 200, "Content-Type: text/plain\r\n", b"b"),
        FASTSERVE_RESULT_OK
    );
    assert!(c.output().is_empty());
    // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
    assert_eq!(unsafe { fastserve_conn_pending(c.0) }, 1);
    assert_eq!(c.respond(0, 404, "", b"a"), FASTSERVE_RESULT_OK);
    let out = c.output();
    assert_eq!(
        bodies(&out),
        [
            (404, "a".into()),
            (200, "b".into()),
            (201, "c".into()),
            (200, "".into())
        ]
    );
    assert!(String::from_utf8_lossy(&out).contains("Content-Length: 9\r\n"));
    // an id answered twice, or never issued
    assert_eq!(
        c.respond(0, 200, "", b""),
        FASTSERVE_RESULT_INVALID_ARGUMENT
    );
    assert_eq!(
        c.respond(99, 200, "", b""),
        FASTSERVE_RESULT_INVALID_ARGUMENT
    );
    // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
    assert!(!unsafe { fastserve_conn_should_close(c.0) });
}

#[test]
fn batch_replies_with_lengths_nul_separated_and_left_for_later() {
    let c = C::new();
    let reqs = c.feed(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3));
    let ids: Vec<u64> = reqs.iter().map(|r| r.3).collect();
    let text = 200 | (FASTSERVE_CT_TEXT << 16);
    // reply 1 is left for later (status 0), the others NUL-separated
    let status = [text, 0, text];
    let data = b"one\0\0three";
    let mut unknown = 7;
    // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
    let r = unsafe {
        fastserve_conn_respond_batch(
            c.0,
            ids.as_ptr(),
            status.as_ptr(),
            ptr::null(),
            ptr::null(),
            3,
            data.as_ptr().cast(),
            data.len(),
            &mut unknown,
        )
    };
    assert_eq!((r, unknown), (FASTSERVE_RESULT_OK, 0));
    assert_eq!(bodies(&c.output()), [(200, "one".into())]);
    let (hl, bl) = ([6u32], [3u32]);
    let data = b"X: y\r\ntwo";
    // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
    let r = unsafe {
        fastserve_conn_respond_batch(
            c.0,
            ids[1..].as_ptr(),
            [201u32].as_ptr(),
            hl.as_ptr(),
            bl.as_ptr(),
            1,
            data.as_ptr().cast(),
            data.len(),
            ptr::null_mut(),
        )
    };
    assert_eq!(r, FASTSERVE_RESULT_OK);
    let out = c.output();
    assert!(String::from_utf8_lossy(&out).contains("X: y\r\n"));
    assert_eq!(bodies(&out), [(201, "two".into()), (200, "three".into())]);
    // lengths that do not add up are refused whole
    // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
    let r = unsafe {
        fastserve_conn_respond_batch(
            c.0,
            ids.as_ptr(),
            status.as_ptr(),
            ptr::null(),
            bl.as_ptr(),
            1,
            b"xx".as_ptr().cast(),
            2,
            ptr::null_mut(),
        )
    };
    assert_eq!(r, FASTSERVE_RESULT_INVALID_ARGUMENT);
}

#[test]
fn refused_header_lines_answer_500() {
    let c = C::new();
    let reqs = c.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        c.respond(reqs[0].3, 200, "Content-Length: 1\r\n", b"x"),
        FASTSERVE_RESULT_INVALID_ARGUMENT
    );
    assert_eq!(
        c.respond(reqs[1].3, 200, "X: a\r\nInjected\r\n", b"x"),
        FASTSERVE_RESULT_INVALID_ARGUMENT
    );
    assert_eq!(bodies(&c.output()), [(500, "".into()), (500, "".into())]);
}

#[test]
fn errors_close_and_connection_close() {
    let c = C::new();
    assert!(c.feed(b"GET / HTTP/1.1\r\nHost : x\r\n\r\n").is_empty());
    assert!(c.output().starts_with(b"HTTP/1.1 400 "));
    // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
    assert!(unsafe { fastserve_conn_should_close(c.0) });

    let c = C::new();
    let reqs = c.feed(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(reqs.len(), 1);
    // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
    assert!(!unsafe { fastserve_conn_wants_read(c.0) });
    c.respond(reqs[0].3, 200, "", b"bye");
    assert!(String::from_utf8_lossy(&c.output()).contains("Connection: close"));
    // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
    assert!(unsafe { fastserve_conn_should_close(c.0) });

    let c = C::new();
    let reqs = c.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut b = fastserve_conn_batch {
        requests: ptr::null(),
        count: 9,
        data: ptr::null(),
        data_len: 0,
    };
    assert_eq!(
        // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
        unsafe { fastserve_conn_feed_eof(c.0, &mut b) },
        FASTSERVE_RESULT_OK
    );
    assert_eq!(b.count, 0);
    // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
    assert!(!unsafe { fastserve_conn_should_close(c.0) }); // one answer still owed
    c.respond(reqs[0].3, 200, "", b"last");
    c.output();
    // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
    assert!(unsafe { fastserve_conn_should_close(c.0) });
}

#[test]
fn shutdown_answers_the_request_being_received_with_close() {
    let shutdown = |c: &C| {
        // SAFETY: `c.0` is a live connection from fastserve_conn_new.
        assert_eq!(unsafe { fastserve_conn_shutdown(c.0) }, FASTSERVE_RESULT_OK);
    };
    // SAFETY: as above, for every call below.
    let should_close = |c: &C| unsafe { fastserve_conn_should_close(c.0) };

    // half a head at the shutdown: read to its end, answered, the last
    let c = C::new();
    let reqs = c.feed(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    c.respond(reqs[0].3, 200, "", b"a");
    assert!(!String::from_utf8_lossy(&c.output()).contains("Connection: close"));
    assert!(c.feed(b"GET /b HTTP/1.1\r\nHo").is_empty());
    shutdown(&c);
    assert!(!should_close(&c));
    let reqs = c.feed(b"st: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].1, "/b");
    c.respond(reqs[0].3, 200, "", b"b");
    assert!(String::from_utf8_lossy(&c.output()).contains("Connection: close"));
    assert!(should_close(&c));

    // an answer still owed: it says close when it is the last
    let c = C::new();
    let reqs = c.feed(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    shutdown(&c);
    assert!(c.feed(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n").is_empty());
    c.respond(reqs[0].3, 200, "", b"a");
    assert!(String::from_utf8_lossy(&c.output()).contains("Connection: close"));
    assert!(should_close(&c));

    // idle after an answer: closes at once; a fresh connection waits for one
    let c = C::new();
    let reqs = c.feed(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    c.respond(reqs[0].3, 200, "", b"a");
    c.output();
    shutdown(&c);
    assert!(should_close(&c));
    let c = C::new();
    shutdown(&c);
    assert!(!should_close(&c));
    let reqs =
        c.feed(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(reqs.len(), 1);
    c.respond(reqs[0].3, 200, "", b"first");
    assert!(String::from_utf8_lossy(&c.output()).contains("Connection: close"));
    assert!(should_close(&c));
}

#[test]
fn backpressure_holds_requests_until_written() {
    let c = C::new();
    let all = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(300);
    let first = c.feed(&all);
    assert_eq!(first.len(), 128); // the default pipelining limit
                                  // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
    assert!(!unsafe { fastserve_conn_wants_read(c.0) });
    for r in &first {
        c.respond(r.3, 200, "", b"x");
    }
    assert_eq!(bodies(&c.output()).len(), 128);
    let next = c.feed(b"");
    assert_eq!(next.len(), 128);
    assert_eq!(next[0].3, 128);
}

#[test]
fn partial_writes_and_null_arguments() {
    let c = C::new();
    let reqs = c.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    c.respond(reqs[0].3, 200, "", &[b'z'; 10_000]);
    // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
    let total = unsafe { fastserve_conn_unsent(c.0) };
    assert!(total > 10_000);
    assert_eq!(
        // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
        unsafe { fastserve_conn_written(c.0, total + 1) },
        FASTSERVE_RESULT_INVALID_ARGUMENT
    );
    assert_eq!(
        // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
        unsafe { fastserve_conn_written(c.0, 100) },
        FASTSERVE_RESULT_OK
    );
    // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
    assert_eq!(unsafe { fastserve_conn_unsent(c.0) }, total - 100);
    assert_eq!(c.output().len(), total - 100);

    // SAFETY: `c.0` is a live connection from fastserve_conn_new; other pointers are live locals.
    unsafe {
        assert_eq!(
            fastserve_conn_feed(ptr::null_mut(), ptr::null(), 0, ptr::null_mut()),
            FASTSERVE_RESULT_NULL_ARGUMENT
        );
        assert_eq!(
            fastserve_conn_feed(c.0, ptr::null(), 5, ptr::null_mut()),
            FASTSERVE_RESULT_NULL_ARGUMENT
        );
        assert_eq!(
            fastserve_conn_respond(c.0, 0, 200, ptr::null(), 3, ptr::null(), 0),
            FASTSERVE_RESULT_NULL_ARGUMENT
        );
        assert_eq!(fastserve_conn_output(ptr::null(), ptr::null_mut(), 4), 0);
        assert!(fastserve_conn_should_close(ptr::null()));
        assert!(!fastserve_conn_wants_read(ptr::null()));
        assert_eq!(
            fastserve_conn_shutdown(ptr::null_mut()),
            FASTSERVE_RESULT_NULL_ARGUMENT
        );
        fastserve_conn_free(ptr::null_mut());
    }
}

fn blank_date(out: &[u8]) -> String {
    let s = String::from_utf8(out.to_vec()).unwrap();
    let mut lines: Vec<&str> = s.split("\r\n").collect();
    for l in &mut lines {
        if l.starts_with("Date: ") {
            *l = "Date: D";
        }
    }
    lines.join("\r\n")
}

#[test]
fn streamed_response_then_the_next_one() {
    use fastserve::ffi::conn_stream::*;
    let c = C::new();
    let reqs = c.feed(b"GET /s HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    let (s, b) = (reqs[0].3, reqs[1].3);
    assert_eq!(c.respond(b, 200, "", b"b"), FASTSERVE_RESULT_OK);
    let h = "Content-Type: text/plain\r\n";
    // SAFETY: `c.0` is a live connection; other pointers are live locals.
    unsafe {
        assert_eq!(
            fastserve_conn_stream_start(c.0, s, 200, h.as_ptr().cast(), h.len(), -1),
            FASTSERVE_RESULT_OK
        );
        assert_eq!(
            fastserve_conn_stream_start(c.0, s, 200, ptr::null(), 0, -1),
            FASTSERVE_RESULT_INVALID_ARGUMENT,
            "started once"
        );
        assert_eq!(
            fastserve_conn_stream_write(c.0, s, "abc".as_ptr().cast(), 3),
            FASTSERVE_RESULT_OK
        );
    }
    assert_eq!(
        blank_date(&c.output()),
        "HTTP/1.1 200 OK\r\nServer: fastserve\r\nDate: D\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
    );
    let t = "X-N: 1\r\n";
    // SAFETY: as above.
    unsafe {
        assert_eq!(
            fastserve_conn_stream_end(c.0, s, t.as_ptr().cast(), t.len(), false),
            FASTSERVE_RESULT_OK
        );
        assert_eq!(
            fastserve_conn_stream_write(c.0, s, "x".as_ptr().cast(), 1),
            FASTSERVE_RESULT_INVALID_ARGUMENT
        );
    }
    assert_eq!(
        blank_date(&c.output()),
        "0\r\nX-N: 1\r\n\r\nHTTP/1.1 200 OK\r\nServer: fastserve\r\nDate: D\r\nContent-Length: 1\r\n\r\nb"
    );
}

#[test]
fn upgrade_hands_the_rest_over() {
    use fastserve::ffi::conn_stream::*;
    let c = C::new();
    let reqs = c.feed(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nfirst bytes",
    );
    let h = "Upgrade: x\r\n";
    // SAFETY: `c.0` is a live connection; other pointers are live locals.
    unsafe {
        assert_eq!(
            fastserve_conn_upgrade(c.0, reqs[0].3, 101, h.as_ptr().cast(), h.len()),
            FASTSERVE_RESULT_OK
        );
        assert!(!fastserve_conn_upgraded(c.0), "not written yet");
    }
    let out = blank_date(&c.output());
    assert!(
        out.starts_with("HTTP/1.1 101 Switching Protocols\r\n")
            && out.contains("Connection: upgrade\r\nUpgrade: x\r\n\r\n")
    );
    // SAFETY: as above.
    unsafe {
        assert!(fastserve_conn_upgraded(c.0));
        assert!(!fastserve_conn_wants_read(c.0));
        let n = fastserve_conn_upgrade_rest(c.0, ptr::null_mut(), 0);
        let mut buf = vec![0u8; n];
        assert_eq!(
            fastserve_conn_upgrade_rest(c.0, buf.as_mut_ptr().cast(), n),
            11
        );
        assert_eq!(buf, b"first bytes");
    }
}
