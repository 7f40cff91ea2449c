"""An asyncio Protocol on fastserve's sans-I/O connection core.

For programs that already run an asyncio or uvloop server:

    loop = uvloop.new_event_loop()
    srv = await loop.create_server(lambda: HttpProtocol(app), "127.0.0.1", 8080)

`app` is a fastserve.Server (its routes, static and handler, sync and async,
are served the same way; the engine's worker threads are not used). The
connection core parses and frames; each `data_received` hands every complete
request to Python in one batch, answers them in one call, and writes all the
output with one `transport.write` per output segment.
"""
from __future__ import annotations

import asyncio
import ctypes
import math
import socket
import struct
from array import array
from ctypes import byref, c_uint64, string_at
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Dict, Optional, cast

from ._http import _CT_CODES, Dispatch, Response, _text_word, columns_of, run_async
from ._lib import CONN_IDLE, CONN_PENDING, CONN_READING_BODY, CONN_READING_HEAD, ConnBatch, IoVec, fast, lib
from ._route import EXACT, allow_header, allows, order, server_allow
from ._stream import finish_streams, hand_over, task_context

if TYPE_CHECKING:
    from .server import Server

_NOT_FOUND = Response("Not Found\n", status=404)


class _Router:
    """The app's routes, matched in Python with the engine's rules and
    patterns (fastserve._route): exact paths, then patterns, then prefixes;
    a 405 lists in Allow the methods of every route whose path matches."""

    def __init__(self, app):
        def static(r):
            status, ct, body = r.static
            resp = Response(body, status=status, content_type=ct)
            return lambda req: resp

        self.exact = {}
        self.rest = []  # patterns, then prefixes, in matching order
        self.methods = [r.methods for r in app.routes]
        for pat, r in order((r.pattern, r) for r in app.routes):
            if r.directory is not None:
                raise NotImplementedError(
                    f"directory route {r.path}: directory routes are served by the engine "
                    "(Server.start or Server.run), which sends files with sendfile; "
                    "HttpProtocol has no way to send a file"
                )
            fn = r.handler if r.static is None else static(r)
            if pat.kind == EXACT:
                self.exact.setdefault(r.path, []).append((r.methods, fn))
            else:
                self.rest.append((pat, r.methods, fn))

    def __call__(self, req):
        method, path = req.method, req.path
        for methods, fn in self.exact.get(path, ()):
            if allows(methods, method):
                req._set_params({})
                return fn(req)
        for pat, methods, fn in self.rest:
            if allows(methods, method):
                params = pat.match(path)
                if params is not None:
                    req._set_params(params)
                    return fn(req)
        if path == "*":  # OPTIONS *: the engine lets no other method through
            return Response(b"", status=200, headers={"Allow": server_allow(self.methods)})
        if method == "CONNECT":
            return Response("Method Not Allowed\n", status=405, headers={"Allow": server_allow(self.methods, "CONNECT")})
        matched = [ms for ms, _ in self.exact.get(path, ())]
        matched += [ms for pat, ms, _ in self.rest if pat.match(path) is not None]
        if not matched:
            return _NOT_FOUND
        return Response("Method Not Allowed\n", status=405, headers={"Allow": allow_header(matched)})


