//! One worker: a mio poll loop owning its listeners and a slab of connections.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use super::batch::{Batcher, Origin};
use super::dispatch::Dispatch;
use super::linger;
use super::listen::{read_proxy_header, Listening, Proxied, Sock};
use super::mailbox::{Mailbox, Work};
use super::observe::{ErrorReason, Observer};
use super::response::ResponseBuilder;
use super::router::Scratch;
use super::stream::{self, BodySink, EndHook, EndReason, StreamState, UpgradeHook, Upgraded};
use super::timers::{Clocks, Expired, Ms, Timers, View, NEVER};
use super::{Shared, Stats};
use crate::parse::Header;
use crate::proto::date::DateCache;
use crate::proto::{Body, BodyPiece, BufPool, Conn, Ctx, PROXY_HEADER_MAX};

const WAKER: Token = Token(1);
const FIRST_CONN: usize = 2;
/// Listener `i` is `Token(LISTENERS + i)`, far above any connection's.
const LISTENERS: usize = usize::MAX / 2;

struct Entry {
    conn: Conn,
    stream: Sock,
    gen: u32,
    /// Its PROXY protocol header is not read yet.
    proxy: bool,
    /// Readiness not yet used up (edge-triggered).
    readable: bool,
    writable: bool,
    /// The peer's FIN was reported: read until 0 even after a short read.
    hup: bool,
    /// In `Worker::again`.
    queued: bool,
    clocks: Clocks,
    /// Streams started and not ended: told when the connection closes.
    streams: Vec<Arc<StreamState>>,
    /// Who takes the connection after an accepted protocol switch.
    upgrade: Option<UpgradeHook>,
    /// Who reads the streamed request body.
    body_sink: Option<BodySink>,
    /// Bytes written to the client.
    sent: u64,
    /// Who hears how deferred responses end, by sequence number.
    watchers: Vec<(u64, EndHook)>,
    /// Closing during a stop, once the client has every answer.
    lingering: bool,
}

impl Entry {
    /// The streamed body will not complete: its reader hears so.
    fn body_aborted(&mut self) {
        if let Some(mut sink) = self.body_sink.take() {
            stream::feed(&mut sink, BodyPiece::Aborted);
        }
    }
}

impl Entry {
    fn view(&self) -> View {
        View {
            unsent: self.conn.unsent() > 0,
            pending: self.conn.pending() > 0,
            reading_body: self.conn.reading_body(),
            reading_head: self.conn.reading_head(),
            idle: self.conn.is_idle() && !self.proxy,
            proxy: self.proxy,
            bytes_in: self.conn.bytes_in(),
            bytes_out: self.sent,
        }
    }
}

pub(crate) struct Worker {
    poll: Poll,
    listeners: Vec<Listening>,
    /// Where PROXY headers are peeked at; allocated on first use.
    proxy_buf: Vec<u8>,
    conns: Slab<Entry>,
    gens: Vec<u32>,
    pool: BufPool,
    headers: Vec<Header<'static>>,
    builder: ResponseBuilder,
    scratch: Scratch,
    mailbox: Arc<Mailbox>,
    shared: Arc<Shared>,
    stats: Arc<Stats>,
    date: DateCache,
    stopping: Option<Instant>,
    timers: Timers,
    epoch: Instant,
    now: Ms,
    /// The same clock in microseconds: when requests start, for logs.
    now_us: u64,
    obs: Observer,
    /// When to retry `accept` after running out of descriptors.
    accept_retry: Option<Ms>,
    /// Connections with work left after their turn (one read, process and
    /// write): driven again after the next poll, so that a client pipelining
    /// without end waits its turn behind the others.
    again: Vec<(usize, u32)>,
    /// The other of a pair of `again` lists, kept for its capacity.
    spare: Vec<(usize, u32)>,
    batch: Batcher,
    /// Connections a batch answered, kept for its capacity.
    touched: Vec<usize>,
    /// Most connections open since memory was last given back.
    peak_conns: usize,
    /// When to look at that again.
    next_trim: Ms,
    /// Connections closing during a stop (see `linger`).
    lingering: Vec<(usize, u32)>,
}

