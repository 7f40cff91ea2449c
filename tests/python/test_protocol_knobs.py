"""fastserve.asyncio.HttpProtocol applies the Server's limits and timeouts:
the same app and the same checks as test_knobs.py, served by the protocol
on an asyncio loop instead of the engine's workers."""
import asyncio
import select
import socket
import threading
import time

import pytest

from fastserve.asyncio import HttpProtocol
from conftest import read_response
from test_knobs import BIG, HELLO, REQ, ask, closes_with, connect, make_app, read_to_close, status


class Served:
    """make_app(**knobs) behind HttpProtocol on a loop in a thread."""

    def __init__(self, **knobs):
        self.app = make_app(**knobs)
        self.loop = asyncio.new_event_loop()
        self.open = 0  # connections the protocol has open
        started = threading.Event()

        def protocol():
            p = HttpProtocol(self.app)
            made, lost = p.connection_made, p.connection_lost

            def count_made(t):
                self.open += 1
                made(t)

            def count_lost(e):
                self.open -= 1
                lost(e)

            p.connection_made, p.connection_lost = count_made, count_lost
            return p

        def run():
            asyncio.set_event_loop(self.loop)
            self.srv = self.loop.run_until_complete(self.loop.create_server(protocol, "127.0.0.1", 0))
            self.port = self.srv.sockets[0].getsockname()[1]
            started.set()
            self.loop.run_forever()
            self.srv.close()
            self.loop.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert started.wait(5)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def serve():
    started = []

    def start(**knobs):
        s = Served(**knobs)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def wait_for(cond, what, limit=5.0):
    t = time.monotonic()
    while not cond():
        assert time.monotonic() - t < limit, what
        time.sleep(0.005)


def test_max_body(serve):
    app = serve(max_body=1000)
    closes_with(ask(app, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"c" * 5000), 413)
    chunked = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + b"800\r\n" + b"c" * 2048 + b"\r\n0\r\n\r\n"
    closes_with(ask(app, chunked), 413)
    ok = ask(app, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n" + b"c" * 1000)
    assert status(ok) == 200 and ok.endswith(b"c" * 1000)


def test_max_header_bytes(serve):
    app = serve(max_header_bytes=1024)
    closes_with(ask(app, b"GET /plaintext HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 1100 + b"\r\n\r\n"), 431)
    ok = ask(app, b"GET /plaintext HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 900 + b"\r\nConnection: close\r\n\r\n")
    assert status(ok) == 200 and ok.endswith(HELLO)


def test_max_headers(serve):
    app = serve(max_headers=5)
    five = b"".join(b"X%d: y\r\n" % i for i in range(5))
    closes_with(ask(app, b"GET /plaintext HTTP/1.1\r\nHost: x\r\n" + five + b"Connection: close\r\n\r\n"), 431)


def test_max_request_line(serve):
    app = serve(max_request_line=256)
    closes_with(ask(app, b"GET /files/" + b"a" * 300 + b" HTTP/1.1\r\nHost: x\r\n\r\n"), 414)
    assert status(ask(app, b"GET /files/" + b"a" * 200 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) == 200


def test_max_pipelined(serve):
    app = serve(max_pipelined=2)
    with connect(app) as s:
        s.sendall(b"GET /count HTTP/1.1\r\nHost: x\r\n\r\n" * 8)
        rest = b""
        for _ in range(8):
            st, _, body, rest = read_response(s, rest)
            assert (st, body) == (200, b"counted")
    assert 1 <= app.app.most <= 2, f"{app.app.most} handlers ran at once"


def test_server_name(serve):
    app = serve(server_name="proto-test")
    assert b"\r\nServer: proto-test\r\n" in ask(app, b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")


def test_header_timeout(serve):
    app = serve(header_timeout=0.3)
    with connect(app, timeout=5) as s:
        s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n")
        t = time.monotonic()
        # a slowloris: a byte every 50 ms, never the end of the head
        while time.monotonic() - t < 4:
            if select.select([s], [], [], 0.05)[0]:
                break
            try:
                s.sendall(b"X")
            except OSError:
                break
        closes_with(read_to_close(s), 408)


def test_body_timeout(serve):
    app = serve(body_timeout=0.3)
    with connect(app, timeout=5) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        closes_with(read_to_close(s), 408)


def test_keepalive_timeout(serve):
    app = serve(keepalive_timeout=0.3)
    with connect(app, timeout=5) as s:
        s.sendall(REQ)
        st, _, body, _ = read_response(s)
        assert (st, body) == (200, HELLO)
        assert read_to_close(s) == b"", "closed without a byte"
    with connect(app, timeout=5) as s:
        assert read_to_close(s) == b"", "a connection that never sends is closed too"


def test_write_timeout(serve):
    app = serve(write_timeout=0.3)
    with connect(app, timeout=5, rcvbuf=4096) as s:
        s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_for(lambda: app.open == 1, "connection open")
        # the client reads nothing: the protocol gives up on it
        wait_for(lambda: app.open == 0, "dropped by the protocol")
        data = read_to_close(s)
        assert data.startswith(b"HTTP/1.1 200 ") and len(data) < BIG, "the answer is cut short"
    assert ask(app, b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").endswith(HELLO)


def test_request_timeout(serve):
    app = serve(request_timeout=0.3)
    with connect(app, timeout=5) as s:
        s.sendall(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n" + REQ.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        st, _, body, rest = read_response(s)
        assert (st, body) == (503, b"Service Unavailable")
        # the request behind it proceeds
        st, _, body, _ = read_response(s, rest)
        assert (st, body) == (200, HELLO)
    assert ask(app, b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").endswith(HELLO)
