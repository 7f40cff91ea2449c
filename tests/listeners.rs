//! Listeners over real sockets: several at once (IPv4, IPv6, a Unix path
//! with its mode, an abstract name, an adopted descriptor), host names, the
//! C calls and their refusals; and the PROXY protocol: v1 and v2 headers
//! give handlers the client they name, and every bad header closes the
//! connection without a response.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::IntoRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fastserve::ffi::config::*;
use fastserve::ffi::error::fastserve_last_error;
use fastserve::ffi::fastserve_result::{self, *};
use fastserve::ffi::listen::*;
use fastserve::ffi::server::*;
use fastserve::proto::PeerAddr;
use fastserve::server::{
    Handler, ListenOptions, ResponseBuilder, Routed, Server, ServerConfig, Timeouts,
};

/// Answers the request's peer: "ip port", or "unix PATH".
struct PeerText;

impl Handler for PeerText {
    fn call(&self, req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        let text = match req.peer.map(|p| (p.addr().clone(), p.host().to_vec())) {
            Some((PeerAddr::Ip(a), _)) => format!("{} {}", a.ip(), a.port()),
            Some((PeerAddr::Unix, path)) => format!("unix {}", String::from_utf8_lossy(&path)),
            None => "none".into(),
        };
        res.body(text.as_bytes()).map_err(|_| ())
    }
}

fn server_with(cfg: ServerConfig) -> Server {
    let mut s = Server::new(cfg);
    s.route(Some(b"GET"), b"/peer", false, Arc::new(PeerText))
        .unwrap();
    s
}

fn server() -> Server {
    server_with(ServerConfig {
        workers: 2,
        ..ServerConfig::default()
    })
}

const GET: &[u8] = b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/// Writes `raw`, reads until the server closes; the body of the response.
fn exchange<S: Read + Write>(mut s: S, raw: &[u8]) -> String {
    s.write_all(raw).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text:?}");
    text.split_once("\r\n\r\n").unwrap().1.to_string()
}

fn tcp(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn unix(path: &std::path::Path) -> UnixStream {
    let s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn abstract_conn(name: &[u8]) -> UnixStream {
    let a = std::os::unix::net::SocketAddr::from_abstract_name(name).unwrap();
    let s = UnixStream::connect_addr(&a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fastserve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn has_ipv6_loopback() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn several_listeners_at_once() {
    let dir = temp_dir("several");
    let path = dir.join("app.sock");
    let name = format!("fastserve-test-{}", std::process::id());
    let mut s = server();
    let v4 = s.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let v6 = has_ipv6_loopback().then(|| s.listen("[::1]:0".parse().unwrap()).unwrap());
    let opts = ListenOptions {
        mode: Some(0o640),
        ..Default::default()
    };
    s.listen_unix(path.as_os_str().as_encoded_bytes(), &opts)
        .unwrap();
    s.listen_unix(format!("@{name}").as_bytes(), &ListenOptions::default())
        .unwrap();
    // a descriptor the test bound
    let mine = TcpListener::bind("127.0.0.1:0").unwrap();
    let adopted = mine.local_addr().unwrap();
    s.listen_fd(mine.into(), &ListenOptions::default()).unwrap();
    assert_eq!(s.local_addr(), Some(v4), "the first TCP listener");
    s.start().unwrap();

    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);

    // a few connections each, so that both workers get some
    for _ in 0..4 {
        assert_eq!(exchange(tcp(v4), GET).split(' ').next(), Some("127.0.0.1"));
        if let Some(v6) = v6 {
            assert_eq!(exchange(tcp(v6), GET).split(' ').next(), Some("::1"));
        }
        assert_eq!(exchange(unix(&path), GET), "unix ");
        assert_eq!(exchange(abstract_conn(name.as_bytes()), GET), "unix ");
        assert_eq!(
            exchange(tcp(adopted), GET).split(' ').next(),
            Some("127.0.0.1")
        );
    }
    s.stop();
    s.wait().unwrap();
    drop(s);
    assert!(!path.exists(), "the socket file is removed with the server");
}

#[test]
fn host_names_and_dual_stack() {
    let mut s = server();
    let bound = s
        .listen_host("localhost", 0, &ListenOptions::default())
        .unwrap();
    assert!(!bound.is_empty());
    let port = bound[0].port();
    assert!(bound
        .iter()
        .all(|a| a.ip().is_loopback() && a.port() == port));
    let dual = has_ipv6_loopback().then(|| {
        let b = s.listen_host("::", 0, &ListenOptions::default()).unwrap();
        b[0].port()
    });
    s.start().unwrap();
    for a in &bound {
        assert!(!exchange(tcp(*a), GET).is_empty());
    }
    if let Some(p) = dual {
        // `::` takes IPv4 too: the client shows as a mapped address
        let got = exchange(tcp(SocketAddr::from(([127, 0, 0, 1], p))), GET);
        assert!(got.starts_with("::ffff:127.0.0.1 "), "{got}");
        let got = exchange(tcp(SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], p))), GET);
        assert!(got.starts_with("::1 "), "{got}");
    }
}

