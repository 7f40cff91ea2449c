//! What a server tells about itself: an access log (each request, delivered
//! in batches once per loop pass), an error hook (handler failures, limits,
//! timeouts, refusals), and metrics (counters, per-status counts, a latency
//! histogram) in a struct or in Prometheus text.
//!
//! Each worker counts into its own [`Stats`] (one writer, no shared cache
//! line); readers sum the workers.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use super::response::ResponseBuilder;
use super::router::{Handler, Routed};
use super::Stats;
use crate::proto::{Exchange, Peer};

/// Upper bounds of the latency histogram's buckets, in microseconds; a last
/// bucket takes the rest.
pub const LATENCY_BOUNDS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];
/// Buckets of the latency histogram: one per bound, and the rest.
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_US.len() + 1;

/// The statuses counted one by one (every status also counts in its class).
pub const STATUS_CODES: [u16; 20] = [
    200, 201, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405, 408, 413, 414, 429, 431, 500, 502,
    503,
];

/// Why the engine reports an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorReason {
    /// A handler returned an error: answered 500 unless it had answered.
    HandlerFailed,
    /// A handler panicked: answered 500 unless it had answered.
    HandlerPanicked,
    /// A malformed request or body framing: 400.
    BadRequest,
    /// The request line passed `max_request_line`: 414.
    UriTooLong,
    /// The head passed `max_head` or `max_headers`: 431.
    HeadTooLarge,
    /// The body passed `max_body`: 413.
    BodyTooLarge,
    /// An HTTP version or transfer coding the engine does not take: 505, 501.
    NotSupported,
    /// The head did not arrive within the header timeout: 408.
    HeaderTimeout,
    /// The body stalled past the body timeout, or arrived slower than
    /// `min_body_rate`: 408.
    BodyTimeout,
    /// A deferred response took longer than the request timeout: 503.
    RequestTimeout,
    /// The client read nothing within the write timeout, or took its
    /// answers slower than `min_send_rate`: closed.
    WriteTimeout,
    /// `max_connections` were open: the new connection was closed at once.
    ConnectionLimit,
}

/// Every reason, in the order of their numbers (`as usize`).
pub const ERROR_REASONS: [ErrorReason; 12] = [
    ErrorReason::HandlerFailed,
    ErrorReason::HandlerPanicked,
    ErrorReason::BadRequest,
    ErrorReason::UriTooLong,
    ErrorReason::HeadTooLarge,
    ErrorReason::BodyTooLarge,
    ErrorReason::NotSupported,
    ErrorReason::HeaderTimeout,
    ErrorReason::BodyTimeout,
    ErrorReason::RequestTimeout,
    ErrorReason::WriteTimeout,
    ErrorReason::ConnectionLimit,
];

impl ErrorReason {
    /// A short description.
    pub fn text(self) -> &'static str {
        match self {
            ErrorReason::HandlerFailed => "handler failed",
            ErrorReason::HandlerPanicked => "handler panicked",
            ErrorReason::BadRequest => "malformed request",
            ErrorReason::UriTooLong => "request line too long",
            ErrorReason::HeadTooLarge => "request head too large",
            ErrorReason::BodyTooLarge => "request body too large",
            ErrorReason::NotSupported => "HTTP version or transfer coding not supported",
            ErrorReason::HeaderTimeout => "request head timed out",
            ErrorReason::BodyTimeout => "request body timed out",
            ErrorReason::RequestTimeout => "handler timed out",
            ErrorReason::WriteTimeout => "client stopped reading",
            ErrorReason::ConnectionLimit => "connection limit reached",
        }
    }

    /// The name in metrics: lower case with underscores.
    pub fn name(self) -> &'static str {
        match self {
            ErrorReason::HandlerFailed => "handler_failed",
            ErrorReason::HandlerPanicked => "handler_panicked",
            ErrorReason::BadRequest => "bad_request",
            ErrorReason::UriTooLong => "uri_too_long",
            ErrorReason::HeadTooLarge => "head_too_large",
            ErrorReason::BodyTooLarge => "body_too_large",
            ErrorReason::NotSupported => "not_supported",
            ErrorReason::HeaderTimeout => "header_timeout",
            ErrorReason::BodyTimeout => "body_timeout",
            ErrorReason::RequestTimeout => "request_timeout",
            ErrorReason::WriteTimeout => "write_timeout",
            ErrorReason::ConnectionLimit => "connection_limit",
        }
    }

    /// The reason for an error answer the connection core gave itself.
    fn of_status(status: u16) -> Self {
        match status {
            413 => ErrorReason::BodyTooLarge,
            414 => ErrorReason::UriTooLong,
            431 => ErrorReason::HeadTooLarge,
            501 | 505 => ErrorReason::NotSupported,
            _ => ErrorReason::BadRequest,
        }
    }
}

