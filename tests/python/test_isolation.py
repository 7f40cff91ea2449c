"""A handler that raises SystemExit or KeyboardInterrupt fails its own
request and nothing else, sync or async, on Server and HttpProtocol alike;
a real Ctrl-C still stops the server gracefully."""
import http.client
import signal
import socket
import sys

import pytest

import fastserve
from conftest import HELLO_PY, Proc, read_response, run_protocol, run_server


def make_app():
    app = fastserve.Server()

    @app.get("/ok")
    def ok(req):
        return "ok"

    @app.get("/exit")
    def exit_(req):
        raise SystemExit(3)

    @app.get("/interrupt")
    def interrupt(req):
        raise KeyboardInterrupt

    @app.get("/async-interrupt")
    async def async_interrupt(req):
        raise KeyboardInterrupt

    @app.get("/async-exit")
    async def async_exit(req):
        sys.exit(4)

    return app


@pytest.fixture(params=["server", "protocol"])
def served(request):
    app = make_app()
    port, stop = (run_server if request.param == "server" else run_protocol)(app)
    app.port = port
    yield app
    stop()


def test_only_the_offending_request_fails(served, caplog):
    s = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    paths = ["/ok", "/exit", "/ok", "/interrupt", "/ok", "/async-interrupt", "/ok", "/async-exit", "/ok"]
    s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in paths))
    got, rest = [], b""
    for _ in paths:
        status, _, body, rest = read_response(s, rest)
        got.append((status, body))
    assert got == [
        (200, b"ok"),
        (500, b"Internal Server Error\n"),
        (200, b"ok"),
        (500, b"Internal Server Error\n"),
        (200, b"ok"),
        (500, b"Internal Server Error\n"),
        (200, b"ok"),
        (500, b"Internal Server Error\n"),
        (200, b"ok"),
    ]
    # the server lives on, on a new connection too
    c = http.client.HTTPConnection("127.0.0.1", served.port, timeout=5)
    c.request("GET", "/ok")
    assert c.getresponse().read() == b"ok"
    assert any("SystemExit" in r.getMessage() or r.exc_info and r.exc_info[0] is SystemExit for r in caplog.records)


def test_a_real_ctrl_c_still_stops_gracefully():
    p = Proc([sys.executable, str(HELLO_PY), "--port", "0"])
    c = http.client.HTTPConnection(p.host, p.port, timeout=5)
    c.request("GET", "/hello")
    assert c.getresponse().read() == b"Hello, World!"
    p.proc.send_signal(signal.SIGINT)
    code, out, err = p.stop()
    assert code == 0, err
    assert "stopped after" in out
