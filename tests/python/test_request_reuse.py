"""Requests are pooled per worker thread and re-aimed at each batch: what one
request's handler sees (headers, query, cookies, params, body) never shows
in another's, a kept Request stays valid after any number of later batches,
and a handler that raises fails its own request only, on Server (several
workers) and on HttpProtocol alike."""
import json
import socket
import threading

import pytest

import fastserve
from conftest import read_response, run_protocol, run_server


def make_app(kept):
    app = fastserve.Server()

    @app.route("/echo/{name}", methods=["GET", "POST"])
    def echo(req):
        # every cached attribute, read in the handler
        return {
            "target": req.target,
            "params": req.params,
            "query": dict(req.query),
            "secret": req.headers.get("x-secret"),
            "cookies": req.cookies,
            "form": dict(req.form),
            "body": req.body.decode(),
        }

    @app.get("/keep/{n}")
    def keep(req):
        kept.append(req)  # read only after later batches ran
        return "kept"

    @app.get("/maybe")
    def maybe(req):
        if req.query.get("fail"):
            raise RuntimeError("asked to fail")
        return "ok " + req.query["n"]

    @app.get("/text")
    def text(req):
        return "text " + req.query.get("n", "")

    return app


@pytest.fixture(params=["server", "protocol"])
def served(request):
    kept = []
    app = make_app(kept)
    port, stop = (run_server if request.param == "server" else run_protocol)(app)
    app.port, app.kept = port, kept
    yield app
    stop()


def ask(sock, raw, rest=b""):
    sock.sendall(raw)
    status, _, body, rest = read_response(sock, rest)
    return status, body, rest


def test_cached_attributes_do_not_leak_between_requests(served):
    # one request per batch on one connection: each takes the same pooled
    # Request, whose caches the previous one filled
    s = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    rest = b""
    for i in range(20):
        if i % 2 == 0:
            body = b"a=%d&b=x" % i
            raw = (
                b"POST /echo/n%d?q=%d HTTP/1.1\r\nHost: x\r\nX-Secret: s%d\r\nCookie: c=%d\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"
                % (i, i, i, i, len(body), body)
            )
            want = {
                "target": "/echo/n%d?q=%d" % (i, i),
                "params": {"name": "n%d" % i},
                "query": {"q": str(i)},
                "secret": "s%d" % i,
                "cookies": {"c": str(i)},
                "form": {"a": str(i), "b": "x"},
                "body": body.decode(),
            }
        else:
            raw = b"GET /echo/plain HTTP/1.1\r\nHost: x\r\n\r\n"
            want = {
                "target": "/echo/plain",
                "params": {"name": "plain"},
                "query": {},
                "secret": None,
                "cookies": {},
                "form": {},
                "body": "",
            }
        status, got, rest = ask(s, raw, rest)
        assert status == 200
        assert json.loads(got) == want, i
    s.close()


def test_pipelined_batch_answers_each_request_from_its_own_fields(served):
    s = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    reqs = []
    for i in range(40):
        secret = b"X-Secret: s%d\r\n" % i if i % 3 == 0 else b""
        reqs.append(b"GET /echo/p%d?i=%d HTTP/1.1\r\nHost: x\r\n%s\r\n" % (i, i, secret))
    s.sendall(b"".join(reqs))
    rest = b""
    for i in range(40):
        status, _, body, rest = read_response(s, rest)
        got = json.loads(body)
        assert status == 200
        assert (got["params"], got["query"], got["secret"]) == (
            {"name": "p%d" % i},
            {"i": str(i)},
            "s%d" % i if i % 3 == 0 else None,
        )
    s.close()


def test_kept_requests_stay_valid_after_later_batches(served):
    s = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    rest = b""
    for i in range(30):
        if i % 3 == 0:
            raw = b"GET /keep/%d?n=%d HTTP/1.1\r\nHost: x\r\nX-N: %d\r\n\r\n" % (i, i, i)
            assert ask(s, raw, rest)[:2] == (200, b"kept")
        else:
            # later batches that use the same pooled Request, and fill its caches
            raw = b"GET /echo/other%d?q=%d HTTP/1.1\r\nHost: x\r\nX-Secret: no\r\n\r\n" % (i, i)
            assert ask(s, raw, rest)[0] == 200
    # a pipelined batch too: kept and not kept side by side
    s.sendall(b"".join(b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % p for p in (b"keep/100?n=100", b"text?n=1", b"keep/101?n=101", b"maybe?n=2")))
    for want in (b"kept", b"text 1", b"kept", b"ok 2"):
        status, _, body, rest = read_response(s, rest)
        assert (status, body) == (200, want)
    s.close()
    got = [(r.method, r.target, r.params, r.query.get("n"), r.headers.get("x-n"), r.headers.get("x-secret")) for r in served.kept]
    want = [("GET", "/keep/%d?n=%d" % (i, i), {"n": str(i)}, str(i), str(i), None) for i in range(0, 30, 3)]
    want += [("GET", "/keep/%d?n=%d" % (i, i), {"n": str(i)}, str(i), None, None) for i in (100, 101)]
    assert got == want


