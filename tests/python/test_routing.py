"""Routing in Python: fastserve.Server (the engine routes, Python extracts
the parameters) and fastserve.asyncio.HttpProtocol (Python routes), both
against tests/routing/cases.tsv, the table the engine is tested against."""
import asyncio
import http.client
import threading
from pathlib import Path

import pytest

import fastserve
from fastserve.asyncio import HttpProtocol

TABLE = Path(__file__).resolve().parents[1] / "routing" / "cases.tsv"


def load_table():
    routes, cases = [], []
    for line in TABLE.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        kind, *f = line.split("\t")
        (routes if kind == "route" else cases).append(f)
    return routes, cases


ROUTES, CASES = load_table()


def make_app():
    app = fastserve.Server()
    for name, method, path, *flags in ROUTES:

        def h(req, name=name):
            return " ".join([name] + [f"{k}={v}" for k, v in req.params.items()])

        app.add_route(path, h, None if method == "*" else [method], prefix=flags == ["prefix"])
    app.static("/static-param/{x}", "static", methods=["GET"])

    @app.get("/decoded/{v}")
    def decoded(req):
        return repr(req.params["v"])

    @app.route("/async/{id}", ["GET", "PURGE"])
    async def a(req):
        await asyncio.sleep(0)
        return req.method + " " + req.params["id"]

    @app.get("/kept/{id}")
    def kept(req):
        return {"params": req.params, "path": req.path}

    return app


@pytest.fixture
def engine():
    app = make_app()
    port = app.start("127.0.0.1", 0)
    yield port
    app.stop()


@pytest.fixture
def protocol():
    app = make_app()
    loop = asyncio.new_event_loop()
    box = {}
    started = threading.Event()

    def run():
        asyncio.set_event_loop(loop)
        srv = loop.run_until_complete(loop.create_server(lambda: HttpProtocol(app), "127.0.0.1", 0))
        box["port"] = srv.sockets[0].getsockname()[1]
        started.set()
        loop.run_forever()
        srv.close()
        loop.run_until_complete(srv.wait_closed())
        loop.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert started.wait(5)
    yield box["port"]
    loop.call_soon_threadsafe(loop.stop)
    t.join(10)


@pytest.fixture(params=["engine", "protocol"])
def port(request):
    return request.getfixturevalue(request.param)


def ask(c, method, target):
    c.request(method, target)
    r = c.getresponse()
    return r.status, r.read().decode("utf-8", "replace"), r.getheader("Allow")


@pytest.mark.parametrize("method,target,status,expect", [(c + [""])[:4] for c in CASES], ids=[" ".join(c[:2]) for c in CASES])
def test_the_shared_table(port, method, target, status, expect):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    got, body, allow = ask(c, method, target)
    assert got == int(status)
    if got == 200:
        assert body == expect
    elif got == 405:
        assert allow == expect
    else:
        assert allow is None
    c.close()


def test_params_decoding_async_and_static(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    assert ask(c, "GET", "/decoded/%E2%82%AC%20x") == (200, "'€ x'", None)
    # bytes that are not UTF-8 become U+FFFD, as in req.query
    assert ask(c, "GET", "/decoded/%FF") == (200, "'\ufffd'", None)
    assert ask(c, "GET", "/async/a%2Fb") == (200, "GET a/b", None)
    assert ask(c, "PURGE", "/async/7") == (200, "PURGE 7", None)
    assert ask(c, "DELETE", "/async/7") == (405, "Method Not Allowed\n", "GET, HEAD, PURGE")
    assert ask(c, "GET", "/static-param/1") == (200, "static", None)
    c.request("HEAD", "/users/42")
    r = c.getresponse()
    assert (r.status, r.getheader("Content-Length"), r.read()) == (200, "10", b"")
    c.close()


def test_a_kept_request_keeps_its_params(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    for i in range(3):
        c.request("GET", f"/kept/{i}")
        assert c.getresponse().read() == f'{{"params":{{"id":"{i}"}},"path":"/kept/{i}"}}'.encode()
    c.close()


@pytest.mark.parametrize(
    "path,methods,why",
    [
        ("/a/{id", ["GET"], "unbalanced braces"),
        ("/a/{}", ["GET"], "needs a name"),
        ("/{x}/{x}", ["GET"], "appears twice"),
        ("/{rest*}/x", ["GET"], "must be the last segment"),
        ("/a/v{x}", ["GET"], "whole segment"),
        ("users/{id}", ["GET"], "must start with '/'"),
        ("/a", ["G ET"], "is not a token"),
        ("/a", [""], "is not a token"),
    ],
)
def test_bad_routes_fail_where_declared(path, methods, why):
    app = fastserve.Server()
    with pytest.raises(ValueError, match=why):
        app.add_route(path, lambda req: "x", methods)
    with pytest.raises(ValueError, match="prefix route takes no parameters"):
        app.add_route("/a/{x}", lambda req: "x", prefix=True)
    with pytest.raises(TypeError):
        app.add_route("/a", lambda req: "x", "GET")
