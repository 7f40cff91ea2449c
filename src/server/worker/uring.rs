//! The io_uring driver: the worker's loop on one ring instead of epoll.
//!
//! - Listeners take one multishot accept each; a new connection's peer
//!   comes from `getpeername(2)` (multishot accept gives no address).
//! - Each connection has one multishot receive, whose data lands in a
//!   buffer the kernel picks from a ring the worker provides: an idle
//!   connection holds no buffer. The bytes are copied into the
//!   connection's input and the buffer goes straight back. Under
//!   backpressure the receive is cancelled, and armed again once the
//!   connection wants to read.
//! - The output queued in a turn goes out in one `send` from a copy (a pool
//!   block): the queue may grow, move or drop what it holds while the send
//!   is in flight. Its completion takes the bytes written off the queue.
//! - File bodies keep `sendfile(2)`, made when the socket is writable; on
//!   `EAGAIN` a poll for `POLLOUT` says when to go on. A PROXY header is
//!   read on poll readiness (`POLLIN`) too, as the epoll driver reads it.
//! - Connections are registered files (slot = their slab index), so a
//!   send does not look its descriptor up each time.
//! - The mailbox wakes the worker through an eventfd with a read queued.
//! - What a pass queues is submitted by the next wait, in one
//!   `io_uring_enter` that also waits for completions.
//!
//! Closing a connection cancels what it has in flight; a send's copy lives
//! on until its completion arrives.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Once;

use io_uring::{cqueue, opcode, squeue, types, IoUring};

use super::{Entry, Io, Worker};
use crate::proto::{BufPool, Limits};
use crate::server::listen::{self, Listening};
use crate::server::mailbox::Waker;
use crate::server::Driver;

/// Whether `auto` picks io_uring. It does not: its server CPU per request
/// is not reliably below epoll's (see ARCHITECTURE.md, "Drivers").
const AUTO_PREFERS_URING: bool = false;

const SQ_ENTRIES: u32 = 1024;
const CQ_ENTRIES: u32 = 8192;
/// Receive buffers in the provided ring (a power of two), and their size.
const RECV_BUFS: u16 = 512;
const RECV_BUF_SIZE: usize = 4096;
const GROUP: u16 = 0;
/// Most registered file slots: connections past them use their descriptor.
const MAX_FIXED: usize = 16384;

// A submission's user data: its kind in the top 4 bits, a slab index (a
// connection's or a listener's) in the next 28, a generation in the low 32.
const ACCEPT: u64 = 1;
const WAKE: u64 = 2;
const RECV: u64 = 3;
const SEND: u64 = 4;
const POLL_IN: u64 = 5;
const POLL_OUT: u64 = 6;
const CANCEL: u64 = 7;

fn token(kind: u64, idx: usize, gen: u32) -> u64 {
    kind << 60 | ((idx as u64) & 0x0fff_ffff) << 32 | gen as u64
}

fn untoken(t: u64) -> (u64, usize, u32) {
    (t >> 60, ((t >> 32) & 0x0fff_ffff) as usize, t as u32)
}

/// The driver for `chosen`: `Epoll`, or `IoUring` when it was asked for (or
/// `auto` prefers it) and this kernel lets the process use it. A refusal
/// (an old kernel, `kernel.io_uring_disabled`, a seccomp filter) falls back
/// to epoll, said once on stderr.
pub(crate) fn pick_driver(chosen: Driver) -> Driver {
    let want = match chosen {
        Driver::Epoll => false,
        Driver::IoUring => true,
        Driver::Auto => AUTO_PREFERS_URING,
    };
    if !want {
        return Driver::Epoll;
    }
    // On a thread of its own: a ring's creator is signalled (TIF_NOTIFY_SIGNAL)
    // when the ring is torn down, which would interrupt a blocking call of
    // the caller's with EINTR. Workers likewise set up their ring themselves.
    let probed = std::thread::Builder::new()
        .name("fastserve-probe".into())
        .spawn(|| probe(SQ_ENTRIES))
        .and_then(|t| {
            t.join()
                .unwrap_or_else(|_| Err(io::Error::other("panicked")))
        });
    match probed {
        Ok(()) => Driver::IoUring,
        Err(e) => {
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                eprintln!("fastserve: io_uring is not available ({e}); the workers run on epoll")
            });
            Driver::Epoll
        }
    }
}