def test_a_raising_handler_fails_its_own_request_in_a_one_route_batch(served, caplog):
    s = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    fails = {1, 2, 7, 15}  # two in a row, and the last
    s.sendall(b"".join(b"GET /maybe?n=%d%s HTTP/1.1\r\nHost: x\r\n\r\n" % (i, b"&fail=1" if i in fails else b"") for i in range(16)))
    rest = b""
    for i in range(16):
        status, _, body, rest = read_response(s, rest)
        assert (status, body) == ((500, b"Internal Server Error\n") if i in fails else (200, b"ok %d" % i))
    s.close()
    assert caplog.text.count("RuntimeError: asked to fail") == len(fails)


def test_workers_answer_concurrent_clients_from_their_own_requests():
    kept = []
    app = make_app(kept)
    port = app.start("127.0.0.1", 0, workers=3)
    errors = []

    def client(c):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            rest = b""
            for round_ in range(20):
                s.sendall(b"".join(b"GET /echo/c%d?r=%d&k=%d HTTP/1.1\r\nHost: x\r\nX-Secret: %d\r\n\r\n" % (c, round_, k, c) for k in range(8)))
                for k in range(8):
                    status, _, body, rest = read_response(s, rest)
                    got = json.loads(body)
                    if (status, got["params"], got["query"], got["secret"]) != (200, {"name": "c%d" % c}, {"r": str(round_), "k": str(k)}, str(c)):
                        errors.append((c, round_, k, status, got))
            s.close()
        except Exception as e:  # reported below
            errors.append((c, repr(e)))

    try:
        threads = [threading.Thread(target=client, args=(c,)) for c in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        app.stop()
    assert errors == []


def test_more_than_256_routes_in_one_batch():
    app = fastserve.Server()
    for n in range(300):

        def h(req, n=n):
            return "route %d %s" % (n, req.query.get("x", ""))

        app.route("/r%d" % n)(h)
    port = app.start("127.0.0.1", 0)
    try:
        picks = [0, 299, 256, 1, 257, 255, 299, 0]
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"".join(b"GET /r%d?x=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (n, k) for k, n in enumerate(picks)))
        rest = b""
        for k, n in enumerate(picks):
            status, _, body, rest = read_response(s, rest)
            assert (status, body) == (200, b"route %d %d" % (n, k))
        s.close()
    finally:
        app.stop()


def test_response_headers_are_each_responses_own():
    # header lines are cached by their fields: a cached head never answers
    # a response whose fields differ, past the cache's size too
    app = fastserve.Server()

    @app.get("/h")
    def h(req):
        v = req.query["v"]
        kind = req.query.get("kind", "dict")
        if kind == "dict":
            return fastserve.Response("d", headers={"X-Fixed": "same", "X-Echo": v})
        if kind == "bytes":
            return fastserve.Response("b", headers=[(b"X-Fixed", b"same"), (b"X-Echo", v.encode())])
        if kind == "gen":
            return fastserve.Response("g", headers=((k, x) for k, x in [("X-Echo", v)]))
        if kind == "bytearray":
            return fastserve.Response("a", headers=[("X-Echo", bytearray(v.encode()))])
        if kind == "tuple":
            return ("t", 201, {"X-Echo": v})
        return fastserve.Response("bad", headers={"X-Echo": v + "\n"})  # invalid: a 500

    port = app.start("127.0.0.1", 0)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        kinds = ["dict", "bytes", "gen", "bytearray", "tuple"]
        plan = [(kinds[i % 5], str(i % 400)) for i in range(1000)] + [("bad", "x"), ("bad", "x")]
        rest = b""
        for start in range(0, len(plan), 50):
            chunk = plan[start : start + 50]
            s.sendall(b"".join(b"GET /h?v=%s&kind=%s HTTP/1.1\r\nHost: x\r\n\r\n" % (v.encode(), k.encode()) for k, v in chunk))
            for kind, v in chunk:
                status, headers, body, rest = read_response(s, rest)
                if kind == "bad":
                    assert status == 500 and "x-echo" not in headers
                    continue
                assert headers["x-echo"] == v, (kind, v)
                assert ("x-fixed" in headers) == (kind in ("dict", "bytes"))
                assert status == (201 if kind == "tuple" else 200)
        s.close()
    finally:
        app.stop()


def test_batches_of_one_answer_and_of_nearly_one():
    # every handler of a batch answering the same text (one body for the
    # batch), or all but one: each response still carries its own body
    app = fastserve.Server()

    @app.get("/t")
    def t(req):
        v = req.query.get("v")
        if v is not None:
            return v  # equal strings, distinct objects
        return "same é\x00nul" if req.query.get("nul") else "same"

    port = app.start("127.0.0.1", 0)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        rest = b""
        for paths in (
            ["/t"] * 30,
            ["/t?nul=1"] * 30,
            ["/t?v=abc"] * 30,
            ["/t"] * 14 + ["/t?v=other"] + ["/t"] * 15,
            ["/t?nul=1"] + ["/t"] * 28 + ["/t?nul=1"],
        ):
            s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in paths))
            for p in paths:
                status, headers, body, rest = read_response(s, rest)
                want = "abc" if "v=abc" in p else "other" if "v=other" in p else "same é\x00nul" if "nul" in p else "same"
                assert (status, headers["content-type"], body) == (200, "text/plain; charset=utf-8", want.encode())
        s.close()
    finally:
        app.stop()