/// One error, as the hook gets it.
#[derive(Debug)]
pub struct ErrorEvent<'a> {
    pub reason: ErrorReason,
    /// The status answered; 0 when the connection was closed without one.
    pub status: u16,
    /// The peer's IP address as text (a Unix socket's path), and port.
    pub peer_host: &'a [u8],
    pub peer_port: u16,
}

/// Told of each error, on the worker thread, as it happens.
pub trait ErrorHook: Send + Sync {
    fn error(&self, e: &ErrorEvent<'_>);
}

/// One request, as the access log gets it.
#[derive(Clone, Copy, Debug)]
pub struct AccessRecord<'a> {
    /// Empty when the request head could not be parsed.
    pub method: &'a [u8],
    pub target: &'a [u8],
    /// The HTTP/1.x minor version (0 when the head was not parsed).
    pub minor_version: u8,
    pub referer: &'a [u8],
    pub user_agent: &'a [u8],
    pub peer_host: &'a [u8],
    pub peer_port: u16,
    /// 0 when no response was sent (the connection closed first).
    pub status: u16,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// From the loop pass that parsed the head to the write that sent the
    /// response's last byte.
    pub duration_us: u64,
    /// When the head was parsed, in microseconds since the Unix epoch.
    pub time_us: u64,
    /// False when the connection closed before the response was written.
    pub complete: bool,
}

/// The records of one loop pass.
pub struct AccessBatch<'a> {
    entries: &'a [Entry],
    text: &'a [u8],
    /// Wall clock minus the worker's clock, in microseconds.
    wall: u64,
}

