//! Routing over real sockets: the table in tests/routing/cases.tsv (which
//! the Python routers are tested against too), pattern and method errors at
//! registration, the 405 with Allow on the app's own page, HEAD.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use fastserve::server::{Handler, ResponseBuilder, Routed, Server, ServerConfig, ServerError};

/// Answers "NAME name=value ..." with the route's parameters.
struct Named(String);

impl Handler for Named {
    fn call(&self, req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        let mut body = self.0.as_bytes().to_vec();
        for i in 0..req.param_count() {
            let (n, v) = req.param_at(i).ok_or(())?;
            body.push(b' ');
            body.extend_from_slice(n);
            body.push(b'=');
            body.extend_from_slice(v);
        }
        res.body(&body).map_err(|_| ())
    }
}

struct Table {
    routes: Vec<Vec<String>>,
    cases: Vec<Vec<String>>,
}

fn table() -> Table {
    let text = include_str!("routing/cases.tsv");
    let mut t = Table {
        routes: vec![],
        cases: vec![],
    };
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<String> = line.split('\t').map(str::to_owned).collect();
        match f[0].as_str() {
            "route" => t.routes.push(f[1..].to_vec()),
            "case" => t.cases.push(f[1..].to_vec()),
            other => panic!("unknown line kind {other}"),
        }
    }
    t
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response; `head_only` for an answer to HEAD.
fn read_answer(r: &mut BufReader<TcpStream>, head_only: bool) -> Answer {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = vec![];
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').unwrap();
        headers.push((n.to_owned(), v.trim().to_owned()));
    }
    let mut a = Answer {
        status,
        headers,
        body: vec![],
    };
    if !head_only {
        let n: usize = a.header("content-length").unwrap().parse().unwrap();
        a.body = vec![0; n];
        r.read_exact(&mut a.body).unwrap();
    }
    a
}

fn connect(addr: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = BufReader::new(s.try_clone().unwrap());
    (s, r)
}