class HttpProtocol(asyncio.Protocol):
    """Serves `app`'s routes on one connection, with the app's limits
    (max_body, max_header_bytes, ...) and timeouts, run on loop timers."""

    def __init__(self, app: Server) -> None:
        self._dispatch = Dispatch([_Router(app)])
        self._cfg = app._conn_config()
        t = app.timeouts()
        self._to = (t["header_timeout"], t["body_timeout"], t["keepalive_timeout"], t["write_timeout"], t["request_timeout"])
        self._c: Optional[int] = None
        self._t: Optional[asyncio.Transport] = None
        self._batch = ConnBatch()
        self._iov = (IoVec * 16)()
        self._paused = False
        self._tasks: Dict[int, asyncio.Future[Any]] = {}  # by request id
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        # the timeouts' clocks, in loop.time() seconds (0: not running)
        self._last_io = self._last_read = self._head_since = self._deferred_since = self._write_since = 0.0
        self._write_left = 0  # bytes buffered when the write clock last started
        self._timer: Optional[asyncio.TimerHandle] = None
        self._timer_at = math.inf
        self._streams: Dict[int, _ConnStream] = {}  # by request id
        self._drains: list = []  # futures waiting for resume_writing
        self._switch: Any = None  # the protocol factory of an accepted switch

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._t = cast(asyncio.Transport, transport)
        self._loop = asyncio.get_running_loop()
        self._c = c = fast.fastserve_conn_new(self._cfg)
        peer = _sockaddr(transport)
        if peer is not None:
            fast.fastserve_conn_set_peer(c, peer, len(peer))
        self._last_io = self._loop.time()
        self._arm()

    def data_received(self, data: bytes) -> None:
        c = self._c
        if c is None:
            return
        self._last_io = self._last_read = cast(asyncio.AbstractEventLoop, self._loop).time()
        fast.fastserve_conn_feed(c, data, len(data), byref(self._batch))
        self._serve()
        self._arm()

    def eof_received(self) -> bool:
        if self._c is not None:
            fast.fastserve_conn_feed_eof(self._c, byref(self._batch))
            self._serve()
            self._arm()
        if self._tasks and self._t is not None:
            # the client left with answers owed (as nginx takes a client
            # abort): their handlers are cancelled rather than waited out
            self._t.close()
            return False
        return True  # the transport closes once the answers are written

    def connection_lost(self, exc: Optional[Exception]) -> None:
        c, self._c = self._c, None
        self._t = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for t in self._tasks.values():
            t.cancel()
        self._wake_drains(ConnectionError("the client has gone"))
        if c is not None:
            fast.fastserve_conn_free(c)

    def pause_writing(self) -> None:
        self._paused = True
        if self._t is not None:
            self._t.pause_reading()

    def resume_writing(self) -> None:
        self._paused = False
        self._wake_drains(None)
        self._write()
        self._arm()

    def _wake_drains(self, exc):
        drains, self._drains = self._drains, []
        for f in drains:
            if not f.done():
                if exc is None:
                    f.set_result(None)
                else:
                    f.set_exception(exc)

    async def _drain(self):
        """Waits while the transport holds more than its high-water mark."""
        if self._c is None:
            raise ConnectionError("the client has gone")
        if self._paused:
            f = cast(asyncio.AbstractEventLoop, self._loop).create_future()
            self._drains.append(f)
            await f

    # the batch

    def _serve(self):
        # answer every request of the batch the last feed parsed, then write
        while self._c is not None:
            b = self._batch
            n = b.count
            if n:
                blob = string_at(b.requests, n * 64 + b.data_len)
                d = self._dispatch
                out, text = d.run(blob, n)
                if text is not None:
                    status, hlens, blens, joined, deferred = _text_word * n, None, None, text.encode(), ()
                    if joined.count(0) != n - 1:
                        status, hlens, blens, joined, deferred = d.columns(out, blob)
                else:
                    status, hlens, blens, joined, deferred = d.columns(out, blob)
                ids = memoryview(blob)[: n * 64].cast("Q")[1::8].tobytes()
                fast.fastserve_conn_respond_batch(self._c, ids, status, hlens, blens, n, joined, len(joined), None)
                for rid, coro in deferred:
                    loop = cast(asyncio.AbstractEventLoop, self._loop)
                    t = loop.create_task(self._finish(rid, coro), context=task_context(self, rid))
                    self._tasks[rid] = t
                    t.add_done_callback(lambda _t, rid=rid: self._tasks.pop(rid, None))
                b.count = 0
            if not self._write():
                return
            # writing made room: parse what the pipelining limit held back
            fast.fastserve_conn_feed(self._c, None, 0, byref(self._batch))
            if not self._batch.count:
                return

    async def _finish(self, rid, coro):
        r = await run_async(coro)
        if self._c is None:
            return
        if await self.finish(rid, r):
            return
        status, hlens, blens, joined = columns_of([r])
        fast.fastserve_conn_respond_batch(self._c, array("Q", [rid]).tobytes(), status, hlens, blens, 1, joined, len(joined), None)
        if self._write():
            fast.fastserve_conn_feed(self._c, None, 0, byref(self._batch))
            self._serve()
        self._arm()

    def _write(self):
        """Writes the output; returns True if anything was written."""
        c, t = self._c, self._t
        if c is None or t is None:
            return False
        wrote = False
        iov = self._iov
        while True:
            n = fast.fastserve_conn_output(c, iov, 16)
            if not n:
                break
            total = 0
            for k in range(n):
                v = iov[k]
                t.write(string_at(v.base, v.len))
                total += v.len
            fast.fastserve_conn_written(c, total)
            wrote = True
        if wrote and self._loop is not None:
            self._last_io = self._loop.time()
        if self._switch is not None and fast.fastserve_conn_upgraded(c):
            self._hand_over(c, t)
            return wrote
        if fast.fastserve_conn_should_close(c):
            t.close()
        elif not self._paused:
            if fast.fastserve_conn_wants_read(c):
                t.resume_reading()
            else:
                t.pause_reading()
        return wrote

    # streams and switches: the engine interface of fastserve._stream

    def open_stream(self, rid: int, word: int, head: bytes, length: Optional[int]) -> _ConnStream:
        c = self._c
        if c is None:
            raise ConnectionError("the client has gone")
        lines = _ct_line(word >> 16) + head
        n = -1 if length is None else length
        if fast.fastserve_conn_stream_start(c, rid, word & 0xFFFF, lines, len(lines), n) != 0:
            raise ValueError(lib.fastserve_last_error().decode())
        s = self._streams[rid] = _ConnStream(self, rid)
        self._write()
        return s

    def read_body(self, rid: int, req: Any) -> AsyncIterator[bytes]:
        # the sans-I/O core hands bodies over whole
        return _one(req.body)

    def upgrade(self, rid: int, up: Any) -> None:
        c = self._c
        if c is None:
            raise ConnectionError("the client has gone")
        if fast.fastserve_conn_upgrade(c, rid, up.status, up.head, len(up.head)) != 0:
            raise ValueError(lib.fastserve_last_error().decode())
        self._switch = up.factory
        self._write()  # hands the transport over once the 101 is out

    async def finish(self, rid: int, r: Any) -> bool:
        """Answers `rid` if it needs a stream or a switch."""
        return await finish_streams(self, self._streams, rid, r)

    def _after_stream(self):
        if self._c is None:
            return
        if self._write():
            fast.fastserve_conn_feed(self._c, None, 0, byref(self._batch))
            self._serve()
        self._arm()

    def _hand_over(self, c, t):
        n = fast.fastserve_conn_upgrade_rest(c, None, 0)
        buf = ctypes.create_string_buffer(n)
        fast.fastserve_conn_upgrade_rest(c, buf, n)
        factory, self._switch = self._switch, None
        self._c = None
        self._t = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        fast.fastserve_conn_free(c)
        t.resume_reading()
        hand_over(t, factory, buf.raw[:n])

    # timeouts: one loop timer at the earliest deadline, as the engine's
    # workers keep one heap entry per connection

    def _deadline(self):
        """(when, what) of the earliest timeout, updating the clocks."""
        c, t, loop = self._c, self._t, self._loop
        if c is None or t is None or loop is None or t.is_closing():
            return math.inf, None
        now = loop.time()
        st = fast.fastserve_conn_state(c)
        header, body, keepalive, write, request = self._to
        if not st & CONN_READING_HEAD:
            self._head_since = 0.0
        elif not self._head_since:
            self._head_since = now
        if not st & CONN_PENDING:
            self._deferred_since = 0.0
        elif not self._deferred_since:
            self._deferred_since = now
        buffered = t.get_write_buffer_size()
        if not buffered:
            self._write_since = 0.0
        elif not self._write_since or buffered < self._write_left:
            # started, or the client read some: the write clock (re)starts
            self._write_since, self._write_left = now, buffered
        best = (math.inf, None)
        for on, since, limit, what in (
            (buffered, self._write_since, write, "write"),
            (st & CONN_PENDING, self._deferred_since, request, "request"),
            (st & CONN_READING_BODY, self._last_read, body, "body"),
            (st & CONN_READING_HEAD, self._head_since, header, "header"),
            (st & CONN_IDLE and not buffered, self._last_io, keepalive, "idle"),
        ):
            if on and since + limit < best[0]:
                best = (since + limit, what)
        return best

    def _arm(self):
        at, _ = self._deadline()
        if at < self._timer_at and at != math.inf:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = at
            self._timer = cast(asyncio.AbstractEventLoop, self._loop).call_at(at, self._fire)

    def _fire(self):
        self._timer, self._timer_at = None, math.inf
        at, what = self._deadline()
        c, t, loop = self._c, self._t, self._loop
        if what is None or c is None or t is None or loop is None:
            return
        if at > loop.time():
            return self._arm()
        if what == "write":
            t.abort()  # the client stopped reading
            return
        if what == "idle":
            t.close()
            return
        if what == "request":
            rid = c_uint64()
            if fast.fastserve_conn_expire(c, 503, byref(rid)):
                task = self._tasks.pop(rid.value, None)
                if task is not None:
                    task.cancel()
            self._deferred_since = 0.0  # the next one waiting starts now
        else:  # a head or body that stopped arriving
            fast.fastserve_conn_abort(c, 408)
        if self._write():
            fast.fastserve_conn_feed(c, None, 0, byref(self._batch))
            self._serve()
        self._arm()


