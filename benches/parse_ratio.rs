//! Parser speed as ratios to C picohttpparser, for shared, noisy machines:
//! every contender runs interleaved in rounds, and each keeps its fastest
//! round, so that a burst of load elsewhere does not land on one of them only.
//!
//!     make bench-parse
//! (`CFLAGS="-O2 -march=native" taskset -c 0 cargo bench --no-default-features --bench parse_ratio`)

use std::ffi::c_char;
use std::hint::black_box;
use std::time::Instant;

use fastserve::parse::{parse_request, Config, Header, Kernel, Mode, Status};

#[path = "../tests/support/requests.rs"]
mod requests;

type Contender<'a> = (String, Box<dyn FnMut(&[u8]) -> usize + 'a>);

#[cfg(not(feature = "phr-symbols"))]
fn pico(buf: &[u8]) -> usize {
    let mut h = [Header::EMPTY; 16];
    let (mut m, mut ml, mut p, mut pl, mut minor, mut n) =
        (std::ptr::null(), 0, std::ptr::null(), 0, 0, 16);
    // SAFETY: live locals; `phr_header` has the same layout in both crates.
    let r = unsafe {
        picohttpparser_sys::phr_parse_request(
            buf.as_ptr() as *const c_char,
            buf.len(),
            &mut m,
            &mut ml,
            &mut p,
            &mut pl,
            &mut minor,
            h.as_mut_ptr().cast(),
            &mut n,
            0,
        )
    };
    r as usize
}

fn ours_abi(buf: &[u8]) -> usize {
    let mut h = [Header::EMPTY; 16];
    let (mut m, mut ml, mut p, mut pl, mut minor, mut n) =
        (std::ptr::null(), 0, std::ptr::null(), 0, 0, 16);
    // SAFETY: live locals.
    let r = unsafe {
        fastserve::ffi::pico::phr_parse_request(
            buf.as_ptr() as *const c_char,
            buf.len(),
            &mut m,
            &mut ml,
            &mut p,
            &mut pl,
            &mut minor,
            h.as_mut_ptr(),
            &mut n,
            0,
        )
    };
    r as usize
}

fn main() {
    let rounds = 25;
    let iters = 100_000;
    println!("| request | contender | ns/parse | vs picohttpparser |");
    println!("|---|---|---:|---:|");
    for (name, req) in [
        ("short (240 B, 6 headers)", requests::SHORT),
        ("long (700 B, 11 headers)", requests::LONG),
        (
            "tiny (38 B, 1 header)",
            b"GET /plaintext HTTP/1.1\r\nHost: a.b\r\n\r\n",
        ),
    ] {
        let mut cs: Vec<Contender> = Vec::new();
        #[cfg(not(feature = "phr-symbols"))]
        cs.push(("picohttpparser (C, SSE4.2)".into(), Box::new(pico)));
        cs.push((
            "httparse".into(),
            Box::new(|b| {
                let mut h = [httparse::EMPTY_HEADER; 16];
                let mut r = httparse::Request::new(&mut h);
                match r.parse(b) {
                    Ok(httparse::Status::Complete(n)) => n,
                    _ => 0,
                }
            }),
        ));
        cs.push((
            "fastserve phr_parse_request (ABI)".into(),
            Box::new(ours_abi),
        ));
        for k in Kernel::supported() {
            for mode in [Mode::Strict, Mode::Pico] {
                let cfg = Config {
                    mode,
                    kernel: Some(k),
                };
                cs.push((
                    format!(
                        "fastserve native {} {}",
                        if mode == Mode::Strict {
                            "strict"
                        } else {
                            "pico"
                        },
                        k.name()
                    ),
                    Box::new(move |b| {
                        let mut h = [Header::EMPTY; 16];
                        match parse_request(b, &mut h, &cfg) {
                            Ok(Status::Complete { len, .. }) => len,
                            _ => 0,
                        }
                    }),
                ));
            }
        }
        let mut best = vec![f64::MAX; cs.len()];
        for _ in 0..rounds {
            for (i, (_, f)) in cs.iter_mut().enumerate() {
                let t = Instant::now();
                let mut total = 0;
                for _ in 0..iters {
                    total += f(black_box(req));
                }
                assert_eq!(total, iters * req.len());
                best[i] = best[i].min(t.elapsed().as_nanos() as f64 / iters as f64);
            }
        }
        let base = if cfg!(feature = "phr-symbols") {
            f64::NAN
        } else {
            best[0]
        };
        for ((label, _), t) in cs.iter().zip(&best) {
            println!("| {name} | {label} | {t:.1} | {:.2}x |", t / base);
        }
    }
}
