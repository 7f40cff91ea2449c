"""What Flask, Sanic and Japronto users reach for, on Server and on
HttpProtocol alike: multi-valued query and form fields, cookies, the
client's address, abort(), tuple returns, a 400 for a bad JSON body,
bodiless 204s, and blocking handlers off the worker."""
import asyncio
import http.client
import json
import logging
import socket
import threading

import pytest

import fastserve
from conftest import read_response, run_protocol, run_server


def make_app():
    app = fastserve.Server(blocking_threads=2)
    app.gate = threading.Event()  # /slow blocks until it is set

    @app.get("/query")
    def query(req):
        q = req.query
        return {"dict": dict(q), "all": q.getall("a"), "list": q.getlist("a"), "none": q.getlist("zz"), "first": q["a"]}

    @app.post("/form")
    def form(req):
        f = req.form
        return {"first": dict(f), "tags": f.getlist("tag")}

    @app.get("/cookies")
    def cookies(req):
        return req.cookies

    @app.get("/client")
    def client(req):
        return list(req.client)

    @app.post("/json")
    def body(req):
        return {"got": req.json()}

    @app.get("/tuple2")
    def tuple2(req):
        return "made", 201

    @app.get("/tuple3")
    def tuple3(req):
        return {"ok": True}, 202, {"X-Extra": "yes"}

    @app.get("/tuple-bad")
    def tuple_bad(req):
        return "x", 200, {}, "surplus"

    @app.get("/abort")
    def aborts(req):
        if "msg" in req.query:
            fastserve.abort(403, req.query["msg"])
        fastserve.abort(404)

    @app.get("/abort-async")
    async def aborts_async(req):
        await asyncio.sleep(0)
        raise fastserve.HTTPException(409, "conflict here", headers={"X-Why": "because"})

    @app.get("/none")
    def none(req):
        return None

    @app.get("/204-with-body")
    def no_content_body(req):
        return fastserve.Response("oops", status=204)

    @app.get("/304-tuple")
    def not_modified(req):
        return "", 304

    @app.get("/slow", blocking=True)
    def slow(req):
        assert app.gate.wait(10), "the gate was never opened"
        return "slow done on " + threading.current_thread().name

    @app.get("/fast")
    def fast(req):
        return "fast"

    return app


@pytest.fixture(params=["server", "protocol"], scope="module")
def served(request):
    app = make_app()
    port, stop = (run_server if request.param == "server" else run_protocol)(app)
    app.port = port
    yield app
    app.gate.set()
    stop()


