//! Listening sockets: TCP by address or host name, Unix socket paths and
//! abstract names, descriptors adopted from the caller or from systemd, and
//! what a worker accepts on them.
//!
//! TCP addresses get one `SO_REUSEPORT` socket per worker, and the kernel
//! spreads connections over them. A Unix socket or an adopted descriptor
//! cannot be bound again, so all workers share it: each registers a
//! duplicate of the descriptor in its own poll and accepts until
//! `EWOULDBLOCK`; a worker that loses the race to another finds nothing.

use std::ffi::OsStr;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use socket2::{Domain, SockAddr, Socket, Type};

use super::{Server, ServerError};
use crate::proto::{parse_proxy, Peer, ProxyHeader};

/// How one listener behaves.
#[derive(Clone, Debug, Default)]
pub struct ListenOptions {
    /// Every connection starts with a PROXY protocol header (v1 or v2),
    /// which names the client; one without a valid header is closed
    /// without a response.
    pub proxy: bool,
    /// An IPv6 address takes IPv6 only (`IPV6_V6ONLY`); by default `::`
    /// takes IPv4 too.
    pub v6only: bool,
    /// The permission bits of a Unix socket's file (e.g. `0o660`); `None`
    /// leaves what the umask gives.
    pub mode: Option<u32>,
}

/// A listener the server holds until it starts.
pub(crate) struct Bound {
    /// One socket per worker, or one that all workers share.
    sockets: Vec<Socket>,
    unix: bool,
    proxy: bool,
}

impl Bound {
    /// The socket worker `i` listens on: its own, or a duplicate of the
    /// shared one.
    pub(crate) fn for_worker(&self, i: usize) -> io::Result<Listening> {
        let s = self
            .sockets
            .get(i)
            .unwrap_or(&self.sockets[0])
            .try_clone()?;
        let fd = OwnedFd::from(s);
        let acceptor = if self.unix {
            let l = std::os::unix::net::UnixListener::from(fd);
            Acceptor::Unix(mio::net::UnixListener::from_std(l))
        } else {
            let l = std::net::TcpListener::from(fd);
            Acceptor::Tcp(mio::net::TcpListener::from_std(l))
        };
        Ok(Listening {
            acceptor,
            proxy: self.proxy,
        })
    }
}