/// Sets up a ring as a worker would, with what the driver needs.
fn probe(entries: u32) -> io::Result<()> {
    let ring = build(entries)?;
    if !ring.params().is_feature_ext_arg() || !ring.params().is_feature_fast_poll() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the kernel's io_uring is too old",
        ));
    }
    let mut p = io_uring::Probe::new();
    ring.submitter().register_probe(&mut p)?;
    for op in [
        opcode::RecvMulti::CODE,
        opcode::Send::CODE,
        opcode::AsyncCancel::CODE,
    ] {
        if !p.is_supported(op) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("io_uring lacks opcode {op}"),
            ));
        }
    }
    let _bufs = BufRing::new(&ring, 1, 4096)?; // provided buffer rings: 5.19
    Ok(())
}

/// One thread submits to a worker's ring, and completions are reaped only
/// when it waits: the kernel runs their work then, in a batch, rather than
/// interrupting the thread (`DEFER_TASKRUN`, 6.1).
fn build(entries: u32) -> io::Result<IoUring> {
    IoUring::builder()
        .setup_cqsize(CQ_ENTRIES.max(entries * 2))
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(entries)
}

/// A connection's receive.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Recv {
    #[default]
    Off,
    On,
    /// Cancelled, its last completion not yet seen.
    Cancelling,
}

/// What a connection has in flight on the ring.
#[derive(Default)]
pub(super) struct ConnIo {
    recv: Recv,
    /// The copy of the output a send in flight reads from.
    staged: Option<Vec<u8>>,
    poll_in: bool,
    poll_out: bool,
    /// Registered in the ring's file table, at its slab index.
    fixed: bool,
    /// The pass that queued its last submission: while it is the current
    /// one, the submission has not reached the kernel.
    pass: u64,
}

impl ConnIo {
    /// A send is in flight: no other write may start before it completes.
    pub(super) fn sending(&self) -> bool {
        self.staged.is_some()
    }
}

/// The provided buffer ring the receives take their buffers from: one
/// mapping with the ring's entries, then the buffers.
struct BufRing {
    base: *mut u8,
    map_len: usize,
    entries: u16,
    size: usize,
    tail: u16,
}

impl BufRing {
    fn new(ring: &IoUring, entries: u16, size: usize) -> io::Result<BufRing> {
        let ring_len =
            (entries as usize * std::mem::size_of::<types::BufRingEntry>()).next_multiple_of(4096);
        let map_len = ring_len + entries as usize * size;
        // SAFETY: an anonymous private mapping; no memory of ours involved.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut b = BufRing {
            base: base.cast(),
            map_len,
            entries,
            size,
            tail: 0,
        };
        // SAFETY: the ring's entries start the mapping, page-aligned, and
        // live until `drop`, which comes after the ring (a field declared
        // before it in `Uring`) unregistered them.
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(base as u64, entries, GROUP, 0)?
        };
        for bid in 0..entries {
            b.give(bid);
        }
        Ok(b)
    }

    fn ring(&self) -> *mut types::BufRingEntry {
        self.base.cast()
    }

    fn buf(&self, bid: u16) -> *mut u8 {
        let ring_len = (self.entries as usize * std::mem::size_of::<types::BufRingEntry>())
            .next_multiple_of(4096);
        // SAFETY: within the mapping: `bid < entries`.
        unsafe { self.base.add(ring_len + bid as usize * self.size) }
    }

    /// The first `len` bytes the kernel received into buffer `bid`.
    fn bytes(&self, bid: u16, len: usize) -> &[u8] {
        let len = len.min(self.size);
        // SAFETY: the kernel wrote `len` bytes there and gave the buffer to
        // us in a completion; it takes it again only after `give`.
        unsafe { std::slice::from_raw_parts(self.buf(bid % self.entries), len) }
    }

    /// Puts buffer `bid` back in the ring for the kernel to fill.
    fn give(&mut self, bid: u16) {
        let bid = bid % self.entries;
        let slot = self.tail & (self.entries - 1);
        // SAFETY: `slot` is within the ring's entries; the kernel reads an
        // entry only once the tail published below covers it.
        unsafe {
            let e = &mut *self.ring().add(slot as usize);
            e.set_addr(self.buf(bid) as u64);
            e.set_len(self.size as u32);
            e.set_bid(bid);
        }
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail is a u16 inside the first entry, which the kernel
        // reads with acquire semantics; a release store publishes the entry.
        unsafe {
            let tail = types::BufRingEntry::tail(self.ring()) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

// SAFETY: the mapping is owned by the ring alone and used by the one thread
// that owns the worker; it moves with the worker to its thread.
unsafe impl Send for BufRing {}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unused from here on.
        unsafe { libc::munmap(self.base.cast(), self.map_len) };
    }
}

