"""Streams both ways and protocol switches from Python handlers, on Server
and on HttpProtocol alike: bodies produced by iterators and by an explicit
stream, paced by the client; request bodies read as they arrive; and a
WebSocket echo (python/examples/websocket.py) driven by the websockets
client library."""
import asyncio
import http.client
import importlib.util
import resource
import socket
import subprocess
import sys
import threading
import time
import zlib

import pytest

import fastserve
from conftest import ROOT, Proc, read_response, run_protocol, run_server
from fastserve import StreamResponse

BLOCK = bytes(range(256)) * 256  # 64 KiB


def make_app():
    app = fastserve.Server()
    app.produced = 0
    app.closed = threading.Event()
    app.gate = threading.Event()

    @app.get("/plain")
    def plain(req):
        return "plain"

    @app.get("/gen")
    def gen(req):
        n = int(req.query.get("n", "3"))
        return (f"line {i}\n" for i in range(n))

    @app.get("/agen")
    async def agen(req):
        async def pieces():
            for i in range(3):
                await asyncio.sleep(0.001)
                yield b"a%d" % i

        return StreamResponse(pieces(), headers={"X-K": "v"}, content_type="application/octet-stream")

    @app.get("/sized")
    def sized(req):
        return StreamResponse(iter([b"hello ", "world"]), length=11)

    @app.get("/explicit")
    async def explicit(req):
        out = await req.start_response(status=201, headers=[("X-S", "1")])
        await out.write("hello ")
        await out.drain()
        await out.write(b"world")
        await out.end(trailers=[("X-T", "2")])

    @app.get("/endless")
    def endless(req):
        def pieces():
            try:
                while True:
                    app.produced += len(BLOCK)
                    yield BLOCK
            finally:
                app.closed.set()

        return pieces()

    @app.put("/upload", stream_body=True, max_body=1 << 40)
    async def upload(req):
        assert app.gate.wait(10)
        crc, n = 0, 0
        async for chunk in req.stream():
            crc = zlib.crc32(chunk, crc)
            n += len(chunk)
        return f"{n} {crc:08x}"

    @app.post("/whole")
    async def whole(req):
        return b"".join([c async for c in req.stream()])

    return app


@pytest.fixture(params=["server", "protocol"])
def served(request):
    app = make_app()
    port, stop = (run_server if request.param == "server" else run_protocol)(app)
    app.port, app.kind = port, request.param
    yield app
    app.gate.set()
    stop()


