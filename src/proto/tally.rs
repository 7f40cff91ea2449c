//! Per-request accounting for access logs and metrics: what each request
//! was, the status that answered it, the bytes each way, and when its
//! response was written in full. A connection keeps none of it unless its
//! driver asks ([`super::Conn::track`]).
//!
//! Responses enter the writer in request order, so each one is a range of
//! the connection's output stream: it ends where its last byte was queued
//! and starts where the one before it ended (an interim `100 Continue`
//! counts in the response it precedes). It is complete once the writer has
//! sent past its end.

use std::collections::VecDeque;

use super::peer::Peer;
use crate::parse::Header;

/// Bytes of request text kept per field; longer values are cut.
const TEXT_MAX: usize = 8 * 1024;
/// Compact the text arena once this much of it is dead.
const COMPACT_AT: usize = 16 * 1024;

/// One request and its response, as the driver hears of it once the
/// response was written (or the connection closed first).
#[derive(Debug)]
pub struct Exchange<'a> {
    /// Empty when the request head could not be parsed.
    pub method: &'a [u8],
    pub target: &'a [u8],
    /// The request's HTTP/1.x minor version (0 when not parsed).
    pub minor_version: u8,
    /// The `Referer` and `User-Agent` fields, empty when absent.
    pub referer: &'a [u8],
    pub user_agent: &'a [u8],
    pub peer: Option<&'a Peer>,
    /// 0 when no response was queued (a deferred answer still pending).
    pub status: u16,
    /// The request head and the body bytes read (decoded, when chunked).
    pub bytes_in: u64,
    /// Response bytes written: head and body, and a `100 Continue` for it.
    pub bytes_out: u64,
    /// The driver's clock ([`super::Conn::set_clock`]) when the head was
    /// parsed.
    pub start: u64,
    /// The whole response was written; false when the connection closed
    /// before.
    pub complete: bool,
}

#[derive(Clone, Copy)]
struct Open {
    seq: u64,
    status: u16,
    start: u64,
    bytes_in: u64,
    minor: u8,
    /// Where its text starts in the arena (absolute), and the lengths of
    /// the method, target, referer and user agent, in that order.
    at: u64,
    lens: [u32; 4],
    /// The output offset after its last byte; `u64::MAX` until queued.
    end: u64,
}

pub(crate) struct Tally {
    pub(crate) clock: u64,
    /// Keep the request text (access logs); without it only numbers.
    text: bool,
    open: VecDeque<Open>,
    arena: Vec<u8>,
    /// The absolute offset of `arena[0]`.
    base: u64,
    /// Where the last finished response ended in the output stream.
    last_end: u64,
}

impl Tally {
    pub(crate) fn new(text: bool) -> Self {
        Tally {
            clock: 0,
            text,
            open: VecDeque::new(),
            arena: Vec::new(),
            base: 0,
            last_end: 0,
        }
    }

    /// A request head was parsed: it becomes request `seq`.
    pub(crate) fn note(
        &mut self,
        seq: u64,
        method: &[u8],
        target: &[u8],
        minor: u8,
        fields: &[Header<'_>],
        head: usize,
    ) {
        let at = self.base + self.arena.len() as u64;
        let mut lens = [0u32; 4];
        if self.text {
            let mut put = |i: usize, s: &[u8], arena: &mut Vec<u8>| {
                let s = &s[..s.len().min(TEXT_MAX)];
                arena.extend_from_slice(s);
                lens[i] = s.len() as u32;
            };
            put(0, method, &mut self.arena);
            put(1, target, &mut self.arena);
            let (mut referer, mut agent): (&[u8], &[u8]) = (b"", b"");
            for f in fields {
                let n = f.name();
                if n.eq_ignore_ascii_case(b"referer") {
                    referer = f.value();
                } else if n.eq_ignore_ascii_case(b"user-agent") {
                    agent = f.value();
                }
            }
            put(2, referer, &mut self.arena);
            put(3, agent, &mut self.arena);
        }
        self.open.push_back(Open {
            seq,
            status: 0,
            start: self.clock,
            bytes_in: head as u64,
            minor,
            at,
            lens,
            end: u64::MAX,
        });
    }

    fn find(&mut self, seq: u64) -> Option<&mut Open> {
        self.open.iter_mut().rev().find(|o| o.seq == seq)
    }

    /// `n` body bytes of request `seq` were read.
    pub(crate) fn body_in(&mut self, seq: u64, n: usize) {
        if let Some(o) = self.find(seq) {
            o.bytes_in += n as u64;
        }
    }

    /// The last byte of response `seq` was queued, before `end`.
    pub(crate) fn ended(&mut self, seq: u64, status: u16, end: u64) {
        let clock = self.clock;
        let o = match self.find(seq) {
            Some(o) => o,
            None => {
                // an error answer to a head that did not parse
                let at = self.base + self.arena.len() as u64;
                self.open.push_back(Open {
                    seq,
                    status: 0,
                    start: clock,
                    bytes_in: 0,
                    minor: 0,
                    at,
                    lens: [0; 4],
                    end: u64::MAX,
                });
                self.open.back_mut().expect("just pushed")
            }
        };
        o.status = status;
        o.end = end;
    }

    /// Response `seq` was started or rendered but not queued in full.
    pub(crate) fn started(&mut self, seq: u64, status: u16) {
        if let Some(o) = self.find(seq) {
            o.status = status;
        }
    }

    /// Whether a response was written in full and waits to be taken.
    #[inline]
    pub(crate) fn has_done(&self, sent: u64) -> bool {
        self.open.front().is_some_and(|o| o.end <= sent)
    }

    /// Hands `f` each exchange whose response was written in full (`sent`
    /// bytes are); with `all`, the others too, as incomplete.
    pub(crate) fn drain(
        &mut self,
        sent: u64,
        all: bool,
        peer: Option<&Peer>,
        mut f: impl FnMut(&Exchange<'_>),
    ) {
        while let Some(&o) = self.open.front() {
            let complete = o.end <= sent;
            if !complete && !all {
                break;
            }
            let end = if complete { o.end } else { sent };
            let from = (o.at - self.base) as usize;
            let mut parts = [&b""[..]; 4];
            let mut i = from;
            for (p, &len) in parts.iter_mut().zip(&o.lens) {
                *p = &self.arena[i..i + len as usize];
                i += len as usize;
            }
            f(&Exchange {
                method: parts[0],
                target: parts[1],
                minor_version: o.minor,
                referer: parts[2],
                user_agent: parts[3],
                peer,
                status: o.status,
                bytes_in: o.bytes_in,
                bytes_out: end.saturating_sub(self.last_end),
                start: o.start,
                complete,
            });
            self.last_end = self.last_end.max(end);
            self.open.pop_front();
        }
        match self.open.front() {
            None => {
                self.base += self.arena.len() as u64;
                self.arena.clear();
            }
            Some(o) if (o.at - self.base) as usize >= COMPACT_AT => {
                let dead = (o.at - self.base) as usize;
                self.arena.drain(..dead);
                self.base = o.at;
            }
            Some(_) => {}
        }
    }
}