impl<'a> AccessBatch<'a> {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<AccessRecord<'a>> {
        let e = self.entries.get(i)?;
        let mut at = e.at;
        let mut part = |len: u32| {
            let s = &self.text[at..at + len as usize];
            at += len as usize;
            s
        };
        Some(AccessRecord {
            method: part(e.lens[0]),
            target: part(e.lens[1]),
            minor_version: e.minor,
            referer: part(e.lens[2]),
            user_agent: part(e.lens[3]),
            peer_host: part(e.lens[4]),
            peer_port: e.peer_port,
            status: e.status,
            bytes_in: e.bytes_in,
            bytes_out: e.bytes_out,
            duration_us: e.end - e.start,
            time_us: self.wall.wrapping_add(e.start),
            complete: e.complete,
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = AccessRecord<'a>> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

/// Gets each loop pass's requests, on the worker thread, in one call.
pub trait AccessLog: Send + Sync {
    fn log(&self, batch: &AccessBatch<'_>);
}

struct Entry {
    at: usize,
    lens: [u32; 5],
    minor: u8,
    peer_port: u16,
    status: u16,
    bytes_in: u64,
    bytes_out: u64,
    start: u64,
    end: u64,
    complete: bool,
}

/// A worker's per-worker counters beyond the plain ones.
#[derive(Debug)]
pub(crate) struct Counters {
    latency: [AtomicU64; LATENCY_BUCKETS],
    latency_sum_us: AtomicU64,
    /// Status classes: [0] no status, [1] 1xx .. [5] 5xx and above.
    classes: [AtomicU64; 6],
    codes: [AtomicU64; STATUS_CODES.len()],
    errors: [AtomicU64; ERROR_REASONS.len()],
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_sum_us: AtomicU64::new(0),
            classes: Default::default(),
            codes: Default::default(),
            errors: Default::default(),
        }
    }
}

/// Adds to a counter only its worker writes: no locked instruction.
#[inline]
fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

impl Counters {
    #[inline]
    fn exchange(&self, status: u16, us: u64) {
        let b = LATENCY_BOUNDS_US.partition_point(|&b| b < us);
        bump(&self.latency[b], 1);
        bump(&self.latency_sum_us, us);
        bump(&self.classes[(status as usize / 100).min(5)], 1);
        if let Some(i) = STATUS_CODES.iter().position(|&c| c == status) {
            bump(&self.codes[i], 1);
        }
    }

    fn error(&self, r: ErrorReason) {
        bump(&self.errors[r as usize], 1);
    }
}

/// A snapshot of the metrics, summed over workers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub open_connections: u64,
    pub accepted: u64,
    /// Requests whose response was written (or the connection closed
    /// first), per bucket of [`LATENCY_BOUNDS_US`] (not cumulative).
    pub latency: [u64; LATENCY_BUCKETS],
    pub latency_sum_us: u64,
    /// Responses per status class: [0] none sent, [1] 1xx .. [5] 5xx.
    pub classes: [u64; 6],
    /// Responses per status of [`STATUS_CODES`].
    pub codes: [u64; STATUS_CODES.len()],
    /// Errors per [`ErrorReason`] (`as usize`).
    pub errors: [u64; ERROR_REASONS.len()],
}

impl Metrics {
    pub(crate) fn add(&mut self, s: &Stats) {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        self.requests += get(&s.requests);
        self.bytes_in += get(&s.bytes_in);
        self.bytes_out += get(&s.bytes_out);
        self.open_connections += get(&s.open);
        self.accepted += get(&s.accepted);
        let c = &s.counters;
        let sum = |dst: &mut [u64], src: &[AtomicU64]| {
            for (d, s) in dst.iter_mut().zip(src) {
                *d += get(s);
            }
        };
        sum(&mut self.latency, &c.latency);
        self.latency_sum_us += get(&c.latency_sum_us);
        sum(&mut self.classes, &c.classes);
        sum(&mut self.codes, &c.codes);
        sum(&mut self.errors, &c.errors);
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn prometheus(&self, out: &mut Vec<u8>) {
        let mut metric = |name: &str, kind: &str, help: &str| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
        };
        metric(
            "fastserve_requests_total",
            "counter",
            "Requests parsed and dispatched.",
        );
        let _ = writeln!(out, "fastserve_requests_total {}", self.requests);
        let simple = |out: &mut Vec<u8>, name: &str, kind: &str, help: &str, v: u64| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
            );
        };
        simple(
            out,
            "fastserve_received_bytes_total",
            "counter",
            "Bytes read from clients.",
            self.bytes_in,
        );
        simple(
            out,
            "fastserve_sent_bytes_total",
            "counter",
            "Bytes written to clients.",
            self.bytes_out,
        );
        simple(
            out,
            "fastserve_open_connections",
            "gauge",
            "Connections open now.",
            self.open_connections,
        );
        simple(
            out,
            "fastserve_accepted_connections_total",
            "counter",
            "Connections accepted.",
            self.accepted,
        );
        let _ = write!(
            out,
            "# HELP fastserve_responses_total Responses by status class.\n\
             # TYPE fastserve_responses_total counter\n"
        );
        for (i, n) in self.classes.iter().enumerate() {
            let class = if i == 0 {
                "none".into()
            } else {
                format!("{i}xx")
            };
            let _ = writeln!(out, "fastserve_responses_total{{class=\"{class}\"}} {n}");
        }
        let _ = write!(
            out,
            "# HELP fastserve_responses_by_code_total Responses by status, for common statuses.\n\
             # TYPE fastserve_responses_by_code_total counter\n"
        );
        for (code, n) in STATUS_CODES.iter().zip(&self.codes) {
            let _ = writeln!(
                out,
                "fastserve_responses_by_code_total{{code=\"{code}\"}} {n}"
            );
        }
        let name = "fastserve_request_duration_seconds";
        let _ = write!(
            out,
            "# HELP {name} From the request head parsed to the response written.\n\
             # TYPE {name} histogram\n"
        );
        let mut acc = 0;
        for (i, n) in self.latency.iter().enumerate() {
            acc += n;
            match LATENCY_BOUNDS_US.get(i) {
                Some(&b) => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {acc}", b as f64 / 1e6);
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {acc}");
                }
            }
        }
        let _ = writeln!(out, "{name}_sum {}", self.latency_sum_us as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {acc}");
        let _ = write!(
            out,
            "# HELP fastserve_errors_total Errors by reason: failed handlers, limits, timeouts.\n\
             # TYPE fastserve_errors_total counter\n"
        );
        for (r, n) in ERROR_REASONS.iter().zip(&self.errors) {
            let _ = writeln!(out, "fastserve_errors_total{{reason=\"{}\"}} {n}", r.name());
        }
    }
}

/// What the server was told to report; workers share it.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) access_log: Option<Arc<dyn AccessLog>>,
    pub(crate) error_hook: Option<Arc<dyn ErrorHook>>,
    /// Per-status counts and the latency histogram are kept.
    pub(crate) metrics: bool,
}

