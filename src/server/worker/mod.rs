//! One worker: an event loop owning its listeners and a slab of
//! connections. The loop is epoll's (through mio) or io_uring's
//! (`uring.rs`); everything else, from the connection's turn to timers,
//! the mailbox and batches, is the same code for both.

mod admit;
mod inbox;
mod sys;
mod timeouts;
mod uring;

use std::io;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use super::batch::Batcher;
use super::dispatch::Dispatch;
use super::linger;
use super::listen::{read_proxy_header, Listening, Proxied, Sock};
use super::mailbox::{Mailbox, Waker as MailWaker};
use super::observe::Observer;
use super::response::ResponseBuilder;
use super::router::Scratch;
use super::stream::{self, BodySink, EndHook, EndReason, StreamState, UpgradeHook, Upgraded};
use super::timers::{Clocks, Ms, Timers, View};
use super::{Driver, Shared, Stats};
use crate::parse::Header;
use crate::proto::date::DateCache;
use crate::proto::{BodyPiece, BufPool, Conn, Ctx, HeadMemo, PROXY_HEADER_MAX};

use sys::{block_sigpipe, read, write, WRITES_PER_TURN};
use uring::{ConnIo, Uring};

pub(crate) use uring::pick_driver;

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
    /// Closing: the write side is shut, late input is read and dropped
    /// (see `linger.rs`).
    lingering: bool,
    /// Bytes dropped while lingering.
    discarded: u64,
    /// What the io_uring driver has in flight for it.
    io: ConnIo,
}