impl Worker {
    pub(crate) fn new(
        mut listeners: Vec<Listening>,
        shared: Arc<Shared>,
        stats: Arc<Stats>,
    ) -> io::Result<(Self, Arc<Mailbox>)> {
        let poll = Poll::new()?;
        for (i, l) in listeners.iter_mut().enumerate() {
            poll.registry()
                .register(l, Token(LISTENERS + i), Interest::READABLE)?;
        }
        let waker = Waker::new(poll.registry(), WAKER)?;
        let mailbox = Arc::new(Mailbox::new(waker));
        let max_headers = shared.cfg.proto.limits.max_headers;
        let batch = Batcher::new(&shared, &mailbox);
        let obs = Observer::new(shared.hooks.clone());
        let w = Worker {
            poll,
            listeners,
            proxy_buf: Vec::new(),
            conns: Slab::with_capacity(1024),
            gens: Vec::new(),
            pool: BufPool::new(shared.cfg.buffer_size, shared.cfg.spare_buffers),
            headers: vec![Header::EMPTY; max_headers],
            builder: ResponseBuilder::default(),
            scratch: Scratch::default(),
            mailbox: mailbox.clone(),
            shared,
            stats,
            date: DateCache::default(),
            stopping: None,
            timers: Timers::default(),
            epoch: Instant::now(),
            now: 1,
            now_us: 0,
            obs,
            accept_retry: None,
            again: Vec::new(),
            spare: Vec::new(),
            batch,
            touched: Vec::new(),
            peak_conns: 0,
            next_trim: 0,
            lingering: Vec::new(),
        };
        Ok((w, mailbox))
    }

    fn tick(&mut self) {
        let t = self.epoch.elapsed();
        self.now = t.as_millis() as Ms + 1;
        self.now_us = t.as_micros() as u64;
        if self.now >= self.next_trim {
            self.next_trim = self.now + 1000;
            self.trim();
        }
        self.date.refresh();
    }

    /// Once a second: after a burst (half the connections of the peak are
    /// gone), and whenever the worker falls idle, hand the memory they freed
    /// back to the system. The allocator keeps freed pages otherwise, and RSS
    /// would stay at the peak. Idle counts on its own so that a look in the
    /// middle of the departures, which lowers the peak, cannot strand the rest.
    fn trim(&mut self) {
        let open = self.conns.len();
        let shrunk = open * 2 < self.peak_conns && self.peak_conns >= 64;
        if shrunk || (open == 0 && self.peak_conns > 0) {
            release_free_memory();
            self.peak_conns = open;
        }
    }

