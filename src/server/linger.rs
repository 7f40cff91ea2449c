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

use std::io::{self, Read};
use std::net::Shutdown;
use std::os::fd::AsRawFd;

use mio::net::TcpStream;

/// Starts the close: no more output; the end follows what was written.
pub(crate) fn begin(s: &TcpStream) {
    let _ = s.shutdown(Shutdown::Write);
}

/// Reads and drops what the client sends; then whether the socket can be
/// closed now: the client acknowledged everything, left, or failed.
pub(crate) fn done(mut s: &TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return true,
        }
    }
    unacked(s) == 0
}

/// Bytes sent and not yet acknowledged by the peer, the FIN counting as one
/// (`SIOCOUTQ`); 0 when the kernel cannot say.
fn unacked(s: &TcpStream) -> i32 {
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
