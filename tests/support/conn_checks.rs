// Invariants of the connection core (`proto::Conn`), shared by the `conn` and
// `framing_diff` fuzz targets (fuzz/) and the corpus replay test. Each check
// panics when an invariant breaks.
//
// This module installs a global allocator that counts the heap bytes live on
// the calling thread while a `Conn` call runs (see `metered`), so that memory
// can be checked against the limits. A binary that includes it must not
// declare another `#[global_allocator]`.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::IoSlice;
use std::sync::{Arc, OnceLock};

use fastserve::parse::{self, Header, Status};
use fastserve::proto::date::{http_date, DATE_LEN};
use fastserve::proto::{
    reason, Body, BufPool, Conn, Ctx, ExtBody, Limits, ProtoConfig, Request, Responder, Response,
    Service, StaticResponse, Ticket,
};

// ---------------------------------------------------------------- heap meter

/// The system allocator, plus a per-thread count of live bytes allocated
/// while metering is on.
pub struct Meter;

thread_local! {
    static METERING: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

#[inline]
fn note(delta: isize) {
    let _ = METERING.try_with(|on| {
        if on.get() {
            let _ = LIVE.try_with(|l| l.set(l.get() + delta));
        }
    });
}

// SAFETY: forwards every call to the system allocator; only counts.
unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note(l.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note(l.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        note(-(l.size() as isize));
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note(n as isize - l.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Meter = Meter;

/// Runs `f` with the meter on: its allocations and frees count in [`live`].
fn metered<R>(f: impl FnOnce() -> R) -> R {
    METERING.with(|m| m.set(true));
    let r = f();
    METERING.with(|m| m.set(false));
    r
}

/// Heap bytes allocated under [`metered`] and not yet freed (this thread).
fn live() -> isize {
    LIVE.with(|l| l.get())
}

fn reset_meter() {
    METERING.with(|m| m.set(false));
    LIVE.with(|l| l.set(0));
}

// ---------------------------------------------------------------- input

/// Control bytes, read round-robin; each pass over them is offset so that a
/// short tape still yields varied decisions.
struct Tape<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Tape<'_> {
    fn next(&mut self) -> u8 {
        if self.bytes.is_empty() {
            return 0;
        }
        let n = self.bytes.len();
        let b = self.bytes[self.pos % n];
        let round = (self.pos / n) as u8;
        self.pos += 1;
        b.wrapping_add(round.wrapping_mul(37))
    }
}

/// Building blocks of a composed stream: requests of every framing, deferred
/// routes (`/d…`), a large response (`/big`), HTTP/1.0, `Expect`, a request
/// that closes, one refused as smuggling, and pieces that leave a head or a
/// body open.
const SEEDS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /d HTTP/1.1\r\nHost: a\r\n\r\n",
    b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n",
    b"HEAD /d HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /d HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n",
    b"PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    b"PUT /d HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"GET /dq?a=1 HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\n\r\n",
    b"\r\n",
    b"POST /l HTTP/1.1\r\nHost: x\r\nContent-Length: 600\r\n\r\n",
    b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"40\r\n0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n",
    b"0\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: x\r\nX-Long: ",
    b"GET /q?a=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /old HTTP/1.0\r\n\r\n",
    b"POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
];

/// Longest composed stream.
const MAX_STREAM: usize = 64 * 1024;

/// A byte below 0xe0 appends `SEEDS[b % len]`; a byte from 0xe0 copies the
/// next `(b & 0x1f) + 1` spec bytes literally.
fn compose(spec: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < spec.len() && out.len() < MAX_STREAM {
        let b = spec[i];
        i += 1;
        if b < 0xe0 {
            out.extend_from_slice(SEEDS[b as usize % SEEDS.len()]);
        } else {
            let n = ((b & 0x1f) as usize + 1).min(spec.len() - i);
            out.extend_from_slice(&spec[i..i + n]);
            i += n;
        }
    }
    out
}

/// Small limits, chosen by two flag bytes.
fn limits_from(f0: u8, f1: u8) -> Limits {
    Limits {
        max_head: [256, 512, 1024, 4096][(f0 & 3) as usize],
        max_request_line: [64, 200, 1024, 8192][((f0 >> 2) & 3) as usize],
        max_body: [0, 64, 700, 5000][((f0 >> 4) & 3) as usize],
        max_pipelined: [1, 2, 4, 16][((f0 >> 6) & 3) as usize],
        max_headers: [4, 8, 16, 32][(f1 & 3) as usize],
        max_unsent: [512, 1024, 4096, 16384][((f1 >> 2) & 3) as usize],
    }
}

// ---------------------------------------------------------------- the service

/// What the response to one request must look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// Status, an `X-Seq` field with the request's number, and a body of this
    /// size that starts with `seq=N;`.
    Seq { status: u16, size: usize },
    /// Left unanswered by the service: the engine's empty 500.
    Unanswered,
    /// Deferred and expired: 503 with the reason phrase as body.
    Expired,
}

#[derive(Debug)]
struct Rec {
    head: bool,
    /// The request asked for the connection to close after it.
    close: bool,
    /// None while deferred.
    want: Option<Want>,
}

/// Body sizes a response may have (0: just the `seq=N;` prefix).
const SIZES: [usize; 4] = [0, 0, 40, 300];
/// The body size on `/big`.
const BIG: usize = 3000;
/// A response head's upper bound beyond the body: status line, `Server`,
/// `Date`, `Content-Length`, `Connection`, `X-Seq`, blank line.
const HEAD_MAX: usize = 200;
/// Requests below this number have a prerendered static response.
const STATIC_N: usize = 64;
const SERVER: &[u8] = b"fz";

fn statics() -> &'static [StaticResponse] {
    static S: OnceLock<Vec<StaticResponse>> = OnceLock::new();
    S.get_or_init(|| {
        (0..STATIC_N)
            .map(|n| {
                let mut body = [0u8; 64];
                let len = body_into(n as u64, 0, &mut body);
                StaticResponse::new(
                    200,
                    Some(SERVER),
                    format!("X-Seq: {n}\r\n").as_bytes(),
                    &body[..len],
                )
            })
            .collect()
    })
}

