"""PEP 3333 as an app sees it: the environ, wsgi.input, start_response,
the response iterable and its close(), and threads. Each test runs against
fastserve and against gunicorn."""
import hashlib
import json
import os
import socket
import threading

import httpx
import pytest
from wire import read_response


def raw(served, request: bytes) -> bytes:
    """Sends raw bytes, returns everything until the server closes."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as s:
        s.sendall(request)
        out = b""
        while True:
            d = s.recv(65536)
            if not d:
                return out
            out += d


def test_environ_fields(app):
    with socket.create_connection(("127.0.0.1", app.port), timeout=10) as s:
        my_port = s.getsockname()[1]
        s.sendall(b"GET /env/caf%C3%A9%20x/%2F?a=1&b=%20 HTTP/1.1\r\nHost: 127.0.0.1:" + str(app.port).encode() +
                  b"\r\nX-Multi: one\r\nX-Multi: two\r\nUser-Agent: raw\r\nX_Spoof: 1\r\nConnection: close\r\n\r\n")
        out = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    e = json.loads(body)
    assert e["REQUEST_METHOD"] == "GET"
    assert e["SCRIPT_NAME"] == ""
    # percent-decoded, the bytes as Latin-1 (PEP 3333), %2F included
    assert e["PATH_INFO"] == "/env/caf\u00c3\u00a9 x//"
    assert e["QUERY_STRING"] == "a=1&b=%20"
    assert e["SERVER_NAME"] == "127.0.0.1" and e["SERVER_PORT"] == str(app.port)
    assert e["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert e["REMOTE_ADDR"] == "127.0.0.1" and e["REMOTE_PORT"] == str(my_port)
    assert e["wsgi.version"] == [1, 0] and e["wsgi.url_scheme"] == "http"
    assert e["wsgi.multithread"] is True and e["wsgi.run_once"] is False
    assert e["errors"] and e["file_wrapper"]
    assert e["types"] == ["str"]  # every CGI variable is a str
    http = e["http"]
    assert [v.strip() for v in http["HTTP_X_MULTI"].split(",")] == ["one", "two"]
    assert http["HTTP_USER_AGENT"] == "raw"
    assert "HTTP_X_SPOOF" not in http  # an underscore name cannot pose as X-Spoof
    assert e["CONTENT_TYPE"] in (None, "") and e["CONTENT_LENGTH"] in (None, "")


def test_content_headers_are_not_http_vars(app):
    r = app.client.post("/env", content=b"12345", headers={"Content-Type": "text/x-test"})
    e = r.json()
    assert e["REQUEST_METHOD"] == "POST"
    assert e["CONTENT_TYPE"] == "text/x-test" and e["CONTENT_LENGTH"] == "5"
    assert "HTTP_CONTENT_TYPE" not in e["http"] and "HTTP_CONTENT_LENGTH" not in e["http"]


def test_http10_protocol(app):
    out = raw(app, b"GET /env HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.")
    assert b'"SERVER_PROTOCOL": "HTTP/1.0"' in out


def test_script_name_from_root_path(rooted):
    e = rooted.client.get("/mount/env/inner").json()
    assert e["SCRIPT_NAME"] == "/mount"
    assert e["PATH_INFO"] == "/env/inner"


def test_input_every_way_of_reading(app):
    body = os.urandom(50_000) + b"\nline two\nand three\n"
    want = hashlib.sha256(body).hexdigest()
    for how in ("all", "n", "readline", "readlines", "iter"):
        r = app.client.post(f"/body?{how}", content=body)
        assert r.json() == {"len": len(body), "sha256": want}, how


def test_input_readline_with_size(app):
    r = app.client.post("/lines", content=b"first line\nsecond\nthird\nfourth")
    assert r.json() == {"first": "first line\n", "second": "sec", "rest": ["ond\n", "third\n", "fourth"]}


def test_large_body_streams_in(app):
    body = os.urandom(8 << 20)  # past the engine's default 1 MiB body limit
    r = app.client.post("/body?n", content=body)
    assert r.json() == {"len": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def test_chunked_body(app):
    parts = [os.urandom(n) for n in (10, 70_000, 3)]

    def gen():
        yield from parts

    r = app.client.post("/body?all", content=gen())
    data = b"".join(parts)
    assert r.json() == {"len": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_status_and_repeated_headers(app):
    r = app.client.get("/status")
    assert r.status_code == 418
    assert r.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert r.text == "short and stout"


def test_exc_info_before_anything_sent_replaces_the_status(app):
    r = app.client.get("/exc-info")
    assert r.status_code == 503
    if app.server == "fastserve":  # gunicorn keeps the first call's fields too
        assert "x-first" not in r.headers
    assert r.text == "replaced"


def test_exc_info_after_headers_sent_reraises(app):
    before = app.client.get("/state").json()["reraised"]
    try:
        app.client.get("/exc-info-late")
    except httpx.HTTPError:
        pass  # the body may be cut off; what matters is what the app saw
    assert app.client.get("/state").json()["reraised"] == before + 1


def test_app_error_is_500_and_the_server_goes_on(app):
    r = app.client.get("/error")
    assert r.status_code == 500
    assert app.client.get("/fast").json() == {"fast": True}


def test_invalid_header_value_is_500(app):
    r = app.client.get("/bad-header")
    assert r.status_code == 500
    assert "injected" not in r.headers


def test_write_callable(app):
    r = app.client.get("/write")
    assert r.status_code == 200
    assert r.text == "legacy write, then the iterable"


def test_streamed_iterable(app):
    r = app.client.get("/stream")
    assert r.text == "".join(f"piece {i}\n" for i in range(5))


def test_file_wrapper(app):
    r = app.client.get("/file")
    with open(os.path.join(os.path.dirname(__file__), "apps.py"), "rb") as f:
        assert r.content == f.read()


def test_close_is_called(app):
    def closed():
        return app.client.get("/state").json()["closed"]

    n = closed()
    assert app.client.get("/closing").text == "one two"
    assert closed() == n + 1
    assert app.client.get("/closing-list").text == "listed"
    assert closed() == n + 2
    try:
        app.client.get("/closing-fail")  # fails half-way: body cut off
    except httpx.HTTPError:
        pass
    assert closed() == n + 3


def test_close_is_called_when_the_client_leaves(app):
    before = app.client.get("/state").json()["closed"]
    with socket.create_connection(("127.0.0.1", app.port), timeout=10) as s:
        s.sendall(b"GET /closing-forever HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while b"start" not in got:
            got += s.recv(65536)
    # the server notices on a later write; close() follows
    for _ in range(500):
        if app.client.get("/state").json()["closed"] > before:
            break
        threading.Event().wait(0.02)
    assert app.client.get("/state").json()["closed"] == before + 1


def test_blocking_view_does_not_stall_others(app):
    slow_done = threading.Event()
    result = {}

    def slow():
        with httpx.Client(base_url=app.url, timeout=30) as c:
            result["slow"] = c.get("/sleep?3").json()
        slow_done.set()

    t = threading.Thread(target=slow)
    t.start()
    try:
        threading.Event().wait(0.3)  # the sleeping view has started
        for _ in range(3):
            assert app.client.get("/fast").json() == {"fast": True}
        assert not slow_done.is_set(), "the fast requests waited for the sleeping one"
    finally:
        t.join()
    assert result["slow"] == {"slept": True}


def test_blocking_views_run_side_by_side(app):
    # four views that each wait for the other three: they pass only if
    # four threads run them at once
    out = [None] * 4

    def call(k):
        with httpx.Client(base_url=app.url, timeout=30) as c:
            out[k] = c.get("/barrier").json()

    ts = [threading.Thread(target=call, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert out == [{"together": True}] * 4


def test_same_head_each_request_its_own_environ(app):
    # byte-identical requests from two connections: each environ has its
    # own peer, and what a view changed in one is not in the next
    head = b"GET /mutate HTTP/1.1\r\nHost: x\r\nUser-Agent: same\r\n\r\n"
    seen = []
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", app.port), timeout=10) as s:
            port = s.getsockname()[1]
            for _ in range(2):
                s.sendall(head)
                status, _, body, rest = read_response(s)
                assert status == 200 and rest == b""
                seen.append((port, json.loads(body)))
    assert len({p for p, _ in seen}) == 2
    for port, e in seen:
        assert e == {"mark": None, "agent": "same", "port": str(port), "input": ""}


def test_requests_go_on_beside_a_blocked_view(app):
    # one connection waits in a sleeping view while another sends request
    # after request, one at a time: those are all answered first, then the
    # sleeper, and its connection serves the next request
    with socket.create_connection(("127.0.0.1", app.port), timeout=30) as slow:
        slow.sendall(b"GET /sleep?1.5 HTTP/1.1\r\nHost: x\r\n\r\n")
        threading.Event().wait(0.2)  # the view has started
        with socket.create_connection(("127.0.0.1", app.port), timeout=10) as fast:
            for i in range(20):
                fast.sendall(b"GET /env/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
                status, _, body, _ = read_response(fast)
                assert status == 200 and json.loads(body)["PATH_INFO"] == f"/env/{i}"
        slow.setblocking(False)
        try:
            early = slow.recv(1)
        except BlockingIOError:
            early = b""
        slow.setblocking(True)
        assert early == b"", "the sleeping view answered before the other connection's requests"
        status, _, body, rest = read_response(slow)
        assert (status, json.loads(body)) == (200, {"slept": True})
        slow.sendall(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body, _ = read_response(slow, rest)
        assert (status, json.loads(body)) == (200, {"fast": True})


def test_pipelined_blocking_views_run_side_by_side(app):
    # four pipelined views that each wait for the other three, in one
    # batch after the server sat idle: the pool lets more threads in past
    # the blocked ones even though no new request arrives
    if app.server != "fastserve":
        pytest.skip("gunicorn's gthread worker runs a connection's requests one by one")
    threading.Event().wait(1.5)
    reqs = b"GET /barrier HTTP/1.1\r\nHost: x\r\n\r\n" * 4
    with socket.create_connection(("127.0.0.1", app.port), timeout=30) as s:
        s.sendall(reqs)
        rest = b""
        got = []
        for _ in range(4):
            status, _, body, rest = read_response(s, rest)
            got.append((status, json.loads(body)))
    assert got == [(200, {"together": True})] * 4


def test_views_run_under_sched_batch_when_asked(app, monkeypatch):
    # views keep the default policy; FASTSERVE_WSGI_SCHED_BATCH=1 puts the
    # pool threads under SCHED_BATCH (not preempting the engine when woken)
    if app.server != "fastserve":
        pytest.skip("a fastserve setting")
    assert app.client.get("/sched").json() == {"policy": "other"}
    from conftest import Served

    monkeypatch.setenv("FASTSERVE_WSGI_SCHED_BATCH", "1")
    s = Served("fastserve", "apps:conformance")
    try:
        assert s.client.get("/sched").json() == {"policy": "batch"}
    finally:
        code, err = s.stop()
    assert code == 0, err[-3000:]


def test_pipelined_requests_answered_in_order(app):
    reqs = b"".join(b"GET /env/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(20))
    out = raw(app, reqs + b"GET /env/last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    paths = [p.split(b'"')[0].decode() for p in out.split(b'"PATH_INFO": "')[1:]]
    assert paths == [f"/env/{i}" for i in range(20)] + ["/env/last"]


def test_pipelined_answers_each_have_their_own_head(app):
    # the same status and headers again, others in between, pairs as
    # lists, and a 204 (no body)
    qs = ["a", "b", "a", "list1", "list1", "204", "a", "204", "z"]
    reqs = b"".join(b"GET /echo-header?%s HTTP/1.1\r\nHost: x\r\n\r\n" % q.encode() for q in qs)
    with socket.create_connection(("127.0.0.1", app.port), timeout=10) as s:
        s.sendall(reqs)
        got, rest = [], b""
        for _ in qs:
            status, headers, body, rest = read_response(s, rest)
            got.append((status, headers.get("x-value"), body))
    assert got == [(204, q, b"") if q == "204" else (200, q, q.encode()) for q in qs]


def test_a_refused_head_is_refused_every_time(app):
    for _ in range(2):
        assert app.client.get("/echo-header?bad").status_code == 500
        r = app.client.get("/echo-header?a")
        assert r.status_code == 200 and r.headers["x-value"] == "a"
