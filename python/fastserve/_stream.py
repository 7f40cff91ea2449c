"""Streams both ways, and protocol switches, for Python handlers.

- A handler returns an iterator or async iterator of bytes/str, or a
  `StreamResponse`: the body goes out piece by piece, chunked unless a
  length is given, paced by the client (a write waits while the
  connection's budget, max_unsent_bytes, is used up).
- `await req.start_response(...)` gives an explicit `ResponseStream`
  (`await write()`, `await drain()`, `await end()`).
- `async for chunk in req.stream()` reads the body of a route with
  `stream_body=True` as it arrives; the socket is not read while chunks
  wait to be taken.
- A handler returns `Upgrade(protocol_factory)` to switch protocols: once
  the 101 (or a CONNECT's 2xx) is written, the connection belongs to an
  asyncio Protocol on the server's loop.

`Server` and `fastserve.asyncio.HttpProtocol` each give the handler's task
an engine (in a context variable) that does these its own way.
"""
from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import socket
import threading
from collections import deque
from ctypes import string_at
from typing import Any, AsyncIterator, Callable, Iterable, List, Optional, Tuple, Union

from ._http import FLAG_BODY_FOLLOWS, HeaderFields, Response, _header_lines, convert, is_special
from ._lib import BODY_FN, STREAM_EVENT_FN, UPGRADE_FN

log = logging.getLogger("fastserve")

# fastserve_result codes used here
OK, WOULD_BLOCK, CLOSED = 0, 34, 35
# fastserve_stream_event, fastserve_body_event
EV_WRITABLE, EV_CLOSED = 1, 2
BODY_DATA, BODY_END, BODY_ABORTED = 0, 1, 2


# The engine and request id of the handler running in this task.
_current: contextvars.ContextVar[Optional[Tuple[Any, int]]] = contextvars.ContextVar("fastserve_request", default=None)


def task_context(engine: Any, rid: int) -> contextvars.Context:
    """A context for the task that runs request `rid`'s handler."""
    ctx = contextvars.copy_context()
    ctx.run(_current.set, (engine, rid))
    return ctx


def current(req: Any) -> Optional[Tuple[Any, int]]:
    """(engine, id) when `req` is the request of the handler running here."""
    c = _current.get()
    if c is not None and c[1] == req.id:
        return c
    return None


class StreamResponse:
    """A response whose body is produced piece by piece: `body` is an
    iterable or async iterable of bytes or str (UTF-8). With `length`, the
    body is sent with that Content-Length and must be exactly that long;
    without, it is chunked (or ends with the connection, for HTTP/1.0)."""

    __slots__ = ("body", "word", "head", "length")
    _fastserve_special = True

    def __init__(
        self,
        body: Union[Iterable[Any], AsyncIterator[Any]],
        status: int = 200,
        headers: Optional[HeaderFields] = None,
        content_type: Optional[str] = "text/plain; charset=utf-8",
        length: Optional[int] = None,
    ) -> None:
        if length is not None and (not isinstance(length, int) or length < 0):
            raise ValueError(f"length is a non-negative int or None, not {length!r}")
        r = Response(b"", status=status, headers=headers, content_type=content_type)
        self.body = body
        self.word, self.head, self.length = r._word, r._head, length


class Upgrade:
    """Switches protocols: `status` 101 answers an `Upgrade` request (name
    the protocol in `headers`, as `[("Upgrade", "websocket")]`; the server
    adds `Connection: upgrade`), a 2xx answers a CONNECT. Once it is written
    the connection is handed to `protocol_factory()`, an asyncio Protocol on
    the server's loop, with the bytes the client sent past the request as its
    first `data_received`."""

    __slots__ = ("factory", "status", "head")
    _fastserve_special = True

    def __init__(
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        status: int = 101,
        headers: Optional[HeaderFields] = None,
    ) -> None:
        if not callable(protocol_factory):
            raise TypeError("protocol_factory is callable")
        if status != 101 and not 200 <= status <= 299:
            raise ValueError(f"a protocol switch answers 101, or 2xx to CONNECT, not {status!r}")
        self.factory = protocol_factory
        self.status = status
        self.head = _header_lines(headers) if headers else b""


def _piece(p: Any) -> bytes:
    if isinstance(p, str):
        return p.encode()
    if isinstance(p, (bytes, bytearray, memoryview)):
        return bytes(p)
    raise TypeError(f"a streamed body yields bytes or str, not {type(p).__name__}")