    /// The clock now, in microseconds (`now_us` is the pass's).
    fn clock_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    pub(crate) fn run(mut self) {
        block_sigpipe();
        let mut events = Events::with_capacity(1024);
        self.tick();
        loop {
            let mut wait = if !self.again.is_empty() {
                0
            } else if self.stopping.is_some() {
                50
            } else {
                1000
            };
            if let Some(t) = self.timers.next_in(self.now) {
                wait = wait.min(t);
            }
            if let Some(t) = self.accept_retry {
                wait = wait.min(t.saturating_sub(self.now));
            }
            let timeout = Some(Duration::from_millis(wait));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    break;
                }
                events.clear();
            }
            self.tick();
            // those queued before this poll; the events may queue others
            let mut again = std::mem::replace(&mut self.again, std::mem::take(&mut self.spare));
            for ev in events.iter() {
                match ev.token() {
                    Token(t) if t >= LISTENERS => self.accept(t - LISTENERS),
                    WAKER => self.drain_mailbox(),
                    Token(t) => {
                        let idx = t - FIRST_CONN;
                        if let Some(e) = self.conns.get_mut(idx) {
                            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                                e.readable = true;
                            }
                            if ev.is_read_closed() {
                                e.hup = true;
                            }
                            if ev.is_writable() || ev.is_error() {
                                e.writable = true;
                            }
                            if !e.queued {
                                self.drive(idx);
                            }
                        }
                    }
                }
            }
            for &(idx, gen) in &again {
                if let Some(e) = self.conns.get_mut(idx).filter(|e| e.gen == gen) {
                    e.queued = false;
                    self.drive(idx);
                }
            }
            again.clear();
            self.spare = again;
            self.fire_timers();
            if matches!(self.accept_retry, Some(t) if t <= self.now) {
                self.accept_retry = None;
                for i in 0..self.listeners.len() {
                    self.accept(i);
                }
            }
            if self.shared.stop.load(Ordering::Acquire) && self.stopping.is_none() {
                self.begin_stop();
            }
            self.flush_batch();
            if self.stopping.is_some() {
                self.check_lingering();
            }
            self.obs.flush(self.clock_us());
            if let Some(since) = self.stopping {
                if self.conns.is_empty() || since.elapsed() > self.shared.cfg.shutdown_grace {
                    break;
                }
            }
        }
        let idxs: Vec<usize> = self.conns.iter().map(|(i, _)| i).collect();
        for i in idxs {
            self.close(i);
        }
        self.obs.flush(self.clock_us());
        self.mailbox.close();
    }

    fn begin_stop(&mut self) {
        self.stopping = Some(Instant::now());
        // Connections the kernel queued on the listeners would be reset when
        // they close; take them, and answer their first request.
        for which in 0..self.listeners.len() {
            self.accept(which);
        }
        for mut l in std::mem::take(&mut self.listeners) {
            let _ = self.poll.registry().deregister(&mut l);
        }
        let idxs: Vec<usize> = self.conns.iter().map(|(i, _)| i).collect();
        for i in idxs {
            self.conns[i].conn.shutdown();
            self.drive(i);
        }
    }

    fn accept(&mut self, which: usize) {
        loop {
            let Some(l) = self.listeners.get(which) else {
                return;
            };
            let proxy = l.proxy;
            match l.accept() {
                Ok((mut stream, peer)) => {
                    if self.conns.len() >= self.shared.cfg.max_connections && !self.make_room() {
                        drop(stream);
                        let r = ErrorReason::ConnectionLimit;
                        self.obs.error(r, 0, Some(&peer), &self.stats);
                        continue;
                    }
                    let entry = self.conns.vacant_entry();
                    let idx = entry.key();
                    if self.gens.len() <= idx {
                        self.gens.resize(idx + 1, 0);
                    }
                    let gen = self.gens[idx];
                    if self
                        .poll
                        .registry()
                        .register(
                            &mut stream,
                            Token(idx + FIRST_CONN),
                            Interest::READABLE | Interest::WRITABLE,
                        )
                        .is_err()
                    {
                        continue;
                    }
                    let mut conn = Conn::new();
                    conn.set_peer(Some(peer));
                    if let Some(text) = self.obs.tracking() {
                        conn.track(text);
                    }
                    entry.insert(Entry {
                        conn,
                        stream,
                        gen,
                        proxy,
                        readable: false,
                        writable: true,
                        hup: false,
                        queued: false,
                        streams: Vec::new(),
                        upgrade: None,
                        body_sink: None,
                        sent: 0,
                        watchers: Vec::new(),
                        lingering: false,
                        clocks: Clocks {
                            last_io: self.now,
                            born: self.now,
                            armed: NEVER,
                            ..Default::default()
                        },
                    });
                    self.arm(idx);
                    self.peak_conns = self.peak_conns.max(self.conns.len());
                    self.stats.open.fetch_add(1, Ordering::Relaxed);
                    self.stats.accepted.fetch_add(1, Ordering::Relaxed);
                    if self.conns.len() >= self.shared.cfg.max_connections {
                        // a full table: serve what it already sent before the
                        // next arrival may need its place
                        self.conns[idx].readable = true;
                        self.drive(idx);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(_) => {
                    // Out of descriptors or memory: the pending connection
                    // stays queued. Back off instead of spinning on it.
                    self.accept_retry = Some(self.now + 100);
                    return;
                }
            }
        }
    }

    /// The table is full: closes the connection that has made the least
    /// progress, so that a flood of idle or trickling connections cannot
    /// lock everyone else out. Idle keep-alive connections go first (the one
    /// quiet longest), then those still sending a request (the slowest, in
    /// bytes per second since accepted). Connections with answers owed or
    /// being written are never chosen. Returns false when none may go.
    fn make_room(&mut self) -> bool {
        let now = self.now;
        // lower goes first: the idle, quiet longest; then senders past their
        // first 100 ms, slowest first; then younger ones, oldest first (a
        // connection just accepted has had no time to send anything)
        let mut victim: Option<(usize, (u8, u8, u64))> = None;
        for (idx, e) in self.conns.iter() {
            let v = e.view();
            // idle between requests; one that never sent any is a sender
            let between = v.idle && e.conn.requests() > 0;
            let key = if between {
                (0, 0, e.clocks.last_io)
            } else if (v.idle || v.reading_head || v.reading_body) && !v.pending && !v.unsent {
                let age = now.saturating_sub(e.clocks.born);
                if age >= 100 {
                    (1, 0, v.bytes_in.saturating_mul(1000) / age)
                } else {
                    (1, 1, e.clocks.born)
                }
            } else {
                continue;
            };
            if victim.map_or(true, |(_, k)| key < k) {
                victim = Some((idx, key));
            }
        }
        match victim {
            Some((idx, _)) => {
                self.close(idx);
                true
            }
            None => false,
        }
    }

    fn drain_mailbox(&mut self) {
        for c in self.mailbox.take() {
            let idx = c.token;
            let Some(e) = self.conns.get_mut(idx).filter(|e| e.gen == c.gen) else {
                // the connection closed; its slot may have been reused
                match c.work {
                    Work::Stream(_, _, shared) => shared.close(),
                    Work::Upgrade(_, hook) => hand_over(hook, None),
                    Work::ReadBody(mut sink) => {
                        stream::feed(&mut sink, BodyPiece::Aborted);
                    }
                    Work::Watch(hook) => stream::tell_end(hook, EndReason::Gone),
                    _ => {}
                }
                continue;
            };
            let mut ctx = Ctx {
                cfg: &self.shared.cfg.proto,
                pool: &mut self.pool,
                date: &self.date.text,
            };
            let seq = c.ticket.seq;
            match c.work {
                Work::Respond(mut parts) => {
                    e.conn.complete(c.ticket, parts.response(), &mut ctx);
                    stream::ended(&mut e.watchers, Some(seq), EndReason::Sent);
                }
                Work::Watch(hook) => {
                    if e.conn.is_pending(seq) {
                        e.watchers.push((seq, hook));
                    } else {
                        // answered already, and not by its owner: the timeout
                        stream::tell_end(hook, EndReason::Timeout);
                    }
                }
                Work::Stream(mut parts, len, shared) => {
                    let r = parts.response();
                    if e.conn
                        .stream_start(c.ticket, r.status, r.headers, len, &mut ctx)
                    {
                        e.streams.push(shared);
                        stream::ended(&mut e.watchers, Some(seq), EndReason::Sent);
                    } else {
                        shared.close(); // its request timed out meanwhile
                    }
                }
                Work::Data(piece) => {
                    if e.conn
                        .stream_write(seq, Body::Ext(piece), &mut ctx)
                        .is_err()
                    {
                        e.conn.stream_abort(seq, &mut ctx);
                    }
                }
                Work::End(trailers) => {
                    let _ = e.conn.stream_end(seq, &trailers, &mut ctx);
                    e.streams.retain(|s| s.origin().ticket.seq != seq);
                }
                Work::Abort => {
                    e.conn.stream_abort(seq, &mut ctx);
                    e.streams.retain(|s| s.origin().ticket.seq != seq);
                }
                Work::ReadBody(sink) => {
                    e.body_sink = Some(sink);
                    if !e.conn.read_body(seq, &mut ctx) {
                        e.body_aborted(); // no body follows (any more)
                    }
                }
                Work::ResumeBody => {
                    e.conn.read_body(seq, &mut ctx);
                }
                Work::Upgrade(parts, hook) => {
                    if e.conn
                        .complete_upgrade(c.ticket, parts.status, &parts.headers, &mut ctx)
                    {
                        e.upgrade = Some(hook);
                        stream::ended(&mut e.watchers, Some(seq), EndReason::Sent);
                    } else {
                        hand_over(hook, None); // its request timed out meanwhile
                    }
                }
            }
            self.drive(idx);
        }
    }

    /// Hands the collected batch to the batch handler and applies its
    /// answers; repeats while writing those answers let more requests in.
    fn flush_batch(&mut self) {
        while !self.batch.is_empty() {
            let (conns, pool) = (&mut self.conns, &mut self.pool);
            let (cfg, date) = (&self.shared.cfg.proto, &self.date.text);
            let mut deliver = |o: Origin, r: crate::proto::Response<'_>| {
                let Some(e) = conns.get_mut(o.token).filter(|e| e.gen == o.gen) else {
                    return false; // the connection closed; its slot may have been reused
                };
                let mut ctx = Ctx { cfg, pool, date };
                e.conn.complete(o.ticket, r, &mut ctx)
            };
            let mut touched = std::mem::take(&mut self.touched);
            touched.clear();
            touched.extend_from_slice(self.batch.flush(&mut deliver));
            for &idx in &touched {
                if self.conns.contains(idx) {
                    self.drive(idx);
                }
            }
            self.touched = touched;
        }
    }

    /// Reads, processes and writes until the connection can make no progress,
    /// then re-arms its timer.
    fn drive(&mut self, idx: usize) {
        if self.drive_io(idx) {
            self.arm(idx);
        }
    }

    fn arm(&mut self, idx: usize) {
        let t = &self.shared.cfg.timeouts;
        let e = &mut self.conns[idx];
        let v = e.view();
        e.clocks.update(&v, self.now);
        let (at, _) = e.clocks.deadline(&v, t);
        self.timers.arm(&mut e.clocks, at, idx, e.gen);
    }

    fn fire_timers(&mut self) {
        while let Some((at, idx, gen)) = self.timers.pop_due(self.now) {
            let Some(e) = self.conns.get_mut(idx) else {
                continue;
            };
            if e.gen != gen || e.clocks.armed != at {
                continue; // closed, or superseded by an earlier entry
            }
            e.clocks.armed = NEVER;
            let v = e.view();
            e.clocks.update(&v, self.now);
            let (due, what) = e.clocks.deadline(&v, &self.shared.cfg.timeouts);
            if due > self.now {
                self.timers.arm(&mut e.clocks, due, idx, gen);
                continue;
            }
            let mut ctx = Ctx {
                cfg: &self.shared.cfg.proto,
                pool: &mut self.pool,
                date: &self.date.text,
            };
            match what {
                Some(Expired::Write) | Some(Expired::SendRate) => {
                    let r = ErrorReason::WriteTimeout;
                    self.obs.error(r, 0, e.conn.peer(), &self.stats);
                    self.close(idx);
                    continue;
                }
                Some(Expired::Idle) | Some(Expired::Proxy) | None => {
                    self.close(idx);
                    continue;
                }
                Some(Expired::Request) => {
                    let seq = e.conn.first_pending();
                    if e.conn.expire_deferred(503, &mut ctx) {
                        stream::ended(&mut e.watchers, seq, EndReason::Timeout);
                        self.batch.cancel(idx, e.gen, seq);
                        let r = ErrorReason::RequestTimeout;
                        self.obs.error(r, 503, e.conn.peer(), &self.stats);
                    }
                    e.clocks.deferred_since = 0;
                }
                Some(w @ (Expired::Body | Expired::BodyRate | Expired::Header)) => {
                    if e.conn.abort(408, &mut ctx).is_some() {
                        e.body_aborted();
                    }
                    e.conn.take_failed(); // reported here, with its reason
                    let r = if w != Expired::Header {
                        ErrorReason::BodyTimeout
                    } else {
                        ErrorReason::HeaderTimeout
                    };
                    self.obs.error(r, 408, e.conn.peer(), &self.stats);
                }
            }
            self.drive(idx);
        }
    }

    /// One turn: a read, the requests it completed, one write. Returns false
    /// when the connection was closed.
    fn drive_io(&mut self, idx: usize) -> bool {
        let cfg = &self.shared.cfg.proto;
        let limits = &cfg.limits;
        let e = &mut self.conns[idx];
        if e.lingering {
            return self.linger(idx);
        }
        if e.proxy && e.readable {
            if self.proxy_buf.is_empty() {
                self.proxy_buf = vec![0; PROXY_HEADER_MAX];
            }
            match read_proxy_header(&e.stream, &mut self.proxy_buf, e.hup) {
                Proxied::Done(peer) => {
                    e.proxy = false;
                    if peer.is_some() {
                        e.conn.set_peer(peer);
                    }
                }
                Proxied::Waiting => e.readable = false,
                Proxied::Refused => {
                    self.close(idx);
                    return false;
                }
            }
        }
        if e.proxy {
            if self.stopping.is_some() {
                self.close(idx); // no request started: nothing to finish
                return false;
            }
            return true; // nothing else happens before the header
        }
        // held-back requests first: reading more now would only grow the buffer
        if e.readable && e.conn.wants_read(limits) && !e.conn.can_process(limits) {
            let spare = e.conn.recv_buf(&mut self.pool, limits);
            match read(&e.stream, spare) {
                Ok(0) => {
                    e.readable = false;
                    e.conn.received_eof();
                }
                Ok(n) => {
                    // a short read drained the socket: wait for the next edge
                    if n < spare.len() && !e.hup {
                        e.readable = false;
                    }
                    // SAFETY: read(2) initialised the first `n` bytes of `spare`.
                    unsafe { e.conn.received(n) };
                    e.clocks.last_io = self.now;
                    e.clocks.last_read = self.now;
                    self.stats.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => e.readable = false,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.close(idx);
                    return false;
                }
            }
        }
        let before = e.conn.requests();
        let mut d = Dispatch {
            router: &self.shared.router,
            builder: &mut self.builder,
            mailbox: &self.mailbox,
            errors: &self.shared.errors,
            batch: &mut self.batch,
            scratch: &mut self.scratch,
            token: idx,
            gen: e.gen,
            budget: limits.max_unsent,
            streams: &mut e.streams,
            upgrade: &mut e.upgrade,
            body_sink: &mut e.body_sink,
            watchers: &mut e.watchers,
            obs: &self.obs,
            stats: &self.stats,
        };
        let mut ctx = Ctx {
            cfg,
            pool: &mut self.pool,
            date: &self.date.text,
        };
        e.conn.set_clock(self.now_us);
        e.conn.process(&mut d, &mut ctx, &mut self.headers);
        let failed = e.conn.take_failed();
        if failed != 0 {
            self.obs.refused(failed, e.conn.peer(), &self.stats);
        }
        let served = e.conn.requests() - before;
        if served > 0 {
            self.stats.requests.fetch_add(served, Ordering::Relaxed);
        }
        if e.conn.peer_closed() && e.conn.pending() > 0 && self.stopping.is_none() {
            // the client left with answers owed (as nginx takes a client
            // abort): their work is cancelled rather than waited out
            self.close(idx);
            return false;
        }
        // a head and its file body take two calls (writev, then sendfile):
        // keep going while the socket takes everything, a few calls a turn
        let mut calls = 0;
        while e.writable && e.conn.unsent() > 0 && calls < WRITES_PER_TURN {
            calls += 1;
            match write(&e.stream, &e.conn) {
                Ok((n, offered)) => {
                    if n < offered {
                        e.writable = false;
                    }
                    e.conn.written(n, &mut self.pool);
                    e.sent += n as u64;
                    e.clocks.last_io = self.now;
                    e.clocks.write_since = if e.conn.unsent() > 0 { self.now } else { 0 };
                    self.stats.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => e.writable = false,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.close(idx);
                    return false;
                }
            }
        }
        if e.conn.has_exchanges() {
            let now = self.epoch.elapsed().as_micros() as u64;
            let (obs, stats) = (&mut self.obs, &self.stats);
            e.conn.exchanges(false, |x| obs.exchange(x, now, stats));
        }
        if e.conn.upgraded() {
            self.release_upgraded(idx);
            return false;
        }
        if e.conn.should_close() {
            if self.stopping.is_some() {
                return self.linger(idx);
            }
            self.close(idx);
            return false;
        }
        let more = (e.readable && e.conn.wants_read(limits))
            || e.conn.can_process(limits)
            || (e.writable && e.conn.unsent() > 0);
        if more && !e.queued {
            e.queued = true;
            self.again.push((idx, e.gen));
        }
        true
    }

    /// Closes a connection during a stop once the client has every answer
    /// (see `linger.rs`); until then it waits on `lingering`. Returns false
    /// when it was closed.
    fn linger(&mut self, idx: usize) -> bool {
        let e = &mut self.conns[idx];
        if !e.lingering {
            e.lingering = true;
            linger::begin(&e.stream);
            self.lingering.push((idx, e.gen));
        }
        if linger::done(&e.stream) {
            self.close(idx);
            return false;
        }
        true
    }

    /// Acknowledgements raise no event: lingering connections are looked at
    /// on every pass of a stopping loop (at least every 50 ms).
    fn check_lingering(&mut self) {
        let mut list = std::mem::take(&mut self.lingering);
        list.retain(|&(idx, gen)| {
            let Some(e) = self.conns.get(idx).filter(|e| e.gen == gen) else {
                return false;
            };
            if linger::done(&e.stream) {
                self.close(idx);
                return false;
            }
            true
        });
        self.lingering = list;
    }

    /// Lets go of a connection that switched protocols: its socket goes,
    /// open, to whoever accepted the switch.
    fn release_upgraded(&mut self, idx: usize) {
        let mut e = self.conns.remove(idx);
        let _ = self.poll.registry().deregister(&mut e.stream);
        let rest = e.conn.take_upgrade(&mut self.pool);
        self.gens[idx] = self.gens[idx].wrapping_add(1);
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: the descriptor is the stream's own, taken from it here and
        // owned by the `OwnedFd` alone from now on.
        let fd = unsafe { OwnedFd::from_raw_fd(e.stream.into_raw_fd()) };
        match e.upgrade.take() {
            Some(hook) => hand_over(hook, Some(Upgraded { fd, rest })),
            None => drop(fd),
        }
    }

    fn close(&mut self, idx: usize) {
        let mut e = self.conns.remove(idx);
        if self.obs.tracking().is_some() {
            let now = self.clock_us();
            let (obs, stats) = (&mut self.obs, &self.stats);
            e.conn.exchanges(true, |x| obs.exchange(x, now, stats));
        }
        let _ = self.poll.registry().deregister(&mut e.stream);
        if e.conn.pending() > 0 {
            self.batch.cancel(idx, e.gen, None);
        }
        stream::ended(&mut e.watchers, None, EndReason::Gone);
        e.conn.release(&mut self.pool);
        e.body_aborted();
        for s in e.streams {
            s.close();
        }
        if let Some(hook) = e.upgrade {
            hand_over(hook, None);
        }
        self.gens[idx] = self.gens[idx].wrapping_add(1);
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Returns the allocator's free pages to the system.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Runs an upgrade hook; a panic in it must not take the worker down.
fn hand_over(hook: UpgradeHook, conn: Option<Upgraded>) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(conn)));
}

