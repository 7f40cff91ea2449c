"""Server(access_log=...), the fastserve.error logger and app.metrics():
what `logging` gets for each kind of request over real sockets, and the
Prometheus text through prometheus_client's parser."""
import asyncio
import logging
import re
import socket
import time

import pytest

import fastserve
from fastserve import StreamResponse


def make_app(tmp_path, **kw):
    app = fastserve.Server(max_body=100, header_timeout=0.3, request_timeout=0.3, **kw)
    app.static("/static", "static text")

    @app.get("/hi")
    def hi(req):
        return "hi"

    @app.get("/later")
    async def later(req):
        await asyncio.sleep(0.02)
        return "later"

    @app.get("/slow")
    async def slow(req):
        await asyncio.sleep(2)
        return "too late"

    @app.get("/stream")
    def stream(req):
        return StreamResponse(iter([b"one ", b"two"]))

    @app.post("/up")
    def up(req):
        return str(len(req.body))

    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "f.txt").write_bytes(b"x" * 5000)
    app.directory("/files", tmp_path / "www")
    app.metrics("/metrics")
    return app


@pytest.fixture
def served(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="fastserve.access")
    caplog.set_level(logging.INFO, logger="fastserve.error")
    app = make_app(tmp_path, access_log="combined")
    app.start("127.0.0.1", 0)
    yield app
    app.stop()


def connect(app):
    s = socket.create_connection(("127.0.0.1", app.port), timeout=5)
    return s


def until_close(s):
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            return data
        data += d


def logged(caplog, name, n):
    deadline = time.monotonic() + 10
    while True:
        got = [r for r in caplog.records if r.name == name]
        if len(got) >= n or time.monotonic() > deadline:
            assert len(got) >= n, [r.getMessage() for r in got]
            return got[:n]
        time.sleep(0.02)


LINE = re.compile(r'^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] "(.*)" (\d+) (\d+|-) "(.*)" "(.*)"$')


def test_each_kind_of_request_logged_field_by_field(served, caplog):
    reqs = [
        b"GET /hi HTTP/1.1\r\nHost: x\r\nReferer: http://r/\r\nUser-Agent: probe\r\n\r\n",
        b"HEAD /static HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
        b"DELETE /hi HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /later HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /files/f.txt HTTP/1.0\r\n\r\n",
    ]
    s = connect(served)
    s.sendall(b"".join(reqs))  # pipelined; the HTTP/1.0 request closes
    data = until_close(s)
    recs = logged(caplog, "fastserve.access", 7)
    fields = [r.access for r in recs]
    assert [(f["method"], f["target"], f["status"]) for f in fields] == [
        ("GET", "/hi", 200), ("HEAD", "/static", 200), ("GET", "/nope", 404), ("DELETE", "/hi", 405),
        ("GET", "/later", 200), ("GET", "/stream", 200), ("GET", "/files/f.txt", 200),
    ]
    assert [f["bytes_in"] for f in fields] == [len(r) for r in reqs]
    assert sum(f["bytes_out"] for f in fields) == len(data)
    assert data.endswith(b"x" * 5000)
    assert fields[-1]["bytes_out"] == len(data) - data.rindex(b"HTTP/1.1 200")
    assert all(f["complete"] and f["peer"] == "127.0.0.1" and f["peer_port"] == s.getsockname()[1] for f in fields)
    assert fields[4]["duration"] >= 0.02
    assert fields[-1]["http_version"] == "HTTP/1.0"
    m = LINE.match(recs[0].getMessage())
    assert m, recs[0].getMessage()
    assert m.groups() == ("GET /hi HTTP/1.1", "200", str(fields[0]["bytes_out"]), "http://r/", "probe")
    assert LINE.match(recs[1].getMessage()).group(4, 5) == ("-", "-")
    assert all(r.levelno == logging.INFO for r in recs)


def test_refusals_and_timeouts_in_both_logs(served, caplog):
    s = connect(served)
    s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n")
    assert until_close(s).startswith(b"HTTP/1.1 413 ")
    s = connect(served)
    s.sendall(b"GET /hi HTTP/1.1\r\nHost: x\r\n")  # never finished: 408
    assert until_close(s).startswith(b"HTTP/1.1 408 ")
    s = connect(served)
    s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")  # past request_timeout: 503
    assert s.recv(65536).startswith(b"HTTP/1.1 503 ")
    errs = logged(caplog, "fastserve.error", 3)
    assert [(e.fastserve_error["reason"], e.fastserve_error["status"], e.levelno) for e in errs] == [
        ("body_too_large", 413, logging.INFO),
        ("header_timeout", 408, logging.INFO),
        ("request_timeout", 503, logging.WARNING),
    ]
    assert errs[0].getMessage() == f"request body too large: answered 413, client 127.0.0.1:{errs[0].fastserve_error['peer_port']}"
    recs = logged(caplog, "fastserve.access", 3)
    assert [(r.access["method"], r.access["status"]) for r in recs] == [("POST", 413), ("", 408), ("GET", 503)]
    assert '"-" 408 ' in recs[1].getMessage()


def test_metrics_route_and_read_metrics(served):
    import http.client

    from prometheus_client.parser import text_string_to_metric_families

    c = http.client.HTTPConnection("127.0.0.1", served.port, timeout=5)
    for path in ("/hi", "/hi", "/static", "/nope"):
        c.request("GET", path)
        c.getresponse().read()
    c.request("GET", "/metrics")
    r = c.getresponse()
    assert r.getheader("Content-Type").startswith("text/plain; version=0.0.4")
    fams = {f.name: f for f in text_string_to_metric_families(r.read().decode())}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in fams.values() for s in f.samples}
    assert samples[("fastserve_responses_by_code_total", (("code", "200"),))] == 3
    assert samples[("fastserve_responses_by_code_total", (("code", "404"),))] == 1
    assert samples[("fastserve_request_duration_seconds_count", ())] == 4
    # /metrics itself is counted once written, just after its client has it
    deadline = time.time() + 2
    m = served.read_metrics()
    while sum(n for _, n in m["latency"]) < 5 and time.time() < deadline:
        time.sleep(0.01)
        m = served.read_metrics()
    assert m["status_codes"][200] == 4 and m["status_classes"]["4xx"] == 1  # and /metrics itself
    assert sum(n for _, n in m["latency"]) == 5
    assert m["latency"][-1][0] == float("inf")
    c.close()


def test_access_log_is_off_by_default_and_errors_can_be_off(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="fastserve")
    app = make_app(tmp_path, error_log=False)
    app.start("127.0.0.1", 0)
    try:
        s = connect(app)
        s.sendall(b"GET /hi HTTP/1.1\r\nHost: x\r\n\r\nPOST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n")
        data = until_close(s)
        assert b" 413 " in data
        assert app.read_metrics()["errors"]["body_too_large"] == 1  # counted all the same
    finally:
        app.stop()
    assert [r for r in caplog.records if r.name in ("fastserve.access", "fastserve.error")] == []


def test_bad_access_log_format():
    with pytest.raises(ValueError, match="combined"):
        fastserve.Server(access_log="json")
