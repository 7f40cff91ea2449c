"""The ASGI HTTP request cycle on the engine.

A batch of requests for the app becomes one loop callback: one task runs
each app call in turn, stepping its coroutine until it returns or really
waits. A call that returns without waiting (most do) costs no task of its
own; one that waits keeps the running task, and the rest of the batch goes
on in a new one, so every call runs in a single task from start to end (as
anyio's task groups and cancel scopes expect). Each call runs in its own
copy of the context.

A response sent in one `http.response.body` is queued and answered with the
others of the batch's step (of the loop turn, for a call that waited) in one
`fastserve_server_complete`; `more_body`
streams it through the engine's stream with its byte budget.
"""
from __future__ import annotations

import asyncio
import contextvars
import ctypes
import logging
import os
import types
from collections import deque
from typing import Any, Dict, List, Optional

from ._lib import complete_replies, lib
from ._stream import BODY_DATA, OK

log = logging.getLogger("fastserve.asgi")

# libc's write through ctypes.CDLL, which lets go of the GIL for the call
_write = ctypes.CDLL(None, use_errno=True).write
_write.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
_write.restype = ctypes.c_ssize_t

_SKIP = frozenset((b"content-length", b"connection", b"transfer-encoding", b"date", b"server", b"keep-alive"))
_ERROR_500 = b"Internal Server Error\n"
_ERROR_HEAD = b"content-type: text/plain; charset=utf-8\r\n"
_heads: Dict[Any, Any] = {}  # response header pairs -> response_head's
_HEADS = 256
_RETURNED = object()  # what stepping an app call gives when it has returned
_EMPTY_EVENT = {"type": "http.request", "body": b"", "more_body": False}


def response_head(headers: Any) -> "tuple[bytes, Any]":
    """An ASGI response's header pairs as header lines, less those the
    engine writes; and the Content-Length value the app gave, if any."""
    out: List[bytes] = []
    length = None
    for name, value in headers:
        n = name.lower()
        if n in _SKIP:
            if n == b"content-length":
                length = value  # made an int only for a stream
            continue
        out += (name, b": ", value, b"\r\n")
    try:
        return b"".join(out), length
    except TypeError:  # str, bytearray or memoryview pairs
        return response_head([(_bytes(n), _bytes(v)) for n, v in headers])


def _bytes(x: Any) -> bytes:
    return x.encode("latin-1") if isinstance(x, str) else bytes(x)


@types.coroutine
def _relay(coro: Any, ctx: contextvars.Context, yielded: Any) -> Any:
    # Hands what the app's coroutine yields to the task running us, and the
    # task's answers (or a cancellation) back to it, in the call's context.
    send, throw, run = coro.send, coro.throw, ctx.run
    while True:
        try:
            try:
                value = yield yielded
            except BaseException as e:  # noqa: B036 -- passed on to the app
                yielded = run(throw, e)
            else:
                yielded = run(send, value)
        except StopIteration as stop:
            return stop.value


