//! Connection deadlines: one min-heap per worker. A connection has at most one
//! live entry (its earliest deadline); activity only moves timestamps, and an
//! entry that fires early is re-armed for the real deadline. No syscalls.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

/// Milliseconds on the worker's monotonic clock.
pub(crate) type Ms = u64;

pub(crate) const NEVER: Ms = Ms::MAX;

/// Timeouts, each with its own outcome.
#[derive(Clone, Debug)]
pub struct Timeouts {
    /// A request head must be complete this long after its first byte; else
    /// 408 and close. Slowloris protection.
    pub header: Duration,
    /// A request body may pause this long between reads; else 408 and close.
    pub body: Duration,
    /// An idle keep-alive connection is closed quietly after this long.
    pub keepalive: Duration,
    /// Queued output that makes no progress this long drops the connection
    /// (a client that stopped reading).
    pub write: Duration,
    /// A deferred response not completed this long is answered 503.
    pub request: Duration,
    /// Once `min_rate_grace` has passed since a request body began, it must
    /// have arrived at this many bytes per second on average; else 408 and
    /// close. A body trickled in to hold a connection is cut off even though
    /// it never pauses for `body`. 0: no minimum.
    pub min_body_rate: u64,
    /// The same for responses: output waiting for a client that takes it
    /// slower than this drops the connection. 0: no minimum.
    pub min_send_rate: u64,
    pub min_rate_grace: Duration,
    /// On a PROXY protocol listener, the header must be complete this long
    /// after the connection is accepted; else it is closed without a
    /// response.
    pub proxy_header: Duration,
    /// A connection closed after an error answer (or during a stop) goes on
    /// reading and dropping what the client sends, so that the answer is
    /// not lost to a reset, at most this long (see `linger.rs`).
    pub linger: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header: Duration::from_secs(10),
            body: Duration::from_secs(30),
            keepalive: Duration::from_secs(60),
            write: Duration::from_secs(30),
            request: Duration::from_secs(60),
            // as Kestrel's MinRequestBodyDataRate
            min_body_rate: 240,
            min_send_rate: 240,
            min_rate_grace: Duration::from_secs(5),
            proxy_header: Duration::from_secs(5),
            // as nginx's lingering_timeout
            linger: Duration::from_secs(5),
        }
    }
}

/// What a connection's clock says, in worker milliseconds (0: not running).
#[derive(Default)]
pub(crate) struct Clocks {
    /// Last byte read or written.
    pub(crate) last_io: Ms,
    /// Last byte of a request body read.
    pub(crate) last_read: Ms,
    /// First byte of the head being read.
    pub(crate) head_since: Ms,
    /// Output waiting since (reset by every write that makes progress).
    pub(crate) write_since: Ms,
    /// Oldest deferred response pending since.
    pub(crate) deferred_since: Ms,
    /// A request body is being read since, and the bytes read before it.
    pub(crate) body_from: Ms,
    pub(crate) body_base: u64,
    /// Output is waiting since (not reset by progress), and the bytes
    /// written before it.
    pub(crate) send_from: Ms,
    pub(crate) send_base: u64,
    /// When the connection was accepted.
    pub(crate) born: Ms,
    /// Accepted, waiting for the PROXY header, since.
    pub(crate) proxy_since: Ms,
    /// Lingering (closing) since.
    pub(crate) linger_since: Ms,
    /// Deadline of this connection's live heap entry.
    pub(crate) armed: Ms,
}

/// Which deadline passed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Expired {
    Write,
    /// Output taken slower than the minimum rate.
    SendRate,
    /// A body arriving slower than the minimum rate.
    BodyRate,
    Request,
    Body,
    Header,
    Idle,
    Proxy,
    Linger,
}

