"""fastserve.Server over real sockets: every handler kind and return type,
async handlers under pipelining, errors, bad requests, graceful stop."""
import asyncio
import http.client
import json
import logging
import signal
import socket
import threading
import time

import pytest

import fastserve
from fastserve import Response
from conftest import read_all_until_close, read_response, start_py

kept = []


def make_app():
    app = fastserve.Server()
    app.static("/static", "static text")
    app.static("/static-html", b"<p>hi</p>", content_type="text/html", status=201)
    app.static("/files/", "any file", prefix=True)

    @app.get("/str")
    def s(req):
        return "text é"

    @app.get("/bytes")
    def b(req):
        return b"\x00\x01bytes"

    @app.get("/dict")
    def d(req):
        return {"a": 1, "b": [1, 2], "c": "é"}

    @app.get("/list")
    def lst(req):
        return [1, "two"]

    @app.get("/none")
    def none(req):
        return None

    @app.get("/response")
    def resp(req):
        return Response("made", status=202, headers={"X-One": "1", "Set-Cookie": "a=b"}, content_type="text/x-custom")

    @app.get("/response-json")
    def resp_json(req):
        return Response({"ok": True}, status=404)

    @app.get("/nul")
    def nul(req):
        return "a\x00b"

    @app.route("/methods", methods=["PUT", "DELETE"])
    def methods(req):
        return req.method

    @app.route("/any", methods=None)
    def any_method(req):
        return req.method

    @app.get("/api/", prefix=True)
    def api(req):
        return "api " + req.path

    @app.get("/inspect")
    def inspect(req):
        h = req.headers
        return {
            "method": req.method,
            "path": req.path,
            "target": req.target,
            "query": req.query,
            "query_string": req.query_string,
            "x": h.get("x-test"),
            "X": h["X-TEST"],
            "all": h.getall("x-multi"),
            "has": "X-Test" in h,
            "version": req.http_version,
        }

    @app.post("/json")
    def post_json(req):
        return {"got": req.json(), "len": len(req.body)}

    @app.post("/echo")
    def echo(req):
        return req.body

    @app.get("/boom")
    def boom(req):
        raise RuntimeError("handler failure")

    @app.get("/bad-return")
    def bad_return(req):
        return 3.5

    @app.get("/keep")
    def keep(req):
        kept.append(req)  # kept past the call: must stay this request
        return "kept"

    @app.get("/async")
    async def a(req):
        ms = int(req.query.get("ms", "0"))
        await asyncio.sleep(ms / 1000)
        return f"async {req.query.get('id')} {ms}"

    @app.get("/async-now")
    async def anow(req):
        return "now " + req.query["i"]  # finishes at once: races the worker

    @app.get("/async-boom")
    async def aboom(req):
        await asyncio.sleep(0)
        raise ValueError("async failure")

    @app.get("/async-response")
    async def aresp(req):
        return Response(b"late", status=203, headers=[("X-Late", "yes")])

    return app


@pytest.fixture(scope="module")
def app():
    a = make_app()
    a.start("127.0.0.1", 0, workers=2)
    yield a
    a.stop()


