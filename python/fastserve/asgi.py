"""ASGI 3 apps (FastAPI, Starlette, ...) on a `fastserve.Server`.

    import fastserve
    from fastserve.asgi import mount_asgi

    server = fastserve.Server()
    mount_asgi(server, app)
    server.run("127.0.0.1", 8000)

Every request that no other route of the server takes goes to the app
(`python -m fastserve module:app` does this for you). Requests reach Python
in the engine's batches, one crossing per batch, and the answers of one loop
turn go back in one call. HTTP (`http.request` with `more_body`, streamed
responses, `http.disconnect`), lifespan and WebSocket scopes are supported.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

from ._asgi_http import Http, Runner
from ._asgi_scope import Scopes
from ._asgi_ws import WebSocket
from ._http import REC
from ._lib import fast
from .server import Server, _Route, _size

log = logging.getLogger("fastserve.asgi")

__all__ = ["LifespanFailure", "is_asgi_app", "mount_asgi"]


class LifespanFailure(RuntimeError):
    """The app refused to start (lifespan.startup.failed, or it raised with
    lifespan="on"), or failed to shut down."""


def is_asgi_app(app: Any) -> bool:
    """Whether `app` looks like an ASGI 3 app: an async callable, or an
    object whose __call__ is async."""
    import inspect

    if inspect.iscoroutinefunction(app):
        return True
    call = getattr(app, "__call__", None)
    return inspect.iscoroutinefunction(call)


class Lifespan:
    """The app's lifespan call: startup before serving, shutdown after."""

    def __init__(self, app: Any, mode: str, scopes: Scopes) -> None:
        self.app = app
        self.mode = mode
        self.scopes = scopes
        self.running = False
        self.task: Optional[asyncio.Task[None]] = None

    async def startup(self) -> None:
        self.running = False
        if self.mode == "off":
            return
        loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Dict[str, Any]] = asyncio.Queue()
        self.state: Dict[str, Any] = {}
        self.started: asyncio.Future[Any] = loop.create_future()
        self.stopped: asyncio.Future[Any] = loop.create_future()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        self.task = loop.create_task(self._main(scope))
        self.queue.put_nowait({"type": "lifespan.startup"})
        await asyncio.wait([self.started, self.task], return_when=asyncio.FIRST_COMPLETED)
        if self.started.done():
            ok, message = self.started.result()
            if not ok:
                raise LifespanFailure(f"application startup failed: {message}" if message else "application startup failed")
            self.running = True
            self.scopes.state = self.state
            return
        exc = self.task.exception()
        if self.mode == "on":
            raise LifespanFailure(f"application startup failed: {exc!r}" if exc else "the app returned from lifespan before starting up")
        log.info("ASGI lifespan not supported by the app%s", f" ({exc!r})" if exc else "")

    async def _main(self, scope: Dict[str, Any]) -> None:
        try:
            await self.app(scope, self._receive, self._send)
        except BaseException as e:  # noqa: B036 -- told at startup or shutdown
            if self.running or self.mode == "on":
                log.error("ASGI lifespan failed", exc_info=e)
            raise

    async def _receive(self) -> Dict[str, Any]:
        return await self.queue.get()

    async def _send(self, message: Dict[str, Any]) -> None:
        t = message["type"]
        if t == "lifespan.startup.complete" or t == "lifespan.startup.failed":
            if not self.started.done():
                self.started.set_result((t.endswith("complete"), message.get("message", "")))
        elif t == "lifespan.shutdown.complete" or t == "lifespan.shutdown.failed":
            if not self.stopped.done():
                self.stopped.set_result((t.endswith("complete"), message.get("message", "")))
        else:
            raise RuntimeError(f"unexpected ASGI lifespan message {t!r}")

    async def shutdown(self) -> None:
        if not self.running:
            return
        self.running = False
        assert self.task is not None
        self.queue.put_nowait({"type": "lifespan.shutdown"})
        await asyncio.wait([self.stopped, self.task], return_when=asyncio.FIRST_COMPLETED)
        if self.stopped.done():
            ok, message = self.stopped.result()
            if not ok:
                raise LifespanFailure(f"application shutdown failed: {message}" if message else "application shutdown failed")
            return
        exc = self.task.exception()
        if exc is not None:
            raise LifespanFailure(f"application shutdown failed: {exc!r}")


