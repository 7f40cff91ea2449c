//! One worker: a mio poll loop owning a listener and a slab of connections.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use super::batch::{Batcher, Origin};
use super::dispatch::Dispatch;
use super::mailbox::Mailbox;
use super::response::ResponseBuilder;
use super::router::Scratch;
use super::timers::{Clocks, Expired, Ms, Timers, View, NEVER};
use super::{Shared, Stats};
use crate::parse::Header;
use crate::proto::date::DateCache;
use crate::proto::{BufPool, Conn, Ctx};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const FIRST_CONN: usize = 2;

struct Entry {
    conn: Conn,
    stream: TcpStream,
    gen: u32,
    /// Readiness not yet used up (edge-triggered).
    readable: bool,
    writable: bool,
    /// The peer's FIN was reported: read until 0 even after a short read.
    hup: bool,
    /// In `Worker::again`.
    queued: bool,
    clocks: Clocks,
}

impl Entry {
    fn view(&self) -> View {
        View {
            unsent: self.conn.unsent() > 0,
            pending: self.conn.pending() > 0,
            reading_body: self.conn.reading_body(),
            reading_head: self.conn.reading_head(),
            idle: self.conn.is_idle(),
        }
    }
}

pub(crate) struct Worker {
    poll: Poll,
    listener: Option<TcpListener>,
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
}

impl Worker {
    pub(crate) fn new(
        listener: std::net::TcpListener,
        shared: Arc<Shared>,
        stats: Arc<Stats>,
    ) -> io::Result<(Self, Arc<Mailbox>)> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::from_std(listener);
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let mailbox = Arc::new(Mailbox::new(waker));
        let max_headers = shared.cfg.proto.limits.max_headers;
        let batch = Batcher::new(&shared, &mailbox);
        let w = Worker {
            poll,
            listener: Some(listener),
            conns: Slab::with_capacity(1024),
            gens: Vec::new(),
            pool: BufPool::new(shared.cfg.buffer_size, 4096),
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
            accept_retry: None,
            again: Vec::new(),
            spare: Vec::new(),
            batch,
            touched: Vec::new(),
        };
        Ok((w, mailbox))
    }

    fn tick(&mut self) {
        self.now = self.epoch.elapsed().as_millis() as Ms + 1;
        self.date.refresh();
    }

    pub(crate) fn run(mut self) {
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
                    LISTENER => self.accept(),
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
                self.accept();
            }
            if self.shared.stop.load(Ordering::Acquire) && self.stopping.is_none() {
                self.begin_stop();
            }
            self.flush_batch();
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
    }

    fn begin_stop(&mut self) {
        self.stopping = Some(Instant::now());
        if let Some(mut l) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut l);
        }
        let idxs: Vec<usize> = self.conns.iter().map(|(i, _)| i).collect();
        for i in idxs {
            self.conns[i].conn.shutdown();
            self.drive(i);
        }
    }

    fn accept(&mut self) {
        loop {
            let Some(l) = &self.listener else { return };
            match l.accept() {
                Ok((mut stream, _)) => {
                    if self.conns.len() >= self.shared.cfg.max_connections {
                        drop(stream);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
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
                    entry.insert(Entry {
                        conn: Conn::new(),
                        stream,
                        gen,
                        readable: false,
                        writable: true,
                        hup: false,
                        queued: false,
                        clocks: Clocks {
                            last_io: self.now,
                            armed: NEVER,
                            ..Default::default()
                        },
                    });
                    self.arm(idx);
                    self.stats.open.fetch_add(1, Ordering::Relaxed);
                    self.stats.accepted.fetch_add(1, Ordering::Relaxed);
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

    fn drain_mailbox(&mut self) {
        for mut c in self.mailbox.take() {
            let idx = c.token;
            let Some(e) = self.conns.get_mut(idx).filter(|e| e.gen == c.gen) else {
                continue; // the connection closed; its slot may have been reused
            };
            let mut ctx = Ctx {
                cfg: &self.shared.cfg.proto,
                pool: &mut self.pool,
                date: &self.date.text,
            };
            e.conn.complete(c.ticket, c.parts.response(), &mut ctx);
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
                Some(Expired::Write) | Some(Expired::Idle) | None => {
                    self.close(idx);
                    continue;
                }
                Some(Expired::Request) => {
                    e.conn.expire_deferred(503, &mut ctx);
                    e.clocks.deferred_since = 0;
                }
                Some(Expired::Body) | Some(Expired::Header) => {
                    e.conn.abort(408, &mut ctx);
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
        };
        let mut ctx = Ctx {
            cfg,
            pool: &mut self.pool,
            date: &self.date.text,
        };
        e.conn.process(&mut d, &mut ctx, &mut self.headers);
        let served = e.conn.requests() - before;
        if served > 0 {
            self.stats.requests.fetch_add(served, Ordering::Relaxed);
        }
        if e.writable && e.conn.unsent() > 0 {
            match write(&e.stream, &e.conn) {
                Ok(n) => {
                    if n < e.conn.unsent() {
                        e.writable = false;
                    }
                    e.conn.written(n, &mut self.pool);
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
        if e.conn.should_close() {
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

    fn close(&mut self, idx: usize) {
        let mut e = self.conns.remove(idx);
        let _ = self.poll.registry().deregister(&mut e.stream);
        e.conn.release(&mut self.pool);
        self.gens[idx] = self.gens[idx].wrapping_add(1);
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

fn read(s: &TcpStream, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: `buf` is valid writable memory of its length; read(2) writes at
    // most that many bytes and they are then initialised.
    let n = unsafe { libc::read(s.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// One `sendmsg` for all queued responses. MSG_NOSIGNAL: a peer that went
/// away is an EPIPE error here, never a SIGPIPE in the host process.
fn write(s: &TcpStream, conn: &Conn) -> io::Result<usize> {
    let mut iov = [io::IoSlice::new(&[]); 64];
    let n = match conn.out_single() {
        Some(b) => {
            iov[0] = io::IoSlice::new(b);
            1
        }
        None => conn.iovecs(&mut iov),
    };
    // SAFETY: a zeroed msghdr is valid; IoSlice is ABI-compatible with iovec.
    let r = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = iov.as_mut_ptr().cast();
        msg.msg_iovlen = n as _;
        libc::sendmsg(s.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}
