"""Every engine limit and timeout, set through fastserve.Server's keyword
arguments and tripped over a real socket. A test sets its knob well below
the default and asserts what a client sees, so a knob that does not reach
its engine field fails it. Timeouts are a few hundred ms to keep the file
fast."""
import asyncio
import select
import socket
import threading
import time

import pytest

import fastserve
from fastserve._lib import lib
from conftest import read_response

BIG = 8 << 20  # bytes of /big, far more than the kernel buffers for a client
REQ = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
HELLO = b"Hello, World!"

SIZES = [
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
]
TIMEOUTS = ["header_timeout", "body_timeout", "keepalive_timeout", "write_timeout", "request_timeout", "linger_timeout"]


def make_app(**knobs):
    app = fastserve.Server(shutdown_grace=1.0, **knobs)
    app.static("/plaintext", HELLO)
    app.static("/files/", "a file", prefix=True)
    app.static("/big", b"x" * BIG)
    app.static("/chunk", b"y" * (64 << 10))
    app.running = app.most = 0  # /count: async handlers running at once, and the most seen
    app.release = asyncio.Event()  # /hang waits for it

    @app.post("/echo")
    def echo(req):
        return req.body

    @app.get("/thread")
    def thread(req):
        return str(threading.get_ident())

    @app.get("/count")
    async def count(req):
        app.running += 1
        app.most = max(app.most, app.running)
        await asyncio.sleep(0.03)
        app.running -= 1
        return "counted"

    @app.get("/hang")
    async def hang(req):
        await app.release.wait()
        return "late"

    return app


@pytest.fixture
def serve():
    """serve(workers=1, **knobs) starts a server; all are stopped after the test."""
    apps = []

    def start(workers=1, **knobs):
        app = make_app(**knobs)
        app.start("127.0.0.1", 0, workers=workers)
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.stop()


def connect(app, timeout=2.0, rcvbuf=None, sndbuf=None):
    s = socket.socket()
    # before connect, so that the window is sized from the start
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if sndbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", app.port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_to_close(s):
    """Everything up to the server's close (a reset counts as a close)."""
    data = b""
    while True:
        try:
            d = s.recv(1 << 20)
        except ConnectionResetError:
            return data
        if not d:
            return data
        data += d


def ask(app, raw):
    """`raw` on a fresh connection; the whole answer, up to the close."""
    with connect(app) as s:
        s.sendall(raw)
        return read_to_close(s)


def status(resp):
    assert resp.startswith(b"HTTP/1.1 "), resp[:200]
    return int(resp[9:12])


def closes_with(resp, code):
    assert status(resp) == code, resp[:200]
    head = resp.partition(b"\r\n\r\n")[0] + b"\r\n"
    assert b"\r\nConnection: close\r\n" in head, resp[:200]


def get(app, path="/plaintext"):
    with connect(app) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
        return read_to_close(s)


def wait_for(cond, what, limit=3.0):
    t = time.monotonic()
    while not cond():
        assert time.monotonic() - t < limit, what
        time.sleep(0.005)
    return time.monotonic() - t


# ------------------------------------------------------------ request limits