/// A Unix socket file the server created: removed when the server is
/// dropped, unless another socket has replaced it since.
pub(crate) struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if m.dev() == self.dev && m.ino() == self.ino {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

enum Acceptor {
    Tcp(mio::net::TcpListener),
    Unix(mio::net::UnixListener),
}

/// A worker's listener.
pub(crate) struct Listening {
    acceptor: Acceptor,
    /// Connections start with a PROXY protocol header.
    pub(crate) proxy: bool,
}

impl Listening {
    /// One pending connection, non-blocking and close-on-exec, with its peer.
    pub(crate) fn accept(&self) -> io::Result<(Sock, Peer)> {
        match &self.acceptor {
            Acceptor::Tcp(l) => {
                let (s, addr) = l.accept()?;
                let _ = s.set_nodelay(true);
                // SAFETY: the descriptor is the stream's own, taken from it here.
                let fd = unsafe { OwnedFd::from_raw_fd(s.into_raw_fd()) };
                Ok((Sock(fd), Peer::ip(addr)))
            }
            Acceptor::Unix(l) => {
                let (s, addr) = l.accept()?;
                let path = addr
                    .as_pathname()
                    .map_or(&[][..], |p| p.as_os_str().as_bytes());
                let peer = Peer::unix(path);
                // SAFETY: as above.
                let fd = unsafe { OwnedFd::from_raw_fd(s.into_raw_fd()) };
                Ok((Sock(fd), peer))
            }
        }
    }
}

impl Listening {
    pub(crate) fn raw_fd(&self) -> RawFd {
        match &self.acceptor {
            Acceptor::Tcp(l) => l.as_raw_fd(),
            Acceptor::Unix(l) => l.as_raw_fd(),
        }
    }

    pub(crate) fn is_unix(&self) -> bool {
        matches!(self.acceptor, Acceptor::Unix(_))
    }
}

/// A connection accepted by other means (io_uring's accept) on a Unix or a
/// TCP listener: `TCP_NODELAY` on TCP, and its peer from `getpeername(2)`.
pub(crate) fn adopt(fd: OwnedFd, unix: bool) -> io::Result<(Sock, Peer)> {
    let s = socket2::SockRef::from(&fd);
    let addr = s.peer_addr()?;
    let peer = if unix {
        let path = addr
            .as_pathname()
            .map_or(&[][..], |p| p.as_os_str().as_bytes());
        Peer::unix(path)
    } else {
        let _ = s.set_nodelay(true);
        let a = addr
            .as_socket()
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        Peer::ip(a)
    };
    Ok((Sock(fd), peer))
}

impl Source for Listening {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match &mut self.acceptor {
            Acceptor::Tcp(l) => l.register(r, t, i),
            Acceptor::Unix(l) => l.register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match &mut self.acceptor {
            Acceptor::Tcp(l) => l.reregister(r, t, i),
            Acceptor::Unix(l) => l.reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match &mut self.acceptor {
            Acceptor::Tcp(l) => l.deregister(r),
            Acceptor::Unix(l) => l.deregister(r),
        }
    }
}

/// An accepted connection's socket, TCP or Unix.
pub(crate) struct Sock(OwnedFd);

impl AsRawFd for Sock {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl IntoRawFd for Sock {
    fn into_raw_fd(self) -> RawFd {
        self.0.into_raw_fd()
    }
}

impl Source for Sock {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        SourceFd(&self.0.as_raw_fd()).register(r, t, i)
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        SourceFd(&self.0.as_raw_fd()).reregister(r, t, i)
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        SourceFd(&self.0.as_raw_fd()).deregister(r)
    }
}

/// What reading a PROXY header from a socket came to.
pub(crate) enum Proxied {
    /// Consumed; the client it names, if any.
    Done(Option<Peer>),
    /// Not all here yet.
    Waiting,
    /// Malformed, truncated, not a header, or a socket error: close.
    Refused,
}

/// Peeks at the start of the connection and, once a whole header is there,
/// reads exactly the header off the socket: what follows stays queued for
/// the HTTP reader. `buf` holds [`crate::proto::PROXY_HEADER_MAX`] bytes.
/// `eof`: the peer sent FIN, so a partial header never completes.
pub(crate) fn read_proxy_header(s: &Sock, buf: &mut [u8], eof: bool) -> Proxied {
    let fd = s.as_raw_fd();
    // SAFETY: `buf` is writable for its length.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_PEEK) };
    let n = match n {
        0 => return Proxied::Refused,
        n if n < 0 => {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Proxied::Waiting,
                _ => Proxied::Refused,
            };
        }
        n => n as usize,
    };
    match parse_proxy(&buf[..n]) {
        ProxyHeader::Incomplete if eof => Proxied::Refused,
        ProxyHeader::Incomplete => Proxied::Waiting,
        ProxyHeader::Invalid => Proxied::Refused,
        ProxyHeader::Done { len, peer } => {
            // SAFETY: as above; `len <= n <= buf.len()`.
            let r = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), len, 0) };
            if r == len as isize {
                Proxied::Done(peer)
            } else {
                Proxied::Refused
            }
        }
    }
}

fn invalid(msg: String) -> ServerError {
    ServerError::Io(io::Error::new(io::ErrorKind::InvalidInput, msg))
}

/// `host` as addresses: an IP literal (IPv6 with or without brackets), or a
/// name resolved now, every address it has, in the resolver's order,
/// each once.
pub(crate) fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let mut out: Vec<SocketAddr> = Vec::new();
    for a in (bare, port).to_socket_addrs()? {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    if out.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} has no address"),
        ));
    }
    Ok(out)
}

