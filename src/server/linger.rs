//! Closing a connection during a graceful stop without losing its last
//! answers.
//!
//! A socket closed with unread input, or that receives input after the
//! close, is reset by the kernel, and the reset throws away whatever it had
//! not yet delivered. A client that pipelines keeps sending after its last
//! answer, so the worker shuts the write side (the client reads to the end
//! and sees it end), discards what still arrives, and closes once the client
//! acknowledged every byte, the end included: a reset after that loses
//! nothing.

use std::io;
use std::os::fd::AsRawFd;

/// Starts the close: no more output; the end follows what was written.
pub(crate) fn begin(s: &impl AsRawFd) {
    // SAFETY: shutdown(2) on a descriptor the caller owns; no memory involved.
    let _ = unsafe { libc::shutdown(s.as_raw_fd(), libc::SHUT_WR) };
}

/// Reads and drops what the client sends; then whether the socket can be
/// closed now: the client acknowledged everything, left, or failed.
pub(crate) fn done(s: &impl AsRawFd) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: `buf` is writable for its length; read(2) writes at most that.
        let n = unsafe { libc::read(s.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => return true,
            n if n > 0 => continue,
            _ => match io::Error::last_os_error().kind() {
                io::ErrorKind::WouldBlock => break,
                io::ErrorKind::Interrupted => continue,
                _ => return true,
            },
        }
    }
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
