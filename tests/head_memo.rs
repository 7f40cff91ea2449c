//! A worker copies the head of a handler's response from the last one when
//! they are alike, and keeps a handler's fields from the last response when
//! they are the same bytes. Neither may ever show: every response here is
//! compared byte for byte with the head it must have, whatever came before
//! it on the connection, and its date is the current one.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fastserve::proto::date::http_date;
use fastserve::proto::flat::Columns;
use fastserve::proto::ExtBody;
use fastserve::server::{
    Batch, BatchHandler, Handler, ResponseBuilder, Routed, Server, ServerConfig,
};

/// The fields a letter of the query adds.
fn field(letter: u8) -> (&'static [u8], Vec<u8>) {
    match letter {
        b'a' => (b"X-A", b"1".to_vec()),
        b'e' => (b"X-A", b"2".to_vec()),
        b'b' => (b"Content-Type", b"text/plain".to_vec()),
        b'B' => (b"content-type", b"text/plain".to_vec()),
        b'c' => (b"X-Long", vec![b'v'; 40]),
        // a head longer than a worker keeps
        b'L' => (b"X-Larger", vec![b'w'; 5000]),
        // a value that reads as a second name and value
        b'd' => (b"X", b"a: b".to_vec()),
        _ => unreachable!(),
    }
}

fn body_of(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Answers `?status,letters,length[,how]`: the fields the letters name in
/// that order (`z` tries the refused `X: a` = `b` and then adds
/// `Refused: yes`), a body of `length` bytes copied, or written in place
/// (`m`), or sent from its own storage (`x`), or deferred and sent from
/// another thread (`d`).
struct Shape;
impl Handler for Shape {
    fn call(&self, req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        let q = std::str::from_utf8(req.query.ok_or(())?).map_err(|_| ())?;
        let parts: Vec<&str> = q.split(',').collect();
        let status: u16 = parts[0].parse().map_err(|_| ())?;
        let len: usize = parts[2].parse().map_err(|_| ())?;
        let how = parts.get(3).copied().unwrap_or("");
        res.status(status).map_err(|_| ())?;
        for &l in parts[1].as_bytes() {
            if l == b'z' {
                if res.header(b"X: a", b"b").is_ok() {
                    return Err(());
                }
                res.header(b"Refused", b"yes").map_err(|_| ())?;
                continue;
            }
            let (name, value) = field(l);
            res.header(name, &value).map_err(|_| ())?;
        }
        let body = body_of(len);
        if how == "d" {
            // answered later from another thread: the responses after it
            // wait behind it, rendered
            let mut d = res.defer().map_err(|_| ())?;
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(5));
                d.body(&body).unwrap();
                d.send().unwrap();
            });
            return Ok(());
        }
        match how {
            "m" => res.body_mut(len).map_err(|_| ())?.copy_from_slice(&body),
            "x" => res.body_ext(ExtBody::Owned(body)).map_err(|_| ())?,
            _ => res.body(&body).map_err(|_| ())?,
        }
        Ok(())
    }
}

/// One request of a test: the query, and whether it is a HEAD or an
/// HTTP/1.0 keep-alive request.
#[derive(Clone, Copy)]
struct Ask {
    query: &'static str,
    head: bool,
    http10: bool,
    /// Asked of the batch route, `/batch`, rather than the handler's.
    batch: bool,
}

fn ask(query: &'static str) -> Ask {
    Ask {
        query,
        head: false,
        http10: false,
        batch: false,
    }
}

/// The batch route's answers: the same shapes as `Shape`'s (the fields as
/// header lines, the body copied), a batch at a time.
struct BatchShape;
impl BatchHandler for BatchShape {
    fn call(&self, batch: &mut Batch<'_>) {
        let (mut status, mut header_lens, mut body_lens) = (Vec::new(), Vec::new(), Vec::new());
        let mut data = Vec::new();
        for r in batch.records() {
            let t = &batch.data()[r.target_off as usize..(r.target_off + r.target_len) as usize];
            let q = std::str::from_utf8(t).unwrap().split_once('?').unwrap().1;
            let parts: Vec<&str> = q.split(',').collect();
            let len: usize = parts[2].parse().unwrap();
            let mut lines = Vec::new();
            for &l in parts[1].as_bytes() {
                let (name, value) = field(l);
                lines.extend_from_slice(&[name, b": ", &value, b"\r\n"].concat());
            }
            status.push(parts[0].parse::<u32>().unwrap());
            header_lens.push(lines.len() as u32);
            body_lens.push(len as u32);
            data.extend_from_slice(&lines);
            data.extend_from_slice(&body_of(len));
        }
        let c = Columns {
            status: &status,
            header_lens: &header_lens,
            body_lens: &body_lens,
            data: &data,
        };
        batch.respond(c).unwrap();
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        _ => "",
    }
}