class Http:
    """One request's ASGI cycle: `receive` and `send` for the app."""

    __slots__ = ("m", "rid", "scope", "body", "follows", "phase", "status", "head", "sink", "gone", "waiter", "reader")

    def __init__(self, m: Any, rid: int, scope: Dict[str, Any], body: Optional[bytes]) -> None:
        self.m = m
        self.rid = rid
        self.scope = scope
        # the whole body until received; while it follows in pieces, None,
        # then the bytes of its Content-Length still to come
        self.body: Any = body
        self.follows = body is None
        self.phase = 0  # 0 nothing sent, 1 head given, 2 streaming, 3 done
        self.status = 0
        self.head = b""
        self.sink: Any = None
        self.gone = False
        self.waiter: Optional[asyncio.Future[None]] = None
        self.reader: Any = None

    def start(self) -> Any:
        return self.m.app(self.scope, self.receive, self.send)

    async def receive(self) -> Dict[str, Any]:
        if self.phase == 3 or self.gone:
            return {"type": "http.disconnect"}
        if self.follows:
            return await self._piece()
        b = self.body
        if b is not None:
            self.body = None
            if not b:
                return _EMPTY_EVENT.copy()
            return {"type": "http.request", "body": b, "more_body": False}
        if not (self.gone or self.phase == 3):
            self.waiter = w = self.m.loop.create_future()
            try:
                await w
            finally:
                self.waiter = None
        return {"type": "http.disconnect"}

    def _left(self) -> int:
        """Bytes of a Content-Length body still to come (-1: chunked)."""
        b = self.body
        if b.__class__ is int:
            return b  # type: ignore[return-value]
        for n, v in self.scope["headers"]:
            if n == b"content-length":
                return int(v)
        return -1

    async def _piece(self) -> Dict[str, Any]:
        r = self.reader
        if r is None:
            r = self.reader = self.m.engine.read_body(self.rid, None)
        try:
            chunk = await r.__anext__()
        except StopAsyncIteration:
            self.follows = False
            self.body = None
            return _EMPTY_EVENT.copy()
        except ConnectionError:  # the body was cut off: the client is gone
            self.follows = False
            self.body = None
            self.gone = True
            return {"type": "http.disconnect"}
        # the end may still be on its way from the worker: a body of known
        # length is complete with its last byte
        left = self._left()
        if left >= 0:
            left -= len(chunk)
            self.body = left  # type: ignore[assignment]
        more = bool(r._q) or (r.state == BODY_DATA and left != 0)
        if not more:
            self.follows = False
            self.body = None
        return {"type": "http.request", "body": chunk, "more_body": more}

    def send(self, message: Dict[str, Any]) -> Any:
        # What needs no waiting is done here, and a done future returned:
        # awaiting it costs less than a coroutine would.
        t = message["type"]
        if t == "http.response.body":
            if self.phase == 1 and not message.get("more_body", False):
                self.phase = 3
                if self.waiter is not None:
                    self._wake()
                m = self.m
                if not self.gone:
                    body = message.get("body", b"")
                    if body.__class__ is not bytes:
                        body = bytes(body)
                    if self.reader is None:  # answer() inline: no handle was taken
                        m._done.append((self.rid, self.status, self.head, body))
                        if not m._flush_soon:
                            m._flush_soon = True
                            m.loop.call_soon(m._flush)
                    else:
                        m.answer(self, self.status, self.head, body)
                return m.done
            return self._body(message)
        if t == "http.response.start":
            if self.phase != 0:
                return self._fail(RuntimeError("http.response.start sent twice"))
            status = message["status"]
            if status.__class__ is not int or not 200 <= status <= 999:
                return self._fail(ValueError(f"an ASGI response status is an int in 200..999, not {status!r}"))
            self.status = status
            headers = message.get("headers")
            if headers:
                # the same headers come back response after response: looked
                # up by value (pairs that cannot be hashed are taken as they are)
                try:
                    key = tuple(headers)
                    head = _heads.get(key)
                except TypeError:
                    key = head = None
                if head is None:
                    head = response_head(headers)
                    if key is not None:
                        if len(_heads) >= _HEADS:
                            _heads.clear()
                        _heads[key] = head
                self.head, self.sink = head  # the app's Content-Length, until the stream opens
            else:
                self.head = b""
                self.sink = None
            self.phase = 1
            return self.m.done
        if t == "http.response.trailers" or t == "http.response.zerocopysend" or t == "http.response.pathsend":
            return self._fail(RuntimeError(f"{t} is not supported"))
        return self._fail(RuntimeError(f"unexpected ASGI message {t!r} for an HTTP request"))

    async def _fail(self, e: BaseException) -> None:
        raise e

    async def _body(self, message: Dict[str, Any]) -> None:
        body = message.get("body", b"")
        more = message.get("more_body", False)
        phase = self.phase
        if phase == 1:
            await self._open_stream()
            phase = 2
        if phase == 2:
            if body:
                await self.sink.write(bytes(body))
            if not more:
                self.phase = 3
                self._wake()
                self.sink.end(b"")
            return
        if phase == 3:
            if self.gone:
                raise ConnectionError("the client has gone")
            raise RuntimeError("the response is complete already")
        raise RuntimeError("http.response.body before http.response.start")

    async def _open_stream(self) -> None:
        if self.gone:
            raise ConnectionError("the client has gone")
        engine = self.m.engine
        rid = self.rid
        length = self.sink
        if length is not None:
            try:
                length = int(length)
            except ValueError:
                length = None
        try:
            s = engine.open_stream(rid, self.status, self.head, length)
        finally:
            engine._streams.pop(rid, None)
            engine._answered.discard(rid)
        self.sink = s
        self.phase = 2

    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def disconnect(self) -> None:
        """The engine says the client left (or the request timed out)."""
        self.gone = True
        self._wake()

    def finish(self, exc: Optional[BaseException]) -> None:
        """The app's call has returned (or raised `exc`)."""
        self.m.live.pop(self.rid, None)
        self._wake()
        phase = self.phase
        if phase == 3:
            if exc is not None and not isinstance(exc, (ConnectionError, asyncio.CancelledError)):
                log.error("ASGI app failed after its response", exc_info=exc)
            return
        if exc is not None and not (self.gone and isinstance(exc, (OSError, asyncio.CancelledError))):
            log.error("ASGI app failed for %s %s", self.scope.get("method"), self.scope.get("path"), exc_info=exc)
        elif exc is None and not self.gone:
            log.error("ASGI app returned without %s the response", "completing" if phase else "starting")
        if phase == 2:
            self.phase = 3
            self.sink.abort()  # the client sees the body cut off
        elif not self.gone:
            self.phase = 3
            self.m.answer(self, 500, _ERROR_HEAD, _ERROR_500)