def get(app, path, method="GET", body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", app.port, timeout=5)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    out = r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    c.close()
    return out


def test_query_keeps_every_value(served):
    st, _, body = get(served, "/query?a=1&b=2&a=3&a=&c=%20x")
    assert st == 200
    assert json.loads(body) == {
        "dict": {"a": "1", "b": "2", "c": " x"},  # the first value of each, as before
        "all": ["1", "3", ""],
        "list": ["1", "3", ""],
        "none": [],
        "first": "1",
    }


def test_form_fields(served):
    form = "name=J%C3%BCrgen&tag=a&tag=b+c&empty="
    st, _, body = get(served, "/form", "POST", form, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    assert st == 200
    assert json.loads(body) == {"first": {"name": "Jürgen", "tag": "a", "empty": ""}, "tags": ["a", "b c"]}
    # another content type: no form fields
    st, _, body = get(served, "/form", "POST", form, {"Content-Type": "text/plain"})
    assert json.loads(body) == {"first": {}, "tags": []}


def test_cookies(served):
    st, _, body = get(served, "/cookies", headers={"Cookie": 'sid=abc123; theme="dark"; n=1'})
    assert (st, json.loads(body)) == (200, {"sid": "abc123", "theme": "dark", "n": "1"})
    st, _, body = get(served, "/cookies")
    assert (st, json.loads(body)) == (200, {})


def test_client_address(served):
    s = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    s.sendall(b"GET /client HTTP/1.1\r\nHost: x\r\n\r\n")
    st, _, body, _ = read_response(s)
    assert (st, json.loads(body)) == (200, list(s.getsockname()))
    s.close()


def test_invalid_json_is_a_400(served, caplog):
    st, _, body = get(served, "/json", "POST", b'{"a": [1, 2')
    assert st == 400
    assert body.startswith(b"invalid JSON body")
    st, _, body = get(served, "/json", "POST", b"\xff\xfe")
    assert st == 400
    st, _, body = get(served, "/json", "POST", b'{"a": [1, 2]}')
    assert (st, json.loads(body)) == (200, {"got": {"a": [1, 2]}})
    assert "Traceback" not in caplog.text


def test_tuple_returns(served, caplog):
    st, h, body = get(served, "/tuple2")
    assert (st, body, h["content-type"]) == (201, b"made", "text/plain; charset=utf-8")
    st, h, body = get(served, "/tuple3")
    assert (st, body, h["x-extra"], h["content-type"]) == (202, b'{"ok":true}', "yes", "application/json")
    with caplog.at_level(logging.ERROR, logger="fastserve"):
        st, _, _ = get(served, "/tuple-bad")
    assert st == 500
    assert "a tuple of 4" in caplog.text


def test_abort(served, caplog):
    st, h, body = get(served, "/abort")
    assert (st, body) == (404, b"Not Found\n")
    st, h, body = get(served, "/abort?msg=go%20away")
    assert (st, body) == (403, b"go away\n")
    st, h, body = get(served, "/abort-async")
    assert (st, body, h["x-why"]) == (409, b"conflict here\n", "because")
    assert "Traceback" not in caplog.text


def raw_pair(app, first):
    """`first` and a second request pipelined behind it on one connection:
    both responses, parsed by Content-Length framing."""
    s = socket.create_connection(("127.0.0.1", app.port), timeout=5)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n" % first.encode())
    a = read_response(s)
    b = read_response(s, a[3])
    s.close()
    return a, b


def test_none_is_a_bare_204(served):
    (st, h, body, _), (st2, _, body2, rest) = raw_pair(served, "/none")
    assert (st, body) == (204, b"")
    assert "content-length" not in h and "content-type" not in h
    assert (st2, body2, rest) == (200, b"fast", b"")


def test_304_has_no_body_or_length(served):
    (st, h, body, _), (st2, _, body2, rest) = raw_pair(served, "/304-tuple")
    assert (st, body) == (304, b"") and "content-length" not in h
    assert (st2, body2, rest) == (200, b"fast", b"")


def test_204_with_a_body_is_refused(served, caplog):
    with caplog.at_level(logging.ERROR, logger="fastserve"):
        (st, _, body, _), (st2, _, body2, rest) = raw_pair(served, "/204-with-body")
    assert (st, body) == (500, b"Internal Server Error\n")
    assert "a 204 response has no body" in caplog.text
    assert (st2, body2, rest) == (200, b"fast", b"")


def test_blocking_handler_leaves_the_worker_free(served):
    # one worker: a slow handler that held it would keep /fast from being
    # answered, and the gate would never open (the socket times out)
    served.gate.clear()
    slow = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    slow.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        for _ in range(3):
            st, _, body = get(served, "/fast")
            assert (st, body) == (200, b"fast")
    finally:
        served.gate.set()
    st, _, body, _ = read_response(slow)
    assert st == 200 and body.startswith(b"slow done on fastserve-blocking")
    slow.close()


def test_blocking_is_for_sync_handlers():
    app = fastserve.Server()

    async def h(req):
        return "x"

    with pytest.raises(TypeError, match="blocking"):
        app.add_route("/x", h, blocking=True)


def test_response_refuses_bodies_for_bodiless_statuses():
    for status in (204, 304):
        with pytest.raises(ValueError, match=f"a {status} response has no body"):
            fastserve.Response("x", status=status)
        assert fastserve.Response(None, status=status).body == b""
    with pytest.raises(ValueError, match="204"):
        fastserve.Server().static("/x", "body", status=204)


def test_query_is_still_a_dict():
    q = fastserve.MultiDict([("a", "1"), ("a", "2")])
    assert isinstance(q, dict) and q == {"a": "1"} and q.get("a") == "1"
    with pytest.raises(KeyError):
        q.getall("b")
    assert q.multi_items() == [("a", "1"), ("a", "2")]