/// The response `a` must get, its date left as 29 `#`.
fn expected(a: &Ask) -> Vec<u8> {
    let parts: Vec<&str> = a.query.split(',').collect();
    let status: u16 = parts[0].parse().unwrap();
    let len: usize = parts[2].parse().unwrap();
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nServer: fastserve\r\nDate: {}\r\n",
        reason(status),
        "#".repeat(29)
    )
    .into_bytes();
    if status != 204 {
        out.extend_from_slice(format!("Content-Length: {len}\r\n").as_bytes());
    }
    if a.http10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    for &l in parts[1].as_bytes() {
        if l == b'z' {
            out.extend_from_slice(b"Refused: yes\r\n");
            continue;
        }
        let (name, value) = field(l);
        out.extend_from_slice(&[name, b": ", &value, b"\r\n"].concat());
    }
    out.extend_from_slice(b"\r\n");
    if status != 204 && !a.head {
        out.extend_from_slice(&body_of(len));
    }
    out
}

fn request(a: &Ask) -> Vec<u8> {
    let method = if a.head { "HEAD" } else { "GET" };
    let version = if a.http10 {
        "1.0\r\nConnection: keep-alive"
    } else {
        "1.1"
    };
    let path = if a.batch { "/batch" } else { "/shape" };
    format!(
        "{method} {path}?{} HTTP/{version}\r\nHost: x\r\n\r\n",
        a.query
    )
    .into_bytes()
}

/// Sends `asks` pipelined on `s` and returns each response with its date
/// cut out and the date.
fn exchange(s: &mut TcpStream, asks: &[Ask]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let raw: Vec<u8> = asks.iter().flat_map(request).collect();
    s.write_all(&raw).unwrap();
    let want: usize = asks.iter().map(|a| expected(a).len()).sum();
    let mut got = vec![0u8; want];
    s.read_exact(&mut got).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    for a in asks {
        let n = expected(a).len();
        let mut one = got[at..at + n].to_vec();
        at += n;
        let d = one
            .windows(8)
            .position(|w| w == b"\r\nDate: ")
            .expect("a Date field")
            + 8;
        let date = one[d..d + 29].to_vec();
        one[d..d + 29].fill(b'#');
        out.push((one, date));
    }
    out
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn serve() -> (Server, u16) {
    let mut srv = Server::new(ServerConfig {
        workers: 1,
        ..ServerConfig::default()
    });
    srv.route(Some(b"GET"), b"/shape", false, Arc::new(Shape))
        .unwrap();
    srv.route_batch(Some(b"GET"), b"/batch", false, 0).unwrap();
    srv.set_batch_handler(Arc::new(BatchShape)).unwrap();
    let port = srv.listen("127.0.0.1:0".parse().unwrap()).unwrap().port();
    srv.start().unwrap();
    (srv, port)
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn shapes() -> Vec<Ask> {
    vec![
        ask("200,ab,13"),
        ask("200,ab,13,m"),
        ask("200,ab,5"),
        ask("200,ab,123456"),
        ask("200,ba,13"),
        ask("200,Bb,13"),
        ask("200,a,13"),
        ask("200,e,13"),
        ask("200,ae,13"),
        ask("200,abc,100"),
        ask("200,,13"),
        ask("201,ab,13"),
        ask("204,ab,0"),
        ask("599,ab,3"),
        ask("200,ab,13,x"),
        ask("200,ab,13,d"),
        ask("200,b,7,d"),
        ask("200,d,2"),
        ask("200,dz,2"),
        ask("200,z,2"),
        ask("200,abcabcabcabc,1"),
        ask("200,aL,3"),
        ask("200,aLb,3"),
        Ask {
            head: true,
            ..ask("200,ab,13")
        },
        Ask {
            http10: true,
            ..ask("200,ab,13")
        },
    ]
}

#[test]
fn every_response_after_every_other_has_its_own_head() {
    each_after_each(&shapes(), &shapes());
}

#[test]
fn batch_answers_after_handler_answers_have_their_own_heads() {
    // a batch's answers go through the same memo as a handler's; the
    // shapes a batch reply can have, each way round
    let batch: Vec<Ask> = shapes()
        .into_iter()
        .filter(|a| {
            let how = a.query.split(',').nth(3).unwrap_or("");
            how.is_empty() && !a.query.contains('z')
        })
        .map(|a| Ask { batch: true, ..a })
        .collect();
    each_after_each(&batch, &shapes());
    each_after_each(&shapes(), &batch);
    each_after_each(&batch, &batch);
}

/// Each of `firsts` right before each of `seconds` (and the pairs one
/// after another), on one connection: every response as it must be, with
/// the current date.
fn each_after_each(firsts: &[Ask], seconds: &[Ask]) {
    let (srv, port) = serve();
    let mut s = connect(port);
    let before = now();
    for x in firsts {
        let asks: Vec<Ask> = seconds.iter().flat_map(|y| [*x, *y]).collect();
        for (a, (got, date)) in asks.iter().zip(exchange(&mut s, &asks)) {
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&expected(a)),
                "?{} after ?{}",
                a.query,
                x.query
            );
            let t = now();
            assert!(
                (before..=t).any(|s| http_date(s)[..] == date[..]),
                "{}",
                String::from_utf8_lossy(&date)
            );
        }
    }
    drop(s);
    srv.stop();
    srv.wait().unwrap();
}