class Runner:
    """Runs an app's calls on the server's loop and answers them."""

    def __init__(self, app: Any, server: Any) -> None:
        self.app = app
        self.server = server
        self.loop: Any = None
        self.engine: Any = None
        self.live: Dict[int, Any] = {}  # request id -> its call, until the app returns
        self._done: List[Any] = []  # (id, status, head lines, body) to answer
        self.done: Any = None  # a done future of the loop, what send() returns mostly
        self._flush_soon = False
        self.sockets: set = set()  # WebSockets switched and open
        self._posted: deque = deque()  # batches for the loop
        self._wake_pending = False
        self._wakeups = (-1, -1)  # see open_wakeups

    async def close_websockets(self) -> None:
        """The server stopped: open WebSockets are closed (1012)."""
        for ws in list(self.sockets):
            ws.shutdown()
        self.sockets.clear()

    def open_wakeups(self) -> None:
        """On the loop: the pipe that worker threads wake it with."""
        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._wakeups = (r, w)
        self.loop.add_reader(r, self._woken)

    async def close_wakeups(self) -> None:
        fds, self._wakeups = self._wakeups, (-1, -1)
        if fds[0] >= 0:
            self.loop.remove_reader(fds[0])
            os.close(fds[0])
            os.close(fds[1])

    def post(self, calls: List[Any]) -> None:
        """From a worker thread: runs `calls` on the loop. Batches that
        arrive while the loop has not yet taken the last ones join them,
        without another wake-up. The wake-up is written without the GIL
        (call_soon_threadsafe holds it): the loop thread it wakes does not
        find the GIL taken and go back to sleep."""
        self._posted.append(calls)  # first, then the flag: see _take
        if not self._wake_pending:
            self._wake_pending = True
            _write(self._wakeups[1], b"w", 1)

    def _woken(self) -> None:
        try:
            os.read(self._wakeups[0], 4096)
        except BlockingIOError:
            pass
        self._take()

    def _take(self) -> None:
        self._wake_pending = False
        posted = self._posted
        if not posted:
            return  # taken with an earlier wake-up
        calls = posted.popleft()
        while posted:
            calls += posted.popleft()
        if calls:
            self.run(calls)

    def run(self, calls: List[Any]) -> None:
        """A loop callback: the calls of one batch."""
        t = self.loop.create_task(self._drive(calls))
        tasks = self.server._tasks
        tasks.add(t)
        t.add_done_callback(tasks.discard)

    async def _drive(self, calls: List[Any]) -> None:
        # The answers given while the calls are stepped here go back in one
        # call at the end of the step, not in a callback of the next loop
        # turn: the flag says one is due, so send() schedules none.
        due = self._flush_soon
        self._flush_soon = True
        try:
            waiting = self._step(calls)
        finally:
            if not due:
                self._flush()
        if waiting is None:
            return
        call, coro, ctx, yielded = waiting
        try:
            await _relay(coro, ctx, yielded)
        except BaseException as e:  # noqa: B036
            call.finish(e)
        else:
            call.finish(None)

    def _step(self, calls: List[Any]) -> Any:
        """Steps each call until it returns or really waits. The first that
        waits is returned (with its awaitable, context and what it yielded)
        for this task to go on with; the calls after it go on in another."""
        copy = contextvars.copy_context
        step = next
        app = self.app
        live = self.live
        it = iter(calls)
        for call in it:
            ctx = copy()
            try:
                coro = app(call.scope, call.receive, call.send).__await__()
                # next() with a default: a return costs no StopIteration
                yielded = ctx.run(step, coro, _RETURNED)
            except BaseException as e:  # noqa: B036 -- the app's failure is its request's
                call.finish(e)
                continue
            if yielded is _RETURNED:
                if call.__class__ is Http and call.phase == 3 and call.waiter is None:
                    del live[call.rid]  # answered: the usual end
                else:
                    call.finish(None)
                continue
            rest = list(it)
            if rest:
                self.run(rest)
            return call, coro, ctx, yielded
        return None

    async def one(self, call: Any) -> None:
        """A call made through the server's dispatch (a batch that also held
        requests for other routes), in the task the server made for it."""
        try:
            await call.start()
        except BaseException as e:  # noqa: B036
            call.finish(e)
        else:
            call.finish(None)
        self.engine._answered.add(call.rid)  # the server is not to answer it

    def answer(self, call: Any, status: int, head: bytes, body: bytes) -> None:
        rid = call.rid
        engine = self.engine
        if rid in engine._taken:  # its body was read through a handle
            h = engine._consume(rid)
            engine._answered.discard(rid)
            if lib.fastserve_response_head(h, status, head, len(head)) != OK or (
                body and lib.fastserve_response_body(h, body, len(body)) != OK
            ):
                log.error("ASGI response refused: %s", (lib.fastserve_last_error() or b"").decode())
                lib.fastserve_response_status(h, 500)
            lib.fastserve_response_send(h)
            return
        self._done.append((rid, status, head, body))
        if not self._flush_soon:
            self._flush_soon = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        # every answer of this loop turn, in one call
        self._flush_soon = False
        done = self._done
        if not done:
            return
        self._done = []
        srv = self.server._srv
        if srv is None:
            return
        complete_replies(srv, done)
