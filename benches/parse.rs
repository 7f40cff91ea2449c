//! Request parsing speed: fastserve (native API and the `phr_*` ABI) against
//! httparse and C picohttpparser, on a short and a long request, in one process.
//!
//! Run it pinned to one core with the C peer built for this CPU:
//!     make bench-parse-criterion
//! which is `CFLAGS="-O2 -march=native" taskset -c 0 cargo bench --no-default-features --bench parse`.
//! With the default features the `phr_*` symbols of fastserve would shadow the
//! C library's, so the picohttpparser column is left out then.

use std::ffi::c_char;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fastserve::parse::{parse_request, Config, Header, Kernel, Mode};

#[path = "../tests/support/requests.rs"]
mod requests;
use requests::{LONG, SHORT};

type PhrParse = unsafe extern "C" fn(
    *const c_char,
    usize,
    *mut *const c_char,
    *mut usize,
    *mut *const c_char,
    *mut usize,
    *mut i32,
    *mut fastserve::ffi::pico::phr_header,
    *mut usize,
    usize,
) -> i32;

#[inline(always)]
fn phr(f: PhrParse, buf: &[u8]) -> i32 {
    let mut headers = [Header::EMPTY; 16];
    let (mut m, mut ml, mut p, mut pl, mut minor, mut n) =
        (std::ptr::null(), 0, std::ptr::null(), 0, 0, 16);
    // SAFETY: all pointers refer to live locals; `headers` holds 16 slots.
    unsafe {
        f(
            buf.as_ptr().cast(),
            buf.len(),
            &mut m,
            &mut ml,
            &mut p,
            &mut pl,
            &mut minor,
            headers.as_mut_ptr(),
            &mut n,
            0,
        )
    }
}

fn bench(c: &mut Criterion) {
    for (name, req) in [("short", SHORT), ("long", LONG)] {
        let mut g = c.benchmark_group(format!("parse_request/{name}"));
        g.throughput(Throughput::Bytes(req.len() as u64));
        g.measurement_time(Duration::from_secs(3))
            .warm_up_time(Duration::from_secs(1));

        #[cfg(not(feature = "phr-symbols"))]
        g.bench_function("picohttpparser (C)", |b| {
            // SAFETY: `struct phr_header` has the same layout in both crates.
            let f: PhrParse =
                unsafe { std::mem::transmute(picohttpparser_sys::phr_parse_request as *const ()) };
            b.iter(|| assert_eq!(phr(f, black_box(req)), req.len() as i32))
        });

        g.bench_function("httparse", |b| {
            b.iter(|| {
                let mut h = [httparse::EMPTY_HEADER; 16];
                let mut r = httparse::Request::new(&mut h);
                assert!(r.parse(black_box(req)).unwrap().is_complete());
            })
        });

        g.bench_function("fastserve phr_* ABI", |b| {
            let f: PhrParse = fastserve::ffi::pico::phr_parse_request;
            b.iter(|| assert_eq!(phr(f, black_box(req)), req.len() as i32))
        });

        for k in Kernel::supported() {
            for (mode, cfg) in [
                ("strict", Config::strict()),
                (
                    "pico",
                    Config {
                        mode: Mode::Pico,
                        kernel: None,
                    },
                ),
            ] {
                let cfg = cfg.with_kernel(k);
                g.bench_function(format!("fastserve {mode} {}", k.name()), |b| {
                    b.iter(|| {
                        let mut h = [Header::EMPTY; 16];
                        assert!(!parse_request(black_box(req), &mut h, &cfg)
                            .unwrap()
                            .is_partial());
                    })
                });
            }
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
