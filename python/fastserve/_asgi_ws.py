"""ASGI WebSocket scopes on the engine's protocol switch, frames by wsproto.

`websocket.accept` answers the handshake with a 101 through
`fastserve.Upgrade`; once written, the engine hands the socket to the
server's loop, where an asyncio Protocol feeds wsproto. What the app sends
before the socket arrives waits in a list. `websocket.close` before
accepting answers 403.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections import deque
from typing import Any, Deque, Dict, List, Optional

from ._asgi_http import response_head
from ._stream import Upgrade

log = logging.getLogger("fastserve.asgi")

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
CONNECTING, SWITCHING, OPEN, CLOSING, CLOSED = range(5)


def _ws():
    try:
        from wsproto.connection import Connection, ConnectionType
    except ImportError as e:  # pragma: no cover - wsproto is a dependency of WebSocket apps
        raise RuntimeError("WebSocket support needs wsproto: pip install wsproto") from e
    return Connection(ConnectionType.SERVER)


class _Proto(asyncio.Protocol):
    def __init__(self, sock: "WebSocket") -> None:
        self.sock = sock

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.sock.attach(transport)

    def data_received(self, data: bytes) -> None:
        self.sock.feed(data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.sock.lost()

    def pause_writing(self) -> None:
        self.sock.paused = True

    def resume_writing(self) -> None:
        self.sock.paused = False
        self.sock._wake()


class WebSocket:
    """One WebSocket scope's cycle: `receive` and `send` for the app."""

    def __init__(self, m: Any, rid: int, scope: Dict[str, Any]) -> None:
        self.m = m
        self.rid = rid
        self.scope = scope
        self.state = CONNECTING
        self.connected = False  # websocket.connect given
        self.events: Deque[Dict[str, Any]] = deque()
        self.waiter: Optional[asyncio.Future[None]] = None
        self.transport: Any = None
        self.pending: List[bytes] = []
        self.ws: Any = None
        self.paused = False
        self.code = 1006
        self.parts: List[Any] = []  # a message arriving in fragments

    def start(self) -> Any:
        return self.m.app(self.scope, self.receive, self.send)

    # ------------------------------------------------------------ app side

    async def receive(self) -> Dict[str, Any]:
        if not self.connected:
            self.connected = True
            return {"type": "websocket.connect"}
        while not self.events:
            if self.state == CLOSED:
                return {"type": "websocket.disconnect", "code": self.code}
            await self._wait()
        return self.events.popleft()

    async def _wait(self) -> None:
        w = self.waiter = self.m.loop.create_future()
        try:
            await w
        finally:
            self.waiter = None

    async def send(self, message: Dict[str, Any]) -> None:
        t = message["type"]
        st = self.state
        if st == CONNECTING:
            if t == "websocket.accept":
                self._accept(message)
                return
            if t == "websocket.close":
                self.state = CLOSED
                self.m.answer(self, 403, b"", b"")
                return
            raise RuntimeError(f"{t} before websocket.accept")
        if st >= CLOSING:
            raise ConnectionError("the WebSocket is closed")
        from wsproto.events import BytesMessage, TextMessage

        if t == "websocket.send":
            text = message.get("text")
            ev = TextMessage(data=text) if text is not None else BytesMessage(data=message.get("bytes") or b"")
            self._write(self.ws.send(ev))
            while self.paused and self.state < CLOSING:
                await self._wait()
        elif t == "websocket.close":
            self._close(message.get("code") or 1000, message.get("reason") or "")
        else:
            raise RuntimeError(f"unexpected ASGI message {t!r} for a WebSocket")

    def _accept(self, message: Dict[str, Any]) -> None:
        key = version = None
        for n, v in self.scope["headers"]:
            if n == b"sec-websocket-key":
                key = v
            elif n == b"sec-websocket-version":
                version = v
        if not key or version != b"13":
            self.state = CLOSED
            self.m.answer(self, 400, b"", b"")
            return
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        head = [(b"Upgrade", b"websocket"), (b"Sec-WebSocket-Accept", accept)]
        sub = message.get("subprotocol")
        if sub:
            head.append((b"Sec-WebSocket-Protocol", sub.encode("latin-1")))
        extra, _ = response_head(message.get("headers") or ())
        self.ws = _ws()
        self.state = SWITCHING
        up = Upgrade(lambda: _Proto(self))
        up.head = response_head(head)[0] + extra
        engine = self.m.engine
        try:
            engine.upgrade(self.rid, up)
        except Exception:
            self.state = CLOSED
            raise
        finally:
            engine._answered.discard(self.rid)
        self.m.sockets.add(self)

    def _write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)
        else:
            self.pending.append(data)

    def _close(self, code: int, reason: str) -> None:
        from wsproto.events import CloseConnection

        if self.state >= CLOSING:
            return
        self.state = CLOSING
        self.code = code
        try:
            self._write(self.ws.send(CloseConnection(code=code, reason=reason)))
        except Exception:  # wsproto refuses once the peer closed first
            pass
        # the peer answers the close; if it does not, the connection goes anyway
        self.m.loop.call_later(2.0, self._drop)

    def _drop(self) -> None:
        if self.transport is not None:
            self.transport.close()
        elif self.state != CLOSED:
            self.lost()

    # ------------------------------------------------------------ socket side

    def attach(self, transport: Any) -> None:
        self.transport = transport
        pending, self.pending = self.pending, []
        for data in pending:
            transport.write(data)
        if self.state == CLOSED:
            transport.close()
        elif self.state == SWITCHING:
            self.state = OPEN

    def feed(self, data: bytes) -> None:
        from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage

        ws = self.ws
        try:
            ws.receive_data(data)
            events = list(ws.events())
        except Exception:
            log.info("a WebSocket client broke the protocol", exc_info=True)
            self.transport.close()
            return
        for ev in events:
            if isinstance(ev, (TextMessage, BytesMessage)):
                self.parts.append(ev.data)
                if ev.message_finished:
                    parts, self.parts = self.parts, []
                    if isinstance(ev, TextMessage):
                        self.events.append({"type": "websocket.receive", "text": "".join(parts)})
                    else:
                        self.events.append({"type": "websocket.receive", "bytes": b"".join(parts)})
            elif isinstance(ev, Ping):
                self._write(ws.send(ev.response()))
            elif isinstance(ev, CloseConnection):
                if self.state < CLOSING:
                    self.code = ev.code
                    self._write(ws.send(ev.response()))
                self.state = CLOSED
                self.transport.close()
        self._wake()

    def lost(self) -> None:
        if self.state < CLOSING:
            self.code = 1006 if self.state != CLOSING else self.code
        self.state = CLOSED
        self.m.sockets.discard(self)
        self._wake()

    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def disconnect(self) -> None:
        """The client left before the handshake was answered."""
        if self.state == CONNECTING:
            self.state = CLOSED
            self._wake()

    def finish(self, exc: Optional[BaseException]) -> None:
        self.m.live.pop(self.rid, None)
        if exc is not None and not isinstance(exc, (ConnectionError, asyncio.CancelledError)):
            log.error("ASGI app failed for WebSocket %s", self.scope.get("path"), exc_info=exc)
        if self.state == CONNECTING:
            self.state = CLOSED
            self.m.answer(self, 500 if exc is not None else 403, b"", b"")
        elif self.state in (SWITCHING, OPEN):
            self._close(1011 if exc is not None else 1000, "")

    def shutdown(self) -> None:
        """The server stops: 1012, service restart."""
        if self.state in (SWITCHING, OPEN):
            self._close(1012, "")
        if self.transport is not None:
            self.transport.close()