#[test]
fn v6only_refuses_ipv4() {
    if !has_ipv6_loopback() {
        return;
    }
    let mut s = server();
    let opts = ListenOptions {
        v6only: true,
        ..Default::default()
    };
    let b = s.listen_host("::", 0, &opts).unwrap();
    // the same port on IPv4 is free: nothing took it
    let v4 = TcpListener::bind(("127.0.0.1", b[0].port()));
    assert!(v4.is_ok(), "{v4:?}");
}

#[test]
fn stale_and_live_socket_files() {
    let dir = temp_dir("stale");
    let path = dir.join("s.sock");
    // a socket file whose listener is gone
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let mut s = server();
    let p = path.as_os_str().as_encoded_bytes();
    s.listen_unix(p, &ListenOptions::default()).unwrap();
    s.start().unwrap();
    assert_eq!(exchange(unix(&path), GET), "unix ");
    // a second server refuses a socket that is served
    let mut t = server();
    let e = t.listen_unix(p, &ListenOptions::default()).unwrap_err();
    assert!(e.to_string().contains("another process listens"), "{e}");
    // and a path that is not a socket
    let file = dir.join("plain");
    std::fs::write(&file, b"keep me").unwrap();
    let e = t
        .listen_unix(
            file.as_os_str().as_encoded_bytes(),
            &ListenOptions::default(),
        )
        .unwrap_err();
    assert!(e.to_string().contains("not a socket"), "{e}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
}

// ---- PROXY protocol ----

fn proxy_server(timeout_ms: u64) -> (Server, SocketAddr, PathBuf) {
    let dir = temp_dir(&format!("proxy-{timeout_ms}"));
    let path = dir.join("lb.sock");
    let mut cfg = ServerConfig {
        workers: 1,
        ..ServerConfig::default()
    };
    cfg.timeouts = Timeouts {
        proxy_header: Duration::from_millis(timeout_ms),
        ..Timeouts::default()
    };
    let mut s = server_with(cfg);
    let opts = ListenOptions {
        proxy: true,
        ..Default::default()
    };
    let addr = s
        .listen_with("127.0.0.1:0".parse().unwrap(), &opts)
        .unwrap();
    s.listen_unix(path.as_os_str().as_encoded_bytes(), &opts)
        .unwrap();
    s.start().unwrap();
    (s, addr, path)
}

const SIG: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

fn v2(cmd: u8, fam: u8, addrs: &[u8], tlvs: &[u8]) -> Vec<u8> {
    let mut h = SIG.to_vec();
    h.push(0x20 | cmd);
    h.push(fam);
    h.extend_from_slice(&((addrs.len() + tlvs.len()) as u16).to_be_bytes());
    h.extend_from_slice(addrs);
    h.extend_from_slice(tlvs);
    h
}

fn v2_tcp4(tlvs: &[u8]) -> Vec<u8> {
    let addrs = [203, 0, 113, 9, 10, 0, 0, 1, 0xd4, 0x31, 0, 80]; // port 54321 → 80
    v2(1, 0x11, &addrs, tlvs)
}

#[test]
fn proxy_headers_name_the_client() {
    let (_s, addr, path) = proxy_server(5000);
    let with = |h: &[u8]| [h, GET].concat();
    let v1 = b"PROXY TCP4 198.51.100.7 10.0.0.1 40000 80\r\n";
    assert_eq!(exchange(tcp(addr), &with(v1)), "198.51.100.7 40000");
    let v1_6 = b"PROXY TCP6 2001:db8::5 2001:db8::1 4242 443\r\n";
    assert_eq!(exchange(tcp(addr), &with(v1_6)), "2001:db8::5 4242");
    // UNKNOWN: the socket's own peer
    let got = exchange(tcp(addr), &with(b"PROXY UNKNOWN\r\n"));
    assert!(got.starts_with("127.0.0.1 "), "{got}");

    // v2 with TLVs (ALPN, authority, a NOOP): skipped
    let tlvs = [
        &[0x01, 0, 8][..],
        b"http/1.1",
        &[0x02, 0, 11],
        b"example.com",
        &[0x04, 0, 3, 0, 0, 0],
    ]
    .concat();
    assert_eq!(
        exchange(tcp(addr), &with(&v2_tcp4(&tlvs))),
        "203.0.113.9 54321"
    );
    let mut a6 = Vec::new();
    a6.extend_from_slice(
        &"2001:db8::42"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    a6.extend_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    a6.extend_from_slice(&[0x30, 0x39, 0x01, 0xbb]);
    assert_eq!(
        exchange(tcp(addr), &with(&v2(1, 0x21, &a6, &[]))),
        "2001:db8::42 12345"
    );
    // LOCAL (a health check): the socket's own peer
    let got = exchange(tcp(addr), &with(&v2(0, 0x00, &[], &[])));
    assert!(got.starts_with("127.0.0.1 "), "{got}");
    let got = exchange(tcp(addr), &with(&v2(0, 0x11, &[1; 12], &[])));
    assert!(got.starts_with("127.0.0.1 "), "{got}");

    // over the Unix socket too, and in pieces
    let mut c = unix(&path);
    let all = with(&v2_tcp4(&[]));
    for piece in all.chunks(5) {
        c.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(exchange(c, b""), "203.0.113.9 54321");

    // keep-alive: the header once, then requests
    let mut c = tcp(addr);
    c.write_all(v1).unwrap();
    for _ in 0..3 {
        c.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 512];
        let n = c.read(&mut buf).unwrap();
        let t = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(t.ends_with("198.51.100.7 40000"), "{t}");
    }
}

/// The server closes the connection without writing a byte.
fn closed_silently<S: Read + Write>(mut c: S, raw: &[u8]) {
    let _ = c.write_all(raw);
    let mut out = Vec::new();
    match c.read_to_end(&mut out) {
        Ok(_) => assert!(out.is_empty(), "got {:?}", String::from_utf8_lossy(&out)),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
}

#[test]
fn bad_proxy_headers_close_without_a_response() {
    let (_s, addr, path) = proxy_server(300);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("missing", GET.to_vec()),
        (
            "malformed v1",
            [&b"PROXY TCP4 1.2.3.999 1.2.3.4 1 2\r\n"[..], GET].concat(),
        ),
        (
            "v1 without CR",
            [&b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n"[..], GET].concat(),
        ),
        (
            "v1 too long",
            [&b"PROXY TCP4 "[..], &[b'1'; 200], GET].concat(),
        ),
        ("bad v2 version", {
            let mut h = v2_tcp4(&[]);
            h[12] = 0x11;
            [h, GET.to_vec()].concat()
        }),
        (
            "short v2 addresses",
            [v2(1, 0x11, &[0; 4], &[]), GET.to_vec()].concat(),
        ),
        ("not even a prefix", b"\r\n\r\nGET".to_vec()),
    ];
    for (what, raw) in &cases {
        eprintln!("{what}");
        closed_silently(tcp(addr), raw);
        closed_silently(unix(&path), raw);
    }
    // truncated: the client stops halfway and shuts its side
    let h = v2_tcp4(&[]);
    let mut c = tcp(addr);
    c.write_all(&h[..20]).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    closed_silently(c, b"");
    let mut c = tcp(addr);
    c.write_all(b"PROXY TCP4 1.2.3.4").unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    closed_silently(c, b"");
    // slow: half a header, then nothing; the header timeout (300 ms) closes it
    closed_silently(tcp(addr), &h[..20]);
    closed_silently(unix(&path), b"PROXY TCP4 1.2.");
    closed_silently(tcp(addr), b"");
}

// ---- the C calls ----

fn last_error() -> String {
    // SAFETY: a NUL-terminated thread-local string.
    unsafe { std::ffi::CStr::from_ptr(fastserve_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// The inode behind `fd`, if open. Tests run in parallel and reuse
/// descriptor numbers: a closed descriptor is one no longer on its inode.
fn inode(fd: i32) -> Option<u64> {
    // SAFETY: a zeroed stat is valid; fstat fills it or fails.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        (libc::fstat(fd, &mut st) == 0).then_some(st.st_ino)
    }
}

#[test]
fn c_calls_and_refusals() {
    // SAFETY: each pointer is valid for its length; the server is freed once.
    unsafe {
        let srv = fastserve_server_new(std::ptr::null());
        let dir = temp_dir("ffi");
        let path = dir.join("c.sock");
        let p = path.as_os_str().as_encoded_bytes();
        let host = b"127.0.0.1";
        let r = fastserve_server_listen_tcp(srv, host.as_ptr().cast(), host.len(), 0, 8);
        assert_eq!(r, FASTSERVE_RESULT_INVALID_ARGUMENT);
        assert_eq!(last_error(), "unknown listen flags 0x8");
        let r = fastserve_server_listen_unix(srv, p.as_ptr().cast(), p.len(), 0o10000, 0);
        assert_eq!(r, FASTSERVE_RESULT_INVALID_ARGUMENT);
        assert_eq!(last_error(), "mode 0o10000 is not a permission mode");
        let r = fastserve_server_listen_unix(srv, std::ptr::null(), 3, 0, 0);
        assert_eq!(r, FASTSERVE_RESULT_NULL_ARGUMENT);
        let r = fastserve_server_listen_unix(srv, b"".as_ptr().cast(), 0, 0, 0);
        assert_eq!(r, FASTSERVE_RESULT_INVALID_ARGUMENT);
        assert!(
            last_error().contains("empty or has a NUL byte"),
            "{}",
            last_error()
        );

        // listen_fd: a negative fd; one that is not a socket (closed);
        // a socket that does not listen (closed); NULL srv (closed)
        let r = fastserve_server_listen_fd(srv, -1, 0);
        assert_eq!(r, FASTSERVE_RESULT_INVALID_ARGUMENT);
        assert_eq!(last_error(), "descriptor -1 is negative");
        let file = std::fs::File::open("/dev/null").unwrap().into_raw_fd();
        let ino = inode(file);
        assert_eq!(
            fastserve_server_listen_fd(srv, file, 0),
            FASTSERVE_RESULT_INVALID_ARGUMENT
        );
        assert!(
            last_error().ends_with("is not a socket"),
            "{}",
            last_error()
        );
        assert_ne!(inode(file), ino, "a refused descriptor is closed");
        let sock = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .into_raw_fd();
        let ino = inode(sock);
        assert_eq!(
            fastserve_server_listen_fd(srv, sock, 0),
            FASTSERVE_RESULT_INVALID_ARGUMENT
        );
        assert!(
            last_error().ends_with("is not a stream socket"),
            "{}",
            last_error()
        );
        assert_ne!(inode(sock), ino);
        let s2 = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let unlistened = s2.into_raw_fd();
        let ino = inode(unlistened);
        assert_eq!(
            fastserve_server_listen_fd(srv, unlistened, 0),
            FASTSERVE_RESULT_INVALID_ARGUMENT
        );
        assert!(
            last_error().contains("is not listening"),
            "{}",
            last_error()
        );
        assert_ne!(inode(unlistened), ino);
        let l = TcpListener::bind("127.0.0.1:0").unwrap().into_raw_fd();
        let ino = inode(l);
        assert_eq!(
            fastserve_server_listen_fd(std::ptr::null_mut(), l, 0),
            FASTSERVE_RESULT_NULL_ARGUMENT
        );
        assert_ne!(inode(l), ino);

        // systemd: nothing was passed to this process
        let r = fastserve_server_listen_systemd(srv, std::ptr::null(), 0, 0);
        assert_eq!(r, FASTSERVE_RESULT_INVALID_ARGUMENT);
        assert!(last_error().contains("LISTEN_PID"), "{}", last_error());

        // and the calls that work: the port is the first TCP listener's
        assert_eq!(fastserve_server_port(srv), 0);
        let name = b"localhost";
        let r = fastserve_server_listen_tcp(
            srv,
            name.as_ptr().cast(),
            name.len(),
            0,
            FASTSERVE_LISTEN_PROXY,
        );
        assert_eq!(r, FASTSERVE_RESULT_OK, "{}", last_error());
        let port = fastserve_server_port(srv);
        assert_ne!(port, 0);
        let r = fastserve_server_listen_unix(srv, p.as_ptr().cast(), p.len(), 0o600, 0);
        assert_eq!(r, FASTSERVE_RESULT_OK, "{}", last_error());
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let adopted = l.local_addr().unwrap();
        let fd = l.into_raw_fd();
        let ino = inode(fd);
        assert_eq!(fastserve_server_listen_fd(srv, fd, 0), FASTSERVE_RESULT_OK);
        assert_eq!(fastserve_server_port(srv), port);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fastserve_server_start(srv), FASTSERVE_RESULT_OK);
        let mut c = unix(&path);
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 404"), "{out}");
        // the PROXY listener wants a header first
        closed_silently(tcp(SocketAddr::from(([127, 0, 0, 1], port))), GET);
        let mut c = tcp(adopted);
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 404"), "{out}");
        fastserve_server_stop(srv);
        fastserve_server_free(srv);
        assert_ne!(
            inode(fd),
            ino,
            "the adopted descriptor is closed with the server"
        );
        assert!(!path.exists());

        // the header timeout knob
        let cfg = fastserve_config_new();
        assert_eq!(
            fastserve_config_set_proxy_header_timeout_ms(cfg, 0),
            FASTSERVE_RESULT_INVALID_ARGUMENT
        );
        assert_eq!(
            fastserve_config_set_proxy_header_timeout_ms(cfg, 250),
            FASTSERVE_RESULT_OK
        );
        fastserve_config_free(cfg);
    }
    let _ = fastserve_result::FASTSERVE_RESULT_OK;
}

#[test]
fn stop_closes_connections_waiting_for_their_header() {
    let mut cfg = ServerConfig {
        workers: 1,
        shutdown_grace: Duration::from_secs(120),
        ..ServerConfig::default()
    };
    cfg.timeouts.proxy_header = Duration::from_secs(120);
    let mut s = server_with(cfg);
    let opts = ListenOptions {
        proxy: true,
        ..Default::default()
    };
    let addr = s
        .listen_with("127.0.0.1:0".parse().unwrap(), &opts)
        .unwrap();
    s.start().unwrap();
    let mut c = tcp(addr);
    c.write_all(b"PROXY TCP4 1.2.").unwrap();
    // the server has the connection once a full request on another gets through
    let full = [&b"PROXY UNKNOWN\r\n"[..], GET].concat();
    assert!(!exchange(tcp(addr), &full).is_empty());
    s.stop();
    // well before either timeout: nothing was started on it, nothing to finish
    closed_silently(c, b"");
    s.wait().unwrap();
}