/// A connection's state as the timers see it.
pub(crate) struct View {
    pub(crate) unsent: bool,
    pub(crate) pending: bool,
    pub(crate) reading_body: bool,
    pub(crate) reading_head: bool,
    pub(crate) idle: bool,
    /// Bytes read from and written to the client so far.
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    /// Waiting for the PROXY header.
    pub(crate) proxy: bool,
    /// Closing: output done, late input dropped.
    pub(crate) lingering: bool,
}

fn ms(d: Duration) -> Ms {
    d.as_millis().min(NEVER as u128 / 2) as Ms
}

impl Clocks {
    /// Starts and stops the clocks that depend on the state.
    pub(crate) fn update(&mut self, v: &View, now: Ms) {
        fn track(clock: &mut Ms, on: bool, now: Ms) {
            if !on {
                *clock = 0;
            } else if *clock == 0 {
                *clock = now.max(1);
            }
        }
        track(&mut self.head_since, v.reading_head, now);
        track(&mut self.write_since, v.unsent, now);
        track(&mut self.deferred_since, v.pending, now);
        if !v.reading_body {
            self.body_from = 0;
        } else if self.body_from == 0 {
            self.body_from = now.max(1);
            self.body_base = v.bytes_in;
        }
        if !v.unsent {
            self.send_from = 0;
        } else if self.send_from == 0 {
            self.send_from = now.max(1);
            self.send_base = v.bytes_out;
        }
        track(&mut self.proxy_since, v.proxy, now);
        track(&mut self.linger_since, v.lingering, now);
    }

    /// The earliest deadline and what it is for.
    pub(crate) fn deadline(&self, v: &View, t: &Timeouts) -> (Ms, Option<Expired>) {
        if v.lingering {
            let at = self.linger_since.saturating_add(ms(t.linger));
            return (at, Some(Expired::Linger));
        }
        let mut best = (NEVER, None);
        let mut consider = |on: bool, since: Ms, d: Duration, what: Expired| {
            if on {
                let at = since.saturating_add(ms(d));
                if at < best.0 {
                    best = (at, Some(what));
                }
            }
        };
        consider(v.unsent, self.write_since, t.write, Expired::Write);
        consider(v.pending, self.deferred_since, t.request, Expired::Request);
        consider(v.reading_body, self.last_read, t.body, Expired::Body);
        consider(
            v.reading_head && !v.reading_body,
            self.head_since,
            t.header,
            Expired::Header,
        );
        consider(v.idle, self.last_io, t.keepalive, Expired::Idle);
        consider(v.proxy, self.proxy_since, t.proxy_header, Expired::Proxy);
        // when the bytes so far, at the minimum rate, run out
        let mut rate = |on: bool, from: Ms, bytes: u64, min: u64, what: Expired| {
            if on && from != 0 && min > 0 {
                let owed = bytes.saturating_mul(1000) / min;
                let at = from.saturating_add(ms(t.min_rate_grace).max(owed));
                if at < best.0 {
                    best = (at, Some(what));
                }
            }
        };
        rate(
            v.reading_body,
            self.body_from,
            v.bytes_in - self.body_base,
            t.min_body_rate,
            Expired::BodyRate,
        );
        rate(
            v.unsent,
            self.send_from,
            v.bytes_out - self.send_base,
            t.min_send_rate,
            Expired::SendRate,
        );
        best
    }
}

/// The heap of `(deadline, slab index, generation)`.
#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Ms, usize, u32)>>,
}

impl Timers {
    /// Arms `clocks` for `deadline` unless an earlier entry is already live.
    pub(crate) fn arm(&mut self, clocks: &mut Clocks, deadline: Ms, idx: usize, gen: u32) {
        if deadline < clocks.armed {
            clocks.armed = deadline;
            self.heap.push(Reverse((deadline, idx, gen)));
        }
    }

    /// The next entry due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Ms) -> Option<(Ms, usize, u32)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// Milliseconds until the next entry, if any.
    pub(crate) fn next_in(&self, now: Ms) -> Option<Ms> {
        self.heap
            .peek()
            .map(|Reverse((at, _, _))| at.saturating_sub(now))
    }
}
