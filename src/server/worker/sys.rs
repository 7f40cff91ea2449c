//! The socket calls of a connection's turn that both drivers make
//! directly: a read, a `sendmsg`, a `sendfile`, and SIGPIPE's handling.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;

use super::Sock;
use crate::proto::Conn;

pub(super) fn read(s: &Sock, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
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
/// MSG_NOSIGNAL: a peer that went away is an EPIPE error here, never a
/// SIGPIPE in the host process. Returns the bytes written and the bytes
/// offered: fewer written means the socket is full.
pub(super) fn write(s: &Sock, conn: &Conn) -> io::Result<(usize, usize)> {
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
pub(super) const WRITES_PER_TURN: usize = 8;

/// Linux sends at most this much in one `sendfile(2)` call.
const SENDFILE_MAX: usize = 0x7fff_f000;

/// Sends part of a file body. A socket that takes less than offered is full
/// only when the next call says EAGAIN, so a short count is reported as
/// complete; a file that ends early (it shrank since it was opened) is an
/// error, which closes the connection: its response can no longer be framed.
pub(super) fn send_file(s: &Sock, f: crate::proto::FileChunk) -> io::Result<(usize, usize)> {
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
pub(super) fn block_sigpipe() {
    // SAFETY: a sigset_t filled by sigemptyset/sigaddset, for this thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Clears a SIGPIPE pending on this thread (blocked by `block_sigpipe`).
pub(super) fn take_sigpipe() {
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