fn prefix_len(seq: u64) -> usize {
    format!("seq={seq};").len()
}

/// Writes the body for request `seq` of nominal `size` into `dst`: `seq=N;`
/// padded with dots to `size`. Returns its length.
fn body_into(seq: u64, size: usize, dst: &mut [u8]) -> usize {
    use std::io::Write;
    let cap = dst.len();
    let mut w = &mut dst[..];
    write!(w, "seq={seq};").unwrap();
    let p = cap - w.len();
    let len = size.max(p);
    dst[p..len].fill(b'.');
    len
}

fn seq_header(seq: u64, dst: &mut [u8; 40]) -> usize {
    use std::io::Write;
    let mut w = &mut dst[..];
    write!(w, "X-Seq: {seq}\r\n").unwrap();
    40 - w.len()
}

/// Whether a request asks for the connection to close (RFC 9112 9.3).
fn asks_close(req: &Request<'_>) -> bool {
    let mut close = false;
    let mut keep = false;
    for h in req.headers {
        if h.name().eq_ignore_ascii_case(b"connection") {
            for t in h.value().split(|&b| b == b',') {
                let t = ows_trim(t);
                close |= t.eq_ignore_ascii_case(b"close");
                keep |= t.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    close || (req.minor_version == 0 && !keep)
}

struct State<'t> {
    tape: Tape<'t>,
    recs: Vec<Rec>,
    /// Deferred and not yet completed or expired, by sequence number.
    pending: Vec<Ticket>,
    /// Completed or expired: completing them again must be refused.
    done: Vec<Ticket>,
    /// Largest response rendered so far, head included.
    max_resp: usize,
}

struct Svc<'s, 't>(&'s mut State<'t>);

/// A response for `seq`, built on the stack (or in an `ExtBody`), with the
/// body kind chosen by `kind`.
fn respond_with(
    seq: u64,
    size: usize,
    status: u16,
    kind: u8,
    send: impl FnOnce(Response<'_>),
) -> usize {
    let mut hdr = [0u8; 40];
    let hl = seq_header(seq, &mut hdr);
    let mut body = [0u8; BIG + 32];
    let bl = body_into(seq, size, &mut body);
    let b = match kind % 3 {
        0 => Body::Copy(&body[..bl]),
        1 => Body::Ext(ExtBody::Owned(body[..bl].to_vec())),
        _ => Body::Ext(ExtBody::Shared(Arc::from(&body[..bl]))),
    };
    send(Response {
        status,
        headers: &hdr[..hl],
        body: b,
    });
    bl
}

impl Service for Svc<'_, '_> {
    fn handle(&mut self, req: &Request<'_>, res: &mut Responder<'_>) {
        let st = &mut *self.0;
        let seq = st.recs.len() as u64;
        assert_eq!(req.seq, seq, "requests reach the service out of sequence");
        assert_eq!(res.seq(), seq);
        let head = req.method == b"HEAD";
        assert_eq!(res.head_only(), head);
        let close = asks_close(req);
        let big = req.path.starts_with(b"/big");
        let size = if big {
            BIG
        } else {
            SIZES[(st.tape.next() & 3) as usize]
        };
        let choice = if req.path.starts_with(b"/d") {
            5
        } else {
            st.tape.next() % 8
        };
        let want = match choice {
            0 | 1 if (seq as usize) < STATIC_N && size == 0 => {
                res.send_static(&statics()[seq as usize]);
                Some(Want::Seq {
                    status: 200,
                    size: prefix_len(seq),
                })
            }
            0..=3 => {
                let status = [200, 201, 404, 500][choice as usize];
                let len = respond_with(seq, size, status, st.tape.next(), |r| res.send(r));
                Some(Want::Seq { status, size: len })
            }
            // left unanswered: the engine sends a 500
            4 if !big => Some(Want::Unanswered),
            _ => {
                let t = res.defer();
                assert_eq!(t.seq, seq);
                st.pending.push(t);
                None
            }
        };
        st.max_resp = st.max_resp.max(size.max(32) + HEAD_MAX);
        st.recs.push(Rec { head, close, want });
    }
}

// ---------------------------------------------------------------- conn check

/// Most output a connection may have queued: its output limit, plus what can
/// still be added once that trips: every response in flight (at most
/// `max_pipelined`, and one error response), each after a `100 Continue`.
fn out_bound(l: &Limits, max_resp: usize) -> usize {
    const CONTINUE: usize = 25; // "HTTP/1.1 100 Continue\r\n\r\n"
    l.max_unsent + (l.max_pipelined + 1) * (max_resp + CONTINUE)
}

/// Heap a connection may hold: the read buffer grown to a whole head and
/// body plus a block; twice the queued output (vectors grow by doubling) and
/// the held responses; the pool's free blocks; a little bookkeeping.
fn heap_bound(l: &Limits, block: usize, pool_free: usize, max_resp: usize) -> usize {
    let input = l.max_head + l.max_body + block;
    let output = 2 * out_bound(l, max_resp) + block;
    let held = (l.max_pipelined + 1) * (2 * max_resp + 128);
    input + output + held + pool_free * block + 8 * 1024
}

const POOL_FREE: usize = 2;

/// Copies up to `max` unsent bytes into `out` (as a socket write would) and
/// reports them written. Checks that the two output views agree.
fn take_output(conn: &mut Conn, pool: &mut BufPool, out: &mut Vec<u8>, max: usize) -> usize {
    let unsent = conn.unsent();
    let mut n = 0;
    if let Some(s) = conn.out_single() {
        assert_eq!(s.len(), unsent, "out_single is not all the unsent output");
        n = s.len().min(max);
        out.extend_from_slice(&s[..n]);
    } else {
        let mut iov = [IoSlice::new(&[]); 64];
        let k = conn.iovecs(&mut iov);
        let total: usize = iov[..k].iter().map(|s| s.len()).sum();
        if k < iov.len() {
            assert_eq!(total, unsent, "iovecs do not cover the unsent output");
        }
        for s in &iov[..k] {
            let m = s.len().min(max - n);
            out.extend_from_slice(&s[..m]);
            n += m;
            if n == max {
                break;
            }
        }
    }
    if n > 0 {
        metered(|| conn.written(n, pool));
        assert_eq!(conn.unsent(), unsent - n);
    }
    n
}

/// The connection core driven by fuzz input: reads split at chosen points,
/// deferred responses completed in a chosen order, output taken in chosen
/// pieces, and now and then a timeout (`expire_deferred`, `abort`).
///
/// Input: two limit flag bytes (the second's top bit selects a composed
/// stream, see [`compose`]), a tape length `n`, `n` tape bytes, then the
/// stream (or its spec).
///
/// Invariants: no panic; the heap a connection holds and the output it
/// queues stay within what the limits allow; every request the service saw
/// gets exactly one response, in order, recognisable by its sequence number
/// (header `X-Seq`, body `seq=N;…`); the output is that, plus at most one
/// error response with `Connection: close`, and nothing follows a response
/// that closes; once the peer's input ended and every deferred response was
/// completed, the connection is ready to close.
pub fn check_conn(data: &[u8]) {
    if data.len() < 3 {
        return;
    }
    let (f0, f1, n) = (data[0], data[1], data[2] as usize);
    let rest = &data[3..];
    let (tape, rest) = rest.split_at(n.min(rest.len()));
    let composed;
    let stream: &[u8] = if f1 & 0x80 != 0 {
        composed = compose(rest);
        &composed
    } else {
        rest
    };
    let limits = limits_from(f0, f1);
    let cfg = ProtoConfig {
        limits: limits.clone(),
        server_name: Some(SERVER.to_vec()),
    };
    let date = http_date(784_111_777);
    statics();
    // Room for every request the stream could hold (each takes well over two
    // bytes), so that these vectors never grow while the meter runs.
    let most = stream.len() / 2 + 2;
    let mut st = State {
        tape: Tape {
            bytes: tape,
            pos: 0,
        },
        recs: Vec::with_capacity(most),
        pending: Vec::with_capacity(most),
        done: Vec::with_capacity(most),
        max_resp: 32 + HEAD_MAX,
    };
    let mut pool = BufPool::new(4096, POOL_FREE);
    let block = pool.block();
    let mut headers = vec![Header::EMPTY; limits.max_headers];
    let mut conn = Conn::new();
    let mut out = Vec::new();
    let mut fed = 0usize;
    let mut eof = false;
    reset_meter();

    let check_bounds = |conn: &Conn, st: &State| {
        let q = conn.unsent();
        let qb = out_bound(&limits, st.max_resp);
        assert!(q <= qb, "{q} bytes of output queued, over the bound {qb}");
        let h = live();
        let hb = heap_bound(&limits, block, POOL_FREE, st.max_resp) as isize;
        assert!(
            h <= hb,
            "the connection holds {h} heap bytes, over the bound {hb}"
        );
    };

    // One read as a host does it: only when the connection wants one, at
    // most the space it offers.
    let read =
        |conn: &mut Conn, pool: &mut BufPool, fed: &mut usize, eof: &mut bool, want: usize| {
            if !conn.wants_read(&limits) {
                return false;
            }
            if *fed == stream.len() {
                if !*eof {
                    *eof = true;
                    conn.received_eof();
                    return true;
                }
                return false;
            }
            metered(|| {
                let spare = conn.recv_buf(pool, &limits);
                assert!(
                    !spare.is_empty(),
                    "recv_buf offers no space while reading is wanted"
                );
                let k = spare.len().min(want).min(stream.len() - *fed);
                for (d, s) in spare[..k].iter_mut().zip(&stream[*fed..]) {
                    d.write(*s);
                }
                // SAFETY: the loop above initialised the first `k` bytes.
                unsafe { conn.received(k) };
                *fed += k;
            });
            true
        };

    let mut closed = false;
    let max_steps = 8 * stream.len() + 256;
    for _ in 0..max_steps {
        let op = st.tape.next();
        match op % 8 {
            0..=2 => {
                let t = st.tape.next();
                let want = match t >> 6 {
                    0 => 1 + (t & 7) as usize,
                    1 => 1 + t as usize,
                    2 => 256 + 32 * (t & 63) as usize,
                    _ => usize::MAX,
                };
                read(&mut conn, &mut pool, &mut fed, &mut eof, want);
            }
            3 | 4 => {
                let t = st.tape.next();
                let max = match t >> 6 {
                    0 => 1 + (t & 15) as usize,
                    1 => 1 + 8 * t as usize,
                    _ => usize::MAX,
                };
                take_output(&mut conn, &mut pool, &mut out, max);
            }
            5 | 6 => {
                if !st.pending.is_empty() {
                    let i = st.tape.next() as usize % st.pending.len();
                    complete(&mut conn, &mut st, i, &cfg, &mut pool, &date);
                }
            }
            _ => match st.tape.next() % 8 {
                0 => expire(&mut conn, &mut st, &cfg, &mut pool, &date),
                1 => {
                    let reading = conn.reading_request();
                    metered(|| {
                        conn.abort(
                            408,
                            &mut Ctx {
                                cfg: &cfg,
                                pool: &mut pool,
                                date: &date,
                            },
                        )
                    });
                    if reading {
                        assert!(
                            !conn.wants_read(&limits),
                            "abort left the connection reading"
                        );
                    }
                }
                2 if !st.done.is_empty() => {
                    let t = st.done[st.tape.next() as usize % st.done.len()];
                    let before = conn.unsent();
                    let ok = metered(|| {
                        conn.complete(
                            t,
                            late_response(),
                            &mut Ctx {
                                cfg: &cfg,
                                pool: &mut pool,
                                date: &date,
                            },
                        )
                    });
                    assert!(!ok, "a response completed twice was accepted");
                    assert_eq!(conn.unsent(), before);
                }
                _ => {}
            },
        }
        metered(|| {
            conn.process(
                &mut Svc(&mut st),
                &mut Ctx {
                    cfg: &cfg,
                    pool: &mut pool,
                    date: &date,
                },
                &mut headers,
            )
        });
        check_bounds(&conn, &st);
        assert_eq!(
            conn.pending(),
            st.pending.len(),
            "deferred responses pending"
        );
        if conn.should_close() {
            closed = true;
            break;
        }
        if fed == stream.len() && eof && st.pending.is_empty() && conn.unsent() == 0 {
            break;
        }
    }

    // Let everything finish: complete what is pending, take all output, read
    // the rest, until the connection closes or nothing moves.
    let mut rounds = 0;
    while !closed {
        rounds += 1;
        assert!(rounds < 100_000, "the connection never settles");
        let mut moved = false;
        while !st.pending.is_empty() {
            complete(&mut conn, &mut st, 0, &cfg, &mut pool, &date);
            moved = true;
        }
        moved |= take_output(&mut conn, &mut pool, &mut out, usize::MAX) > 0;
        moved |= read(&mut conn, &mut pool, &mut fed, &mut eof, usize::MAX);
        metered(|| {
            conn.process(
                &mut Svc(&mut st),
                &mut Ctx {
                    cfg: &cfg,
                    pool: &mut pool,
                    date: &date,
                },
                &mut headers,
            )
        });
        check_bounds(&conn, &st);
        closed = conn.should_close();
        if !moved && !closed {
            break;
        }
    }
    assert!(
        closed,
        "input ended, nothing is pending and all output is taken, but the \
         connection does not close (fed {fed} of {}, eof {eof}, wants_read {})",
        stream.len(),
        conn.wants_read(&limits)
    );
    assert_eq!(conn.pending(), 0);
    conn.release(&mut pool);
    check_output(&out, &st.recs);
}

/// A completion that comes too late (for a response already completed or expired).
fn late_response() -> Response<'static> {
    Response {
        status: 299,
        headers: b"",
        body: Body::Copy(b"late"),
    }
}

/// Completes `st.pending[i]` with a response chosen by the tape.
fn complete(
    conn: &mut Conn,
    st: &mut State,
    i: usize,
    cfg: &ProtoConfig,
    pool: &mut BufPool,
    date: &[u8; DATE_LEN],
) {
    let t = st.pending.remove(i);
    let seq = t.seq;
    let size = if st.tape.next() & 1 == 0 {
        SIZES[(st.tape.next() & 3) as usize]
    } else {
        0
    };
    let kind = st.tape.next();
    let mut ok = false;
    let len = metered(|| {
        respond_with(seq, size, 202, kind, |r| {
            ok = conn.complete(t, r, &mut Ctx { cfg, pool, date });
        })
    });
    assert!(ok, "completing pending request {seq} was refused");
    st.recs[seq as usize].want = Some(Want::Seq {
        status: 202,
        size: len,
    });
    st.max_resp = st.max_resp.max(len + HEAD_MAX);
    st.done.push(t);
}

/// Expires the oldest pending response, as the request timeout does.
fn expire(
    conn: &mut Conn,
    st: &mut State,
    cfg: &ProtoConfig,
    pool: &mut BufPool,
    date: &[u8; DATE_LEN],
) {
    let ok = metered(|| conn.expire_deferred(503, &mut Ctx { cfg, pool, date }));
    assert_eq!(
        ok,
        !st.pending.is_empty(),
        "expire_deferred with {} pending",
        st.pending.len()
    );
    if ok {
        // the oldest: tickets are pushed in sequence order and removed anywhere
        let (i, _) = st
            .pending
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| t.seq)
            .unwrap();
        let t = st.pending.remove(i);
        st.recs[t.seq as usize].want = Some(Want::Expired);
        st.done.push(t);
    }
}

/// Statuses of the engine's own error responses.
const ENGINE_ERRORS: &[u16] = &[400, 408, 413, 414, 417, 431, 501, 505];

fn field<'a>(h: &[httparse::Header<'a>], name: &str) -> Option<&'a [u8]> {
    h.iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