class ResponseStream:
    """A response body written piece by piece. `write` waits while the
    client is behind; it raises ConnectionError once the client has gone."""

    def __init__(self, sink: Any) -> None:
        self._sink = sink
        self._ended = False

    @property
    def closed(self) -> bool:
        """True once the client has gone or the stream ended."""
        return self._ended or self._sink.gone

    async def write(self, data: Union[bytes, str]) -> None:
        if self._ended:
            raise RuntimeError("the stream has ended")
        await self._sink.write(_piece(data))

    async def drain(self) -> None:
        """Waits until the client has taken what was written (down to half
        the budget)."""
        await self._sink.drain()

    async def end(self, trailers: Optional[HeaderFields] = None) -> None:
        """Ends the body; `trailers` follow a chunked body."""
        if self._ended:
            return
        self._ended = True
        self._sink.end(_header_lines(trailers) if trailers else b"")

    def abort(self) -> None:
        """Cuts the body off: the client sees an incomplete response."""
        if not self._ended:
            self._ended = True
            self._sink.abort()


async def start_response(
    req: Any,
    status: int = 200,
    headers: Optional[HeaderFields] = None,
    content_type: Optional[str] = "text/plain; charset=utf-8",
    length: Optional[int] = None,
) -> ResponseStream:
    c = current(req)
    if c is None:
        raise RuntimeError("start_response() is for the request of the async def handler running it")
    engine, rid = c
    r = StreamResponse((), status, headers, content_type, length)
    return ResponseStream(engine.open_stream(rid, r.word, r.head, length))


def body_stream(req: Any) -> AsyncIterator[bytes]:
    c = current(req)
    if c is None or not req._fields()[1] & FLAG_BODY_FOLLOWS:
        return _whole(req.body)
    engine, rid = c
    return engine.read_body(rid, req)


async def _whole(body: bytes) -> AsyncIterator[bytes]:
    if body:
        yield body


async def send_result(engine: Any, rid: int, r: Any) -> None:
    """Answers `rid` with a stream or a protocol switch."""
    if r.__class__ is Upgrade:
        engine.upgrade(rid, r)
        return
    if r.__class__ is not StreamResponse:
        r = StreamResponse(r)
    sink = engine.open_stream(rid, r.word, r.head, r.length)
    body = r.body
    try:
        if hasattr(body, "__aiter__"):
            async for p in body:
                await sink.write(_piece(p))
        else:
            for p in body:
                await sink.write(_piece(p))
    except ConnectionError:
        sink.abort()  # the client left: nothing more to say
        return
    except Exception:
        log.exception("a streamed body failed")
        sink.abort()
        return
    finally:
        close = getattr(body, "aclose", None) or getattr(body, "close", None)
        if close is not None:
            try:
                c = close()
                if asyncio.iscoroutine(c):
                    await c
            except Exception:
                log.exception("closing a streamed body failed")
    sink.end(b"")


async def finish_streams(engine: Any, streams: dict, rid: int, r: Any) -> bool:
    """Answers `rid` when its handler's result `r` is a stream or a switch,
    or ends the stream the handler opened (and maybe left open). False when
    neither."""
    if is_special(r):
        await send_result(engine, rid, r)
        return True
    s = streams.pop(rid, None)
    if s is not None:
        s.end(b"")
        return True
    return False


# Callbacks from the engine's worker threads find their Python object here.
_objects: dict = {}
_keys = itertools.count(1)


def register(obj: Any) -> int:
    k = next(_keys)
    _objects[k] = obj
    return k


@STREAM_EVENT_FN
def _on_stream_event(key, ev):
    obj = _objects.get(key)
    if obj is not None:
        if ev == EV_CLOSED:
            del _objects[key]
        obj.event(ev)


@BODY_FN
def _on_body(key, data, n, ev):
    obj = _objects.get(key)
    if obj is None:
        return 0
    if ev != BODY_DATA:
        del _objects[key]
    return obj.piece(string_at(data, n) if n else b"", ev)


@UPGRADE_FN
def _on_upgrade(key, fd, data, n):
    obj = _objects.pop(key, None)
    if obj is not None:
        obj.adopt(fd, string_at(data, n) if n else b"")


