"""RFC 9112 §3.2 at the edge, for both ways of serving a Python app: the
engine's server (Server.start) and fastserve.asyncio.HttpProtocol."""
import asyncio
import socket
import threading

import pytest

import fastserve
from fastserve.asyncio import HttpProtocol
from conftest import read_response


def make_app():
    app = fastserve.Server()

    @app.get("/where")
    def where(req):
        return f"{req.path} {req.query_string} {req.target} {req.headers.get('host')}"

    @app.route("/items", methods=["POST"])
    def items(req):
        return "made"

    return app


def engine():
    app = make_app()
    app.start("127.0.0.1", 0)
    return app.port, app.stop


def protocol():
    loop = asyncio.new_event_loop()
    box, started = {}, threading.Event()

    def run():
        asyncio.set_event_loop(loop)
        srv = loop.run_until_complete(loop.create_server(lambda: HttpProtocol(make_app()), "127.0.0.1", 0))
        box["port"] = srv.sockets[0].getsockname()[1]
        started.set()
        loop.run_forever()
        srv.close()
        loop.run_until_complete(srv.wait_closed())
        loop.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    started.wait(5)

    def stop():
        loop.call_soon_threadsafe(loop.stop)
        t.join(10)

    return box["port"], stop


@pytest.fixture(params=[engine, protocol], ids=["engine", "protocol"])
def port(request):
    p, stop = request.param()
    yield p
    stop()


def ask(port, raw):
    """One request on a new connection; (status, headers, body, closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(raw)
    status, headers, body, rest = read_response(s)
    s.settimeout(0.5)
    try:
        closed = not rest and s.recv(1) == b""
    except socket.timeout:
        closed = False
    s.close()
    return status, headers, body, closed


def test_absolute_form_routes_by_path_and_its_authority_is_host(port):
    status, _, body, _ = ask(port, b"GET http://example.com:81/where?a=1 HTTP/1.1\r\nHost: elsewhere\r\n\r\n")
    # req.target is the path and query (the authority is Host)
    assert (status, body) == (200, b"/where a=1 /where?a=1 example.com:81")
    # an empty path is /; no route there
    assert ask(port, b"GET http://example.com?x HTTP/1.1\r\nHost: e\r\n\r\n")[0] == 404


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /where HTTP/1.1\r\n\r\n",
        b"GET /where HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
        b"GET /where HTTP/1.1\r\nHost: a b\r\n\r\n",
        b"GET /where HTTP/1.1\r\nHost: a:99999\r\n\r\n",
        b"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET a:443 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET ftp://a/where HTTP/1.1\r\nHost: a\r\n\r\n",
    ],
)
def test_refused_with_400_and_a_close(port, raw):
    status, headers, _, closed = ask(port, raw)
    assert (status, headers.get("connection"), closed) == (400, "close", True)


def test_options_asterisk_and_connect(port):
    status, headers, body, closed = ask(port, b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
    assert (status, body, closed) == (200, b"", False)
    assert sorted(headers["allow"].split(", ")) == ["GET", "HEAD", "OPTIONS", "POST"]
    status, headers, _, _ = ask(port, b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n")
    assert status == 405 and sorted(headers["allow"].split(", ")) == ["GET", "HEAD", "OPTIONS", "POST"]
    # HTTP/1.0 needs no Host
    status, _, body, _ = ask(port, b"GET /where HTTP/1.0\r\n\r\n")
    assert (status, body) == (200, b"/where  /where None")