/// A worker's side: the records of the current loop pass.
pub(crate) struct Observer {
    hooks: Hooks,
    entries: Vec<Entry>,
    text: Vec<u8>,
}

impl Observer {
    pub(crate) fn new(hooks: Hooks) -> Self {
        Observer {
            hooks,
            entries: Vec::new(),
            text: Vec::new(),
        }
    }

    /// Whether connections keep per-request accounting, and with text.
    pub(crate) fn tracking(&self) -> Option<bool> {
        let log = self.hooks.access_log.is_some();
        (log || self.hooks.metrics).then_some(log)
    }

    /// A request finished at `now` (the worker's clock in microseconds).
    pub(crate) fn exchange(&mut self, x: &Exchange<'_>, now: u64, stats: &Stats) {
        let end = now.max(x.start);
        stats.counters.exchange(x.status, end - x.start);
        if self.hooks.access_log.is_none() {
            return;
        }
        let at = self.text.len();
        let (host, port) = peer_parts(x.peer);
        let mut lens = [0u32; 5];
        for (l, s) in lens
            .iter_mut()
            .zip([x.method, x.target, x.referer, x.user_agent, host])
        {
            self.text.extend_from_slice(s);
            *l = s.len() as u32;
        }
        self.entries.push(Entry {
            at,
            lens,
            minor: x.minor_version,
            peer_port: port,
            status: x.status,
            bytes_in: x.bytes_in,
            bytes_out: x.bytes_out,
            start: x.start,
            end,
            complete: x.complete,
        });
    }

    /// Hands the pass's records to the access log; `now` is the worker's
    /// clock in microseconds.
    pub(crate) fn flush(&mut self, now: u64) {
        if self.entries.is_empty() {
            return;
        }
        if let Some(log) = &self.hooks.access_log {
            let wall = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64);
            let batch = AccessBatch {
                entries: &self.entries,
                text: &self.text,
                wall: wall.wrapping_sub(now),
            };
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| log.log(&batch)));
        }
        self.entries.clear();
        self.text.clear();
    }

    /// Counts an error and tells the hook.
    pub(crate) fn error(
        &self,
        reason: ErrorReason,
        status: u16,
        peer: Option<&Peer>,
        stats: &Stats,
    ) {
        stats.counters.error(reason);
        if let Some(h) = &self.hooks.error_hook {
            let (peer_host, peer_port) = peer_parts(peer);
            let e = ErrorEvent {
                reason,
                status,
                peer_host,
                peer_port,
            };
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.error(&e)));
        }
    }

    /// An error answer the connection core gave on its own.
    pub(crate) fn refused(&self, status: u16, peer: Option<&Peer>, stats: &Stats) {
        self.error(ErrorReason::of_status(status), status, peer, stats);
    }
}

fn peer_parts(p: Option<&Peer>) -> (&[u8], u16) {
    p.map_or((&b""[..], 0), |p| (p.host(), p.port()))
}

/// The metrics route: the Prometheus text of every worker's counters.
pub(crate) struct MetricsPage {
    pub(crate) stats: Arc<OnceLock<Vec<Arc<Stats>>>>,
}

impl Handler for MetricsPage {
    fn call(&self, _req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        let mut m = Metrics::default();
        for s in self.stats.get().into_iter().flatten() {
            m.add(s);
        }
        let mut body = Vec::with_capacity(4096);
        m.prometheus(&mut body);
        res.header(b"Content-Type", b"text/plain; version=0.0.4; charset=utf-8")
            .map_err(drop)?;
        res.body(&body).map_err(drop)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_take_their_upper_bound() {
        let c = Counters::default();
        c.exchange(200, 0);
        c.exchange(200, 100);
        c.exchange(404, 101);
        c.exchange(503, 99_000_000);
        let s = Stats::default();
        let _ = &s;
        let get = |i: usize| c.latency[i].load(Ordering::Relaxed);
        assert_eq!((get(0), get(1), get(LATENCY_BUCKETS - 1)), (2, 1, 1));
        assert_eq!(c.classes[2].load(Ordering::Relaxed), 2);
        assert_eq!(c.classes[4].load(Ordering::Relaxed), 1);
        assert_eq!(c.classes[5].load(Ordering::Relaxed), 1);
    }

    #[test]
    fn reasons_are_numbered_in_order() {
        for (i, r) in ERROR_REASONS.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }
}