def get(app, path):
    c = http.client.HTTPConnection("127.0.0.1", app.port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    return r, r.read()


def test_iterators_and_streams_as_http_client_sees_them(served):
    r, body = get(served, "/gen")
    assert (r.status, r.getheader("Transfer-Encoding"), body) == (200, "chunked", b"line 0\nline 1\nline 2\n")
    r, body = get(served, "/agen")
    assert (r.getheader("X-K"), r.getheader("Content-Type"), body) == ("v", "application/octet-stream", b"a0a1a2")
    r, body = get(served, "/sized")
    assert (r.getheader("Content-Length"), r.getheader("Transfer-Encoding"), body) == ("11", None, b"hello world")
    r, body = get(served, "/explicit")
    assert (r.status, r.getheader("X-S"), body) == (201, "1", b"hello world")


def test_chunks_and_trailers_as_curl_sees_them(served):
    url = f"http://127.0.0.1:{served.port}/explicit"
    raw = subprocess.run(["curl", "-s", "--raw", url], capture_output=True, check=True).stdout
    assert raw == b"6\r\nhello \r\n5\r\nworld\r\n0\r\nX-T: 2\r\n\r\n"


def test_pipelined_around_streams_and_head(served):
    s = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    s.sendall(
        b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /gen?n=2 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"HEAD /gen HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /explicit HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    got, rest = [], b""
    for head_only in (False, False, True, False, False):
        if head_only:  # a HEAD answer has no body to frame
            while b"\r\n\r\n" not in rest:
                rest += s.recv(65536)
            head, _, rest = rest.partition(b"\r\n\r\n")
            got.append((head.split(b" ")[1], b""))
            continue
        status, _, body, rest = read_response(s, rest)
        got.append((str(status).encode(), body))
    assert got == [(b"200", b"plain"), (b"200", b"line 0\nline 1\n"), (b"200", b""), (b"201", b"hello world"), (b"200", b"plain")]


def test_slow_reader_holds_the_producer_and_leaving_closes_it(served):
    s = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.sendall(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
    got = 0
    while got < 2 << 20:
        got += len(s.recv(65536))
    time.sleep(1.0)  # the client stops reading: so must the producer
    first = served.produced
    time.sleep(0.5)
    assert served.produced == first, "the producer kept going"
    # what it made: what was read, plus the budget and the kernel's buffers
    assert first - got < 16 << 20, (first, got)
    s.close()
    assert served.closed.wait(5), "the generator was not closed after the client left"


def rss_mib():
    with open("/proc/self/status") as f:
        return int(next(l for l in f if l.startswith("VmRSS")).split()[1]) // 1024


def test_streamed_upload_in_constant_memory(served):
    if served.kind == "protocol":
        pytest.skip("HttpProtocol hands bodies over whole, within max_body")
    blocks = 4096  # 256 MiB
    s = socket.create_connection(("127.0.0.1", served.port), timeout=60)
    s.sendall(b"PUT /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n")
    s.settimeout(0.3)
    with pytest.raises(socket.timeout):
        s.recv(100)  # no 100 Continue before the handler reads
    served.gate.set()
    s.settimeout(10)
    assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    before = rss_mib()
    chunk = b"%x\r\n" % len(BLOCK) + BLOCK + b"\r\n"
    crc, peak = 0, 0
    for i in range(blocks):
        s.sendall(chunk)
        crc = zlib.crc32(BLOCK, crc)
        if i % 256 == 0:
            peak = max(peak, rss_mib())
    s.sendall(b"0\r\n\r\n")
    status, _, body, _ = read_response(s)
    assert (status, body) == (200, b"%d %08x" % (blocks * len(BLOCK), crc))
    assert peak - before < 64, f"RSS grew by {peak - before} MiB"


def test_body_pieces_where_bodies_are_whole(served):
    c = http.client.HTTPConnection("127.0.0.1", served.port, timeout=5)
    c.request("POST", "/whole", body=b"abc" * 1000)
    assert c.getresponse().read() == b"abc" * 1000


def load_websocket_example():
    spec = importlib.util.spec_from_file_location("ws_example", ROOT / "python" / "examples" / "websocket.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


async def websocket_session(port):
    import websockets

    async with websockets.connect(f"ws://127.0.0.1:{port}/echo") as ws:
        await ws.send("héllo")
        assert await ws.recv() == "héllo"
        await ws.send(b"\x00\x01binary\xff")
        assert await ws.recv() == b"\x00\x01binary\xff"
        big = "x" * 200_000  # several reads, one message
        await ws.send(big)
        assert await ws.recv() == big
        pong = await ws.ping(b"p1")
        await asyncio.wait_for(pong, 5)
    assert ws.close_code == 1000


def test_websocket_echo_on_server():
    p = Proc([sys.executable, str(ROOT / "python" / "examples" / "websocket.py"), "--port", "0"])
    try:
        asyncio.run(websocket_session(p.port))
        c = http.client.HTTPConnection(p.host, p.port, timeout=5)
        c.request("GET", "/echo")  # no handshake: stays HTTP
        r = c.getresponse()
        assert (r.status, r.getheader("Upgrade")) == (426, "websocket")
        r.read()
    finally:
        code, _, err = p.stop()
    assert code == 0, err


def test_websocket_echo_on_http_protocol():
    app = load_websocket_example().app
    port, stop = run_protocol(app)
    try:
        asyncio.run(websocket_session(port))
    finally:
        stop()