fn read(s: &Sock, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: `buf` is valid writable memory of its length; read(2) writes at
    // most that many bytes and they are then initialised.
    let n = unsafe { libc::read(s.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// One `send` (one buffer) or `sendmsg` for the queued responses up to the
/// next file body, or one `sendfile` of the file body at the front.
/// MSG_NOSIGNAL: a peer that went
/// away is an EPIPE error here, never a SIGPIPE in the host process. Returns
/// the bytes written and the bytes offered: fewer written means the socket is
/// full.
fn write(s: &Sock, conn: &Conn) -> io::Result<(usize, usize)> {
    if let Some(f) = conn.out_file() {
        return send_file(s, f);
    }
    // More follows at once (a file body, mostly): MSG_MORE lets the kernel
    // put the head and the start of the file in one segment, as TCP_CORK would.
    let more = |offered: usize| {
        if offered < conn.unsent() {
            libc::MSG_MORE
        } else {
            0
        }
    };
    if let Some(b) = conn.out_single() {
        // one buffer, the common case: `send` spares the kernel the
        // message header and its vector
        // SAFETY: `b` is readable for its length.
        let r = unsafe {
            libc::send(
                s.as_raw_fd(),
                b.as_ptr().cast(),
                b.len(),
                libc::MSG_NOSIGNAL | more(b.len()),
            )
        };
        return match r < 0 {
            true => Err(io::Error::last_os_error()),
            false => Ok((r as usize, b.len())),
        };
    }
    let mut iov = [io::IoSlice::new(&[]); 64];
    let n = conn.iovecs(&mut iov);
    let offered: usize = iov[..n].iter().map(|s| s.len()).sum();
    let more = more(offered);
    // SAFETY: a zeroed msghdr is valid; IoSlice is ABI-compatible with iovec.
    let r = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = iov.as_mut_ptr().cast();
        msg.msg_iovlen = n as _;
        libc::sendmsg(s.as_raw_fd(), &msg, libc::MSG_NOSIGNAL | more)
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok((r as usize, offered))
    }
}

/// Calls a turn may make to write one connection's output.
const WRITES_PER_TURN: usize = 8;

/// Linux sends at most this much in one `sendfile(2)` call.
const SENDFILE_MAX: usize = 0x7fff_f000;

/// Sends part of a file body. A socket that takes less than offered is full
/// only when the next call says EAGAIN, so a short count is reported as
/// complete; a file that ends early (it shrank since it was opened) is an
/// error, which closes the connection: its response can no longer be framed.
fn send_file(s: &Sock, f: crate::proto::FileChunk) -> io::Result<(usize, usize)> {
    let mut off = f.offset as libc::off_t;
    let want = f.len.min(SENDFILE_MAX);
    // SAFETY: both descriptors are open (the file is owned by the queue
    // until it is sent) and `off` is a valid off_t the call updates.
    let r = unsafe { libc::sendfile(s.as_raw_fd(), f.fd, &mut off, want) };
    match r {
        r if r < 0 => {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EPIPE) {
                take_sigpipe();
            }
            Err(e)
        }
        0 => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the file ended before its body",
        )),
        r => Ok((r as usize, r as usize)),
    }
}

/// `sendfile(2)` has no `MSG_NOSIGNAL`: a peer that went away raises SIGPIPE
/// at the writing thread. Workers block it, so that it stays pending there
/// instead of killing the host process; `take_sigpipe` then clears it.
fn block_sigpipe() {
    // SAFETY: a sigset_t filled by sigemptyset/sigaddset, for this thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Clears a SIGPIPE pending on this thread (blocked by `block_sigpipe`).
fn take_sigpipe() {
    // SAFETY: as in `block_sigpipe`; a zero timeout makes the wait a poll.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        libc::sigtimedwait(&set, std::ptr::null_mut(), &zero);
    }
}