pub(super) struct Uring {
    /// Declared first: dropped (closing the ring) before the buffers.
    ring: IoUring,
    bufs: BufRing,
    wake: OwnedFd,
    /// Where the eventfd's reads land.
    wake_val: Box<u64>,
    /// Per listener: its multishot accept is armed; whether it takes a PROXY
    /// header and is a Unix socket (still known once it closed).
    accepting: Vec<bool>,
    kinds: Vec<(bool, bool)>,
    /// Copies of closed connections' sends still in flight, by user data.
    orphans: Vec<(u64, Vec<u8>)>,
    /// Completions taken from the ring, kept for the capacity.
    cqes: Vec<(u64, i32, u32)>,
    pass: u64,
    /// Slots in the registered file table.
    files: usize,
}

/// The mailbox's eventfd, made with the worker; its ring is set up by the
/// worker's thread (see `pick_driver`).
pub(super) fn waker() -> io::Result<(OwnedFd, Waker)> {
    // SAFETY: eventfd(2) with valid flags; a new descriptor or -1.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor just created, owned here alone.
    let wake = unsafe { OwnedFd::from_raw_fd(fd) };
    let waker = Waker::EventFd(wake.try_clone()?);
    Ok((wake, waker))
}

impl Uring {
    /// On the worker's thread: the ring, its buffers, the accepts and the
    /// wake-up read queued.
    pub(super) fn new(
        wake: OwnedFd,
        listeners: &[Listening],
        max_conns: usize,
    ) -> io::Result<Uring> {
        let ring = build(SQ_ENTRIES)?;
        let bufs = BufRing::new(&ring, RECV_BUFS, RECV_BUF_SIZE)?;
        // the table's size counts against RLIMIT_NOFILE: without one, plain
        // descriptors do
        let want = max_conns.clamp(1, MAX_FIXED);
        let files = match ring.submitter().register_files_sparse(want as u32) {
            Ok(()) => want,
            Err(_) => 0,
        };
        let mut u = Uring {
            ring,
            bufs,
            wake,
            wake_val: Box::new(0),
            accepting: vec![false; listeners.len()],
            kinds: listeners.iter().map(|l| (l.proxy, l.is_unix())).collect(),
            orphans: Vec::new(),
            cqes: Vec::with_capacity(CQ_ENTRIES as usize),
            pass: 1,
            files,
        };
        for (i, l) in listeners.iter().enumerate() {
            u.arm_accept(i, l);
        }
        u.arm_wake();
        Ok(u)
    }

    /// Queues a submission, first submitting what is queued when the queue
    /// is full.
    fn push(&mut self, sqe: squeue::Entry) {
        loop {
            // SAFETY: every submission points at memory that outlives it: the
            // eventfd value (a Box of ours), a send's copy (kept until its
            // completion, by `orphans` once its connection closed), the
            // provided buffers (unmapped after the ring is closed).
            if unsafe { self.ring.submission().push(&sqe) }.is_ok() {
                return;
            }
            if self.ring.submit().is_err() {
                // the kernel takes nothing: let a completion make room
                let _ = self.ring.submit_and_wait(1);
            }
        }
    }

    fn cancel(&mut self, target: u64) {
        let sqe = opcode::AsyncCancel::new(target)
            .build()
            .user_data(token(CANCEL, 0, 0));
        self.push(sqe);
    }

    pub(super) fn arm_accept(&mut self, which: usize, l: &Listening) {
        if self.accepting.get(which) != Some(&false) {
            return;
        }
        self.accepting[which] = true;
        let sqe = opcode::AcceptMulti::new(types::Fd(l.raw_fd()))
            .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            .build()
            .user_data(token(ACCEPT, which, 0));
        self.push(sqe);
    }

    /// The listeners close: their accepts go (each holds its listener open).
    pub(super) fn stop_accepting(&mut self) {
        // an accept queued this pass must reach the kernel before its
        // descriptor closes
        let _ = self.ring.submit();
        for i in 0..self.accepting.len() {
            if std::mem::replace(&mut self.accepting[i], false) {
                self.cancel(token(ACCEPT, i, 0));
            }
        }
        let _ = self.ring.submit();
    }