fn ask(s: &mut TcpStream, r: &mut BufReader<TcpStream>, method: &str, target: &str) -> Answer {
    write!(s, "{method} {target} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    read_answer(r, method == "HEAD")
}

#[test]
fn the_shared_table() {
    let t = table();
    let mut srv = Server::new(ServerConfig::default());
    for r in &t.routes {
        let method = (r[1] != "*").then(|| r[1].as_bytes());
        let prefix = r.get(3).is_some_and(|f| f == "prefix");
        srv.route(
            method,
            r[2].as_bytes(),
            prefix,
            Arc::new(Named(r[0].clone())),
        )
        .unwrap();
    }
    let addr = srv.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    srv.start().unwrap();
    let (mut s, mut r) = connect(addr);
    for c in &t.cases {
        let a = ask(&mut s, &mut r, &c[0], &c[1]);
        let want: u16 = c[2].parse().unwrap();
        let what = format!("{} {}", c[0], c[1]);
        assert_eq!(a.status, want, "{what}");
        match want {
            200 => assert_eq!(String::from_utf8_lossy(&a.body), c[3], "{what}"),
            405 => assert_eq!(a.header("allow"), Some(c[3].as_str()), "{what}"),
            _ => assert_eq!(a.header("allow"), None, "{what}"),
        }
    }
    srv.stop();
    srv.wait().unwrap();
}

#[test]
fn head_follows_get_and_a_custom_405_still_says_allow() {
    let mut srv = Server::new(ServerConfig::default());
    srv.route(
        Some(b"GET"),
        b"/users/{id}",
        false,
        Arc::new(Named("u".into())),
    )
    .unwrap();
    srv.route_static(Some(b"POST"), b"/users/{id}", false, 201, b"", b"made")
        .unwrap();
    srv.error_page(405, b"Content-Type: text/html\r\n", b"<p>no</p>")
        .unwrap();
    let addr = srv.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    srv.start().unwrap();
    let (mut s, mut r) = connect(addr);
    let a = ask(&mut s, &mut r, "HEAD", "/users/7");
    assert_eq!((a.status, a.header("content-length")), (200, Some("6")));
    let a = ask(&mut s, &mut r, "POST", "/users/7");
    assert_eq!((a.status, &a.body[..]), (201, &b"made"[..]));
    let a = ask(&mut s, &mut r, "PATCH", "/users/7");
    assert_eq!(a.status, 405);
    assert_eq!(a.header("allow"), Some("GET, HEAD, POST"));
    assert_eq!(a.header("content-type"), Some("text/html"));
    assert_eq!(a.body, b"<p>no</p>");
    // a 404 to a HEAD: the head only, and the connection goes on
    let a = ask(&mut s, &mut r, "HEAD", "/nowhere");
    assert_eq!(a.status, 404);
    let a = ask(&mut s, &mut r, "GET", "/users/%E2%82%AC");
    assert_eq!(a.body, "u id=€".as_bytes());
    let a = ask(&mut s, &mut r, "GET", "/users/%FF%00");
    assert_eq!(a.body, b"u id=\xff\x00");
    srv.stop();
    srv.wait().unwrap();
}

#[test]
fn bad_patterns_and_methods_are_refused_at_registration() {
    let mut srv = Server::new(ServerConfig::default());
    let h = || Arc::new(Named("x".into()));
    for (method, path, prefix, why) in [
        (
            Some(&b"G ET"[..]),
            &b"/a"[..],
            false,
            "method \"G ET\" is not a token",
        ),
        (Some(b""), b"/a", false, "is not a token"),
        (Some(b"GET"), b"/a/{id", false, "unbalanced braces"),
        (Some(b"GET"), b"/a/{}", false, "needs a name"),
        (
            Some(b"GET"),
            b"/{x}/{x}",
            false,
            "parameter \"x\" appears twice",
        ),
        (
            Some(b"GET"),
            b"/{rest*}/x",
            false,
            "must be the last segment",
        ),
        (Some(b"GET"), b"/a/v{x}", false, "whole segment"),
        (
            Some(b"GET"),
            b"/a/{x}",
            true,
            "prefix route takes no parameters",
        ),
    ] {
        match srv.route(method, path, prefix, h()) {
            Err(e @ ServerError::Route(_)) => {
                assert!(e.to_string().contains(why), "{e}")
            }
            other => panic!("{path:?}: {other:?}"),
        }
    }
    assert!(srv.route(Some(b"PURGE"), b"/ok/{x}", false, h()).is_ok());
}

/// Exact paths are scanned while few and hashed past eight: both ways find
/// every path, and none of its near misses, whatever the table's size.
#[test]
fn exact_paths_are_found_in_small_and_large_tables() {
    let base = [
        "/",
        "/a",
        "/abcdefg",
        "/abcdefgh",
        "/abcdefgi",
        "/abcdefgh1",
        "/abcdefgh2",
        "/abcdefgh12345678",
        "/abcdefgh12345679",
        "/plaintext",
        "/plaintexts",
    ];
    for n in [3, 8, 9, base.len()] {
        let mut srv = Server::new(ServerConfig::default());
        let paths = &base[..n];
        for (i, p) in paths.iter().enumerate() {
            let method: &[u8] = if i % 2 == 0 { b"GET" } else { b"POST" };
            srv.route(
                Some(method),
                p.as_bytes(),
                false,
                Arc::new(Named(format!("r{i}"))),
            )
            .unwrap();
        }
        let addr = srv.listen("127.0.0.1:0".parse().unwrap()).unwrap();
        srv.start().unwrap();
        let (mut s, mut r) = connect(addr);
        for (i, p) in paths.iter().enumerate() {
            let (method, other) = if i % 2 == 0 {
                ("GET", "POST")
            } else {
                ("POST", "GET")
            };
            let a = ask(&mut s, &mut r, method, p);
            assert_eq!(
                (a.status, &a.body[..]),
                (200, format!("r{i}").as_bytes()),
                "{n} paths: {p}"
            );
            let a = ask(&mut s, &mut r, other, p);
            assert_eq!(a.status, 405, "{n} paths: {other} {p}");
        }
        for miss in [
            "/b",
            "/abcdefgj",
            "/abcdefgh3",
            "/abcdefgh1234567",
            "/plaintexx",
            "/Plaintext",
            "//",
        ] {
            if paths.contains(&miss) {
                continue;
            }
            let a = ask(&mut s, &mut r, "GET", miss);
            assert_eq!(a.status, 404, "{n} paths: {miss}");
        }
        srv.stop();
        srv.wait().unwrap();
    }
}
