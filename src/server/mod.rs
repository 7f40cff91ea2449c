//! The engine: worker threads, each a mio loop with its listeners (see
//! [`listen`]), driving the connection core, with a router in front.

mod batch;
mod dispatch;
mod files;
mod linger;
mod listen;
mod mailbox;
mod observe;
mod parts;
mod pattern;
mod response;
mod router;
mod stream;
mod timers;
mod worker;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

pub use batch::{Batch, BatchCancel, BatchHandler};
pub use files::{file_body, DirOptions, FileError};
pub use listen::ListenOptions;
pub use observe::{
    AccessBatch, AccessLog, AccessRecord, ErrorEvent, ErrorHook, ErrorReason, Metrics,
    ERROR_REASONS, LATENCY_BOUNDS_US, LATENCY_BUCKETS, STATUS_CODES,
};
pub use pattern::{Params, RouteError};
pub use response::{BuildError, ResponseBuilder};
pub use router::{Handler, Routed, Router, Target};
pub use stream::{
    BodySink, EndHook, EndReason, Stream, StreamError, StreamEvent, StreamEvents, UpgradeHook,
    Upgraded,
};
pub use timers::Timeouts;

use crate::proto::flat::{Columns, ReplyError};
use crate::proto::{ProtoConfig, StaticResponse};
use mailbox::Mailbox;
use router::ErrorPages;
use worker::Worker;

/// Engine settings.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Worker threads, each with its own event loop and listener.
    pub workers: usize,
    /// Most open connections per worker; past it new ones are closed at once.
    pub max_connections: usize,
    /// Read and write buffer block size (rounded up to a multiple of 4 KiB,
    /// at most 64 MiB).
    pub buffer_size: usize,
    /// Buffers each worker keeps for reuse once connections give them back;
    /// the rest are freed, so that memory goes back after a burst.
    pub spare_buffers: usize,
    /// How long a graceful stop waits for in-flight requests.
    pub shutdown_grace: Duration,
    pub backlog: i32,
    /// `SO_RCVBUF` and `SO_SNDBUF` of the listening sockets, which accepted
    /// connections inherit; 0 keeps the kernel's autotuning. Autotuned
    /// buffers grow to megabytes, all of which a client that never reads can
    /// make the server fill: cap them to bound what it costs.
    pub socket_recv_buffer: usize,
    pub socket_send_buffer: usize,
    pub timeouts: Timeouts,
    pub proto: ProtoConfig,
    /// The workers' event loop; `FASTSERVE_DRIVER` overrides it.
    pub driver: Driver,
}

/// Which event loop the workers run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Driver {
    /// Edge-triggered epoll, through mio.
    Epoll,
    /// io_uring: multishot accept and receive, batched sends.
    IoUring,
    /// The engine's pick: epoll today (see ARCHITECTURE.md, "Drivers").
    #[default]
    Auto,
}

impl Driver {
    /// `epoll`, `io_uring` (or `uring`) or `auto`.
    pub fn parse(s: &str) -> Option<Driver> {
        match s.trim() {
            "epoll" => Some(Driver::Epoll),
            "io_uring" | "uring" => Some(Driver::IoUring),
            "auto" => Some(Driver::Auto),
            _ => None,
        }
    }

    /// The configured driver, or the one `FASTSERVE_DRIVER` names (an
    /// unknown name there is ignored, with a word on stderr).
    fn chosen(self) -> Driver {
        match std::env::var("FASTSERVE_DRIVER") {
            Ok(v) if !v.is_empty() => Driver::parse(&v).unwrap_or_else(|| {
                eprintln!("fastserve: FASTSERVE_DRIVER={v:?} is not epoll, io_uring or auto");
                self
            }),
            _ => self,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            workers: 1,
            max_connections: 10_000,
            buffer_size: 16 * 1024,
            spare_buffers: 256,
            shutdown_grace: Duration::from_secs(30),
            backlog: 1024,
            socket_recv_buffer: 0,
            socket_send_buffer: 0,
            timeouts: Timeouts::default(),
            proto: ProtoConfig {
                server_name: Some(b"fastserve".to_vec()),
                ..Default::default()
            },
            driver: Driver::Auto,
        }
    }
}