class _ConnStream:
    """A streamed response on the sans-I/O core, paced by the transport's
    flow control."""

    def __init__(self, proto: HttpProtocol, rid: int) -> None:
        self._p = proto
        self._rid = rid
        self.ended = False

    @property
    def gone(self) -> bool:
        return self._p._c is None

    async def write(self, data: bytes) -> None:
        p = self._p
        if p._c is None or self.ended:
            raise ConnectionError("the client has gone")
        if fast.fastserve_conn_stream_write(p._c, self._rid, data, len(data)) != 0:
            raise ValueError(lib.fastserve_last_error().decode())
        p._write()
        await p._drain()

    async def drain(self) -> None:
        await self._p._drain()

    def end(self, trailers: bytes, abort: bool = False) -> None:
        p = self._p
        if self.ended:
            return
        self.ended = True
        p._streams.pop(self._rid, None)
        if p._c is not None:
            fast.fastserve_conn_stream_end(p._c, self._rid, trailers, len(trailers), abort)
            p._after_stream()

    def abort(self) -> None:
        self.end(b"", abort=True)


async def _one(body):
    if body:
        yield body


_CT_LINES = {code: b"Content-Type: " + ct.encode() + b"\r\n" for ct, code in _CT_CODES.items()}


def _ct_line(code):
    return _CT_LINES.get(code, b"")


