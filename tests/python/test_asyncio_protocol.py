"""fastserve.asyncio.HttpProtocol on the default asyncio loop and on uvloop."""
import asyncio
import http.client
import socket
import threading

import pytest

import fastserve
from fastserve.asyncio import HttpProtocol
from conftest import read_all_until_close, read_response


def make_app():
    app = fastserve.Server()
    app.static("/static", "static text")

    @app.get("/hello")
    def hello(req):
        return "Hello, " + req.query.get("name", "World") + "!"

    @app.post("/echo")
    def echo(req):
        return req.body

    @app.get("/json")
    def j(req):
        return {"path": req.path, "ua": req.headers.get("user-agent")}

    @app.get("/async")
    async def a(req):
        ms = int(req.query["ms"])
        await asyncio.sleep(ms / 1000)
        return "async %s" % req.query["id"]

    @app.get("/boom")
    def boom(req):
        raise RuntimeError("boom")

    @app.get("/p/", prefix=True)
    def p(req):
        return "prefix " + req.path

    return app


def loop_factories():
    yield pytest.param(asyncio.new_event_loop, id="asyncio")
    try:
        import uvloop
    except ImportError:
        yield pytest.param(None, id="uvloop", marks=pytest.mark.skip(reason="uvloop not installed"))
    else:
        yield pytest.param(uvloop.new_event_loop, id="uvloop")


@pytest.fixture(params=list(loop_factories()))
def served(request):
    """The app behind HttpProtocol on a loop running in a thread."""
    loop = request.param()
    app = make_app()
    started = threading.Event()
    box = {}

    def run():
        asyncio.set_event_loop(loop)
        srv = loop.run_until_complete(loop.create_server(lambda: HttpProtocol(app), "127.0.0.1", 0))
        box["srv"] = srv
        box["port"] = srv.sockets[0].getsockname()[1]
        box["loop_type"] = type(loop).__module__
        started.set()
        loop.run_forever()
        srv.close()
        loop.run_until_complete(srv.wait_closed())
        loop.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    started.wait(5)
    yield box
    loop.call_soon_threadsafe(loop.stop)
    t.join(10)


def test_runs_on_the_requested_loop(served, request):
    want = "uvloop" if "uvloop" in request.node.name else "asyncio"
    assert served["loop_type"].startswith(want)


def test_routes(served):
    c = http.client.HTTPConnection("127.0.0.1", served["port"], timeout=5)
    for _ in range(2):
        c.request("GET", "/static")
        assert c.getresponse().read() == b"static text"
        c.request("GET", "/hello?name=proto")
        r = c.getresponse()
        assert (r.status, r.read(), r.getheader("Content-Type")) == (200, b"Hello, proto!", "text/plain; charset=utf-8")
        c.request("POST", "/echo", body=b"z" * 100_000)
        assert c.getresponse().read() == b"z" * 100_000
        c.request("GET", "/json", headers={"User-Agent": "t"})
        assert c.getresponse().read() == b'{"path":"/json","ua":"t"}'
        c.request("GET", "/p/x/y")
        assert c.getresponse().read() == b"prefix /p/x/y"
        c.request("GET", "/nope")
        r = c.getresponse()
        assert (r.status, r.read()) == (404, b"Not Found\n")
        c.request("DELETE", "/hello")
        r = c.getresponse()
        assert r.status == 405
        r.read()
        c.request("GET", "/boom")
        r = c.getresponse()
        assert r.status == 500
        r.read()
    c.close()


def test_async_out_of_order_under_pipelining(served):
    n = 40
    s = socket.create_connection(("127.0.0.1", served["port"]), timeout=10)
    reqs = []
    for i in range(n):
        if i % 3 == 2:
            reqs.append(b"GET /hello?name=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
        else:
            reqs.append(b"GET /async?id=%d&ms=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (i, (n - i) * 3))
    s.sendall(b"".join(reqs))
    rest = b""
    for i in range(n):
        status, _, body, rest = read_response(s, rest)
        want = b"Hello, %d!" % i if i % 3 == 2 else b"async %d" % i
        assert (status, body) == (200, want)
    s.close()


def test_many_pipelined_beyond_the_limit(served):
    s = socket.create_connection(("127.0.0.1", served["port"]), timeout=10)
    s.sendall(b"".join(b"GET /hello?name=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(1000)))
    rest = b""
    for i in range(1000):
        status, _, body, rest = read_response(s, rest)
        assert body == b"Hello, %d!" % i
    s.close()


def test_bad_request_and_close(served):
    s = socket.create_connection(("127.0.0.1", served["port"]), timeout=5)
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost : x\r\n\r\n")
    data = read_all_until_close(s)
    assert data.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 400 " in data
    s = socket.create_connection(("127.0.0.1", served["port"]), timeout=5)
    s.sendall(b"GET /hello HTTP/1.0\r\n\r\n")
    assert read_all_until_close(s).endswith(b"Hello, World!")
    s = socket.create_connection(("127.0.0.1", served["port"]), timeout=5)
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
    s.shutdown(socket.SHUT_WR)
    assert read_all_until_close(s).endswith(b"Hello, World!")