def _address(listening: List[str]) -> Any:
    for where in listening:
        if where.startswith("http://"):
            u = urlsplit(where)
            return (u.hostname, u.port)
    return None


class _Mount:
    """What the server calls for a batch of the app's requests (on a worker
    thread) and for a client gone (on the loop)."""

    def __init__(self, server: Server, app: Any, root_path: str) -> None:
        self.server = server
        self.runner = Runner(app, server)
        self.scopes = Scopes(root_path)
        self.tag = -1
        self.addr_known = False

    def _calls(self, blob: bytes, o: int, first: int, stop: int) -> List[Any]:
        return self.scopes.calls(blob, o, first, stop, self.runner, Http, WebSocket)

    def _ready(self) -> None:
        r = self.runner
        r.engine = self.server._engine
        r.loop = self.server._loop
        handlers = self.server.handlers()
        self.tag = handlers.index(self.handle) if len(handlers) <= 256 else -1
        if not self.addr_known:
            self.scopes.server = _address(self.server.listening)
            self.addr_known = True

    def batch(self, batch: int, blob: bytes, count: int) -> bool:
        """Takes a batch made only of the app's requests: every one deferred,
        its call run on the loop. False leaves a mixed batch to the server."""
        r = self.runner
        if r.engine is not self.server._engine:
            self._ready()
        end = count * REC
        if self.tag < 0 or blob[0:end:REC].count(self.tag) != count:
            return False
        calls = self._calls(blob, end, 0, count)
        zeros = bytes(4 * count)
        fast.fastserve_batch_respond(batch, zeros, None, zeros, count, None, 0)
        r.post(calls)
        return True

    def answered(self) -> None:
        """A mixed batch was answered: its calls already run as tasks."""

    def close(self) -> bool:
        """The workers are done; app calls end with the loop."""
        return True

    def handle(self, req: Any) -> Any:
        """The route's handler, for a batch that also held other routes'
        requests: the call runs in the task the server makes for it."""
        if self.runner.engine is not self.server._engine:
            self._ready()
        return self.runner.one(self._calls(req._b, req._o, req._i, req._i + 1)[0])

    def gone(self, rid: int) -> bool:
        call = self.runner.live.get(rid)
        if call is None:
            return False
        call.disconnect()
        return True


def mount_asgi(
    server: Server,
    app: Any,
    *,
    root_path: str = "",
    lifespan: str = "auto",
    max_body: Optional[int] = None,
) -> None:
    """Routes every request of `server` (but those of its other routes) to
    the ASGI 3 app `app`.

    root_path: the prefix the app is mounted under behind a proxy (the
    scope's `root_path`, and prepended to `path`). lifespan: "auto" (run the
    app's startup and shutdown if it supports them), "on" (it must), "off".
    A startup that fails raises LifespanFailure from `server.run()` or
    `server.start()`, before anything listens. max_body: the largest
    request body in bytes (the server's max_body, 1 MiB, by default);
    bodies come to the app in pieces as they arrive, read only as fast as
    the app takes them."""
    if lifespan not in ("auto", "on", "off"):
        raise ValueError(f"lifespan is 'auto', 'on' or 'off', not {lifespan!r}")
    if not callable(app):
        raise TypeError("an ASGI app is callable")
    if root_path and (not root_path.startswith("/") or root_path.endswith("/")):
        raise ValueError(f"root_path starts with / and does not end with one, as /api, not {root_path!r}")
    if server._mount is not None:
        raise RuntimeError("an app is mounted on this server already")
    server._check_stopped()
    max_body = _size("max_body", max_body)
    m = _Mount(server, app, root_path)
    server.routes.append(_Route(None, "/", True, handler=m.handle, stream_body=True, max_body=max_body))
    server._mount = m
    ls = Lifespan(app, lifespan, m.scopes)

    async def on_start() -> None:
        m.runner.loop = loop = asyncio.get_running_loop()
        m.runner.done = loop.create_future()
        m.runner.done.set_result(None)
        m.runner.engine = None
        m.addr_known = False
        await ls.startup()
        m.runner.open_wakeups()

    server._on_start.append(on_start)
    server._on_stop.append(m.runner.close_websockets)
    server._on_stop.append(ls.shutdown)
    server._on_stop.append(m.runner.close_wakeups)