def test_max_header_bytes(serve):
    app = serve(max_header_bytes=1024)
    closes_with(ask(app, b"GET /plaintext HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 1100 + b"\r\n\r\n"), 431)
    ok = ask(app, b"GET /plaintext HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 900 + b"\r\nConnection: close\r\n\r\n")
    assert status(ok) == 200 and ok.endswith(HELLO)


def test_max_headers(serve):
    app = serve(max_headers=5)
    # with Host and Connection: 6 fields, one too many
    four = b"".join(b"X%d: y\r\n" % i for i in range(4))
    closes_with(ask(app, b"GET /plaintext HTTP/1.1\r\nHost: x\r\n" + four + b"Connection: close\r\n\r\n"), 431)
    three = b"".join(b"X%d: y\r\n" % i for i in range(3))
    assert status(ask(app, b"GET /plaintext HTTP/1.1\r\nHost: x\r\n" + three + b"Connection: close\r\n\r\n")) == 200


def test_max_request_line(serve):
    app = serve(max_request_line=256)
    closes_with(ask(app, b"GET /files/" + b"a" * 300 + b" HTTP/1.1\r\nHost: x\r\n\r\n"), 414)
    # refused before the line ends, too
    closes_with(ask(app, b"GET /files/" + b"a" * 300), 414)
    assert status(ask(app, b"GET /files/" + b"a" * 200 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) == 200


def test_max_body(serve):
    app = serve(max_body=1000)
    # refused from Content-Length alone: no body byte is ever sent
    t = time.monotonic()
    closes_with(ask(app, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n"), 413)
    assert time.monotonic() - t < 1
    ok = ask(app, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n" + b"c" * 1000)
    assert status(ok) == 200 and ok.endswith(b"c" * 1000)


# ------------------------------------------------------------ connections


def test_max_connections(serve):
    # a full table makes room: the connection quiet the longest goes
    app = serve(max_connections=2)
    with connect(app) as a:
        wait_for(lambda: app.stats()["open_connections"] == 1, "the first connection open")
        time.sleep(0.05)
        with connect(app) as b:
            wait_for(lambda: app.stats()["open_connections"] == 2, "two connections open")
            with connect(app) as extra:
                extra.sendall(REQ)
                st, _, body, _ = read_response(extra)
                assert (st, body) == (200, HELLO), "the new connection is served"
                assert read_to_close(a) == b"", "the oldest idle connection was closed for it"
                b.sendall(REQ)
                st, _, body, _ = read_response(b)
                assert (st, body) == (200, HELLO)
    assert app.stats()["open_connections"] <= 2


def test_max_pipelined(serve):
    app = serve(max_pipelined=2)
    with connect(app) as s:
        s.sendall(b"GET /count HTTP/1.1\r\nHost: x\r\n\r\n" * 8)
        rest = b""
        for _ in range(8):
            st, _, body, rest = read_response(s, rest)
            assert (st, body) == (200, b"counted")
    assert 1 <= app.most <= 2, f"{app.most} handlers ran at once"


def test_max_unsent_bytes(serve):
    # Small kernel buffers on both sides, so that what the kernel absorbs
    # does not hide what the engine queues: 64 KiB answers, 16 KiB allowed.
    n, size = 40, 64 << 10
    app = serve(max_unsent_bytes=16 << 10, socket_send_buffer=16 << 10)
    with connect(app, rcvbuf=16 << 10) as s:
        s.sendall(b"GET /chunk HTTP/1.1\r\nHost: x\r\n\r\n" * n)
        time.sleep(0.3)
        # the default (1 MiB) lets about 17 be answered here
        held = app.stats()["requests"]
        assert held <= 4, f"{held} requests taken in while the client read nothing"
        # once it reads, every answer arrives
        rest = b""
        for _ in range(n):
            st, _, body, rest = read_response(s, rest)
            assert (st, len(body)) == (200, size)
    assert app.stats()["requests"] == n


def send_until_stuck(app, s):
    """Pipelines requests on non-blocking `s`, reading nothing, until neither
    the client's writes nor the server's request counter have moved for
    300 ms. Returns (answers produced, requests sent, unsent tail of the
    request cut off mid-way)."""
    batch = REQ * 256
    sent = off = 0
    served = app.stats()["requests"]
    quiet = time.monotonic()
    while time.monotonic() - quiet < 0.3:
        try:
            k = s.send(batch[off:])
        except BlockingIOError:
            time.sleep(0.01)
        else:
            sent += (off + k) // len(REQ) - off // len(REQ)
            off = (off + k) % len(batch)
            quiet = time.monotonic()
        now = app.stats()["requests"]
        if now != served:
            served, quiet = now, time.monotonic()
        assert sent < 200_000, "the server never pushed back"
    return served, sent, REQ[off % len(REQ):] if off % len(REQ) else b""


def test_socket_buffers(serve):
    # Autotuned, the kernel takes tens of thousands of ~130-byte answers for
    # a client that never reads; capped at 16 KiB (doubled by the kernel), a
    # few hundred, and the server's side holds a few dozen KiB of requests.
    app = serve(socket_recv_buffer=16 << 10, socket_send_buffer=16 << 10)
    with connect(app, rcvbuf=8 << 10, sndbuf=8 << 10) as s:
        s.setblocking(False)
        served, sent, rest = send_until_stuck(app, s)
        assert served <= 1200, f"{served} answers produced for a client that read none (of {sent} sent)"
        queued = (sent - served) * len(REQ)
        assert queued <= 96 << 10, f"{queued} bytes of requests queued for the server"
        # finish the request cut off mid-way while reading: every answer arrives
        sent += bool(rest)
        answers, tail = 0, b""
        while answers < sent:
            r, w, _ = select.select([s], [s] if rest else [], [], 2)
            assert r or w, f"stalled at {answers} of {sent} answers"
            if w:
                rest = rest[s.send(rest):]
            if r:
                d = s.recv(1 << 16)
                assert d, f"closed after {answers} of {sent} answers"
                tail += d
                answers += tail.count(HELLO)
                tail = tail[tail.rfind(HELLO) + len(HELLO):] if HELLO in tail else tail[-len(HELLO):]
        assert answers == sent


def test_buffer_size(serve):
    # rounded up to one 4 KiB block: requests and answers span many
    app = serve(buffer_size=100)
    body = bytes(range(256)) * 400
    resp = ask(app, b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    assert status(resp) == 200 and resp.endswith(body)
    with connect(app) as s:
        s.sendall(REQ * 50 + b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        rest = b""
        for _ in range(50):
            st, _, got, rest = read_response(s, rest)
            assert (st, got) == (200, HELLO)
        st, _, got, _ = read_response(s, rest)
        assert (st, len(got)) == (200, BIG)
    with pytest.raises(ValueError, match="buffer_size"):
        fastserve.Server(buffer_size=0)


def test_workers(serve):
    app = serve(workers=2)
    seen = set()
    for _ in range(32):
        resp = get(app, "/thread")
        assert status(resp) == 200
        seen.add(resp.partition(b"\r\n\r\n")[2])
    # connections spread over both workers' listeners, each its own thread
    assert len(seen) == 2, seen


def test_server_name(serve):
    resp = get(serve(server_name="knob-test/1.0"))
    assert b"\r\nServer: knob-test/1.0\r\n" in resp
    assert b"\r\nServer:" not in get(serve(server_name=""))


# ------------------------------------------------------------ timeouts


def test_header_timeout(serve):
    app = serve(header_timeout=0.3)
    with connect(app) as s:
        s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n")
        t = time.monotonic()
        # a slowloris: a byte every 50 ms, never the end of the head
        while time.monotonic() - t < 2:
            if select.select([s], [], [], 0.05)[0]:
                break
            try:
                s.sendall(b"X")
            except OSError:
                break
        closes_with(read_to_close(s), 408)
        assert 0.25 <= time.monotonic() - t < 1.5


def test_linger_timeout(serve):
    app = serve(linger_timeout=0.3)
    with connect(app) as s:
        t = time.monotonic()
        # a bad request line, and more pipelined behind it than the socket
        # buffers hold: the server reads and drops it rather than reset
        s.sendall(b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n" + REQ * 8000)
        data = b""
        while True:
            d = s.recv(1 << 20)  # a reset would raise
            if not d:
                break
            data += d
        closes_with(data, 400)
        # the server lingers until linger_timeout, then closes for good
        while True:
            try:
                s.sendall(b"x")
            except OSError:
                break
            assert time.monotonic() - t < 3, "still open"
            time.sleep(0.02)
        assert 0.3 <= time.monotonic() - t < 2.0


def test_body_timeout(serve):
    app = serve(body_timeout=0.3)
    with connect(app) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        t = time.monotonic()
        closes_with(read_to_close(s), 408)
        assert 0.25 <= time.monotonic() - t < 1.5


def test_keepalive_timeout(serve):
    app = serve(keepalive_timeout=0.3)
    with connect(app) as s:
        s.sendall(REQ)
        st, _, body, _ = read_response(s)
        assert (st, body) == (200, HELLO)
        t = time.monotonic()
        assert read_to_close(s) == b"", "closed without a byte"
        assert 0.25 <= time.monotonic() - t < 1.5


def test_write_timeout(serve):
    app = serve(write_timeout=0.3)
    with connect(app) as s:
        s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_for(lambda: app.stats()["open_connections"] == 1, "connection open")
        # the client reads nothing: the server gives up on it
        took = wait_for(lambda: app.stats()["open_connections"] == 0, "dropped by the server")
        assert took >= 0.2
        data = read_to_close(s)
        assert data.startswith(b"HTTP/1.1 200 ") and len(data) < BIG, "the answer is cut short"
    assert get(app).endswith(HELLO)


def test_request_timeout(serve):
    app = serve(request_timeout=0.3)
    with connect(app) as s:
        s.sendall(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n" + REQ.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        t = time.monotonic()
        st, _, _, rest = read_response(s)
        assert st == 503
        assert 0.25 <= time.monotonic() - t < 1.5
        # the request behind it proceeds
        st, _, body, _ = read_response(s, rest)
        assert (st, body) == (200, HELLO)
    # the handler finishing late is ignored, and the server goes on
    app._loop.call_soon_threadsafe(app.release.set)
    wait_for(lambda: not app._tasks, "the late handler done")
    assert get(app).endswith(HELLO)


# ------------------------------------------------------------ bad values


@pytest.mark.parametrize("knob", SIZES + TIMEOUTS)
def test_zero_is_refused(knob):
    with pytest.raises(ValueError, match=knob):
        fastserve.Server(**{knob: 0})
    with pytest.raises(ValueError, match=knob):
        fastserve.Server(**{knob: -1})


def test_bad_values():
    with pytest.raises(TypeError, match="max_body"):
        fastserve.Server(max_body=1.5)
    with pytest.raises(TypeError, match="header_timeout"):
        fastserve.Server(header_timeout="1")
    with pytest.raises(ValueError, match="write_timeout"):
        fastserve.Server(write_timeout=float("nan"))
    with pytest.raises(ValueError, match="shutdown_grace"):
        fastserve.Server(shutdown_grace=-1)
    with pytest.raises(ValueError, match="workers"):
        fastserve.Server().start(workers=0)


@pytest.mark.parametrize("knob", ["workers"] + SIZES + [t + "_ms" for t in TIMEOUTS] + ["shutdown_grace_ms"])
def test_engine_setter_refuses_zero(knob):
    cfg = lib.fastserve_config_new()
    try:
        setter = getattr(lib, "fastserve_config_set_" + knob)
        assert setter(cfg, 0) == 3  # FASTSERVE_RESULT_INVALID_ARGUMENT
        assert setter(cfg, 1) == 0
    finally:
        lib.fastserve_config_free(cfg)


@pytest.mark.parametrize(
    "knob,most",
    [("buffer_size", 64 << 20), ("socket_recv_buffer", 2**31 - 1), ("socket_send_buffer", 2**31 - 1)],
)
def test_engine_setter_refuses_too_big(knob, most):
    cfg = lib.fastserve_config_new()
    try:
        setter = getattr(lib, "fastserve_config_set_" + knob)
        assert setter(cfg, most) == 0
        assert setter(cfg, most + 1) == 3  # FASTSERVE_RESULT_INVALID_ARGUMENT
    finally:
        lib.fastserve_config_free(cfg)


@pytest.mark.parametrize("driver", ["epoll", "io_uring", "auto"])
def test_driver_knob_picks_the_event_loop(driver, monkeypatch):
    monkeypatch.delenv("FASTSERVE_DRIVER", raising=False)
    app = fastserve.Server(driver=driver)
    app.static("/plaintext", HELLO)
    assert app.active_driver is None
    port = app.start("127.0.0.1", 0, workers=1)
    try:
        assert app.active_driver == ("io_uring" if driver == "io_uring" else "epoll")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(REQ * 3)
            rest = b""
            for _ in range(3):
                status, _, body, rest = read_response(s, rest)
                assert (status, body) == (200, HELLO)
    finally:
        app.stop()


def test_driver_environment_overrides_the_knob(monkeypatch):
    monkeypatch.setenv("FASTSERVE_DRIVER", "io_uring")
    app = fastserve.Server(driver="epoll")
    app.static("/plaintext", HELLO)
    app.start("127.0.0.1", 0, workers=1)
    try:
        assert app.active_driver == "io_uring"
    finally:
        app.stop()


def test_driver_knob_refuses_other_names():
    with pytest.raises(ValueError, match="driver"):
        fastserve.Server(driver="kqueue")