def get(app, path, method="GET", body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", app.port, timeout=5)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    out = (r.status, r.getheader("Content-Type"), r.read(), r)
    c.close()
    return out


def test_static_routes_never_call_python(app):
    assert get(app, "/static")[:3] == (200, "text/plain; charset=utf-8", b"static text")
    assert get(app, "/static-html")[:3] == (201, "text/html", b"<p>hi</p>")
    assert get(app, "/files/a/b.txt")[:3] == (200, "text/plain; charset=utf-8", b"any file")


@pytest.mark.parametrize(
    "path,status,ctype,body",
    [
        ("/str", 200, "text/plain; charset=utf-8", "text é".encode()),
        ("/bytes", 200, "application/octet-stream", b"\x00\x01bytes"),
        ("/dict", 200, "application/json", json.dumps({"a": 1, "b": [1, 2], "c": "é"}, separators=(",", ":"), ensure_ascii=False).encode()),
        ("/list", 200, "application/json", b'[1,"two"]'),
        ("/none", 204, None, b""),
        ("/response", 202, "text/x-custom", b"made"),
        ("/response-json", 404, "application/json", b'{"ok":true}'),
        ("/nul", 200, "text/plain; charset=utf-8", b"a\x00b"),
        ("/async-response", 203, "application/octet-stream", b"late"),
    ],
)
def test_return_types(app, path, status, ctype, body):
    got = get(app, path)
    assert got[:3] == (status, ctype, body)


def test_response_headers(app):
    r = get(app, "/response")[3]
    assert (r.getheader("X-One"), r.getheader("Set-Cookie"), r.getheader("Server")) == ("1", "a=b", "fastserve")
    assert get(app, "/async-response")[3].getheader("X-Late") == "yes"


def test_methods_and_prefix(app):
    assert get(app, "/methods", "PUT")[2] == b"PUT"
    assert get(app, "/methods", "DELETE")[2] == b"DELETE"
    assert get(app, "/methods", "GET")[0] == 405
    assert get(app, "/any", "PATCH")[2] == b"PATCH"
    assert get(app, "/api/v1/x")[2] == b"api /api/v1/x"
    assert get(app, "/missing")[0] == 404
    status, _, body, r = get(app, "/str", "HEAD")
    assert (status, body, r.getheader("Content-Length")) == (200, b"", str(len("text é".encode())))


def test_request_attributes(app):
    got = json.loads(get(app, "/inspect?a=1&b=two%20words&a=3&empty=", headers={"X-Test": "v", "X-Multi": "1"})[2])
    assert got == {
        "method": "GET",
        "path": "/inspect",
        "target": "/inspect?a=1&b=two%20words&a=3&empty=",
        "query": {"a": "1", "b": "two words", "empty": ""},
        "query_string": "a=1&b=two%20words&a=3&empty=",
        "x": "v",
        "X": "v",
        "all": ["1"],
        "has": True,
        "version": "1.1",
    }
    got = json.loads(get(app, "/json", "POST", body=b'{"k": [1, 2]}')[2])
    assert got == {"got": {"k": [1, 2]}, "len": 13}
    big = bytes(range(256)) * 1000
    assert get(app, "/echo", "POST", body=big)[2] == big


def test_kept_request_stays_valid(app):
    kept.clear()
    s = socket.create_connection(("127.0.0.1", app.port))
    s.sendall(b"GET /keep?n=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /str HTTP/1.1\r\nHost: x\r\n\r\nGET /keep?n=2 HTTP/1.1\r\nHost: x\r\nX-N: 2\r\n\r\n")
    rest = b""
    for _ in range(3):
        rest = read_response(s, rest)[3]
    s.close()
    assert [(r.target, r.headers.get("x-n")) for r in kept] == [("/keep?n=1", None), ("/keep?n=2", "2")]


def test_handler_exception_gives_500_and_server_lives_on(app, caplog):
    with caplog.at_level(logging.ERROR, logger="fastserve"):
        assert get(app, "/boom")[:3] == (500, "text/plain; charset=utf-8", b"Internal Server Error\n")
        assert get(app, "/async-boom")[0] == 500
        assert get(app, "/bad-return")[0] == 500
    text = caplog.text
    assert "RuntimeError: handler failure" in text and "Traceback" in text
    assert "ValueError: async failure" in text
    # a failing handler in the middle of a pipelined batch fails only itself
    s = socket.create_connection(("127.0.0.1", app.port))
    s.sendall(b"GET /str HTTP/1.1\r\nHost: x\r\n\r\nGET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET /dict HTTP/1.1\r\nHost: x\r\n\r\n")
    rest, got = b"", []
    for _ in range(3):
        status, _, body, rest = read_response(s, rest)
        got.append(status)
    assert got == [200, 500, 200]
    assert get(app, "/str")[0] == 200


def test_async_handlers_finish_out_of_order_responses_in_order(app):
    # later requests finish first; mixed with sync and static ones
    n = 60
    reqs = []
    for i in range(n):
        if i % 4 == 3:
            reqs.append(b"GET /str HTTP/1.1\r\nHost: x\r\n\r\n")
        elif i % 4 == 2:
            reqs.append(b"GET /static HTTP/1.1\r\nHost: x\r\n\r\n")
        else:
            reqs.append(b"GET /async?id=%d&ms=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (i, (n - i) * 3))
    s = socket.create_connection(("127.0.0.1", app.port), timeout=10)
    s.sendall(b"".join(reqs))
    rest = b""
    for i in range(n):
        status, _, body, rest = read_response(s, rest)
        assert status == 200
        if i % 4 == 3:
            assert body == "text é".encode()
        elif i % 4 == 2:
            assert body == b"static text"
        else:
            assert body == b"async %d %d" % (i, (n - i) * 3)
    s.close()


def test_async_handlers_that_finish_at_once(app):
    socks = [socket.create_connection(("127.0.0.1", app.port), timeout=10) for _ in range(8)]
    for k, s in enumerate(socks):
        s.sendall(b"".join(b"GET /async-now?i=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (k * 1000 + i) for i in range(200)))
    for k, s in enumerate(socks):
        rest = b""
        for i in range(200):
            status, _, body, rest = read_response(s, rest)
            assert (status, body) == (200, b"now %d" % (k * 1000 + i))
        s.close()


def test_many_connections_pipelined(app):
    socks = [socket.create_connection(("127.0.0.1", app.port), timeout=10) for _ in range(20)]
    for k, s in enumerate(socks):
        s.sendall(b"".join(b"GET /api/%d/%d HTTP/1.1\r\nHost: x\r\n\r\n" % (k, i) for i in range(50)))
    for k, s in enumerate(socks):
        rest = b""
        for i in range(50):
            status, _, body, rest = read_response(s, rest)
            assert body == b"api /api/%d/%d" % (k, i)
        s.close()


BAD = [
    ("malformed", b"GET /\r\n\r\n", 400),
    ("space before colon", b"GET /str HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    ("body too large", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413),
    ("uri too long", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("head too large", b"GET /str HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
    ("unknown coding", b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ("HTTP/2.0", b"GET /str HTTP/2.0\r\n\r\n", 505),
    ("CL and TE", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
]


@pytest.mark.parametrize("name,raw,status", BAD, ids=[b[0] for b in BAD])
def test_bad_requests(app, name, raw, status):
    s = socket.create_connection(("127.0.0.1", app.port), timeout=5)
    s.sendall(b"GET /str HTTP/1.1\r\nHost: x\r\n\r\n" + raw)
    data = read_all_until_close(s)
    assert data.startswith(b"HTTP/1.1 200 ")  # the good request before it
    assert b"HTTP/1.1 %d " % status in data and data.count(b"HTTP/1.1 ") == 2


def test_more_than_256_handler_routes():
    app = fastserve.Server()
    for i in range(300):
        app.add_route(f"/r{i}", (lambda i: lambda req: f"route {i} {req.path}")(i))
    app.start()
    try:
        for i in (0, 255, 256, 299):
            assert get(app, f"/r{i}")[2] == b"route %d /r%d" % (i, i)
    finally:
        app.stop()


def test_header_validation():
    with pytest.raises(ValueError):
        Response("x", headers={"Bad\r\nName": "v"})
    with pytest.raises(ValueError):
        Response("x", headers={"X": "v\r\nInjected: 1"})
    with pytest.raises(ValueError):
        Response("x", headers={"Content-Length": "3"})
    with pytest.raises(ValueError):
        Response("x", status=99)
    with pytest.raises(TypeError):
        Response(3)


def test_routes_are_fixed_once_running(app):
    with pytest.raises(RuntimeError):
        app.static("/late", "x")


def test_stop_in_process_finishes_async_in_flight():
    app = fastserve.Server()

    @app.get("/slow")
    async def slow(req):
        await asyncio.sleep(0.3)
        return "done"

    app.start()
    s = socket.create_connection(("127.0.0.1", app.port), timeout=5)
    s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.05)
    t = threading.Thread(target=app.stop)
    t.start()
    assert read_all_until_close(s).endswith(b"done")
    t.join(10)
    assert not t.is_alive()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", app.port), timeout=1)


def test_hello_py_and_graceful_sigterm():
    p = start_py()
    c = http.client.HTTPConnection(p.host, p.port, timeout=5)
    for path, body in [("/plaintext", b"Hello, World!"), ("/plaintext-py", b"Hello, World!"),
                       ("/hello?name=py", b"Hello, py!"), ("/json", b'{"message":"Hello, World!"}')]:
        c.request("GET", path)
        assert c.getresponse().read() == body
    c.request("POST", "/echo", body=b"echo me", headers={"Content-Type": "text/x"})
    r = c.getresponse()
    assert (r.read(), r.getheader("Content-Type")) == (b"echo me", "text/x")
    # an async request in flight when SIGTERM arrives is still answered
    s = p.connect()
    s.sendall(b"GET /sleep?ms=400 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.1)
    p.proc.send_signal(signal.SIGTERM)
    data = read_all_until_close(s)
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"slept 400 ms"), data
    code, out, err = p.stop()
    assert code == 0, err
    assert "hello: stopped" in out


def test_ctrl_c_stops_gracefully():
    p = start_py()
    p.proc.send_signal(signal.SIGINT)
    code, out, err = p.stop()
    assert code == 0, err