    fn arm_wake(&mut self) {
        let p: *mut u64 = &mut *self.wake_val;
        let sqe = opcode::Read::new(types::Fd(self.wake.as_raw_fd()), p.cast(), 8)
            .build()
            .user_data(token(WAKE, 0, 0));
        self.push(sqe);
    }

    /// Submits what this pass queued and waits up to `ms` for completions,
    /// in one `io_uring_enter`; then takes the completions.
    pub(super) fn wait(&mut self, ms: u64) -> io::Result<()> {
        let r = if ms == 0 {
            let n = self.ring.submission().len() as u32;
            // SAFETY: the plain io_uring_enter; GETEVENTS runs the deferred
            // completions without waiting for any.
            unsafe {
                self.ring.submitter().enter::<libc::sigset_t>(
                    n,
                    0,
                    io_uring::EnterFlags::GETEVENTS.bits(),
                    None,
                )
            }
        } else {
            let ts = types::Timespec::from(std::time::Duration::from_millis(ms));
            let args = types::SubmitArgs::new().timespec(&ts);
            self.ring.submitter().submit_with_args(1, &args)
        };
        self.pass += 1;
        if let Err(e) = r {
            match e.raw_os_error() {
                Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY) => {}
                _ => return Err(e),
            }
        }
        let mut cqes = std::mem::take(&mut self.cqes);
        cqes.extend(
            self.ring
                .completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        self.cqes = cqes;
        Ok(())
    }

    /// A new connection: registered in the file table when there is room.
    pub(super) fn adopt(&mut self, idx: usize, e: &mut Entry) {
        if idx < self.files {
            let fd = e.stream.as_raw_fd();
            e.io.fixed = self
                .ring
                .submitter()
                .register_files_update(idx as u32, &[fd])
                .is_ok();
        }
    }

    /// Takes the connection out of the file table (it closes, or is handed
    /// over), once what this pass queued for it reached the kernel:
    /// submissions in flight hold their own reference.
    pub(super) fn release_file(&mut self, idx: usize, e: &mut Entry) {
        if e.io.pass == self.pass {
            let _ = self.ring.submit();
        }
        if std::mem::take(&mut e.io.fixed) {
            let _ = self
                .ring
                .submitter()
                .register_files_update(idx as u32, &[-1]);
        }
    }

    /// The worker is done and its connections closed: submits their
    /// cancellations and waits (a little) for every operation to end, so
    /// that no socket or listener is held open by the ring after the worker
    /// returns (the ring's own teardown would let go of them later, on a
    /// kernel thread).
    pub(super) fn finish(&mut self) {
        for _ in 0..100 {
            let ts = types::Timespec::from(std::time::Duration::from_millis(10));
            let args = types::SubmitArgs::new().timespec(&ts);
            let r = self.ring.submitter().submit_with_args(1, &args);
            let mut seen = 0;
            for c in self.ring.completion() {
                seen += 1;
                if let Some(b) = cqueue::buffer_select(c.flags()) {
                    self.bufs.give(b);
                }
                if untoken(c.user_data()).0 == ACCEPT && c.result() >= 0 {
                    // SAFETY: a descriptor accepted just now, ours alone:
                    // closed, as the listener's backlog would be
                    drop(unsafe { OwnedFd::from_raw_fd(c.result()) });
                }
            }
            if seen == 0 && r.is_err() {
                return; // timed out: nothing left in flight
            }
        }
    }

    /// Arms or cancels what the connection's state asks for: its receive
    /// while it wants to read, a poll for a PROXY header, for late input
    /// while it lingers (read and dropped then) or for room to send a file.
    pub(super) fn settle(&mut self, idx: usize, e: &mut Entry, limits: &Limits) {
        let gen = e.gen;
        if e.lingering || e.proxy {
            if (e.lingering || !e.readable) && !e.io.poll_in {
                e.io.poll_in = true;
                e.io.pass = self.pass;
                let mask = (libc::POLLIN | libc::POLLRDHUP) as u32;
                let sqe = opcode::PollAdd::new(types::Fd(e.stream.as_raw_fd()), mask)
                    .build()
                    .user_data(token(POLL_IN, idx, gen));
                self.push(sqe);
            }
            return;
        }
        let want = e.conn.wants_read(limits);
        match e.io.recv {
            Recv::Off if want => {
                e.io.recv = Recv::On;
                e.io.pass = self.pass;
                let sqe = if e.io.fixed {
                    opcode::RecvMulti::new(types::Fixed(idx as u32), GROUP).build()
                } else {
                    opcode::RecvMulti::new(types::Fd(e.stream.as_raw_fd()), GROUP).build()
                };
                self.push(sqe.user_data(token(RECV, idx, gen)));
            }
            Recv::On if !want => {
                e.io.recv = Recv::Cancelling;
                self.cancel(token(RECV, idx, gen));
            }
            _ => {}
        }
        if !e.writable && !e.io.poll_out && e.conn.unsent() > 0 {
            e.io.poll_out = true;
            e.io.pass = self.pass;
            let sqe = opcode::PollAdd::new(types::Fd(e.stream.as_raw_fd()), libc::POLLOUT as u32)
                .build()
                .user_data(token(POLL_OUT, idx, gen));
            self.push(sqe);
        }
    }