def _sockaddr(transport):
    """The transport's peer as a C socket address, or None."""
    sock = transport.get_extra_info("socket")
    peer = transport.get_extra_info("peername")
    if sock is None or peer is None:
        return None
    fam = sock.family
    try:
        if fam == socket.AF_INET:
            host, port = peer[:2]
            return struct.pack("=H", fam) + struct.pack("!H", port) + socket.inet_pton(fam, host) + bytes(8)
        if fam == socket.AF_INET6:
            host, port, flow, scope = peer
            return struct.pack("=H", fam) + struct.pack("!HI", port, flow) + socket.inet_pton(fam, host.partition("%")[0]) + struct.pack("=I", scope)
        if fam == socket.AF_UNIX:
            path = peer.encode() if isinstance(peer, str) else bytes(peer)
            return struct.pack("=H", fam) + path
    except (OSError, ValueError, TypeError, struct.error):
        return None
    return None


def serve(app: Server, host: str = "127.0.0.1", port: int = 0, **kwargs: Any) -> Awaitable[asyncio.AbstractServer]:
    """`loop.create_server` for `app`'s routes on the running loop."""
    loop = asyncio.get_running_loop()
    return loop.create_server(lambda: HttpProtocol(app), host, port, **kwargs)


__all__ = ["HttpProtocol", "serve"]