fn show(b: &[u8]) -> String {
    let s = &b[..b.len().min(300)];
    format!(
        "\"{}\"{}",
        s.escape_ascii(),
        if s.len() < b.len() { "..." } else { "" }
    )
}

/// Parses the whole output as responses and matches them to the requests.
fn check_output(out: &[u8], recs: &[Rec]) {
    let mut pos = 0;
    let mut idx = 0;
    while pos < out.len() {
        let mut hs = [httparse::EMPTY_HEADER; 16];
        let mut r = httparse::Response::new(&mut hs);
        let len = match r.parse(&out[pos..]) {
            Ok(httparse::Status::Complete(len)) => len,
            other => panic!(
                "response {idx} at byte {pos} does not parse ({other:?}): {}",
                show(&out[pos..])
            ),
        };
        let status = r.code.unwrap();
        if status == 100 {
            assert_eq!(r.headers.len(), 0, "a 100 Continue with fields");
            pos += len;
            continue;
        }
        let cl: usize =
            std::str::from_utf8(field(r.headers, "content-length").expect("no Content-Length"))
                .unwrap()
                .parse()
                .unwrap();
        let close = field(r.headers, "connection").is_some_and(|v| v == b"close");
        let xseq = field(r.headers, "x-seq");
        let head_only = recs.get(idx).is_some_and(|r| r.head);
        let blen = if head_only { 0 } else { cl };
        assert!(
            pos + len + blen <= out.len(),
            "response {idx} is cut short: {}",
            show(&out[pos..])
        );
        let body = &out[pos + len..pos + len + blen];
        match recs.get(idx) {
            Some(rec) => {
                let want = rec
                    .want
                    .unwrap_or_else(|| panic!("request {idx} was never answered"));
                match want {
                    Want::Seq { status: s, size } => {
                        assert_eq!(status, s, "response {idx}: status");
                        assert_eq!(
                            xseq,
                            Some(idx.to_string().as_bytes()),
                            "response {idx} carries another request's number: {}",
                            show(&out[pos..])
                        );
                        assert_eq!(cl, size, "response {idx}: Content-Length");
                        if !head_only {
                            let mut exp = vec![0u8; BIG + 32];
                            let n = body_into(idx as u64, size, &mut exp);
                            assert_eq!(body, &exp[..n], "response {idx}: body");
                        }
                    }
                    Want::Unanswered => {
                        assert_eq!((status, cl, xseq), (500, 0, None), "response {idx}");
                    }
                    Want::Expired => {
                        assert_eq!(status, 503, "response {idx}");
                        assert_eq!(xseq, None);
                        if !head_only {
                            assert_eq!(body, reason(503).as_bytes());
                        }
                    }
                }
                if rec.close {
                    assert!(
                        close,
                        "response {idx} to a closing request lacks Connection: close"
                    );
                }
            }
            None => {
                assert_eq!(
                    idx,
                    recs.len(),
                    "more than one response beyond the requests"
                );
                assert!(
                    ENGINE_ERRORS.contains(&status),
                    "response {idx} answers no request and is no error: {}",
                    show(&out[pos..])
                );
                assert!(close, "an error response that keeps the connection open");
            }
        }
        pos += len + blen;
        idx += 1;
        if close {
            assert_eq!(
                pos,
                out.len(),
                "output continues after a response with Connection: close: {}",
                show(&out[pos..])
            );
        }
    }
    assert!(
        idx == recs.len() || idx == recs.len() + 1,
        "{} requests dispatched, {idx} responses",
        recs.len()
    );
}