    /// Sends a copy of the queued output, up to the next file body and at
    /// most a pool block of it.
    pub(super) fn send(&mut self, idx: usize, e: &mut Entry, pool: &mut BufPool) {
        let mut buf = pool.get();
        let room = buf.capacity();
        let mut iov = [io::IoSlice::new(&[]); 64];
        let n = e.conn.iovecs(&mut iov);
        for s in &iov[..n] {
            let take = s.len().min(room - buf.len());
            buf.extend_from_slice(&s[..take]);
            if buf.len() == room {
                break;
            }
        }
        if buf.is_empty() {
            pool.put(buf);
            return;
        }
        // more follows at once: let the kernel fill the segment (as epoll's
        // sendmsg does before a file body)
        let more = if buf.len() < e.conn.unsent() {
            libc::MSG_MORE
        } else {
            0
        };
        let (p, n, flags) = (buf.as_ptr(), buf.len() as u32, libc::MSG_NOSIGNAL | more);
        let sqe = if e.io.fixed {
            opcode::Send::new(types::Fixed(idx as u32), p, n)
                .flags(flags)
                .build()
        } else {
            opcode::Send::new(types::Fd(e.stream.as_raw_fd()), p, n)
                .flags(flags)
                .build()
        };
        let sqe = sqe.user_data(token(SEND, idx, e.gen));
        e.io.staged = Some(buf);
        e.io.pass = self.pass;
        self.push(sqe);
    }

    /// Cancels the receive and polls of a connection that is handed over
    /// or lingers; whether none is left in flight.
    pub(super) fn quiet(&mut self, idx: usize, e: &mut Entry) -> bool {
        let gen = e.gen;
        if e.io.recv == Recv::On {
            e.io.recv = Recv::Cancelling;
            self.cancel(token(RECV, idx, gen));
        }
        if std::mem::take(&mut e.io.poll_in) {
            self.cancel(token(POLL_IN, idx, gen));
        }
        if std::mem::take(&mut e.io.poll_out) {
            self.cancel(token(POLL_OUT, idx, gen));
        }
        e.io.recv == Recv::Off && !e.io.sending()
    }

    /// The connection closes: what it has in flight is cancelled, after
    /// what this pass queued for it reached the kernel (its descriptor is
    /// closed next). A send's copy waits for its completion.
    pub(super) fn forget(&mut self, idx: usize, e: &mut Entry) {
        self.release_file(idx, e);
        self.quiet(idx, e);
        if let Some(b) = e.io.staged.take() {
            let t = token(SEND, idx, e.gen);
            self.cancel(t);
            self.orphans.push((t, b));
        }
    }
}

impl Worker {
    fn uring(&mut self) -> Option<&mut Uring> {
        match &mut self.io {
            Io::Uring(u) => Some(u),
            _ => None,
        }
    }

    /// Acts on the completions the last wait took.
    pub(super) fn dispatch_uring(&mut self) {
        let Some(u) = self.uring() else {
            return;
        };
        let mut cqes = std::mem::take(&mut u.cqes);
        for &(ud, res, flags) in &cqes {
            let (kind, idx, gen) = untoken(ud);
            match kind {
                ACCEPT => self.on_accept(idx, res, cqueue::more(flags)),
                WAKE => {
                    if let Some(u) = self.uring() {
                        u.arm_wake();
                    }
                    self.drain_mailbox();
                }
                RECV => self.on_recv(idx, gen, res, flags),
                SEND => self.on_send(ud, idx, gen, res),
                POLL_IN | POLL_OUT => self.on_poll(kind, idx, gen, res),
                _ => {} // a cancel's own completion
            }
        }
        cqes.clear();
        if let Some(u) = self.uring() {
            u.cqes = cqes;
        }
    }

