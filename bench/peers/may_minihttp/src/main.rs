//! Hello-world peer for the HTTP load benchmark (bench/http_bench.py).
//!
//! Usage: may_minihttp_hello PORT [WORKERS]
//!
//! Listens on 127.0.0.1:PORT and answers GET /plaintext and GET / with
//! `Hello, World!` (Server and Date headers come from may_minihttp itself).
//! WORKERS is the number of may scheduler threads, 1 by default so that the
//! server fits the single core the benchmark pins it to.

use may_minihttp::{HttpServer, HttpService, Request, Response};
use std::io;

#[derive(Clone)]
struct Hello;

impl HttpService for Hello {
    fn call(&mut self, req: Request, rsp: &mut Response) -> io::Result<()> {
        match req.path() {
            "/plaintext" | "/" => {
                rsp.header("Content-Type: text/plain");
                rsp.body("Hello, World!");
            }
            _ => {
                rsp.status_code(404, "Not Found");
                rsp.header("Content-Type: text/plain");
                rsp.body("Not Found");
            }
        }
        Ok(())
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = match args.next().map(|p| p.parse()) {
        Some(Ok(p)) => p,
        _ => {
            eprintln!("usage: may_minihttp_hello PORT [WORKERS]");
            std::process::exit(2);
        }
    };
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or(1);
    may::config().set_workers(workers);

    let server = HttpServer(Hello)
        .start(("127.0.0.1", port))
        .unwrap_or_else(|e| {
            eprintln!("may_minihttp_hello: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        });
    server.join().unwrap();
}
