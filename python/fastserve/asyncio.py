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
from array import array
from ctypes import byref, string_at
from typing import TYPE_CHECKING, Any, Awaitable, Optional, Set, cast

from ._http import Dispatch, Response, _text_word, columns_of, run_async
from ._lib import ConnBatch, IoVec, fast
from ._route import EXACT, allow_header, allows, order

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
        for pat, r in order((r.pattern, r) for r in app.routes):
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
        matched = [ms for ms, _ in self.exact.get(path, ())]
        matched += [ms for pat, ms, _ in self.rest if pat.match(path) is not None]
        if not matched:
            return _NOT_FOUND
        return Response("Method Not Allowed\n", status=405, headers={"Allow": allow_header(matched)})


class HttpProtocol(asyncio.Protocol):
    """Serves `app`'s routes on one connection."""

    def __init__(self, app: Server) -> None:
        self._dispatch = Dispatch([_Router(app)])
        self._c: Optional[int] = None
        self._t: Optional[asyncio.Transport] = None
        self._batch = ConnBatch()
        self._iov = (IoVec * 16)()
        self._paused = False
        self._tasks: Set[asyncio.Future[Any]] = set()

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._t = cast(asyncio.Transport, transport)
        self._c = fast.fastserve_conn_new(None)

    def data_received(self, data: bytes) -> None:
        c = self._c
        if c is None:
            return
        fast.fastserve_conn_feed(c, data, len(data), byref(self._batch))
        self._serve()

    def eof_received(self) -> bool:
        if self._c is not None:
            fast.fastserve_conn_feed_eof(self._c, byref(self._batch))
            self._serve()
        return True  # the transport closes once the answers are written

    def connection_lost(self, exc: Optional[Exception]) -> None:
        c, self._c = self._c, None
        self._t = None
        for t in self._tasks:
            t.cancel()
        if c is not None:
            fast.fastserve_conn_free(c)

    def pause_writing(self) -> None:
        self._paused = True
        if self._t is not None:
            self._t.pause_reading()

    def resume_writing(self) -> None:
        self._paused = False
        self._write()

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
                    t = asyncio.ensure_future(self._finish(rid, coro))
                    self._tasks.add(t)
                    t.add_done_callback(self._tasks.discard)
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
        status, hlens, blens, joined = columns_of([r])
        fast.fastserve_conn_respond_batch(self._c, array("Q", [rid]).tobytes(), status, hlens, blens, 1, joined, len(joined), None)
        if self._write():
            fast.fastserve_conn_feed(self._c, None, 0, byref(self._batch))
            self._serve()

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
        if fast.fastserve_conn_should_close(c):
            t.close()
        elif not self._paused:
            if fast.fastserve_conn_wants_read(c):
                t.resume_reading()
            else:
                t.pause_reading()
        return wrote


def serve(app: Server, host: str = "127.0.0.1", port: int = 0, **kwargs: Any) -> Awaitable[asyncio.AbstractServer]:
    """`loop.create_server` for `app`'s routes on the running loop."""
    loop = asyncio.get_running_loop()
    return loop.create_server(lambda: HttpProtocol(app), host, port, **kwargs)


__all__ = ["HttpProtocol", "serve"]