/// One worker's counters (readers sum the workers); a cache line of its own.
#[derive(Default, Debug)]
#[repr(align(64))]
pub struct Stats {
    pub requests: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub open: AtomicU64,
    pub accepted: AtomicU64,
    pub(crate) counters: observe::Counters,
}

/// A snapshot of [`Stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub open_connections: u64,
    pub accepted: u64,
}

/// What workers share, read-only once running.
pub(crate) struct Shared {
    pub(crate) cfg: ServerConfig,
    pub(crate) router: Router,
    pub(crate) errors: ErrorPages,
    /// The server's stop flag (set before `start` too).
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) batch_handler: Option<Arc<dyn BatchHandler>>,
    pub(crate) batch_cancel: Option<BatchCancel>,
    /// One per worker, in worker order: where deferred batch requests go.
    pub(crate) batch_links: Mutex<Vec<Arc<batch::BatchLink>>>,
    pub(crate) hooks: observe::Hooks,
}

/// A configured server: routes first, then `listen`, `start`, `stop`, `wait`.
pub struct Server {
    cfg: ServerConfig,
    router: Router,
    not_found: Option<StaticResponse>,
    /// The 405's header lines and body (`Allow` is added per request).
    method_not_allowed: Option<(Vec<u8>, Vec<u8>)>,
    batch_handler: Option<Arc<dyn BatchHandler>>,
    batch_cancel: Option<BatchCancel>,
    listeners: Vec<listen::Bound>,
    /// The first TCP listener's address.
    local: Option<SocketAddr>,
    /// Unix socket files to remove on drop.
    sock_files: Vec<listen::SocketFile>,
    running: Option<Running>,
    /// Set by `stop`, whenever it is called; the workers read it.
    stop_flag: Arc<AtomicBool>,
    /// `running` is set: `stop` may wake the workers.
    started: AtomicBool,
    hooks: observe::Hooks,
    /// The workers' counters, for metrics routes, once started.
    metrics_stats: Arc<OnceLock<Vec<Arc<Stats>>>>,
}