impl Server {
    fn push(&mut self, sockets: Vec<Socket>, unix: bool, opts: &ListenOptions) {
        self.listeners.push(Bound {
            sockets,
            unix,
            proxy: opts.proxy,
        });
    }

    fn sized(&self, s: &Socket) -> io::Result<()> {
        // setsockopt takes an int; the kernel caps it at rmem_max/wmem_max
        let int = |n: usize| n.min(i32::MAX as usize);
        if self.cfg.socket_recv_buffer > 0 {
            s.set_recv_buffer_size(int(self.cfg.socket_recv_buffer))?;
        }
        if self.cfg.socket_send_buffer > 0 {
            s.set_send_buffer_size(int(self.cfg.socket_send_buffer))?;
        }
        Ok(())
    }

    /// Adds a TCP listener on `addr`: one `SO_REUSEPORT` socket per worker.
    /// Port 0 picks a free port, shared by all workers. Returns the bound
    /// address; the first TCP listener's is [`Server::local_addr`].
    pub fn listen_with(
        &mut self,
        addr: SocketAddr,
        opts: &ListenOptions,
    ) -> Result<SocketAddr, ServerError> {
        self.check_not_started()?;
        let mut addr = addr;
        let mut sockets = Vec::new();
        for _ in 0..self.cfg.workers.max(1) {
            let s = Socket::new(Domain::for_address(addr), Type::STREAM.cloexec(), None)?;
            s.set_reuse_address(true)?;
            s.set_reuse_port(true)?;
            s.set_nonblocking(true)?;
            if addr.is_ipv6() {
                s.set_only_v6(opts.v6only)?;
            }
            self.sized(&s)?;
            s.bind(&addr.into())?;
            s.listen(self.cfg.backlog)?;
            addr = s.local_addr()?.as_socket().unwrap_or(addr);
            sockets.push(s);
        }
        self.push(sockets, false, opts);
        self.local.get_or_insert(addr);
        Ok(addr)
    }