    fn on_accept(&mut self, which: usize, res: i32, more: bool) {
        let Io::Uring(u) = &mut self.io else {
            return;
        };
        if !more {
            if let Some(a) = u.accepting.get_mut(which) {
                *a = false;
            }
        }
        if res >= 0 {
            // SAFETY: an accept's result is a new descriptor, ours alone.
            let fd = unsafe { OwnedFd::from_raw_fd(res) };
            let (proxy, unix) = u.kinds.get(which).copied().unwrap_or_default();
            if let Ok((stream, peer)) = listen::adopt(fd, unix) {
                self.admit(stream, peer, proxy);
            }
        } else if matches!(
            -res,
            libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM
        ) {
            // out of descriptors or memory: the connection stays queued;
            // `accept_retry` arms the accept again
            self.accept_retry = Some(self.now + 100);
            return;
        } else if res == -libc::ECANCELED {
            return;
        }
        if !more && self.stopping.is_none() && self.accept_retry.is_none() {
            if let (Io::Uring(u), Some(l)) = (&mut self.io, self.listeners.get(which)) {
                u.arm_accept(which, l);
            }
        }
    }

    fn on_recv(&mut self, idx: usize, gen: u32, res: i32, flags: u32) {
        let bid = cqueue::buffer_select(flags);
        let Io::Uring(u) = &mut self.io else {
            return;
        };
        let Some(e) = self.conns.get_mut(idx).filter(|e| e.gen == gen) else {
            if let Some(b) = bid {
                u.bufs.give(b); // a closed connection's last receive
            }
            return;
        };
        if !cqueue::more(flags) {
            e.io.recv = Recv::Off;
        }
        if res > 0 {
            if let Some(b) = bid {
                if !e.lingering {
                    let limits = &self.shared.cfg.proto.limits;
                    e.conn
                        .feed(u.bufs.bytes(b, res as usize), &mut self.pool, limits);
                    e.clocks.last_io = self.now;
                    e.clocks.last_read = self.now;
                    self.stats.bytes_in.fetch_add(res as u64, Ordering::Relaxed);
                }
                u.bufs.give(b);
            }
        } else if res == 0 {
            e.conn.received_eof();
            e.hup = true;
        } else if !matches!(
            -res,
            libc::ENOBUFS | libc::ECANCELED | libc::EINTR | libc::EAGAIN
        ) {
            self.close(idx);
            return;
        }
        if !e.queued {
            self.drive(idx);
        }
    }

    fn on_send(&mut self, ud: u64, idx: usize, gen: u32, res: i32) {
        let Io::Uring(u) = &mut self.io else {
            return;
        };
        let Some(e) = self.conns.get_mut(idx).filter(|e| e.gen == gen) else {
            if let Some(i) = u.orphans.iter().position(|&(t, _)| t == ud) {
                let (_, b) = u.orphans.swap_remove(i);
                self.pool.put(b);
            }
            return;
        };
        if let Some(b) = e.io.staged.take() {
            self.pool.put(b);
        }
        if res >= 0 {
            e.wrote(res as usize, self.now, &mut self.pool, &self.stats);
        } else if !matches!(-res, libc::EAGAIN | libc::EINTR | libc::ECANCELED) {
            self.close(idx);
            return;
        }
        if !e.queued {
            self.drive(idx);
        }
    }

    fn on_poll(&mut self, kind: u64, idx: usize, gen: u32, res: i32) {
        let Some(e) = self.conns.get_mut(idx).filter(|e| e.gen == gen) else {
            return;
        };
        if kind == POLL_IN {
            e.io.poll_in = false;
            if res >= 0 {
                e.readable = true;
                if res & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) as i32 != 0 {
                    e.hup = true;
                }
            }
        } else {
            e.io.poll_out = false;
            if res >= 0 {
                e.writable = true;
            }
        }
        if !e.queued {
            self.drive(idx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let t = token(SEND, 123_456, u32::MAX);
        assert_eq!(untoken(t), (SEND, 123_456, u32::MAX));
        assert_eq!(untoken(token(CANCEL, 0, 0)), (CANCEL, 0, 0));
    }

    #[test]
    fn a_ring_the_kernel_refuses_is_an_error() {
        // io_uring_setup refuses more than 32768 entries: the error a
        // refusing kernel gives, which `pick_driver` falls back on
        assert!(probe(1 << 20).is_err());
    }
}