struct Running {
    driver: Driver,
    shared: Arc<Shared>,
    mailboxes: Vec<Arc<Mailbox>>,
    stats: Vec<Arc<Stats>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// Misuse of the server's life cycle.
#[derive(Debug)]
pub enum ServerError {
    Io(io::Error),
    /// Routes and settings are fixed once started.
    AlreadyStarted,
    /// `start` needs a successful `listen` first.
    NotListening,
    NotStarted,
    /// A route with a method that is not a token, or a malformed pattern.
    Route(RouteError),
}

/// Why [`Server::complete`] refused its replies.
#[derive(Debug, PartialEq, Eq)]
pub enum CompleteError {
    NotStarted,
    Reply(ReplyError),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Io(e) => write!(f, "{e}"),
            ServerError::AlreadyStarted => f.write_str("the server is already started"),
            ServerError::NotListening => f.write_str("the server is not listening"),
            ServerError::NotStarted => f.write_str("the server is not started"),
            ServerError::Route(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServerError::Io(e) => Some(e),
            ServerError::Route(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for CompleteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompleteError::NotStarted => f.write_str("the server is not started"),
            CompleteError::Reply(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CompleteError {}

impl From<RouteError> for ServerError {
    fn from(e: RouteError) -> Self {
        ServerError::Route(e)
    }
}

impl From<io::Error> for ServerError {
    fn from(e: io::Error) -> Self {
        ServerError::Io(e)
    }
}

impl Server {
    pub fn new(cfg: ServerConfig) -> Self {
        Server {
            cfg,
            router: Router::default(),
            not_found: None,
            method_not_allowed: None,
            batch_handler: None,
            batch_cancel: None,
            listeners: Vec::new(),
            local: None,
            sock_files: Vec::new(),
            running: None,
            stop_flag: Arc::new(AtomicBool::new(false)),
            started: AtomicBool::new(false),
            hooks: observe::Hooks::default(),
            metrics_stats: Arc::default(),
        }
    }

    /// Sets (or with `None` removes) the access log: each worker hands it
    /// the requests whose responses it finished writing, once per loop pass.
    pub fn set_access_log(&mut self, log: Option<Arc<dyn AccessLog>>) -> Result<(), ServerError> {
        self.check_not_started()?;
        self.hooks.access_log = log;
        Ok(())
    }

    /// Sets (or removes) the hook told of handler failures, limits and
    /// timeouts.
    pub fn set_error_hook(&mut self, hook: Option<Arc<dyn ErrorHook>>) -> Result<(), ServerError> {
        self.check_not_started()?;
        self.hooks.error_hook = hook;
        Ok(())
    }

    /// Keeps per-status counts and the latency histogram (the other
    /// counters are always kept).
    pub fn enable_metrics(&mut self) -> Result<(), ServerError> {
        self.check_not_started()?;
        self.hooks.metrics = true;
        Ok(())
    }

    /// A GET route answering the metrics in Prometheus text; enables them.
    pub fn route_metrics(&mut self, path: &[u8]) -> Result<(), ServerError> {
        self.enable_metrics()?;
        let page = observe::MetricsPage {
            stats: self.metrics_stats.clone(),
        };
        self.router
            .add(Some(b"GET"), path, false, Target::Handler(Arc::new(page)))?;
        Ok(())
    }

    /// The metrics, summed over workers (zeros before `start`).
    pub fn metrics(&self) -> Metrics {
        let mut m = Metrics::default();
        if let Some(r) = &self.running {
            for st in &r.stats {
                m.add(st);
            }
        }
        m
    }

    /// The event loop the workers run (`Epoll` or `IoUring`), once started.
    pub fn driver(&self) -> Option<Driver> {
        self.running.as_ref().map(|r| r.driver)
    }

    pub fn config(&self) -> &ServerConfig {
        &self.cfg
    }

    fn server_name(&self) -> Option<&[u8]> {
        self.cfg.proto.server_name.as_deref()
    }

    /// A static route: the response is rendered now and served without any
    /// call-out. `headers` holds complete `Name: value\r\n` lines.
    pub fn route_static(
        &mut self,
        method: Option<&[u8]>,
        path: &[u8],
        prefix: bool,
        status: u16,
        headers: &[u8],
        body: &[u8],
    ) -> Result<(), ServerError> {
        self.check_not_started()?;
        let r = StaticResponse::new(status, self.server_name(), headers, body);
        self.router.add(method, path, prefix, Target::Static(r))?;
        Ok(())
    }

    pub fn route(
        &mut self,
        method: Option<&[u8]>,
        path: &[u8],
        prefix: bool,
        h: Arc<dyn Handler>,
    ) -> Result<(), ServerError> {
        self.check_not_started()?;
        self.router.add(method, path, prefix, Target::Handler(h))?;
        Ok(())
    }

    /// A static directory route: GET and HEAD of `prefix` and the paths
    /// below it are answered with the files under `root` (see
    /// [`files`]). `root` must be a directory, opened now.
    pub fn route_dir(
        &mut self,
        prefix: &[u8],
        root: &std::path::Path,
        opts: DirOptions,
    ) -> Result<(), ServerError> {
        self.check_not_started()?;
        let d = files::StaticDir::new(prefix, root, opts)?;
        let path = d.prefix().to_vec();
        self.router
            .add(Some(b"GET"), &path, true, Target::Handler(Arc::new(d)))?;
        Ok(())
    }

    /// A batch route: its requests are collected per event-loop pass and
    /// handed, tagged with `tag`, to the batch handler in one call.
    pub fn route_batch(
        &mut self,
        method: Option<&[u8]>,
        path: &[u8],
        prefix: bool,
        tag: u32,
    ) -> Result<(), ServerError> {
        self.check_not_started()?;
        self.router.add(method, path, prefix, Target::Batch(tag))?;
        Ok(())
    }

    /// Sets the handler of every batch route (without one they answer 500).
    /// Sets who is told of deferred batch requests nobody waits for any
    /// more (see [`BatchCancel`]).
    pub fn set_batch_cancel(&mut self, c: BatchCancel) -> Result<(), ServerError> {
        self.check_not_started()?;
        self.batch_cancel = Some(c);
        Ok(())
    }

    pub fn set_batch_handler(&mut self, h: Arc<dyn BatchHandler>) -> Result<(), ServerError> {
        self.check_not_started()?;
        self.batch_handler = Some(h);
        Ok(())
    }

    /// Answers batch requests that were deferred (status 0), from any
    /// thread, in the columnar form of [`crate::proto::flat`], one id per
    /// reply. Returns how many ids were unknown (answered already, or from a
    /// connection's worker that is gone); their replies are dropped.
    pub fn complete(&self, ids: &[u64], replies: Columns<'_>) -> Result<usize, CompleteError> {
        let r = self.running.as_ref().ok_or(CompleteError::NotStarted)?;
        let links = r
            .shared
            .batch_links
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        batch::complete(&links, ids, replies).map_err(CompleteError::Reply)
    }

    /// Sets how the routes registered with exactly this method and path
    /// take request bodies: a `max_body` of their own, and whether the body
    /// is streamed to the handler ([`ResponseBuilder::read_body`]).
    /// Returns false when no route has this method and path.
    pub fn route_body(
        &mut self,
        method: Option<&[u8]>,
        path: &[u8],
        plan: crate::proto::BodyPlan,
    ) -> Result<bool, ServerError> {
        self.check_not_started()?;
        Ok(self.router.set_plan(method, path, plan))
    }

    /// Takes a batch request that was deferred (status 0) as a response
    /// builder, to answer it from any thread as a deferred handler's
    /// response: streamed, switched, or reading its body. `None` for an
    /// unknown id (answered already, or its worker is gone).
    pub fn response(&self, id: u64) -> Option<Box<ResponseBuilder>> {
        let r = self.running.as_ref()?;
        let links = r
            .shared
            .batch_links
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let (o, mailbox) = batch::take(&links, id)?;
        Some(ResponseBuilder::detached(response::Origin {
            mailbox,
            token: o.token,
            gen: o.gen,
            ticket: o.ticket,
            budget: self.cfg.proto.limits.max_unsent,
        }))
    }

    /// Replaces the 404 or 405 response.
    pub fn error_page(
        &mut self,
        status: u16,
        headers: &[u8],
        body: &[u8],
    ) -> Result<(), ServerError> {
        self.check_not_started()?;
        match status {
            404 => {
                self.not_found = Some(StaticResponse::new(
                    status,
                    self.server_name(),
                    headers,
                    body,
                ))
            }
            405 => self.method_not_allowed = Some((headers.to_vec(), body.to_vec())),
            _ => {
                return Err(ServerError::Io(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "only 404 and 405",
                )))
            }
        }
        Ok(())
    }

    fn check_not_started(&self) -> Result<(), ServerError> {
        if self.running.is_some() {
            Err(ServerError::AlreadyStarted)
        } else {
            Ok(())
        }
    }

    /// Adds a TCP listener on `addr`, one `SO_REUSEPORT` socket per worker
    /// ([`Server::listen_with`] with the default options).
    pub fn listen(&mut self, addr: SocketAddr) -> Result<SocketAddr, ServerError> {
        self.listen_with(addr, &ListenOptions::default())
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }

    /// Starts the workers and returns.
    pub fn start(&mut self) -> Result<(), ServerError> {
        self.check_not_started()?;
        if self.listeners.is_empty() {
            return Err(ServerError::NotListening);
        }
        let name = self.cfg.proto.server_name.clone();
        let text = b"Content-Type: text/plain\r\n";
        let errors = ErrorPages {
            not_found: self
                .not_found
                .take()
                .unwrap_or_else(|| StaticResponse::new(404, name.as_deref(), text, b"Not Found\n")),
            method_not_allowed: self
                .method_not_allowed
                .take()
                .unwrap_or_else(|| (text.to_vec(), b"Method Not Allowed\n".to_vec())),
        };
        let shared = Arc::new(Shared {
            cfg: self.cfg.clone(),
            router: std::mem::take(&mut self.router),
            errors,
            stop: self.stop_flag.clone(),
            batch_handler: self.batch_handler.clone(),
            batch_cancel: self.batch_cancel.clone(),
            batch_links: Mutex::new(Vec::new()),
            hooks: self.hooks.clone(),
        });
        let driver = worker::pick_driver(self.cfg.driver.chosen());
        let mut mailboxes = Vec::new();
        let mut stats = Vec::new();
        let mut threads = Vec::new();
        for i in 0..self.cfg.workers.max(1) {
            let ls = self
                .listeners
                .iter()
                .map(|b| b.for_worker(i))
                .collect::<io::Result<Vec<_>>>()?;
            let st = Arc::new(Stats::default());
            let (w, mb) = Worker::new(ls, shared.clone(), st.clone(), driver)?;
            mailboxes.push(mb);
            stats.push(st);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("fastserve-{i}"))
                    .spawn(move || w.run())?,
            );
        }
        let _ = self.metrics_stats.set(stats.clone());
        self.listeners.clear(); // the workers hold their own descriptors
        self.running = Some(Running {
            driver,
            shared,
            mailboxes,
            stats,
            threads: Mutex::new(threads),
        });
        self.started.store(true, Ordering::SeqCst);
        if self.stop_flag.load(Ordering::SeqCst) {
            // stopped while starting (a signal handler): the workers stop now
            self.stop();
        }
        Ok(())
    }

    /// Asks the workers to stop: no new connections, in-flight requests
    /// finish, then connections close. Returns at once; see [`Server::wait`].
    ///
    /// Called before or during `start` (from a signal handler, say), it
    /// still takes effect: the workers stop as soon as they run. It only
    /// touches atomics and eventfds, so a signal handler may call it.
    pub fn stop(&self) {
        self.stop_flag.store(true, Ordering::SeqCst);
        // `started` is set after `running`: once it reads true, `running` is
        // complete; whoever comes second of `stop` and `start` wakes them
        if self.started.load(Ordering::SeqCst) {
            if let Some(r) = &self.running {
                for m in &r.mailboxes {
                    m.wake();
                }
            }
        }
    }

    /// Blocks until every worker has exited.
    pub fn wait(&self) -> Result<(), ServerError> {
        let r = self.running.as_ref().ok_or(ServerError::NotStarted)?;
        let threads = std::mem::take(&mut *r.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
        Ok(())
    }

    pub fn stats(&self) -> StatsSnapshot {
        let mut s = StatsSnapshot::default();
        if let Some(r) = &self.running {
            for st in &r.stats {
                s.requests += st.requests.load(Ordering::Relaxed);
                s.bytes_in += st.bytes_in.load(Ordering::Relaxed);
                s.bytes_out += st.bytes_out.load(Ordering::Relaxed);
                s.open_connections += st.open.load(Ordering::Relaxed);
                s.accepted += st.accepted.load(Ordering::Relaxed);
            }
        }
        s
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.running.is_some() {
            self.stop();
            let _ = self.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_went_wrong() {
        let io = ServerError::from(io::Error::new(io::ErrorKind::AddrInUse, "port taken"));
        let e: &dyn std::error::Error = &io;
        assert_eq!(e.to_string(), "port taken");
        assert!(e.source().is_some());
        assert_eq!(
            ServerError::AlreadyStarted.to_string(),
            "the server is already started"
        );
        let c: &dyn std::error::Error = &CompleteError::Reply(ReplyError::TooMany);
        assert_eq!(c.to_string(), "more replies than requests");
        let b: &dyn std::error::Error = &BuildError::InvalidStatus;
        assert_eq!(b.to_string(), "the status must be within 200..=999");
    }
}