class EngineStream:
    """A stream on the engine (`fastserve_stream *`), written from the loop
    thread; its events arrive from a worker thread."""

    def __init__(self, lib: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._lib = lib
        self._loop = loop
        self.ptr: Optional[int] = None
        self.gone = False
        self._waiter: Optional[asyncio.Future[None]] = None

    def event(self, ev: int) -> None:  # a worker thread
        if ev == EV_CLOSED and self.ptr is not None:
            self.gone = True
        self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        w, self._waiter = self._waiter, None
        if w is not None and not w.done():
            w.set_result(None)

    async def write(self, data: bytes) -> None:
        while True:
            if self.ptr is None or self.gone:
                raise ConnectionError("the client has gone")
            rc = self._lib.fastserve_stream_write(self.ptr, data, len(data))
            if rc == OK:
                return
            if rc == CLOSED:
                self.gone = True
                continue
            if rc != WOULD_BLOCK:
                raise ValueError(self._lib.fastserve_last_error().decode())
            await self._wait()

    async def _wait(self) -> None:
        if self._waiter is None:
            self._waiter = self._loop.create_future()
        await self._waiter

    async def drain(self) -> None:
        # every write already waited for room: only the client's absence is news
        if self.gone:
            raise ConnectionError("the client has gone")
        await asyncio.sleep(0)

    def end(self, trailers: bytes) -> None:
        ptr, self.ptr = self.ptr, None
        if ptr is None:
            return
        for line in trailers.split(b"\r\n"):
            name, sep, value = line.partition(b":")
            if sep:
                v = value.strip()
                self._lib.fastserve_stream_trailer(ptr, name, len(name), v, len(v))
        self._lib.fastserve_stream_end(ptr)

    def abort(self) -> None:
        ptr, self.ptr = self.ptr, None
        if ptr is not None:
            self._lib.fastserve_stream_abort(ptr)


class BodyReader:
    """A streamed request body: pieces arrive on a worker thread and wait
    in a queue; reading pauses while it holds `limit` bytes."""

    def __init__(self, loop: asyncio.AbstractEventLoop, resume: Callable[[], None], limit: int = 1 << 20) -> None:
        self._loop = loop
        self._resume = resume
        self._limit = limit
        self._q: deque = deque()
        self._lock = threading.Lock()
        self._queued = 0
        self._paused = False
        self._discard = False
        self.state = BODY_DATA  # then BODY_END or BODY_ABORTED
        self._waiter: Optional[asyncio.Future[None]] = None

    def piece(self, data: bytes, ev: int) -> int:  # a worker thread
        with self._lock:
            if ev == BODY_DATA:
                if self._discard:
                    return 0
                self._q.append(data)
                self._queued += len(data)
                pause = self._queued >= self._limit
                self._paused = pause
            else:
                self.state = ev
                pause = False
        self._loop.call_soon_threadsafe(self._wake)
        return 1 if pause else 0

    def _wake(self) -> None:
        w, self._waiter = self._waiter, None
        if w is not None and not w.done():
            w.set_result(None)

    def done(self) -> bool:
        return self.state != BODY_DATA

    def discard(self) -> None:
        """Nobody reads on: drop the rest, and let it come."""
        with self._lock:
            self._discard = True
            self._q.clear()
            paused, self._paused = self._paused, False
        if paused:
            self._resume()

    def __aiter__(self) -> "BodyReader":
        return self

    async def __anext__(self) -> bytes:
        while True:
            with self._lock:
                if self._q:
                    chunk = self._q.popleft()
                    self._queued -= len(chunk)
                    resume = self._paused and self._queued <= self._limit // 4
                    if resume:
                        self._paused = False
                else:
                    chunk, resume = None, False
                state = self.state
            if chunk is not None:
                if resume:
                    self._resume()
                return chunk
            if state == BODY_END:
                raise StopAsyncIteration
            if state == BODY_ABORTED:
                raise ConnectionError("the request body was cut off")
            if self._waiter is None:
                self._waiter = self._loop.create_future()
            await self._waiter


class _Handoff(asyncio.Protocol):
    """Gives a switched connection to the application's protocol, the bytes
    read past the request first."""

    def __init__(self, inner: asyncio.BaseProtocol, rest: bytes) -> None:
        self._inner = inner
        self._rest = rest

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)
        rest, self._rest = self._rest, b""
        if rest:
            self._inner.data_received(rest)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)  # type: ignore[attr-defined]

    def eof_received(self) -> Optional[bool]:
        return self._inner.eof_received()  # type: ignore[attr-defined]

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


def hand_over(transport: asyncio.BaseTransport, factory: Callable[[], asyncio.BaseProtocol], rest: bytes) -> None:
    """Switches a running transport to the application's protocol."""
    inner = factory()
    transport.set_protocol(inner)
    inner.connection_made(transport)
    if rest:
        inner.data_received(rest)  # type: ignore[attr-defined]


