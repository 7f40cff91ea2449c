//! New connections: accepted (epoll: until `EWOULDBLOCK`; io_uring hands
//! them over from its multishot accept), taken into the table, and room
//! made at `max_connections`.

use std::io;
use std::sync::atomic::Ordering;

use mio::{Interest, Token};

use super::{ConnIo, Entry, Io, Worker, FIRST_CONN};
use crate::proto::{Conn, Peer};
use crate::server::listen::Sock;
use crate::server::observe::ErrorReason;
use crate::server::timers::{Clocks, NEVER};

impl Worker {
    pub(super) fn accept(&mut self, which: usize) {
        loop {
            let Some(l) = self.listeners.get(which) else {
                return;
            };
            let proxy = l.proxy;
            match l.accept() {
                Ok((stream, peer)) => self.admit(stream, peer, proxy),
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

    /// Takes a new connection into the table, unless it is full and none
    /// may make room.
    pub(super) fn admit(&mut self, mut stream: Sock, peer: Peer, proxy: bool) {
        if self.conns.len() >= self.shared.cfg.max_connections && !self.make_room() {
            drop(stream);
            let r = ErrorReason::ConnectionLimit;
            self.obs.error(r, 0, Some(&peer), &self.stats);
            return;
        }
        let entry = self.conns.vacant_entry();
        let idx = entry.key();
        if self.gens.len() <= idx {
            self.gens.resize(idx + 1, 0);
        }
        let gen = self.gens[idx];
        if let Io::Epoll(ep) = &self.io {
            let token = Token(idx + FIRST_CONN);
            let interest = Interest::READABLE | Interest::WRITABLE;
            if ep
                .poll
                .registry()
                .register(&mut stream, token, interest)
                .is_err()
            {
                return;
            }
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
            discarded: 0,
            io: ConnIo::default(),
            clocks: Clocks {
                last_io: self.now,
                born: self.now,
                armed: NEVER,
                ..Default::default()
            },
        });
        if let Io::Uring(u) = &mut self.io {
            u.adopt(idx, &mut self.conns[idx]);
        }
        self.arm(idx);
        self.peak_conns = self.peak_conns.max(self.conns.len());
        self.stats.open.fetch_add(1, Ordering::Relaxed);
        self.stats.accepted.fetch_add(1, Ordering::Relaxed);
        if self.stopping.is_some() {
            self.conns[idx].conn.shutdown(); // accepted as the stop began
        }
        if self.conns.len() >= self.shared.cfg.max_connections {
            // a full table: serve what it already sent before the
            // next arrival may need its place
            // (io_uring reads on its own)
            self.conns[idx].readable = matches!(self.io, Io::Epoll(_));
            self.drive(idx);
        } else if let Io::Uring(u) = &mut self.io {
            u.settle(idx, &mut self.conns[idx], &self.shared.cfg.proto.limits);
        }
    }

    /// The table is full: closes the connection that has made the least
    /// progress, so that a flood of idle or trickling connections cannot
    /// lock everyone else out. Lingering connections go first (their
    /// answers are written; the one lingering longest), then idle
    /// keep-alive ones (the one quiet longest), then those still sending a
    /// request (the slowest, in bytes per second since accepted).
    /// Connections with answers owed or being written are never chosen.
    /// Returns false when none may go.
    pub(super) fn make_room(&mut self) -> bool {
        let now = self.now;
        // lower goes first: the idle, quiet longest; then senders past their
        // first 100 ms, slowest first; then younger ones, oldest first (a
        // connection just accepted has had no time to send anything)
        let mut victim: Option<(usize, (u8, u8, u64))> = None;
        for (idx, e) in self.conns.iter() {
            let v = e.view();
            // idle between requests; one that never sent any is a sender
            let between = v.idle && e.conn.requests() > 0;
            let key = if e.lingering {
                (0, 0, e.clocks.linger_since)
            } else if between {
                (0, 1, e.clocks.last_io)
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
}