    /// Adds TCP listeners on every address `host` resolves to (an IP
    /// literal is one address). Port 0 picks a free port on the first and
    /// uses it for the others. An address the machine cannot bind
    /// (`EADDRNOTAVAIL`, `EAFNOSUPPORT`: IPv6 turned off, say) is skipped
    /// when another was bound; any other failure fails the call.
    pub fn listen_host(
        &mut self,
        host: &str,
        port: u16,
        opts: &ListenOptions,
    ) -> Result<Vec<SocketAddr>, ServerError> {
        self.check_not_started()?;
        let addrs = resolve(host, port)?;
        let before = (self.listeners.len(), self.local);
        let mut bound = Vec::new();
        let mut skipped = None;
        let mut port = port;
        for a in addrs {
            match self.listen_with(SocketAddr::new(a.ip(), port), opts) {
                Ok(b) => {
                    port = b.port();
                    bound.push(b);
                }
                Err(ServerError::Io(e))
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EADDRNOTAVAIL) | Some(libc::EAFNOSUPPORT)
                    ) =>
                {
                    skipped = Some(e)
                }
                Err(e) => {
                    self.listeners.truncate(before.0);
                    self.local = before.1;
                    return Err(e);
                }
            }
        }
        match (bound.is_empty(), skipped) {
            (true, Some(e)) => Err(ServerError::Io(e)),
            _ => Ok(bound),
        }
    }

    /// Adds a Unix socket listener, shared by the workers. `path` names a
    /// file, or, starting with `@`, a Linux abstract name (no file; `mode`
    /// does not apply). A socket file left behind by a process that is gone
    /// (connecting to it is refused) is replaced; one that a process still
    /// listens on, or a path that is not a socket, fails the call. The file
    /// is removed when the server is dropped.
    pub fn listen_unix(&mut self, path: &[u8], opts: &ListenOptions) -> Result<(), ServerError> {
        self.check_not_started()?;
        if path.is_empty() || path.contains(&0) {
            return Err(invalid(format!(
                "unix socket path {:?} is empty or has a NUL byte",
                path.escape_ascii().to_string()
            )));
        }
        let (addr, file) = if let Some(name) = path.strip_prefix(b"@") {
            let mut raw = vec![0u8];
            raw.extend_from_slice(name);
            (SockAddr::unix(OsStr::from_bytes(&raw))?, None)
        } else {
            let p = Path::new(OsStr::from_bytes(path));
            remove_stale(p)?;
            (SockAddr::unix(p)?, Some(p))
        };
        let s = Socket::new(Domain::UNIX, Type::STREAM.cloexec(), None)?;
        s.set_nonblocking(true)?;
        self.sized(&s)?;
        s.bind(&addr)?;
        let mut guard = None;
        if let Some(p) = file {
            let m = std::fs::symlink_metadata(p)?;
            guard = Some(SocketFile {
                path: p.to_path_buf(),
                dev: m.dev(),
                ino: m.ino(),
            });
            // before listen(2): nobody connects until the mode is set
            if let Some(mode) = opts.mode {
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))?;
            }
        }
        s.listen(self.cfg.backlog)?;
        self.sock_files.extend(guard);
        self.push(vec![s], true, opts);
        Ok(())
    }

    /// Adopts a listening socket (TCP or Unix, bound and listening), shared
    /// by the workers. The server owns `fd` from here on, also when the
    /// call fails. A TCP one that is the first TCP listener sets
    /// [`Server::local_addr`].
    pub fn listen_fd(&mut self, fd: OwnedFd, opts: &ListenOptions) -> Result<(), ServerError> {
        self.check_not_started()?;
        let s = Socket::from(fd);
        let st = std::fs::File::from(s.as_fd().try_clone_to_owned()?).metadata()?;
        let raw = s.as_raw_fd();
        if !st.file_type().is_socket() {
            return Err(invalid(format!("descriptor {raw} is not a socket")));
        }
        if s.r#type()? != Type::STREAM {
            return Err(invalid(format!("descriptor {raw} is not a stream socket")));
        }
        if !s.is_listener()? {
            return Err(invalid(format!(
                "descriptor {raw} is not listening: call listen(2) on it first"
            )));
        }
        let unix = match s.domain()? {
            Domain::UNIX => true,
            Domain::IPV4 | Domain::IPV6 => false,
            d => return Err(invalid(format!("descriptor {raw} has family {d:?}"))),
        };
        s.set_nonblocking(true)?;
        s.set_cloexec(true)?;
        if !unix && self.local.is_none() {
            self.local = s.local_addr()?.as_socket();
        }
        self.push(vec![s], unix, opts);
        Ok(())
    }

    /// Adopts the sockets systemd passed (`LISTEN_FDS`, `LISTEN_PID`), all
    /// of them, or those `LISTEN_FDNAMES` names `name`. The inherited
    /// descriptors stay open and are marked close-on-exec; the server
    /// listens on duplicates, so the environment is left as it is and
    /// another call (or server) may adopt them again. Returns how many were
    /// adopted; none is an error.
    pub fn listen_systemd(
        &mut self,
        name: Option<&str>,
        opts: &ListenOptions,
    ) -> Result<usize, ServerError> {
        self.check_not_started()?;
        let var = |k: &str| std::env::var(k).ok();
        let fds = systemd_fds(
            var("LISTEN_PID").as_deref(),
            var("LISTEN_FDS").as_deref(),
            var("LISTEN_FDNAMES").as_deref(),
            std::process::id(),
        )
        .map_err(invalid)?;
        let before = (self.listeners.len(), self.local);
        let mut n = 0;
        for (fd, fd_name) in fds {
            if name.is_some_and(|want| want != fd_name) {
                continue;
            }
            // SAFETY: systemd passed `fd` open to this process (LISTEN_PID
            // said so); it is only borrowed for the calls below.
            let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            // SAFETY: as above; F_SETFD on an open descriptor.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
            let r = borrowed
                .try_clone_to_owned()
                .map_err(ServerError::from)
                .and_then(|dup| self.listen_fd(dup, opts));
            if let Err(e) = r {
                self.listeners.truncate(before.0);
                self.local = before.1;
                return Err(e);
            }
            n += 1;
        }
        if n == 0 {
            return Err(invalid(match name {
                Some(w) => format!("systemd passed no socket named {w:?}"),
                None => "systemd passed no socket (LISTEN_FDS)".into(),
            }));
        }
        Ok(n)
    }
}