class Adoption:
    """An accepted switch on the engine: the worker hands the socket over and
    the loop adopts it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, factory: Callable[[], asyncio.BaseProtocol], tasks: set) -> None:
        self._loop = loop
        self._factory = factory
        self._tasks = tasks

    def adopt(self, fd: int, rest: bytes) -> None:  # a worker thread
        if fd >= 0:
            self._loop.call_soon_threadsafe(self._start, fd, rest)

    def _start(self, fd: int, rest: bytes) -> None:
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)
        factory = self._factory

        async def run() -> None:
            try:
                await self._loop.connect_accepted_socket(lambda: _Handoff(factory(), rest), sock)
            except Exception:
                log.exception("taking over a switched connection failed")
                sock.close()

        t = self._loop.create_task(run())
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)


class ServerEngine:
    """Streams and switches on the engine: the request is taken as a
    deferred response handle (`fastserve_server_response`) and answered
    through it."""

    def __init__(self, lib: Any, srv: int, loop: asyncio.AbstractEventLoop, tasks: set) -> None:
        self._lib = lib
        self._srv = srv
        self._loop = loop
        self._tasks = tasks
        self._taken: dict = {}  # request id -> fastserve_response *
        self._readers: dict = {}  # request id -> BodyReader
        self._streams: dict = {}  # request id -> EngineStream opened by start_response
        self._answered: set = set()  # request ids answered through a handle

    def owns(self, rid: int) -> bool:
        """Whether `rid` is answered here rather than by the batch replies."""
        return rid in self._taken or rid in self._answered

    def _handle(self, rid: int) -> int:
        h = self._taken.get(rid)
        if h is None:
            h = self._lib.fastserve_server_response(self._srv, rid)
            if not h:
                raise ConnectionError("the request was answered already, or its connection closed")
            self._taken[rid] = h
        return h

    def _consume(self, rid: int) -> int:
        h = self._handle(rid)
        r = self._readers.pop(rid, None)
        if r is not None and not r.done():
            r.discard()  # answered before the body was read: let it drain
        del self._taken[rid]
        self._answered.add(rid)
        return h

    def _head(self, h: int, word: int, head: bytes) -> None:
        if self._lib.fastserve_response_head(h, word, head, len(head)) != OK:
            err = self._lib.fastserve_last_error().decode()
            self._lib.fastserve_response_status(h, 500)
            self._lib.fastserve_response_send(h)
            raise ValueError(err)

    def open_stream(self, rid: int, word: int, head: bytes, length: Optional[int]) -> EngineStream:
        h = self._consume(rid)
        self._head(h, word, head)
        s = EngineStream(self._lib, self._loop)
        key = register(s)
        ptr = self._lib.fastserve_response_stream(h, -1 if length is None else length, _on_stream_event, key)
        if not ptr:
            _objects.pop(key, None)
            raise ConnectionError(self._lib.fastserve_last_error().decode())
        s.ptr = ptr
        self._streams[rid] = s
        return s

    def read_body(self, rid: int, req: Any) -> BodyReader:
        r = self._readers.get(rid)
        if r is not None:
            return r
        h = self._handle(rid)
        r = BodyReader(self._loop, lambda: self._resume(rid))
        key = register(r)
        if self._lib.fastserve_response_read_body(h, _on_body, key) != OK:
            _objects.pop(key, None)
            raise RuntimeError(self._lib.fastserve_last_error().decode())
        self._readers[rid] = r
        return r

    def _resume(self, rid: int) -> None:
        # on the loop thread: the handle is alive while it is in _taken
        h = self._taken.get(rid)
        if h is not None:
            self._lib.fastserve_response_resume_body(h)

    def upgrade(self, rid: int, up: Upgrade) -> None:
        h = self._consume(rid)
        self._head(h, 0, up.head)
        key = register(Adoption(self._loop, up.factory, self._tasks))
        if self._lib.fastserve_response_upgrade(h, up.status, _on_upgrade, key) != OK:
            _objects.pop(key, None)
            raise ValueError(self._lib.fastserve_last_error().decode())

    def respond(self, rid: int, r: Any) -> None:
        """A plain reply, for a request taken to read its body."""
        h = self._consume(rid)
        word, head, body = convert(r)
        if self._lib.fastserve_response_head(h, word, head, len(head)) != OK or (
            body and self._lib.fastserve_response_body(h, body, len(body)) != OK
        ):
            log.error("reply refused: %s", self._lib.fastserve_last_error().decode())
            self._lib.fastserve_response_status(h, 500)
        self._lib.fastserve_response_send(h)

    async def finish(self, rid: int, r: Any) -> bool:
        """Answers `rid` if it needs this engine's way (a stream, a switch, or
        a request taken to read its body); False leaves it to the batch."""
        try:
            if await finish_streams(self, self._streams, rid, r):
                return True
            if rid in self._answered:
                return True
            if rid in self._taken:
                self.respond(rid, r)
                return True
            return False
        finally:
            self._answered.discard(rid)
            self._streams.pop(rid, None)


__all__: List[str] = ["StreamResponse", "Upgrade", "ResponseStream"]
