"""websocket: a WebSocket echo server on fastserve's protocol switch, with
the frames handled by wsproto (pip install wsproto).

    GET /echo   (a WebSocket handshake) every text or binary message comes
                back; pings are answered; a close is returned
    GET /       a page saying where to connect

The handler checks the handshake and answers 101 with `fastserve.Upgrade`;
from then on the connection belongs to an asyncio Protocol that feeds
wsproto's frame parser.

Usage: python websocket.py [--host H] [--port P]
Ctrl-C or SIGTERM stops it gracefully.
"""
import argparse
import asyncio
import base64
import hashlib
import os
import sys

from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage

try:
    import fastserve
except ImportError:  # run from a source checkout: python/examples/websocket.py
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import fastserve

# RFC 6455 section 4.2.2: the key's hash, with this GUID, proves the handshake was read
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

app = fastserve.Server()


class Echo(asyncio.Protocol):
    """The WebSocket connection after the handshake: wsproto parses and
    builds frames, this protocol moves the bytes."""

    def __init__(self):
        self.ws = Connection(ConnectionType.SERVER)

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.ws.receive_data(data)
        for event in self.ws.events():
            if isinstance(event, (TextMessage, BytesMessage)):
                self.transport.write(self.ws.send(event.__class__(data=event.data, message_finished=event.message_finished)))
            elif isinstance(event, Ping):
                self.transport.write(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                self.transport.write(self.ws.send(event.response()))
                self.transport.close()

    def eof_received(self):
        return False  # the peer closed: close too


@app.get("/echo")
def echo(req):
    h = req.headers
    key = h.get("sec-websocket-key", "")
    if h.get("upgrade", "").lower() != "websocket" or h.get("sec-websocket-version") != "13" or not key:
        return fastserve.Response("a WebSocket endpoint\n", status=426, headers={"Upgrade": "websocket"})
    accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
    return fastserve.Upgrade(Echo, headers={"Upgrade": "websocket", "Sec-WebSocket-Accept": accept})


@app.get("/")
def index(req):
    return "connect a WebSocket client to /echo\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    a = ap.parse_args()

    def ready(server):
        print(f"try:   python -m websockets ws://{a.host}:{server.port}/echo", flush=True)

    app.run(a.host, a.port, ready=ready)


if __name__ == "__main__":
    main()