impl Entry {
    /// Takes in `n` bytes written to the client.
    fn wrote(&mut self, n: usize, now: Ms, pool: &mut BufPool, stats: &Stats) {
        self.conn.written(n, pool);
        self.sent += n as u64;
        self.clocks.last_io = now;
        self.clocks.write_since = if self.conn.unsent() > 0 { now } else { 0 };
        stats.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// The streamed body will not complete: its reader hears so.
    fn body_aborted(&mut self) {
        if let Some(mut sink) = self.body_sink.take() {
            stream::feed(&mut sink, BodyPiece::Aborted);
        }
    }
}

impl Entry {
    fn view(&self) -> View {
        let live = !self.lingering;
        View {
            unsent: live && self.conn.unsent() > 0,
            pending: live && self.conn.pending() > 0,
            reading_body: live && self.conn.reading_body(),
            reading_head: live && self.conn.reading_head(),
            idle: live && self.conn.is_idle() && !self.proxy,
            proxy: live && self.proxy,
            bytes_in: self.conn.bytes_in(),
            bytes_out: self.sent,
            lingering: self.lingering,
        }
    }
}

/// The epoll driver: mio's poll and its event buffer.
struct Epoll {
    poll: Poll,
    events: Events,
}

enum Io {
    Epoll(Epoll),
    Uring(Box<Uring>),
    /// io_uring, its ring not yet set up (the worker's thread does that):
    /// the mailbox's eventfd.
    UringSoon(OwnedFd),
}

impl Epoll {
    fn new(listeners: &mut [Listening]) -> io::Result<Epoll> {
        let poll = Poll::new()?;
        for (i, l) in listeners.iter_mut().enumerate() {
            poll.registry()
                .register(l, Token(LISTENERS + i), Interest::READABLE)?;
        }
        let events = Events::with_capacity(1024);
        Ok(Epoll { poll, events })
    }
}

pub(crate) struct Worker {
    io: Io,
    /// The eventfd of a worker that fell back from io_uring to epoll.
    wake_fd: Option<OwnedFd>,
    listeners: Vec<Listening>,
    /// Where PROXY headers are peeked at; allocated on first use.
    proxy_buf: Vec<u8>,
    conns: Slab<Entry>,
    gens: Vec<u32>,
    pool: BufPool,
    headers: Vec<Header<'static>>,
    builder: ResponseBuilder,
    heads: HeadMemo,
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
    /// Connections a batch or the mailbox answered, kept for its capacity.
    touched: Vec<usize>,
    /// Most connections open since memory was last given back.
    peak_conns: usize,
    /// When to look at that again.
    next_trim: Ms,
    /// Lingering connections a stopping worker looks at, kept for its
    /// capacity.
    lingering: Vec<usize>,
}

impl Worker {
    /// A worker on `driver`, `Epoll` or `IoUring` (see `pick_driver`).
    pub(crate) fn new(
        mut listeners: Vec<Listening>,
        shared: Arc<Shared>,
        stats: Arc<Stats>,
        driver: Driver,
    ) -> io::Result<(Self, Arc<Mailbox>)> {
        let (io, waker) = if driver == Driver::IoUring {
            let (fd, waker) = uring::waker()?;
            (Io::UringSoon(fd), waker)
        } else {
            let ep = Epoll::new(&mut listeners)?;
            let waker = Waker::new(ep.poll.registry(), WAKER)?;
            (Io::Epoll(ep), MailWaker::Poll(waker))
        };
        let mailbox = Arc::new(Mailbox::new(waker));
        let max_headers = shared.cfg.proto.limits.max_headers;
        let batch = Batcher::new(&shared, &mailbox);
        let obs = Observer::new(shared.hooks.clone());
        let w = Worker {
            io,
            wake_fd: None,
            listeners,
            proxy_buf: Vec::new(),
            conns: Slab::with_capacity(1024),
            gens: Vec::new(),
            pool: BufPool::new(shared.cfg.buffer_size, shared.cfg.spare_buffers),
            headers: vec![Header::EMPTY; max_headers],
            builder: ResponseBuilder::default(),
            heads: HeadMemo::default(),
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
        if let Err(e) = self.setup_ring() {
            eprintln!("fastserve: a worker cannot start: {e}");
            self.mailbox.close();
            return;
        }
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
            if self.wait(wait).is_err() {
                break;
            }
            self.tick();
            // those queued before this poll; the events may queue others
            let mut again = std::mem::replace(&mut self.again, std::mem::take(&mut self.spare));
            self.dispatch();
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
                    if let Io::Uring(u) = &mut self.io {
                        u.arm_accept(i, &self.listeners[i]);
                    }
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
        if let Io::Uring(u) = &mut self.io {
            u.stop_accepting();
            u.finish();
        }
        self.obs.flush(self.clock_us());
        self.mailbox.close();
    }

    /// Sets up the io_uring driver on this thread; should the kernel refuse
    /// now what it allowed when the server started, the worker runs on
    /// epoll, woken through the same eventfd.
    fn setup_ring(&mut self) -> io::Result<()> {
        let wake = match &self.io {
            Io::UringSoon(fd) => fd.try_clone()?,
            _ => return Ok(()),
        };
        let max = self.shared.cfg.max_connections;
        match Uring::new(wake, &self.listeners, max) {
            Ok(u) => self.io = Io::Uring(Box::new(u)),
            Err(e) => {
                eprintln!("fastserve: io_uring setup failed ({e}); this worker runs on epoll");
                let ep = Epoll::new(&mut self.listeners)?;
                if let Io::UringSoon(fd) = std::mem::replace(&mut self.io, Io::Epoll(ep)) {
                    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
                    if let Io::Epoll(ep) = &self.io {
                        let src = &mut mio::unix::SourceFd(&raw);
                        ep.poll
                            .registry()
                            .register(src, WAKER, Interest::READABLE)?;
                    }
                    self.wake_fd = Some(fd);
                }
            }
        }
        Ok(())
    }

    /// Waits up to `ms` for events; the io_uring driver first submits what
    /// the last pass queued, in the same call.
    fn wait(&mut self, ms: u64) -> io::Result<()> {
        match &mut self.io {
            Io::Epoll(ep) => {
                let timeout = Some(Duration::from_millis(ms));
                if let Err(e) = ep.poll.poll(&mut ep.events, timeout) {
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                    ep.events.clear();
                }
                Ok(())
            }
            Io::Uring(u) => u.wait(ms),
            Io::UringSoon(_) => Ok(()),
        }
    }

    /// Acts on the events the last wait returned.
    fn dispatch(&mut self) {
        let ep = match &mut self.io {
            Io::Epoll(ep) => ep,
            _ => return self.dispatch_uring(),
        };
        let events = std::mem::replace(&mut ep.events, Events::with_capacity(0));
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
        if let Io::Epoll(ep) = &mut self.io {
            ep.events = events;
        }
    }

    fn begin_stop(&mut self) {
        self.stopping = Some(Instant::now());
        // Connections the kernel queued on the listeners would be reset when
        // they close; take them, and answer their first request.
        for which in 0..self.listeners.len() {
            self.accept(which);
        }
        match &mut self.io {
            Io::Epoll(ep) => {
                for mut l in std::mem::take(&mut self.listeners) {
                    let _ = ep.poll.registry().deregister(&mut l);
                }
            }
            Io::Uring(u) => {
                u.stop_accepting();
                self.listeners.clear();
            }
            Io::UringSoon(_) => {}
        }
        let idxs: Vec<usize> = self.conns.iter().map(|(i, _)| i).collect();
        for i in idxs {
            self.conns[i].conn.shutdown();
            self.drive(i);
        }
    }

    /// Reads, processes and writes until the connection can make no progress,
    /// then re-arms its timer.
    fn drive(&mut self, idx: usize) {
        if self.drive_io(idx) {
            self.arm(idx);
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
            if let Io::Uring(u) = &mut self.io {
                u.settle(idx, e, limits);
            }
            return true; // nothing else happens before the header
        }
        // io_uring's receives feed the connection as they complete
        let epoll = matches!(self.io, Io::Epoll(_));
        // held-back requests first: reading more now would only grow the buffer
        if epoll && e.readable && e.conn.wants_read(limits) && !e.conn.can_process(limits) {
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
            heads: &mut self.heads,
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
        // (io_uring: one send of a copy of what is queued, in flight until
        // its completion; file bodies are sent here, when the socket is ready)
        let mut calls = 0;
        while e.writable && e.conn.unsent() > 0 && !e.io.sending() && calls < WRITES_PER_TURN {
            if let Io::Uring(u) = &mut self.io {
                if e.conn.out_file().is_none() {
                    u.send(idx, e, &mut self.pool);
                    break;
                }
            }
            calls += 1;
            match write(&e.stream, &e.conn) {
                Ok((n, offered)) => {
                    if n < offered {
                        e.writable = false;
                    }
                    e.wrote(n, self.now, &mut self.pool, &self.stats);
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
            if let Io::Uring(u) = &mut self.io {
                if !u.quiet(idx, e) {
                    return true; // once its receive is cancelled
                }
            }
            self.release_upgraded(idx);
            return false;
        }
        if e.conn.should_close() {
            // a client that may still be sending would reset the close
            if self.stopping.is_some() || e.conn.may_send_more() {
                return self.linger(idx);
            }
            self.close(idx);
            return false;
        }
        if let Io::Uring(u) = &mut self.io {
            u.settle(idx, e, limits);
        }
        let more = (epoll && e.readable && e.conn.wants_read(limits))
            || e.conn.can_process(limits)
            || (e.writable && e.conn.unsent() > 0 && !e.io.sending());
        if more && !e.queued {
            e.queued = true;
            self.again.push((idx, e.gen));
        }
        true
    }

    /// Closes a connection whose answers are written without a reset (see
    /// `linger.rs`): the write side is shut, and what the client still
    /// sends is read and dropped on each readiness, until it closes its
    /// side, `MAX_DISCARD` bytes or `Timeouts::linger` (`fire_timers`); a
    /// stopping worker closes once the client acknowledged everything.
    /// Returns false when it was closed.
    fn linger(&mut self, idx: usize) -> bool {
        let e = &mut self.conns[idx];
        if !e.lingering {
            e.lingering = true;
            if let Io::Uring(u) = &mut self.io {
                u.quiet(idx, e); // late input is read by `linger::drain`
            }
            linger::begin(&e.stream);
        }
        let budget = linger::MAX_DISCARD.saturating_sub(e.discarded);
        match linger::drain(&e.stream, budget) {
            linger::Drained::Waiting(n) => {
                if n > 0 {
                    e.discarded += n;
                    e.clocks.last_io = self.now;
                    self.stats.bytes_in.fetch_add(n, Ordering::Relaxed);
                }
            }
            linger::Drained::Done => {
                self.close(idx);
                return false;
            }
        }
        if self.stopping.is_some() && linger::acked(&e.stream) {
            self.close(idx);
            return false;
        }
        if let Io::Uring(u) = &mut self.io {
            u.settle(idx, e, &self.shared.cfg.proto.limits); // a poll for more
        }
        true
    }

    /// Acknowledgements raise no event: lingering connections are looked at
    /// on every pass of a stopping loop (at least every 50 ms).
    fn check_lingering(&mut self) {
        let mut list = std::mem::take(&mut self.lingering);
        list.extend(
            self.conns
                .iter()
                .filter(|(_, e)| e.lingering)
                .map(|(i, _)| i),
        );
        for &idx in &list {
            self.linger(idx);
        }
        list.clear();
        self.lingering = list;
    }

    /// Lets go of a connection that switched protocols: its socket goes,
    /// open, to whoever accepted the switch.
    fn release_upgraded(&mut self, idx: usize) {
        let mut e = self.conns.remove(idx);
        match &mut self.io {
            Io::Epoll(ep) => {
                let _ = ep.poll.registry().deregister(&mut e.stream);
            }
            Io::Uring(u) => u.release_file(idx, &mut e),
            Io::UringSoon(_) => {}
        }
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
        match &mut self.io {
            Io::Epoll(ep) => {
                let _ = ep.poll.registry().deregister(&mut e.stream);
            }
            Io::Uring(u) => u.forget(idx, &mut e),
            Io::UringSoon(_) => {}
        }
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