// ---------------------------------------------------------------- framing

fn ows_trim(v: &[u8]) -> &[u8] {
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let s = v.iter().position(|b| !ows(b)).unwrap_or(v.len());
    let e = v.iter().rposition(|b| !ows(b)).map_or(s, |e| e + 1);
    &v[s..e]
}

/// The message body length of a request, by RFC 9112 6.3, from a head's
/// fields (as another parser reports them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    Length(u64),
    Chunked,
    /// The framing is invalid: the request must be refused with one of these
    /// statuses and the connection closed; `why` says which rule.
    Invalid {
        statuses: &'static [u16],
        why: &'static str,
    },
}

/// The RFC's decision, and the refusals the engine makes on purpose where
/// the RFC would still frame the body.
#[derive(Debug)]
pub struct Model {
    pub framing: Framing,
    pub keep_alive: bool,
    /// Documented cases where the engine refuses although the RFC frames the
    /// request: (reason, statuses the engine answers).
    pub may_refuse: Vec<(&'static str, &'static [u16])>,
}

const BAD: &[u16] = &[400, 501];

/// Largest body the framing check's connection accepts.
const DIFF_MAX_BODY: usize = 4096;

pub fn rfc_framing(minor: u8, fields: &[(&[u8], &[u8])]) -> Model {
    let mut cl: Vec<&[u8]> = Vec::new();
    let mut te_lines = 0;
    let mut codings: Vec<&[u8]> = Vec::new();
    let mut te_empty_elems = false;
    let (mut close, mut keep) = (false, false);
    let mut may_refuse = Vec::new();
    let mut hosts: Vec<&[u8]> = Vec::new();
    for &(name, value) in fields {
        if name.eq_ignore_ascii_case(b"host") {
            hosts.push(value);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            cl.extend(value.split(|&b| b == b',').map(ows_trim));
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            te_lines += 1;
            for c in value.split(|&b| b == b',').map(ows_trim) {
                // RFC 9110 5.6.1: empty list elements are ignored
                if c.is_empty() {
                    te_empty_elems = true;
                } else {
                    codings.push(c);
                }
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for t in value.split(|&b| b == b',').map(ows_trim) {
                close |= t.eq_ignore_ascii_case(b"close");
                keep |= t.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case(b"expect")
            && !ows_trim(value).eq_ignore_ascii_case(b"100-continue")
        {
            may_refuse.push(("an expectation other than 100-continue", &[417][..]));
        }
    }
    let keep_alive = !close && (minor >= 1 || keep);
    let invalid = |why| Framing::Invalid { statuses: BAD, why };
    let framing = if te_lines > 0 {
        if te_lines > 1 {
            may_refuse.push(("more than one Transfer-Encoding field line", BAD));
        }
        if te_empty_elems {
            may_refuse.push(("an empty Transfer-Encoding list element", BAD));
        }
        let chunked = |c: &&[u8]| c.eq_ignore_ascii_case(b"chunked");
        if minor == 0 {
            invalid("Transfer-Encoding in HTTP/1.0 (RFC 9112 6.1: faulty framing)")
        } else if !cl.is_empty() {
            // RFC 9112 6.3 item 3: "ought to be handled as an error"; the
            // engine refuses it as smuggling
            invalid("Content-Length with Transfer-Encoding (smuggling)")
        } else if !codings.last().is_some_and(chunked) {
            invalid("Transfer-Encoding whose final coding is not chunked (RFC 9112 6.3 item 4)")
        } else if codings.iter().filter(|c| chunked(c)).count() > 1 {
            invalid("chunked applied twice (RFC 9112 7)")
        } else if codings.len() > 1 {
            Framing::Invalid {
                statuses: &[501, 400],
                why: "a transfer coding the engine does not decode (RFC 9112 6.1: 501)",
            }
        } else {
            Framing::Chunked
        }
    } else if !cl.is_empty() {
        if cl
            .iter()
            .any(|v| v.is_empty() || !v.iter().all(u8::is_ascii_digit))
        {
            invalid("an invalid Content-Length (RFC 9112 6.3 item 5)")
        } else {
            let value = |v: &[u8]| {
                let digits = v.iter().skip_while(|&&d| d == b'0').count();
                if digits > 19 {
                    u64::MAX
                } else {
                    v.iter().fold(0u64, |a, &d| {
                        a.saturating_mul(10).saturating_add((d - b'0') as u64)
                    })
                }
            };
            let n = value(cl[0]);
            if cl.iter().any(|v| value(v) != n) {
                invalid("differing Content-Length values (smuggling; RFC 9110 8.6)")
            } else {
                if cl.iter().any(|v| v.len() > 15) {
                    may_refuse.push(("a Content-Length of more than 15 digits", &[400][..]));
                }
                if n > DIFF_MAX_BODY as u64 {
                    may_refuse.push(("a body over the limit", &[413][..]));
                }
                if n == 0 {
                    Framing::None
                } else {
                    Framing::Length(n)
                }
            }
        }
    } else {
        Framing::None
    };
    // RFC 9112 3.2: 400 for an HTTP/1.1 request without Host, and for any
    // with two or an invalid one. A plain `name[:port]` is valid; a value
    // with a byte no uri-host[:port] has is not; the engine decides the rest.
    let host_refused = if hosts.len() > 1 {
        Some("more than one Host field line (RFC 9112 3.2)")
    } else if hosts.is_empty() && minor >= 1 {
        Some("HTTP/1.1 without Host (RFC 9112 3.2)")
    } else if hosts.first().is_some_and(|h| {
        h.iter()
            .any(|&b| b <= b' ' || b >= 0x7f || b"\"#/<>?@\\^`{|}".contains(&b))
    }) {
        Some("a Host value with a byte no uri-host[:port] has (RFC 9112 3.2)")
    } else {
        if !hosts.first().is_none_or(|h| plain_host(h)) {
            may_refuse.push(("a Host value that is not plainly name[:port]", &[400][..]));
        }
        None
    };
    let framing = match (host_refused, framing) {
        (Some(why), f @ Framing::Invalid { .. }) => {
            may_refuse.push((why, &[400][..]));
            f
        }
        (Some(why), _) => Framing::Invalid {
            statuses: &[400],
            why,
        },
        (None, f) => f,
    };
    Model {
        framing,
        keep_alive,
        may_refuse,
    }
}

/// `name[:port]`: letters, digits, `.` and `-`, and up to 5 digits of port
/// up to 65535.
fn plain_host(h: &[u8]) -> bool {
    let (name, port) = match h.iter().rposition(|&b| b == b':') {
        Some(c) => (&h[..c], Some(&h[c + 1..])),
        None => (h, None),
    };
    name.iter()
        .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && port.is_none_or(|p| {
            p.len() <= 5
                && p.iter().all(u8::is_ascii_digit)
                && p.iter().fold(0u32, |a, &d| a * 10 + (d - b'0') as u32) <= 65535
        })
}

/// What the engine did with one request head followed by a probe.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// Refused on the head alone, before any byte after it arrived.
    Refused(u16),
    /// Refused only once the bytes after the head arrived: it was reading
    /// them as a body.
    RefusedAfterHead(u16),
    /// Nothing dispatched or answered: still reading a body at EOF.
    Waiting,
    /// The first request's body, and the targets of the requests after it.
    Framed { body: Vec<u8>, then: Vec<Vec<u8>> },
}

struct Recorder {
    got: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Service for Recorder {
    fn handle(&mut self, req: &Request<'_>, res: &mut Responder<'_>) {
        self.got.push((req.target.to_vec(), req.body.to_vec()));
        res.send(Response {
            status: 200,
            headers: b"",
            body: Body::Copy(b""),
        });
    }
}

const NEXT: &[u8] = b"GET /next HTTP/1.1\r\nHost: n\r\n\r\n";
const CHUNKED_PROBE: &[u8] = b"5\r\nhello\r\n0\r\n";

/// What a strict trailer section after the last chunk must come to: the
/// strict header parser's verdict on it (RFC 9112 7.1.2: trailer fields are
/// header fields). None where the section would run into what follows it.
fn trailer_verdict(section: &[u8]) -> Option<bool> {
    let mut h = vec![Header::EMPTY; 64];
    match parse::parse_headers(section, &mut h, &parse::Config::strict()) {
        Ok(Status::Complete { len, .. }) if len == section.len() => Some(true),
        Ok(_) => None,
        Err(parse::Error::TooManyHeaders) => None,
        Err(_) => Some(false),
    }
}

/// Final statuses in `out` (1xx skipped).
fn statuses(out: &[u8]) -> Vec<u16> {
    let mut st = Vec::new();
    let mut pos = 0;
    while pos < out.len() {
        let mut hs = [httparse::EMPTY_HEADER; 16];
        let mut r = httparse::Response::new(&mut hs);
        let Ok(httparse::Status::Complete(len)) = r.parse(&out[pos..]) else {
            panic!("unparsable output: {}", show(&out[pos..]));
        };
        let code = r.code.unwrap();
        let cl: usize = field(r.headers, "content-length")
            .map_or(0, |v| std::str::from_utf8(v).unwrap().parse().unwrap());
        if code != 100 {
            st.push(code);
            pos += cl;
        }
        pos += len;
    }
    st
}

/// Feeds `head` and `tail`, at once or (`split`) the head first, and reports
/// what the engine made of it.
fn observe(head: &[u8], tail: &[u8], split: bool) -> Seen {
    let limits = Limits {
        max_head: 1 << 16,
        max_request_line: 1 << 16,
        max_headers: 64,
        max_body: DIFF_MAX_BODY,
        max_pipelined: 16,
        max_unsent: 1 << 20,
    };
    let cfg = ProtoConfig {
        limits: limits.clone(),
        server_name: None,
    };
    let date = http_date(0);
    let mut pool = BufPool::new(4096, 4);
    let mut headers = vec![Header::EMPTY; 64];
    let mut conn = Conn::new();
    let mut rec = Recorder { got: Vec::new() };
    let mut out = Vec::new();
    let whole = [head, tail].concat();
    let parts: Vec<&[u8]> = if split {
        vec![head, tail]
    } else {
        vec![&whole[..]]
    };
    let mut on_head = None;
    for (i, p) in parts.into_iter().enumerate() {
        if conn.wants_read(&limits) {
            conn.feed(p, &mut pool, &limits);
        }
        conn.process(
            &mut rec,
            &mut Ctx {
                cfg: &cfg,
                pool: &mut pool,
                date: &date,
            },
            &mut headers,
        );
        while conn.unsent() > 0 {
            assert!(take_output(&mut conn, &mut pool, &mut out, usize::MAX) > 0);
        }
        if i == 0 && rec.got.is_empty() {
            on_head = statuses(&out).first().copied();
        }
    }
    conn.received_eof();
    conn.process(
        &mut rec,
        &mut Ctx {
            cfg: &cfg,
            pool: &mut pool,
            date: &date,
        },
        &mut headers,
    );
    while conn.unsent() > 0 {
        assert!(take_output(&mut conn, &mut pool, &mut out, usize::MAX) > 0);
    }
    assert!(
        conn.should_close(),
        "the probe connection does not close after EOF"
    );
    conn.release(&mut pool);
    let statuses = statuses(&out);
    if rec.got.is_empty() {
        assert!(
            statuses.len() <= 1,
            "no request dispatched; responses {statuses:?}"
        );
        return match (on_head, statuses.first()) {
            (Some(s), _) => Seen::Refused(s),
            (None, Some(&s)) => Seen::RefusedAfterHead(s),
            (None, None) => Seen::Waiting,
        };
    }
    assert!(
        statuses.len() >= rec.got.len(),
        "a request without a response"
    );
    let mut got = rec.got.into_iter();
    let (_, body) = got.next().unwrap();
    Seen::Framed {
        body,
        then: got.map(|(t, _)| t).collect(),
    }
}

/// For a head that both the engine's strict parser and httparse accept as
/// complete, the engine frames the body as RFC 9112 6.3 says when applied to
/// httparse's fields: the same Content-Length or chunked, observed through a
/// connection (the body the service sees, and the request that follows it).
/// Where the framing is invalid (smuggling forms among them), the engine
/// refuses with 400 or 501 and frames nothing. Any other refusal must be one
/// of the engine's documented strict cases.
pub fn check_framing_diff(data: &[u8]) {
    let mut fh = vec![Header::EMPTY; 64];
    let Ok(Status::Complete {
        len: flen,
        value: freq,
    }) = parse::parse_request(data, &mut fh, &parse::Config::strict())
    else {
        return;
    };
    let mut hh = [httparse::EMPTY_HEADER; 64];
    let mut hreq = httparse::Request::new(&mut hh);
    let Ok(httparse::Status::Complete(hlen)) = hreq.parse(data) else {
        return;
    };
    assert_eq!(flen, hlen, "the parsers disagree on where the head ends");
    let minor = hreq.version.unwrap();
    assert_eq!(
        freq.minor_version, minor,
        "the parsers disagree on the version"
    );
    let fields: Vec<(&[u8], &[u8])> = hreq
        .headers
        .iter()
        .map(|h| (h.name.as_bytes(), h.value))
        .collect();
    let mut model = rfc_framing(minor, &fields);
    let target = freq.path;
    if !target.starts_with(b"/") || freq.method == b"CONNECT" {
        // only OPTIONS takes `*`, only CONNECT an authority, and an
        // absolute-form target must be a valid http(s) URI (RFC 9112 3.2)
        model
            .may_refuse
            .push(("a target other than origin-form", &[400][..]));
    }
    if target.contains(&b'#') {
        // a fragment is never sent (RFC 9110 4.2.5)
        model
            .may_refuse
            .push(("a fragment in the target", &[400][..]));
    }
    let head = &data[..flen];
    // a chunked body ends with the input's own bytes after the head as its
    // trailer section, where the strict header parser can judge them alone
    let after = &data[flen..];
    let (trailer, trailer_ok) = match trailer_verdict(after) {
        Some(ok) if !after.is_empty() => (after, ok),
        _ => (&b"\r\n"[..], true),
    };
    let tail = match &model.framing {
        Framing::Length(n) if *n <= DIFF_MAX_BODY as u64 => {
            [vec![b'b'; *n as usize], NEXT.to_vec()].concat()
        }
        Framing::Chunked => [CHUNKED_PROBE, trailer, NEXT].concat(),
        _ => NEXT.to_vec(),
    };
    // The head first, then what follows: a refusal must come on the head
    // alone. Fed at once, the engine must decide the same.
    let seen = observe(head, &tail, true);
    let at_once = match observe(head, &tail, false) {
        Seen::RefusedAfterHead(s) => Seen::Refused(s),
        other => other,
    };
    let ctx = || format!("head {}\nRFC model {model:?}\nengine {seen:?}", show(head));
    match (&model.framing, &seen) {
        (Framing::Invalid { statuses, .. }, Seen::Refused(s)) => {
            let also: Vec<u16> = model
                .may_refuse
                .iter()
                .flat_map(|r| r.1.iter().copied())
                .collect();
            assert!(
                statuses.contains(s) || also.contains(s),
                "invalid framing refused with an unexpected status\n{}",
                ctx()
            );
        }
        (
            Framing::Invalid { .. },
            Seen::Framed { .. } | Seen::Waiting | Seen::RefusedAfterHead(_),
        ) => {
            panic!("the engine framed a body the RFC calls invalid\n{}", ctx())
        }
        (Framing::Chunked, Seen::RefusedAfterHead(400)) if !trailer_ok => {}
        (Framing::Chunked, Seen::Framed { .. }) if !trailer_ok => {
            panic!(
                "the engine took a trailer section the header rules refuse: {}\n{}",
                show(trailer),
                ctx()
            )
        }
        (_, Seen::RefusedAfterHead(_)) => {
            panic!(
                "the engine refused only after reading past the head\n{}",
                ctx()
            )
        }
        (_, Seen::Waiting) => {
            panic!(
                "the engine waits for more body than the RFC frames\n{}",
                ctx()
            )
        }
        (_, Seen::Refused(s)) => {
            assert!(
                model.may_refuse.iter().any(|r| r.1.contains(s)),
                "the engine refused a request the RFC frames, for no documented reason\n{}",
                ctx()
            );
        }
        (f, Seen::Framed { body, then }) => {
            let want: Vec<u8> = match f {
                Framing::None => Vec::new(),
                Framing::Length(n) => vec![b'b'; *n as usize],
                Framing::Chunked => b"hello".to_vec(),
                Framing::Invalid { .. } => unreachable!(),
            };
            assert_eq!(body, &want, "the engine framed another body\n{}", ctx());
            let next: &[Vec<u8>] = if model.keep_alive {
                &[b"/next".to_vec()]
            } else {
                &[]
            };
            assert_eq!(
                then,
                next,
                "what follows the body is read differently\n{}",
                ctx()
            );
        }
    }
    // fed at once, a refusal after the head is a refusal like any other
    let seen = match seen {
        Seen::RefusedAfterHead(s) => Seen::Refused(s),
        other => other,
    };
    assert_eq!(
        at_once,
        seen,
        "fed at once and fed head first, the engine decides differently: {}",
        show(head)
    );
}
