"""fastserve.Server: decorator routes over the engine's worker threads.

Handler routes are the engine's batch routes: each worker collects the
requests it read in one pass of its event loop and calls Python once for all
of them; the answers go back in one call. Static routes are answered by the
engine without calling Python at all. `async def` handlers run on an asyncio
loop (uvloop's when it is installed) and are answered through the engine's
deferred responses, in request order.
"""
from __future__ import annotations

import asyncio
import atexit
import ctypes
import math
import os
import signal
import threading
import weakref
from array import array
from concurrent.futures import ThreadPoolExecutor
from ctypes import byref, string_at
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Set, TypeVar, Union, cast

from ._http import TEXT_200, Dispatch, Handler, Response, columns_of, is_async, log, new_event_loop, run_async
from ._lib import BATCH_CANCEL_FN, BATCH_FN, FastserveError, Stats, check, fast, lib
from ._observe import AccessLogger, ErrorLogger, Metrics, metrics_dict
from ._route import Pattern, check_method
from ._stream import ServerEngine, task_context

if TYPE_CHECKING:
    from .asyncio import HttpProtocol

_H = TypeVar("_H", bound=Handler)

_ROUTE_PREFIX = 1
_BODY_STREAM = 1
_DIR_INDEX = 1
_DIR_FOLLOW_SYMLINKS = 2
_METHODS_ANY = None

# Engine limits, each set with fastserve_config_set_<name>: counts and bytes.
_SIZES = (
    "max_connections",
    "max_header_bytes",
    "max_request_line",
    "max_headers",
    "max_body",
    "max_pipelined",
    "max_unsent_bytes",
    "socket_recv_buffer",
    "socket_send_buffer",
    "buffer_size",
    "spare_buffers",
)
# Seconds here, milliseconds for fastserve_config_set_<name>_ms.
_TIMEOUTS = (
    "header_timeout",
    "body_timeout",
    "keepalive_timeout",
    "write_timeout",
    "request_timeout",
    "shutdown_grace",
    "min_rate_grace",
    "proxy_header_timeout",
    "linger_timeout",
)
# Bytes per second, each with fastserve_config_set_<name>; 0 removes the minimum.
_RATES = ("min_body_rate", "min_send_rate")
_DEFAULT_TIMEOUTS = {
    "header_timeout": 10.0,
    "body_timeout": 30.0,
    "keepalive_timeout": 60.0,
    "write_timeout": 30.0,
    "request_timeout": 60.0,
}
# ctypes wraps anything larger (or negative) silently
_SIZE_MAX = 2 ** (8 * ctypes.sizeof(ctypes.c_size_t)) - 1
# fastserve_server_listen_* flags
_LISTEN_PROXY = 1
_MS_MAX = 2**64 - 1


def _b(s):
    return s.encode("latin-1") if isinstance(s, str) else bytes(s)