#[test]
fn a_copied_head_gets_the_current_date() {
    let (srv, port) = serve();
    let mut s = connect(port);
    let same = [ask("200,ab,13"), ask("200,ab,13")];
    let first = exchange(&mut s, &same);
    assert_eq!(first[0].1, first[1].1, "one second apart at most");
    let mut later = first.clone();
    // the cached date moves once a second
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(200));
        later = exchange(&mut s, &same);
        if later[0].1 != first[0].1 {
            break;
        }
    }
    let t = now();
    for (got, date) in &later {
        assert_eq!(got, &expected(&same[0]));
        assert_ne!(date, &first[0].1, "the date never moved");
        assert!(
            (t - 2..=t).any(|s| http_date(s)[..] == date[..]),
            "{}",
            String::from_utf8_lossy(date)
        );
    }
    drop(s);
    srv.stop();
    srv.wait().unwrap();
}

/// The fields a letter of a C handler's query adds: `n` has the length of
/// `a` and a line feed for its value, `z` the name `X: a`.
fn c_field(letter: u8) -> (&'static [u8], &'static [u8]) {
    match letter {
        b'a' => (b"X-A", b"1"),
        b'n' => (b"X-A", b"\n"),
        b'd' => (b"X", b"a: b"),
        b'z' => (b"X: a", b"b"),
        _ => unreachable!(),
    }
}

/// Adds the fields its query's letters name through
/// `fastserve_response_header`, and `Refused: <letter>` for each refused.
unsafe extern "C" fn c_fields(
    req: *const fastserve::ffi::request::fastserve_request,
    res: *mut fastserve::ffi::request::fastserve_response,
    _: *mut std::ffi::c_void,
) -> std::ffi::c_int {
    use fastserve::ffi::fastserve_result::FASTSERVE_RESULT_OK;
    use fastserve::ffi::request::*;
    // SAFETY: `req` and `res` are the running call's; every pointer passed
    // is a live slice with its length.
    unsafe {
        let q = fastserve_request_query(req);
        for &l in std::slice::from_raw_parts(q.ptr.cast::<u8>(), q.len) {
            let (name, value) = c_field(l);
            let r = fastserve_response_header(
                res,
                name.as_ptr().cast(),
                name.len(),
                value.as_ptr().cast(),
                value.len(),
            );
            if r != FASTSERVE_RESULT_OK {
                let v = [l];
                fastserve_response_header(res, b"Refused".as_ptr().cast(), 7, v.as_ptr().cast(), 1);
            }
        }
        (fastserve_response_body(res, b"ok".as_ptr().cast(), 2) != FASTSERVE_RESULT_OK).into()
    }
}

#[test]
fn a_c_handler_field_like_the_last_ones_is_still_checked() {
    use fastserve::ffi::server::*;
    let queries = ["a", "n", "a", "an", "na", "d", "z", "d", "dz", "zd", "a"];
    // SAFETY: NULL asks for the defaults; `srv` is live until freed below
    // and every string is a live local.
    unsafe {
        let srv = fastserve_server_new(std::ptr::null());
        let r = fastserve_server_route(
            srv,
            b"GET".as_ptr().cast(),
            3,
            b"/c".as_ptr().cast(),
            2,
            0,
            Some(c_fields),
            std::ptr::null_mut(),
        );
        assert_eq!(r, fastserve::ffi::fastserve_result::FASTSERVE_RESULT_OK);
        let host = "127.0.0.1";
        fastserve_server_listen(srv, host.as_ptr().cast(), host.len(), 0);
        fastserve_server_start(srv);
        let mut s = connect(fastserve_server_port(srv));
        for x in queries {
            for y in queries {
                for q in [x, y] {
                    let req = format!("GET /c?{q} HTTP/1.1\r\nHost: x\r\n\r\n");
                    s.write_all(req.as_bytes()).unwrap();
                    let mut want = Vec::new();
                    for &l in q.as_bytes() {
                        let (name, value) = c_field(l);
                        let line = if name.contains(&b':') || value.contains(&b'\n') {
                            format!("Refused: {}\r\n", l as char).into_bytes()
                        } else {
                            [name, b": ", value, b"\r\n"].concat()
                        };
                        want.extend_from_slice(&line);
                    }
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        s.read_exact(&mut byte).unwrap();
                        head.push(byte[0]);
                    }
                    let mut body = [0u8; 2];
                    s.read_exact(&mut body).unwrap();
                    let cl = b"Content-Length: 2\r\n";
                    let fields = head
                        .windows(cl.len())
                        .position(|w| w == cl)
                        .expect("a length")
                        + cl.len();
                    assert_eq!(
                        String::from_utf8_lossy(&head[fields..head.len() - 2]),
                        String::from_utf8_lossy(&want),
                        "?{q} after ?{x}"
                    );
                }
            }
        }
        drop(s);
        fastserve_server_free(srv);
    }
}
