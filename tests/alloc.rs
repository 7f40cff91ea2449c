//! Steady-state serving allocates nothing: a counting global allocator sees
//! no allocation while thousands of keep-alive requests are answered.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use fastserve::server::{
    AccessBatch, AccessLog, Handler, Metrics, ResponseBuilder, Routed, Server, ServerConfig,
};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Hello;
impl Handler for Hello {
    fn call(&self, req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        res.header(b"Content-Type", b"text/plain").map_err(|_| ())?;
        res.body(if req.query.is_some() {
            b"Hello, query!"
        } else {
            b"Hello, World!"
        })
        .map_err(|_| ())
    }
}

/// The body written in place, as `fastserve_response_body_buffer` does.
struct InPlace;
impl Handler for InPlace {
    fn call(&self, _: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        res.header(b"Content-Type", b"text/plain").map_err(|_| ())?;
        let b = res.body_mut(13).map_err(|_| ())?;
        b.copy_from_slice(b"Hello, World!");
        Ok(())
    }
}

/// A parameter route: answers once it read its (percent-decoded) value.
struct Param;
impl Handler for Param {
    fn call(&self, req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        let id = req.param(b"id").ok_or(())?;
        res.body(if id == b"4 2" {
            b"Hello, World!"
        } else {
            b"Hello, other!"
        })
        .map_err(|_| ())
    }
}

/// Sends `reps` rounds of `depth` pipelined requests and reads the answers,
/// each `resp_len` bytes long, with buffers allocated up front.
fn exchange(
    s: &mut TcpStream,
    batch: &[u8],
    depth: usize,
    resp_len: usize,
    reps: usize,
    buf: &mut [u8],
) {
    for _ in 0..reps {
        s.write_all(batch).unwrap();
        let mut got = 0;
        while got < depth * resp_len {
            let n = s.read(&mut buf[got..]).unwrap();
            assert!(n > 0, "server closed");
            got += n;
        }
        assert_eq!(got, depth * resp_len);
        assert!(buf[..got].ends_with(b"Hello, World!"));
    }
}

// One test function: the count is process-wide, and the test harness
// allocates on its own thread when a test ends, which another test's
// measurement would count.
#[test]
fn keep_alive_requests_allocate_nothing_even_with_an_access_log_and_metrics() {
    serve_without_allocating(Server::new(ServerConfig::default()));
    with_an_access_log_and_metrics_too();
}

/// Counts the records it gets.
struct CountLog(AtomicU64);
impl AccessLog for CountLog {
    fn log(&self, batch: &AccessBatch<'_>) {
        let ok = batch
            .iter()
            .filter(|r| r.status == 200 && r.complete)
            .count();
        self.0.fetch_add(ok as u64, Ordering::Relaxed);
    }
}

fn with_an_access_log_and_metrics_too() {
    let mut srv = Server::new(ServerConfig::default());
    let log = Arc::new(CountLog(AtomicU64::new(0)));
    srv.set_access_log(Some(log.clone())).unwrap();
    srv.enable_metrics().unwrap();
    let m = serve_without_allocating(srv);
    let served = log.0.load(Ordering::Relaxed);
    assert_eq!(served, 4 * (1 + 2200 + 2200 * 16));
    assert_eq!(m.codes[0], served, "200s");
    assert_eq!(m.latency.iter().sum::<u64>(), served);
}

fn serve_without_allocating(mut srv: Server) -> Metrics {
    srv.route_static(
        Some(b"GET"),
        b"/plaintext",
        false,
        200,
        b"Content-Type: text/plain\r\n",
        b"Hello, World!",
    )
    .unwrap();
    srv.route(Some(b"GET"), b"/hello", false, Arc::new(Hello))
        .unwrap();
    srv.route(Some(b"GET"), b"/users/{id}", false, Arc::new(Param))
        .unwrap();
    srv.route(Some(b"GET"), b"/inplace", false, Arc::new(InPlace))
        .unwrap();
    let addr = srv.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    srv.start().unwrap();

    let mut buf = vec![0u8; 1 << 20];
    for path in ["/plaintext", "/hello", "/users/4%202", "/inplace"] {
        let one = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes();
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        s.write_all(&one).unwrap();
        let n = s.read(&mut buf).unwrap();
        let resp_len = n; // one full response: it fits in one read
        for depth in [1usize, 16] {
            let batch = one.repeat(depth);
            exchange(&mut s, &batch, depth, resp_len, 200, &mut buf); // warm up
            let before = ALLOCS.load(Ordering::SeqCst);
            exchange(&mut s, &batch, depth, resp_len, 2000, &mut buf);
            let allocs = ALLOCS.load(Ordering::SeqCst) - before;
            assert_eq!(
                allocs,
                0,
                "{path} depth {depth}: {allocs} allocations for {} requests",
                2000 * depth
            );
        }
    }
    srv.stop();
    srv.wait().unwrap();
    srv.metrics()
}
