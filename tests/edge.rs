//! The request target and Host rules of RFC 9112 §3.2 over real sockets:
//! what is refused with 400 and a close, how an absolute-form target is
//! routed, `OPTIONS *` and CONNECT.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use fastserve::server::{Handler, ResponseBuilder, Routed, Server, ServerConfig};

/// Answers what the handler sees: path, query, target and Host.
struct Echo;

impl Handler for Echo {
    fn call(&self, req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        let s =
            |b: Option<&[u8]>| b.map_or("-".into(), |b| String::from_utf8_lossy(b).into_owned());
        let body = format!(
            "path={} query={} target={} host={}",
            s(Some(req.path)),
            s(req.query),
            s(Some(req.target)),
            s(req.header(b"host")),
        );
        res.body(body.as_bytes()).map_err(|_| ())
    }
}

/// A CONNECT route that declines the tunnel.
struct Decline;

impl Handler for Decline {
    fn call(&self, _req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        res.status(403).map_err(|_| ())?;
        res.body(b"no tunnel").map_err(|_| ())
    }
}

fn server(star: bool) -> (Server, SocketAddr) {
    let mut srv = Server::new(ServerConfig::default());
    srv.route(Some(b"GET"), b"/echo", false, Arc::new(Echo))
        .unwrap();
    srv.route(Some(b"GET"), b"/", false, Arc::new(Echo))
        .unwrap();
    srv.route_static(Some(b"POST"), b"/items/{id}", false, 201, b"", b"made")
        .unwrap();
    srv.route(Some(b"CONNECT"), b"tunnel:443", false, Arc::new(Decline))
        .unwrap();
    if star {
        srv.route(Some(b"OPTIONS"), b"*", false, Arc::new(Echo))
            .unwrap();
    }
    let addr = srv.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    srv.start().unwrap();
    (srv, addr)
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The server closed the connection after the answer.
    closed: bool,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn body(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// Sends `raw` on a new connection, then `GET /echo` after it, and reads
/// the first answer and whether the second one came.
fn ask(addr: SocketAddr, raw: &str) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // One write: the server reads both requests before it answers, so a
    // refusal's close finds no unread input (which the kernel would answer
    // with a reset that can beat the answer to the client).
    let both = format!("{raw}GET /echo HTTP/1.1\r\nHost: next\r\n\r\n");
    s.write_all(both.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
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
        closed: false,
    };
    let len: usize = a.header("content-length").unwrap().parse().unwrap();
    a.body = vec![0; len];
    r.read_exact(&mut a.body).unwrap();
    // the second request is answered unless the connection closed
    line.clear();
    a.closed = r.read_line(&mut line).unwrap() == 0;
    a
}

fn refused(a: &Answer, what: &str) {
    assert_eq!(a.status, 400, "{what}");
    assert_eq!(a.header("connection"), Some("close"), "{what}");
    assert!(a.closed, "{what}: the connection stays open");
}

/// Reads every answer on a connection that the client half-closes.
fn ask_all(addr: SocketAddr, raw: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn host_is_required_once_and_valid() {
    let (srv, addr) = server(false);
    refused(&ask(addr, "GET /echo HTTP/1.1\r\n\r\n"), "no Host");
    refused(
        &ask(
            addr,
            "GET /echo HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nhost: a\r\n\r\n",
        ),
        "two Hosts",
    );
    for bad in [
        "a b",
        "a/b",
        "user@a",
        "a:99999",
        "a:http",
        "[::1",
        "caf\u{e9}",
    ] {
        refused(
            &ask(addr, &format!("GET /echo HTTP/1.1\r\nHost: {bad}\r\n\r\n")),
            &format!("Host: {bad}"),
        );
    }
    for good in ["example.com:8080", "127.0.0.1", "[::1]:80", ""] {
        let a = ask(addr, &format!("GET /echo HTTP/1.1\r\nHost: {good}\r\n\r\n"));
        assert_eq!(a.status, 200, "Host: {good}");
        assert!(a.body().ends_with(&format!("host={good}")), "{}", a.body());
        assert!(!a.closed);
    }
    // HTTP/1.0 may leave it out; two are still refused
    let a = ask(addr, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(
        (a.status, a.body()),
        (200, "path=/echo query=- target=/echo host=-")
    );
    refused(
        &ask(addr, "GET /echo HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
        "two Hosts in HTTP/1.0",
    );
    srv.stop();
    srv.wait().unwrap();
}

#[test]
fn absolute_form_routes_by_its_path_and_its_authority_is_the_host() {
    let (srv, addr) = server(false);
    let a = ask(
        addr,
        "GET http://example.com:8080/echo?a=1&b HTTP/1.1\r\nHost: elsewhere\r\n\r\n",
    );
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body(),
        "path=/echo query=a=1&b target=http://example.com:8080/echo?a=1&b host=example.com:8080"
    );
    assert!(!a.closed);
    // an empty path is "/"
    let a = ask(
        addr,
        "GET HTTPS://example.com?x HTTP/1.1\r\nHost: e\r\n\r\n",
    );
    assert_eq!(
        (a.status, a.body()),
        (
            200,
            "path=/ query=x target=HTTPS://example.com?x host=example.com"
        )
    );
    let a = ask(addr, "POST http://h/items/7 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((a.status, a.body()), (201, "made"));
    // still HTTP/1.1: Host is required
    refused(&ask(addr, "GET http://h/echo HTTP/1.1\r\n\r\n"), "no Host");
    for bad in [
        "ftp://h/echo",
        "http:///echo",
        "http://user@h/echo",
        "http://h:70000/echo",
        "http:h/echo",
        "echo",
    ] {
        refused(
            &ask(addr, &format!("GET {bad} HTTP/1.1\r\nHost: h\r\n\r\n")),
            bad,
        );
    }
    srv.stop();
    srv.wait().unwrap();
}

fn methods(allow: &str) -> Vec<&str> {
    let mut m: Vec<&str> = allow.split(", ").collect();
    m.sort_unstable();
    m
}

#[test]
fn options_asterisk_lists_the_servers_methods_and_only_options_takes_it() {
    let (srv, addr) = server(false);
    let a = ask(addr, "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((a.status, a.body()), (200, ""));
    assert_eq!(
        methods(a.header("allow").unwrap()),
        ["CONNECT", "GET", "HEAD", "OPTIONS", "POST"]
    );
    assert!(!a.closed);
    for m in ["GET", "HEAD", "POST", "DELETE"] {
        refused(&ask(addr, &format!("{m} * HTTP/1.1\r\nHost: h\r\n\r\n")), m);
    }
    // an any-method route stands for the usual methods
    srv.stop();
    srv.wait().unwrap();
    let mut srv = Server::new(ServerConfig::default());
    srv.route(None, b"/any", false, Arc::new(Echo)).unwrap();
    let addr = srv.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    srv.start().unwrap();
    let a = ask(addr, "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(
        methods(a.header("allow").unwrap()),
        ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
    );
    srv.stop();
    srv.wait().unwrap();
    // a route for "*" answers it instead
    let (srv, addr) = server(true);
    let a = ask(addr, "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(
        (a.status, a.body()),
        (200, "path=* query=- target=* host=h")
    );
    srv.stop();
    srv.wait().unwrap();
}

#[test]
fn connect_is_405_unless_a_route_takes_it() {
    let (srv, addr) = server(false);
    let a = ask(
        addr,
        "CONNECT other:443 HTTP/1.1\r\nHost: other:443\r\n\r\n",
    );
    assert_eq!(a.status, 405);
    assert_eq!(
        methods(a.header("allow").unwrap()),
        ["GET", "HEAD", "OPTIONS", "POST"]
    );
    assert!(!a.closed);
    let a = ask(
        addr,
        "CONNECT tunnel:443 HTTP/1.1\r\nHost: tunnel:443\r\n\r\n",
    );
    assert_eq!((a.status, a.body()), (403, "no tunnel"));
    // an authority needs a port, and only CONNECT takes one
    refused(
        &ask(addr, "CONNECT tunnel HTTP/1.1\r\nHost: tunnel\r\n\r\n"),
        "CONNECT without a port",
    );
    refused(
        &ask(addr, "CONNECT /echo HTTP/1.1\r\nHost: h\r\n\r\n"),
        "CONNECT to a path",
    );
    for m in ["GET", "POST", "OPTIONS"] {
        refused(
            &ask(addr, &format!("{m} tunnel:443 HTTP/1.1\r\nHost: h\r\n\r\n")),
            &format!("{m} to an authority"),
        );
    }
    // the refusal comes after the answers owed before it
    let out = ask_all(
        addr,
        "GET /echo HTTP/1.1\r\nHost: a\r\n\r\nGET * HTTP/1.1\r\nHost: a\r\n\r\nGET /echo HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    // (a body has no line end: the next status line follows it)
    let statuses: Vec<&str> = out
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &out[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "400"]);
    srv.stop();
    srv.wait().unwrap();
}
