//! Lingering close: closing a connection without losing its last answers.
//!
//! A socket closed with unread input, or that receives input after the
//! close, is reset by the kernel, and the reset throws away whatever it had
//! not yet delivered; a client still sending sees its writes fail before it
//! reads the answer. That happens after an error answer (400, 413, 431, a
//! timeout's 408: the client may still be sending the request or others
//! pipelined behind it) and during a graceful stop. So the worker shuts the
//! write side (the client reads to the end and sees it end), then reads and
//! drops what still arrives, and closes once the client has closed its side
//! too, or after `Timeouts::linger`, or past `MAX_DISCARD` bytes (as nginx's
//! `lingering_close`). A stopping worker closes sooner: once the client
//! acknowledged every byte, the end included, a reset loses nothing it
//! would read.

use std::io;
use std::os::fd::AsRawFd;

/// Most bytes read and dropped while lingering; past them the socket
/// closes (and a client still sending gets a reset).
pub(crate) const MAX_DISCARD: u64 = 1 << 20;

/// Starts the close: no more output; the end follows what was written.
pub(crate) fn begin(s: &impl AsRawFd) {
    // SAFETY: shutdown(2) on a descriptor the caller owns; no memory involved.
    let _ = unsafe { libc::shutdown(s.as_raw_fd(), libc::SHUT_WR) };
}

/// What reading off a lingering socket found.
pub(crate) enum Drained {
    /// Nothing more for now; this many bytes were dropped.
    Waiting(u64),
    /// The client closed its side or failed, or `budget` bytes were
    /// dropped: close the socket.
    Done,
}

/// Reads and drops what the client sent, up to `budget` bytes.
pub(crate) fn drain(s: &impl AsRawFd, budget: u64) -> Drained {
    let mut buf = [0u8; 16384];
    let mut got = 0u64;
    loop {
        if got >= budget {
            return Drained::Done;
        }
        // SAFETY: `buf` is writable for its length; read(2) writes at most that.
        let n = unsafe { libc::read(s.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => return Drained::Done,
            n if n > 0 => got += n as u64,
            _ => match io::Error::last_os_error().kind() {
                io::ErrorKind::WouldBlock => return Drained::Waiting(got),
                io::ErrorKind::Interrupted => continue,
                _ => return Drained::Done,
            },
        }
    }
}

/// Whether the client acknowledged every byte sent, the end included.
pub(crate) fn acked(s: &impl AsRawFd) -> bool {
    unacked(s) == 0
}

/// Bytes sent and not yet acknowledged by the peer, the FIN counting as one
/// (`SIOCOUTQ`); 0 when the kernel cannot say (a Unix socket, say).
fn unacked(s: &impl AsRawFd) -> i32 {
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (TIOCOUTQ's value on Linux) writes one int to `n`,
    // which lives for the call.
    let r = unsafe { libc::ioctl(s.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    if r < 0 {
        0
    } else {
        n
    }
}
