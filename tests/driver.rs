//! The event loop knob: `ServerConfig::driver` and `FASTSERVE_DRIVER` pick
//! epoll or io_uring, both serve the same, and where the kernel refuses
//! io_uring (here a seccomp filter) the server runs on epoll and says so
//! once. The engine's other suites run on both drivers (`make test-uring`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use fastserve::server::{Driver, Handler, ResponseBuilder, Routed, Server, ServerConfig};

/// What the server should run on: the environment's override, else `cfg`.
fn expected(cfg: Driver) -> Driver {
    let d = match std::env::var("FASTSERVE_DRIVER").ok().as_deref() {
        Some("io_uring") | Some("uring") => Driver::IoUring,
        Some("epoll") => Driver::Epoll,
        Some("auto") | None | Some("") => cfg,
        Some(other) => panic!("FASTSERVE_DRIVER={other}"),
    };
    if d == Driver::Auto {
        Driver::Epoll
    } else {
        d
    }
}

fn started(driver: Driver) -> Server {
    let mut srv = Server::new(ServerConfig {
        driver,
        ..Default::default()
    });
    srv.route_static(Some(b"GET"), b"/hi", false, 200, b"", b"hi")
        .unwrap();
    srv.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    srv.start().unwrap();
    srv
}

/// Sends `n` pipelined requests in one write; returns what came back until
/// the last response (the last one closes).
fn pipelined(srv: &Server, n: usize) -> String {
    let mut c = TcpStream::connect(srv.local_addr().unwrap()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = b"GET /hi HTTP/1.1\r\nHost: x\r\n\r\n".repeat(n - 1);
    req.extend_from_slice(b"GET /hi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    c.write_all(&req).unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn each_driver_serves_pipelined_requests_in_order() {
    for d in [Driver::Epoll, Driver::IoUring, Driver::Auto] {
        let srv = started(d);
        assert_eq!(srv.driver(), Some(expected(d)), "configured {d:?}");
        let out = pipelined(&srv, 50);
        assert_eq!(
            out.matches("HTTP/1.1 200 OK\r\n").count(),
            50,
            "{d:?}: {out}"
        );
        assert!(out.ends_with("hi"), "{d:?}");
        srv.stop();
        srv.wait().unwrap();
        assert_eq!(srv.stats().requests, 50);
    }
}

#[test]
fn driver_names() {
    assert_eq!(Driver::parse("epoll"), Some(Driver::Epoll));
    assert_eq!(Driver::parse("io_uring"), Some(Driver::IoUring));
    assert_eq!(Driver::parse("auto"), Some(Driver::Auto));
    assert_eq!(Driver::parse("kqueue"), None);
    assert_eq!(ServerConfig::default().driver, Driver::Auto);
}

/// Installs a seccomp filter on this thread (inherited by the threads it
/// starts) that fails `io_uring_setup` with EPERM, as container runtimes do.
fn refuse_io_uring() {
    const IO_URING_SETUP: u32 = 425; // the same number on every architecture
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let mut prog = [
        // the syscall number: offset 0 of struct seccomp_data
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0),
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: IO_URING_SETUP,
        },
        stmt(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        ),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
    ];
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: prctl with a filter program that lives for the call; the
    // kernel copies it.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &fprog as *const libc::sock_fprog
            ),
            0
        );
    }
}

/// Run by `refused_io_uring_falls_back_to_epoll_and_says_so_once` in a
/// process of its own, under the filter.
#[test]
#[ignore]
fn under_a_filter_refusing_io_uring() {
    refuse_io_uring();
    for _ in 0..2 {
        let srv = started(Driver::IoUring);
        assert_eq!(srv.driver(), Some(Driver::Epoll));
        let out = pipelined(&srv, 3);
        assert_eq!(out.matches("HTTP/1.1 200 OK\r\n").count(), 3, "{out}");
        srv.stop();
        srv.wait().unwrap();
    }
}

#[test]
fn refused_io_uring_falls_back_to_epoll_and_says_so_once() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "under_a_filter_refusing_io_uring",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_remove("FASTSERVE_DRIVER")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    let said = stderr.matches("io_uring is not available").count();
    assert_eq!(said, 1, "said {said} times: {stderr}");
    assert!(stderr.contains("Operation not permitted"), "{stderr}");
}

/// Holds the worker for 300 ms, as a handler that blocks does.
struct Block;
impl Handler for Block {
    fn call(&self, _: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        std::thread::sleep(Duration::from_millis(300));
        res.body(b"blocked").map_err(|_| ())
    }
}

/// While the worker is held, more clients than the io_uring driver has
/// receive buffers (512) send their requests, and every client is answered
/// once it runs again (a receive that finds the buffer ring empty ends with
/// ENOBUFS and is armed again). FASTSERVE_DRIVER=epoll runs it on epoll.
#[test]
fn more_clients_at_once_than_receive_buffers() {
    let mut srv = Server::new(ServerConfig {
        driver: Driver::IoUring,
        ..Default::default()
    });
    srv.route_static(Some(b"GET"), b"/hi", false, 200, b"", b"hi")
        .unwrap();
    srv.route(Some(b"GET"), b"/block", false, Arc::new(Block))
        .unwrap();
    let addr = srv.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    srv.start().unwrap();
    let mut clients: Vec<TcpStream> = (0..1500)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    let mut blocker = TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(100)); // all accepted
    blocker
        .write_all(b"GET /block HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(50)); // the worker is in the handler
    for c in &mut clients {
        c.write_all(b"GET /hi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
    }
    let mut out = String::new();
    blocker.read_to_string(&mut out).unwrap();
    assert!(out.ends_with("blocked"), "{out:?}");
    for (i, c) in clients.iter_mut().enumerate() {
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        assert!(
            out.starts_with("HTTP/1.1 200 OK\r\n"),
            "client {i}: {out:?}"
        );
        assert!(out.ends_with("hi"), "client {i}: {out:?}");
    }
    srv.stop();
    srv.wait().unwrap();
    assert_eq!(srv.stats().requests, 1501);
}