def _size(name, value):
    """`value` checked as a positive int (None: the engine's default)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} is an int, not {type(value).__name__}")
    if not 1 <= value <= _SIZE_MAX:
        raise ValueError(f"{name} must be a positive number, not {value}")
    return value


def _rate(name, value):
    """`value` checked as bytes per second >= 0 (None: the engine's default)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} is an int, not {type(value).__name__}")
    if not 0 <= value < 2**64:
        raise ValueError(f"{name} must be at least 0 bytes per second, not {value}")
    return value


def _seconds(name, value, zero=False):
    """`value` checked as seconds > 0 (>= 0 with zero=True; None: the
    engine's default); math.inf means never."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} is a number of seconds, not {type(value).__name__}")
    if not (value >= 0 if zero else value > 0):  # also refuses NaN
        raise ValueError(f"{name} must be {'at least 0' if zero else 'more than 0'} seconds, not {value}")
    return float(value)


def _ms(seconds):
    # the engine refuses 0 ms and saturates long timeouts
    if math.isinf(seconds):
        return _MS_MAX
    return min(_MS_MAX, max(1, round(seconds * 1000)))


def _where(host, port, default_port, unix, unix_mode, fd, systemd, proxy):
    """The listeners of `run` and `start`, checked: (kind, value, flags)."""
    flags = _LISTEN_PROXY if proxy else 0
    out: List[Any] = []
    if host is not None or port is not None or (unix is None and fd is None and not systemd):
        port = default_port if port is None else port
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be within 0..65535, not {port!r}")
        out.append(("tcp", ("127.0.0.1" if host is None else host, port), flags))
    if unix is not None:
        mode = 0 if unix_mode is None else unix_mode
        if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o7777:
            raise ValueError(f"unix_mode is permission bits such as 0o660, not {unix_mode!r}")
        out.append(("unix", (os.fsencode(unix), mode), flags))
    elif unix_mode is not None:
        raise ValueError("unix_mode without unix")
    if fd is not None:
        if isinstance(fd, bool) or not isinstance(fd, int) or fd < 0:
            raise ValueError(f"fd is a descriptor number, not {fd!r}")
        out.append(("fd", fd, flags))
    if systemd:
        out.append(("systemd", None if systemd is True else _b(systemd), flags))
    return out


def _listen(srv, where):
    """Adds the listeners to the engine's server; what each is, as text."""
    def check(code, what):
        if code != 0:  # the engine's reason, e.g. the path in use, or what LISTEN_PID says
            why = (lib.fastserve_last_error() or b"").decode("utf-8", "replace")
            raise FastserveError(code, f"{what}: {why}" if why else what)

    shown = []
    for kind, value, flags in where:
        if kind == "tcp":
            host, port = value
            hb = _b(host)
            check(lib.fastserve_server_listen_tcp(srv, hb, len(hb), port, flags), f"listen on {host}:{port}")
            h = f"[{host}]" if ":" in host and not host.startswith("[") else host
            shown.append(f"http://{h}:{lib.fastserve_server_port(srv) if port == 0 else port}/")
        elif kind == "unix":
            path, mode = value
            check(lib.fastserve_server_listen_unix(srv, path, len(path), mode, flags), f"listen on {os.fsdecode(path)}")
            shown.append("unix:" + os.fsdecode(path))
        elif kind == "fd":
            check(lib.fastserve_server_listen_fd(srv, value, flags), f"listen on descriptor {value}")
            shown.append(f"fd {value}")
        else:
            check(lib.fastserve_server_listen_systemd(srv, value, 0 if value is None else len(value), flags), "systemd sockets")
            shown.append("systemd" + ("" if value is None else f" ({value.decode('latin-1')})"))
    return shown


class _Route:
    __slots__ = ("methods", "path", "prefix", "pattern", "handler", "static", "directory", "stream_body", "max_body")

    def __init__(self, methods, path, prefix, handler=None, static=None, directory=None, stream_body=False, max_body=None):
        if isinstance(methods, str):
            raise TypeError(f"methods is a list of methods, not the string {methods!r}")
        # checked here so that a bad route fails where it is declared
        self.pattern = Pattern(path, prefix)
        self.methods = None if methods is None else tuple(check_method(m).upper() for m in methods)
        self.path = path
        self.prefix = prefix
        self.handler = handler
        self.static = static  # a Response
        self.stream_body = stream_body
        self.max_body = max_body
        self.directory = directory  # (root bytes, flags)


_DRIVERS = ("epoll", "io_uring", "auto")

class Server:
    """An HTTP/1.1 server with Python handlers.

        app = fastserve.Server()

        @app.get("/hello")
        def hello(req):
            return "Hello, " + req.query.get("name", "World") + "!"

        app.run("127.0.0.1", 8080)

    A handler takes a Request and returns str, bytes, a dict or list (sent as
    JSON), a Response, `(body, status)` or `(body, status, headers)`, or
    None (204, no body). `fastserve.abort(status)` (an HTTPException)
    answers that status; any other exception gives a 500 and is logged with
    its traceback. `async def` handlers are awaited on the server's asyncio
    loop. A sync handler runs on the worker thread that read the request:
    while it blocks (sleep, a database, a lock), every connection of that
    worker waits. Mark such a handler `blocking=True` and it runs in a
    thread pool instead, answered later like an async one.

    Keyword arguments set the engine's limits; None keeps its default. A
    request that trips a limit is answered with the status given and the
    connection is closed. Sizes are positive ints:

    - server_name: the Server header ("fastserve"; "" or None: no header)
    - max_connections: open connections per worker (10000); one past it is
      accepted and closed at once
    - max_header_bytes: request head size (8 KiB); 431
    - max_request_line: request line length (8 KiB); 414
    - max_headers: header fields per request (100); 431
    - max_body: request body size (1 MiB); 413, before the body is read
      when Content-Length says so
    - max_pipelined: requests in flight per connection (128); past it the
      connection is not read until answers drain
    - max_unsent_bytes: response bytes queued per connection (1 MiB); past
      it the connection is not read until the client reads
    - socket_recv_buffer, socket_send_buffer: SO_RCVBUF and SO_SNDBUF of
      each connection (the kernel's autotuning); cap what the kernel holds
      for a client that does not read
    - buffer_size: the engine's buffer block size (16 KiB, rounded up to
      4 KiB)

    Timeouts are in seconds (floats, rounded to whole milliseconds, at least
    1 ms; math.inf: never):

    - header_timeout: a request head is complete this long after its first
      byte (10); else 408
    - body_timeout: a request body pauses at most this long (30); else 408
    - keepalive_timeout: an idle connection is closed quietly after it (60)
    - write_timeout: a response that makes no progress this long (the client
      stopped reading) drops the connection (30)
    - request_timeout: an `async def` or blocking handler not done by then
      is answered 503 (60), and its task cancelled (CancelledError), as it
      is when the client leaves before the answer
    - shutdown_grace: how long `stop()` lets requests in flight finish (30;
      0 is allowed)
    - proxy_header_timeout: on a `proxy=True` listener, the PROXY protocol
      header is complete this long after the connection is accepted (5);
      else the connection is closed without a response
    - min_rate_grace: how long a body or a response may go at any rate
      before the minimum rates apply (5)
    - linger_timeout: a connection closed after an error answer (400, 413,
      431, 408) goes on reading and dropping what the client still sends,
      at most this long (5), so that the client reads the answer rather
      than a reset

    min_body_rate, min_send_rate: bytes per second a request body must
    arrive at, and responses be taken at, on average once min_rate_grace has
    passed (240 each, 0 for none): slower, 408 and a close, or a dropped
    connection. They stop connections trickling a byte now and then from
    holding the server; HttpProtocol does not apply them.

    blocking_threads: the thread pool of blocking=True handlers (16).

    driver: the engine's event loop, "epoll", "io_uring" or "auto" (None:
    "auto", which is epoll today); the environment variable FASTSERVE_DRIVER
    overrides it. A kernel that refuses io_uring gets epoll, said once on
    stderr; `active_driver` tells which one runs.

    access_log: False (the default), True or "common", or "combined": each
    request, once its response is written, is logged to the
    `fastserve.access` logger at INFO in that log format, with the fields
    in the record's `access` attribute. error_log (True): errors the engine
    meets go to `fastserve.error`, WARNING for handler and write timeouts
    and the connection limit, INFO for a client's malformed or oversized
    requests and slow heads or bodies. `metrics(path)` serves Prometheus
    text.

    `fastserve.asyncio.HttpProtocol` applies the same limits and timeouts
    (not max_connections, the socket buffers or workers, which are the
    engine's).

    A bad value raises ValueError (or TypeError) naming the argument.
    """

    def __init__(
        self,
        *,
        server_name: Optional[str] = "fastserve",
        max_connections: Optional[int] = None,
        max_header_bytes: Optional[int] = None,
        max_request_line: Optional[int] = None,
        max_headers: Optional[int] = None,
        max_body: Optional[int] = None,
        max_pipelined: Optional[int] = None,
        max_unsent_bytes: Optional[int] = None,
        socket_recv_buffer: Optional[int] = None,
        socket_send_buffer: Optional[int] = None,
        buffer_size: Optional[int] = None,
        spare_buffers: Optional[int] = None,
        header_timeout: Optional[float] = None,
        body_timeout: Optional[float] = None,
        keepalive_timeout: Optional[float] = None,
        write_timeout: Optional[float] = None,
        request_timeout: Optional[float] = None,
        shutdown_grace: Optional[float] = 30.0,
        min_body_rate: Optional[int] = None,
        min_send_rate: Optional[int] = None,
        min_rate_grace: Optional[float] = None,
        proxy_header_timeout: Optional[float] = None,
        linger_timeout: Optional[float] = None,
        blocking_threads: int = 16,
        access_log: Union[bool, str] = False,
        error_log: bool = True,
        driver: Optional[str] = None,
    ) -> None:
        self.server_name = server_name
        # checked here so that a bad value fails now rather than in start()
        self.max_connections = _size("max_connections", max_connections)
        self.max_header_bytes = _size("max_header_bytes", max_header_bytes)
        self.max_request_line = _size("max_request_line", max_request_line)
        self.max_headers = _size("max_headers", max_headers)
        self.max_body = _size("max_body", max_body)
        self.max_pipelined = _size("max_pipelined", max_pipelined)
        self.max_unsent_bytes = _size("max_unsent_bytes", max_unsent_bytes)
        self.socket_recv_buffer = _size("socket_recv_buffer", socket_recv_buffer)
        self.socket_send_buffer = _size("socket_send_buffer", socket_send_buffer)
        self.buffer_size = _size("buffer_size", buffer_size)
        self.spare_buffers = _size("spare_buffers", spare_buffers)
        self.header_timeout = _seconds("header_timeout", header_timeout)
        self.body_timeout = _seconds("body_timeout", body_timeout)
        self.keepalive_timeout = _seconds("keepalive_timeout", keepalive_timeout)
        self.write_timeout = _seconds("write_timeout", write_timeout)
        self.request_timeout = _seconds("request_timeout", request_timeout)
        self.shutdown_grace = _seconds("shutdown_grace", shutdown_grace, zero=True)
        self.min_body_rate = _rate("min_body_rate", min_body_rate)
        self.min_send_rate = _rate("min_send_rate", min_send_rate)
        self.min_rate_grace = _seconds("min_rate_grace", min_rate_grace)
        self.proxy_header_timeout = _seconds("proxy_header_timeout", proxy_header_timeout)
        self.linger_timeout = _seconds("linger_timeout", linger_timeout)
        self.blocking_threads = cast(int, _size("blocking_threads", blocking_threads))
        if driver is not None and driver not in _DRIVERS:
            raise ValueError(f"driver must be one of {', '.join(_DRIVERS)}, not {driver!r}")
        self.driver = driver
        self._access: Optional[AccessLogger] = None
        if access_log:
            self._access = AccessLogger("common" if access_log is True else cast(str, access_log))
        self._errors: Optional[ErrorLogger] = ErrorLogger() if error_log else None
        self._metrics_paths: List[str] = []
        self._pool: Optional[ThreadPoolExecutor] = None
        self._pool_lock = threading.Lock()
        self._conn_cfg: Optional[int] = None
        self.routes: List[_Route] = []
        self.port: Optional[int] = None  # the first TCP listener's port, once listening
        self.listening: List[str] = []  # where it listens, once listening
        self._srv: Optional[int] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._loop_thread: Optional[threading.Thread] = None
        self.final_stats: Optional[Dict[str, int]] = None
        self._pinned: Set[int] = set()
        self._done_ids = array("Q")
        self._done: List[Any] = []
        self._flush_scheduled = False
        self._tasks: Set[asyncio.Future[Any]] = set()
        self.batches = 0  # batch callbacks served (requests / batches = batch size)
        self._callback = BATCH_FN(self._on_batch)
        self._cancel_callback = BATCH_CANCEL_FN(self._on_cancel)
        self._by_rid: Dict[int, asyncio.Future[Any]] = {}  # the task of each request id
        self._engine: Any = None
        # A mounted app (fastserve.asgi, fastserve.wsgi), at most one:
        #   batch(batch, blob, count) -> bool  takes a batch of its requests
        #       only (a worker thread); False leaves it to the routes;
        #   answered()  a batch the routes took has been answered (a worker
        #       thread): requests deferred in it may now be completed;
        #   gone(rid) -> bool  its request's client left (the loop);
        #   close() -> bool  the workers are done: False while app code
        #       still runs, and the server is then not freed under it.
        # Coroutine functions in _on_start/_on_stop run on the loop before
        # serving and after the workers stop.
        self._mount: Any = None
        self._on_start: List[Callable[[], Any]] = []
        self._on_stop: List[Callable[[], Any]] = []

    # ------------------------------------------------------------ routes

    def route(
        self,
        path: str,
        methods: Optional[Iterable[str]] = ("GET",),
        *,
        prefix: bool = False,
        blocking: bool = False,
        stream_body: bool = False,
        max_body: Optional[int] = None,
    ) -> Callable[[_H], _H]:
        """Decorator: `fn` answers `methods` (None: every method; any token,
        such as "PURGE") on `path`: exact, a pattern ("/users/{id}",
        "/files/{path*}"; the values are in `req.params`), or with
        prefix=True every path that starts with it. A GET route also answers
        HEAD. A malformed pattern or method raises ValueError here.
        blocking=True runs a sync `fn` in the server's thread pool
        (`blocking_threads`), so that it may sleep, wait on a database or a
        lock, without holding up the worker."""

        def add(fn: _H) -> _H:
            self.add_route(path, fn, methods, prefix=prefix, blocking=blocking, stream_body=stream_body, max_body=max_body)
            return fn

        return add

    def get(self, path: str, **options: Any) -> Callable[[_H], _H]:
        return self.route(path, ("GET",), **options)

    def post(self, path: str, **options: Any) -> Callable[[_H], _H]:
        return self.route(path, ("POST",), **options)

    def put(self, path: str, **options: Any) -> Callable[[_H], _H]:
        return self.route(path, ("PUT",), **options)

    def delete(self, path: str, **options: Any) -> Callable[[_H], _H]:
        return self.route(path, ("DELETE",), **options)

    def patch(self, path: str, **options: Any) -> Callable[[_H], _H]:
        return self.route(path, ("PATCH",), **options)

    def add_route(
        self,
        path: str,
        fn: Handler,
        methods: Optional[Iterable[str]] = ("GET",),
        *,
        prefix: bool = False,
        blocking: bool = False,
        stream_body: bool = False,
        max_body: Optional[int] = None,
    ) -> None:
        """`route` without the decorator. stream_body=True has the async
        handler called as soon as the head is read, to take the body with
        `async for chunk in req.stream()`; max_body sets this route's body
        limit (bytes), over the server's."""
        if not callable(fn):
            raise TypeError("a handler is callable")
        self._check_stopped()
        max_body = _size("max_body", max_body)
        if stream_body and not is_async(fn):
            raise TypeError("stream_body=True needs an async def handler: it awaits the body's pieces")
        if blocking:
            if is_async(fn):
                raise TypeError("blocking=True is for sync handlers; an async def handler is awaited already")
            fn = self._in_thread(fn)
        self.routes.append(_Route(methods, path, prefix, handler=fn, stream_body=stream_body, max_body=max_body))

    def _in_thread(self, fn):
        """`fn` as an async handler that runs it in the thread pool."""

        async def blocking(req):
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor(), fn, req)

        blocking.__wrapped__ = fn  # type: ignore[attr-defined]
        return blocking

    def _executor(self):
        pool = self._pool
        if pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.blocking_threads, thread_name_prefix="fastserve-blocking")
                pool = self._pool
        return pool

    def static(
        self,
        path: str,
        body: Union[str, bytes],
        *,
        status: int = 200,
        content_type: str = "text/plain; charset=utf-8",
        methods: Optional[Iterable[str]] = ("GET",),
        prefix: bool = False,
    ) -> None:
        """A response rendered once and served by the engine without calling
        Python. `body` is str (UTF-8) or bytes."""
        self._check_stopped()
        body = body.encode() if isinstance(body, str) else bytes(body)
        Response(body, status=status)  # a status or body it refuses fails now
        self.routes.append(_Route(methods, path, prefix, static=(status, content_type, body)))

    def directory(self, prefix: str, root: Union[str, "os.PathLike[str]"], *, index: bool = False, follow_symlinks: bool = False) -> None:
        """Serves the files under `root` at `prefix` and below, from the
        engine (sendfile, no Python call): GET and HEAD, Content-Type by
        extension, ETag and Last-Modified with 304 answers, one Range.
        index=True serves a directory's index.html; follow_symlinks=True lets
        symlinks lead out of `root`. Paths that would leave `root` are 404.
        `root` must be a directory (checked now, and again when the server
        starts). Only the engine
        serves these routes: fastserve.asyncio.HttpProtocol refuses an app
        that has one."""
        self._check_stopped()
        if not os.path.isdir(root):
            raise NotADirectoryError(f"directory root {os.fspath(root)!r} is not a directory")
        flags = (_DIR_INDEX if index else 0) | (_DIR_FOLLOW_SYMLINKS if follow_symlinks else 0)
        self.routes.append(_Route(("GET",), prefix, True, directory=(os.fsencode(root), flags)))

    def _check_stopped(self):
        if self._srv is not None:
            raise RuntimeError("routes are fixed once the server runs")

    def handlers(self) -> List[Handler]:
        """Handlers by tag, as the engine's batch routes number them."""
        return [r.handler for r in self.routes if r.handler is not None]

    # ------------------------------------------------------------ engine

    def _config(self, workers=1):
        """A fastserve_config with this server's settings; the caller frees it."""
        cfg = lib.fastserve_config_new()
        try:
            check(lib.fastserve_config_set_workers(cfg, _size("workers", workers)), "workers")
            name = _b(self.server_name or "")
            check(lib.fastserve_config_set_server_name(cfg, name, len(name)), "server_name")
            if self.driver is not None:
                d = _b(self.driver)
                check(lib.fastserve_config_set_driver(cfg, d, len(d)), "driver")
            # checked again: the attributes may have changed since __init__
            for knob in _SIZES:
                value = _size(knob, getattr(self, knob))
                if value is not None:
                    check(getattr(lib, "fastserve_config_set_" + knob)(cfg, value), knob)
            for knob in _TIMEOUTS:
                value = _seconds(knob, getattr(self, knob), zero=knob == "shutdown_grace")
                if value is not None:
                    check(getattr(lib, f"fastserve_config_set_{knob}_ms")(cfg, _ms(value)), knob)
            for knob in _RATES:
                value = _rate(knob, getattr(self, knob))
                if value is not None:
                    check(getattr(lib, f"fastserve_config_set_{knob}")(cfg, value), knob)
        except BaseException:
            lib.fastserve_config_free(cfg)
            raise
        return cfg

    def _conn_config(self):
        """The settings HttpProtocol connections are made with, built once."""
        if self._conn_cfg is None:
            cfg = self._config()
            weakref.finalize(self, lib.fastserve_config_free, cfg)
            self._conn_cfg = cfg
        return self._conn_cfg

    def timeouts(self) -> Dict[str, float]:
        """The timeouts in seconds, the engine's defaults filled in
        (math.inf: never); HttpProtocol runs them with loop timers."""
        return {k: _DEFAULT_TIMEOUTS[k] if getattr(self, k) is None else cast(float, getattr(self, k)) for k in _DEFAULT_TIMEOUTS}

    def _build(self, where, workers):
        cfg = self._config(workers)
        try:
            srv = lib.fastserve_server_new(cfg)
        finally:
            lib.fastserve_config_free(cfg)
        try:
            tag = 0
            for r in self.routes:
                path = _b(r.path)
                flags = _ROUTE_PREFIX if r.prefix else 0
                for m in r.methods or (None,):
                    mb = None if m is None else _b(m)
                    ml = 0 if m is None else len(mb)
                    if r.directory is not None:
                        root, dflags = r.directory
                        check(lib.fastserve_server_route_dir(srv, path, len(path), root, len(root), dflags), f"directory {r.path} (root {os.fsdecode(root)!r})")
                    elif r.static is not None:
                        status, ct, body = r.static
                        ctb = _b(ct)
                        check(
                            lib.fastserve_server_route_static(srv, mb, ml, path, len(path), flags, status, ctb, len(ctb), body, len(body)),
                            f"static route {r.path}",
                        )
                    else:
                        check(lib.fastserve_server_route_batch(srv, mb, ml, path, len(path), flags, tag), f"route {r.path}")
                        if r.stream_body or r.max_body:
                            body_flags = _BODY_STREAM if r.stream_body else 0
                            check(
                                lib.fastserve_server_route_body(srv, mb, ml, path, len(path), r.max_body or 0, body_flags),
                                f"route {r.path} body",
                            )
                if r.handler is not None:
                    tag += 1
            check(lib.fastserve_server_set_batch_handler(srv, self._callback, None), "batch handler")
            check(lib.fastserve_server_set_batch_cancel(srv, self._cancel_callback, None), "batch cancel")
            if self._access is not None:
                check(lib.fastserve_server_set_access_log(srv, self._access.callback, None), "access log")
            if self._errors is not None:
                check(lib.fastserve_server_set_error_hook(srv, self._errors.callback, None), "error hook")
            for p in self._metrics_paths:
                pb = _b(p)
                check(lib.fastserve_server_route_metrics(srv, pb, len(pb)), f"metrics route {p}")
            self.listening = _listen(srv, where)
        except BaseException:
            lib.fastserve_server_free(srv)
            raise
        self._dispatch = Dispatch(self.handlers(), [r.pattern for r in self.routes if r.handler is not None])
        self._srv = srv
        self._engine = ServerEngine(lib, srv, self._loop, self._tasks)
        self.port = lib.fastserve_server_port(srv)

    def _on_batch(self, batch, reqs, count, data, data_len, _userdata):
        # Runs on a worker thread, holding the GIL, once per batch.
        try:
            tid = threading.get_ident()
            if tid not in self._pinned:
                # Keep this thread's Python thread state for good, instead of
                # having ctypes create and destroy one around every callback.
                self._pinned.add(tid)
                ctypes.pythonapi.PyGILState_Ensure()
            self.batches += 1
            # one copy: the records and the data area are one block
            blob = string_at(reqs, count * 64 + data_len)
            m = self._mount
            if m is not None and m.batch(batch, blob, count):
                return
            self._dispatch_batch(batch, blob, count)
            if m is not None:
                m.answered()
        except BaseException:  # never let an exception into the engine
            log.exception("batch dispatch failed")

    def _dispatch_batch(self, batch, blob, count):
        d = self._dispatch
        out = d.call(blob, count)
        first = out[0]
        if first.__class__ is str and out[-1] == first and out.count(first) == count:
            # every handler returned the same text: one body for all
            data = first.encode()
            if fast.fastserve_batch_respond_same(batch, TEXT_200, count, data, len(data)) == 0:
                return
        try:
            text = "\0".join(out)
        except TypeError:
            text = None
        if text is not None:
            # every handler returned text: bodies NUL-separated, one call
            data = text.encode()
            if fast.fastserve_batch_respond_text(batch, TEXT_200, count, data, len(data)) == 0:
                return
            # a body held a NUL: answer with lengths instead
        status, hlens, blens, joined, deferred = d.columns(out, blob)
        fast.fastserve_batch_respond(batch, status, hlens, blens, count, joined, len(joined))
        if deferred:
            self._loop.call_soon_threadsafe(self._spawn, deferred)

    # async handlers, on the loop thread

    def _spawn(self, deferred):
        for rid, coro in deferred:
            ctx = task_context(self._engine, rid)
            t = self._loop.create_task(self._finish(rid, coro), context=ctx)
            self._tasks.add(t)
            self._by_rid[rid] = t
            t.add_done_callback(self._tasks.discard)
            t.add_done_callback(lambda _t, rid=rid: self._by_rid.pop(rid, None))

    def _on_cancel(self, _userdata, ids, count):
        # A worker thread: the request timeout answered these, or their
        # clients left. Their handlers get CancelledError on the loop.
        try:
            rids = ids[:count]
            loop = self._loop
            if loop is not None:
                loop.call_soon_threadsafe(self._cancel, rids)
        except BaseException:  # never let an exception into the engine
            log.exception("cancelling requests failed")

    def _cancel(self, rids):
        m = self._mount
        for rid in rids:
            if m is not None and m.gone(rid):
                continue  # a mounted app hears of it instead
            t = self._by_rid.pop(rid, None)
            if t is not None:
                t.cancel()

    async def _finish(self, rid, coro):
        r = await run_async(coro)
        try:
            if await self._engine.finish(rid, r):
                return  # streamed, switched, or answered through its handle
        except Exception:
            log.exception("answering request %d failed", rid)
            return
        self._done_ids.append(rid)
        self._done.append(r)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush_done)

    def _flush_done(self):
        # every async answer finished in this loop turn, in one call
        self._flush_scheduled = False
        ids, done = self._done_ids, self._done
        self._done_ids, self._done = array("Q"), []
        if not done or self._srv is None:
            return
        status, hlens, blens, joined = columns_of(done)
        lib.fastserve_server_complete(self._srv, ids.tobytes(), status, hlens, blens, len(done), joined, len(joined), None)

    # ------------------------------------------------------------ life cycle

    def start(
        self,
        host: Optional[str] = None,
        port: Optional[int] = None,
        workers: int = 1,
        *,
        unix: Union[None, str, bytes, "os.PathLike[str]"] = None,
        unix_mode: Optional[int] = None,
        fd: Optional[int] = None,
        systemd: Union[None, bool, str] = None,
        proxy: bool = False,
    ) -> int:
        """Starts serving in the background (the asyncio loop for async
        handlers runs in a thread of its own) and returns the port (of the
        first TCP listener; 0 without one). Stop it with `stop()`.
        Listeners as for `run`; without any, 127.0.0.1 and a free port."""
        self._check_stopped()
        where = _where(host, port, 0, unix, unix_mode, fd, systemd, proxy)
        loop = new_event_loop()
        ready = threading.Event()

        def run_loop():
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self._loop = loop
        self._loop_thread = threading.Thread(target=run_loop, name="fastserve-loop", daemon=True)
        self._loop_thread.start()
        ready.wait()
        try:
            asyncio.run_coroutine_threadsafe(self._hooks(self._on_start), loop).result()
            self._build(where, workers)
            check(lib.fastserve_server_start(self._srv), "start")
        except BaseException:
            self._free()
            self._close_loop()
            raise
        # worker threads must not call into an interpreter that is exiting
        atexit.register(self.stop)
        return cast(int, self.port)

    def stop(self) -> None:
        """Stops gracefully: no new connections, requests in flight are
        answered, then the workers exit. Returns when they have."""
        srv = self._srv
        if srv is None:
            return
        atexit.unregister(self.stop)
        lib.fastserve_server_stop(srv)
        lib.fastserve_server_wait(srv)  # releases the GIL: workers and the loop go on
        self.final_stats = self.stats()
        self._free()
        try:
            if self._loop is not None and self._on_stop:
                asyncio.run_coroutine_threadsafe(self._hooks(self._on_stop), self._loop).result()
        finally:
            self._close_loop()
        self._close_pool()

    def _close_pool(self):
        pool, self._pool = self._pool, None
        if pool is not None:
            # a handler still blocked past shutdown_grace is not waited for
            pool.shutdown(wait=False, cancel_futures=True)

    def _free(self):
        srv, self._srv = self._srv, None
        if srv is None:
            return
        m = self._mount
        if m is not None and not m.close():
            # app code still running past the shutdown grace would use a
            # freed server: it is kept (and leaks) instead
            log.warning("the mounted app is still running after the shutdown grace: its server is not freed")
            return
        lib.fastserve_server_free(srv)

    def _close_loop(self):
        loop, self._loop = self._loop, None
        if loop is not None and self._loop_thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            self._loop_thread.join()
            self._loop_thread = None
            loop.close()

    def metrics(self, path: str = "/metrics") -> None:
        """Serves the metrics in Prometheus text format at GET `path`
        (answered by the engine, without calling Python), and keeps the
        per-status counts and the latency histogram."""
        self._check_stopped()
        Pattern(path, False)  # a bad path fails here
        self._metrics_paths.append(path)

    def read_metrics(self) -> Dict[str, Any]:
        """The metrics as a dict: the counters of stats(), `latency` as
        (upper bound in seconds, requests) buckets (not cumulative),
        `latency_sum` in seconds, `status_classes`, `status_codes` and
        `errors` by reason. The histogram and status counts are kept with
        an access log or a metrics route only."""
        m = Metrics()
        m.size = ctypes.sizeof(Metrics)
        if self._srv is not None:
            check(lib.fastserve_server_metrics(self._srv, byref(m)), "metrics")
        return metrics_dict(m)

    @property
    def active_driver(self) -> Optional[str]:
        """The event loop the engine runs, "epoll" or "io_uring"; None
        when it is not running."""
        if self._srv is None:
            return None
        d = lib.fastserve_server_driver(self._srv)
        return d.decode() if d else None

    def stats(self) -> Dict[str, int]:
        """Engine counters: requests, bytes_in, bytes_out, open_connections,
        accepted_connections; and batches, the number of calls into Python
        (after a stop, `final_stats` keeps the last counts)."""
        st = Stats()
        if self._srv is not None:
            lib.fastserve_server_stats(self._srv, byref(st))
        out = {k: getattr(st, k) for k, *_ in Stats._fields_}
        out["batches"] = self.batches
        return out

    def run(
        self,
        host: Optional[str] = None,
        port: Optional[int] = None,
        workers: int = 1,
        *,
        unix: Union[None, str, bytes, "os.PathLike[str]"] = None,
        unix_mode: Optional[int] = None,
        fd: Optional[int] = None,
        systemd: Union[None, bool, str] = None,
        proxy: bool = False,
        ready: Optional[Callable[[Server], object]] = None,
    ) -> None:
        """Serves until Ctrl-C or SIGTERM, then stops gracefully: requests
        in flight (async ones included) are answered first. Prints a
        `listening on http://HOST:PORT/` line once it listens, then calls
        `ready(server)` if given.

        Listeners, any number at once: TCP on `host` (an address, `::` for
        IPv6 and IPv4, or a name such as localhost: every address it has)
        and `port`; a Unix socket at path `unix` (`@name`: an abstract
        name) with permission bits `unix_mode` (e.g. 0o660); `fd`, a
        listening socket's descriptor, which the server takes (it is
        closed with the server); `systemd=True` for every socket systemd
        passed (socket activation), or a `FileDescriptorName=` to pick
        some. With none of these, TCP on 127.0.0.1 port 8080. With
        proxy=True every connection starts with a PROXY protocol header
        (v1 or v2) whose client address handlers see as `req.client`; one
        without a valid header is closed without a response."""
        self._check_stopped()
        where = _where(host, port, 8080, unix, unix_mode, fd, systemd, proxy)
        loop = new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._hooks(self._on_start))
            self._build(where, workers)
            check(lib.fastserve_server_start(self._srv), "start")
            loop.run_until_complete(self._serve(workers, ready))
            loop.run_until_complete(self._hooks(self._on_stop))
        finally:
            self._free()
            self._close_pool()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            asyncio.set_event_loop(None)
            loop.close()
            self._loop = None

    @staticmethod
    async def _hooks(fns):
        for fn in fns:
            await fn()

    async def _serve(self, workers, ready):
        # signal handlers are set up from the running loop (uvloop only
        # watches for signals once it runs)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._loop.add_signal_handler(sig, stop.set)
        print(f"fastserve: listening on {', '.join(self.listening)} with {workers} worker(s) on {self.active_driver}", flush=True)
        if ready is not None:
            ready(self)
        await stop.wait()
        lib.fastserve_server_stop(self._srv)
        # wait for the workers in a thread: this loop keeps finishing async
        # handlers meanwhile, which the workers are waiting for
        await self._loop.run_in_executor(None, lib.fastserve_server_wait, self._srv)
        self.final_stats = self.stats()

    def protocol(self) -> Callable[[], HttpProtocol]:
        """An asyncio Protocol factory serving this app's routes on the
        sans-I/O core, for `loop.create_server(app.protocol(), host, port)`."""
        from .asyncio import HttpProtocol

        return lambda: HttpProtocol(self)