/// The descriptors and names of systemd's socket-activation protocol:
/// `LISTEN_PID` must be this process (the variables were meant for it),
/// `LISTEN_FDS` descriptors start at 3, `LISTEN_FDNAMES` names them,
/// colon-separated (missing names are `unknown`, as systemd says).
pub(crate) fn systemd_fds(
    pid: Option<&str>,
    count: Option<&str>,
    names: Option<&str>,
    me: u32,
) -> Result<Vec<(RawFd, String)>, String> {
    const FIRST: RawFd = 3;
    let (Some(pid), Some(count)) = (pid, count) else {
        return Err("LISTEN_PID and LISTEN_FDS are not set: not started by systemd".into());
    };
    if pid.trim().parse::<u32>().ok() != Some(me) {
        return Err(format!("LISTEN_PID={pid} is not this process ({me})"));
    }
    let n: RawFd = count
        .trim()
        .parse()
        .ok()
        .filter(|&n| (0..=4096).contains(&n))
        .ok_or_else(|| format!("LISTEN_FDS={count} is not a count of descriptors"))?;
    let mut names = names.map(|s| s.split(':')).into_iter().flatten();
    Ok((0..n)
        .map(|i| {
            let name = names.next().filter(|s| !s.is_empty()).unwrap_or("unknown");
            (FIRST + i, name.to_string())
        })
        .collect())
}

/// Removes a socket file nobody listens on. A path that is not there is
/// fine; one that is not a socket is left for bind(2) to refuse.
fn remove_stale(p: &Path) -> Result<(), ServerError> {
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return Ok(());
    };
    if !m.file_type().is_socket() {
        return Err(ServerError::Io(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", p.display()),
        )));
    }
    match std::os::unix::net::UnixStream::connect(p) {
        Ok(_) => Err(ServerError::Io(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{}: another process listens on it", p.display()),
        ))),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            std::fs::remove_file(p)?;
            Ok(())
        }
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_environment() {
        let fds = systemd_fds(Some("42"), Some("3"), Some("http:proxy"), 42).unwrap();
        assert_eq!(
            fds,
            vec![
                (3, "http".to_string()),
                (4, "proxy".to_string()),
                (5, "unknown".to_string())
            ]
        );
        assert_eq!(
            systemd_fds(Some("42"), Some("1"), None, 42).unwrap(),
            vec![(3, "unknown".into())]
        );
        let e = systemd_fds(Some("41"), Some("1"), None, 42).unwrap_err();
        assert!(e.contains("not this process"), "{e}");
        assert!(systemd_fds(None, Some("1"), None, 42).is_err());
        assert!(systemd_fds(Some("42"), Some("-1"), None, 42).is_err());
        assert!(systemd_fds(Some("42"), Some("x"), None, 42).is_err());
        assert_eq!(
            systemd_fds(Some("42"), Some("0"), None, 42).unwrap(),
            vec![]
        );
    }

    #[test]
    fn literals_and_names() {
        assert_eq!(
            resolve("[::1]", 80).unwrap(),
            vec!["[::1]:80".parse().unwrap()]
        );
        assert_eq!(resolve("::", 1).unwrap(), vec!["[::]:1".parse().unwrap()]);
        let l = resolve("localhost", 8).unwrap();
        assert!(
            l.iter().all(|a| a.ip().is_loopback() && a.port() == 8),
            "{l:?}"
        );
        assert!(resolve("no-such-host.invalid", 1).is_err());
    }
}
