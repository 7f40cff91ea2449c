"""The access log, the error hook and the metrics (c-examples/observe.c):
each record checked field by field against the bytes a raw client sent and
received, error reasons for each limit and timeout, metric counts after a
known set of requests, and the Prometheus text through a parser."""
import socket
import time

import pytest
from conftest import start

HANDLER_FAILED, BAD_REQUEST, URI_TOO_LONG, HEAD_TOO_LARGE, BODY_TOO_LARGE = 0, 2, 3, 4, 5
HEADER_TIMEOUT, REQUEST_TIMEOUT, CONNECTION_LIMIT = 7, 9, 11


@pytest.fixture
def observe(tmp_path):
    log = tmp_path / "access.log"
    p = start("observe", log)
    p.log = log
    yield p
    code, _, err = p.stop()
    assert code == 0, err


def lines(p, kind, n):
    """The first `n` lines of `kind` in the log, waiting for them to come."""
    deadline = time.monotonic() + 10
    while True:
        text = p.log.read_text() if p.log.exists() else ""
        got = [l.split("\t")[1:] for l in text.splitlines() if l.startswith(kind + "\t")]
        if len(got) >= n or time.monotonic() > deadline:
            assert len(got) >= n, f"{len(got)} {kind} lines of {n}:\n{text}"
            return got[:n]
        time.sleep(0.02)


def records(p, n):
    keys = "method target status bytes_in bytes_out complete peer port referer ua duration_us time_us".split()
    out = []
    for f in lines(p, "access", n):
        r = dict(zip(keys, f))
        for k in ("status", "bytes_in", "bytes_out", "complete", "port", "duration_us", "time_us"):
            r[k] = int(r[k])
        out.append(r)
    return out


def errors(p, n):
    return [(int(r), int(s), peer, int(port), text) for r, s, peer, port, text in lines(p, "error", n)]


def raw_response(sock, buf=b"", head_only=False):
    """One response as raw bytes (Content-Length, or none for HEAD), and what followed."""
    while b"\r\n\r\n" not in buf:
        d = sock.recv(65536)
        assert d, buf
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    n = 0
    for l in head.split(b"\r\n")[1:]:
        k, _, v = l.partition(b":")
        if k.strip().lower() == b"content-length" and not head_only:
            n = int(v)
    while len(rest) < n:
        d = sock.recv(65536)
        assert d
        rest += d
    return head + b"\r\n\r\n" + rest[:n], rest[n:]


def until_close(sock):
    data = b""
    while True:
        d = sock.recv(65536)
        if not d:
            return data
        data += d


def test_plain_head_404_405_field_by_field(observe):
    s = observe.connect()
    reqs = [
        b"GET /hello HTTP/1.1\r\nHost: x\r\nReferer: http://r/\r\nUser-Agent: probe/1\r\n\r\n",
        b"GET /echo?a=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
        b"DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    got = []
    for r in reqs:
        s.sendall(r)
        raw, rest = raw_response(s, head_only=r.startswith(b"HEAD"))
        assert rest == b""
        got.append(raw)
    port = s.getsockname()[1]
    recs = records(observe, 5)
    expect = [("GET", "/hello", 200), ("GET", "/echo?a=1", 200), ("HEAD", "/hello", 200), ("GET", "/nope", 404), ("DELETE", "/hello", 405)]
    for rec, (m, t, st), req, raw in zip(recs, expect, reqs, got):
        assert (rec["method"], rec["target"], rec["status"]) == (m, t, st)
        assert rec["bytes_in"] == len(req)
        assert rec["bytes_out"] == len(raw)
        assert (rec["peer"], rec["port"], rec["complete"]) == ("127.0.0.1", port, 1)
    assert (recs[0]["referer"], recs[0]["ua"]) == ("http://r/", "probe/1")
    assert (recs[1]["referer"], recs[1]["ua"]) == ("", "")
    assert got[2].endswith(b"\r\n\r\n") and b"Content-Length: 6" in got[2]
    now_us = time.time() * 1e6
    assert all(now_us - 60e6 < r["time_us"] <= now_us for r in recs)
    s.close()


def test_pipelined_records_in_order_with_their_own_bytes(observe):
    s = observe.connect()
    reqs = [b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /lines?n=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]
    s.sendall(b"".join(reqs))
    data = until_close(s)
    first, rest = raw_response(s, data)
    second, third = raw_response(s, rest)
    recs = records(observe, 3)
    assert [r["target"] for r in recs] == ["/hello", "/echo", "/lines?n=2"]
    assert [r["bytes_in"] for r in recs] == [len(r) for r in reqs]
    assert [r["bytes_out"] for r in recs] == [len(first), len(second), len(third)]
    assert third.endswith(b"0\r\n\r\n") and b"line 2\n" in third
    assert sum(r["bytes_out"] for r in recs) == len(data)


def test_streamed_and_deferred(observe):
    s = observe.connect()
    s.sendall(b"GET /lines?n=50 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    streamed = until_close(s)
    s = observe.connect()
    s.sendall(b"GET /defer?ms=30 HTTP/1.1\r\nHost: x\r\n\r\n")
    deferred, _ = raw_response(s)
    assert deferred.endswith(b"later")
    lines_rec, defer_rec = records(observe, 2)
    assert (lines_rec["status"], lines_rec["bytes_out"], lines_rec["complete"]) == (200, len(streamed), 1)
    assert (defer_rec["status"], defer_rec["bytes_out"]) == (200, len(deferred))
    assert defer_rec["duration_us"] >= 30_000  # answered 30 ms after the head came


def test_body_too_large_and_failed_handler(observe):
    s = observe.connect()
    req = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
    s.sendall(req)
    raw = until_close(s)
    assert raw.startswith(b"HTTP/1.1 413 ")
    s = observe.connect()
    s.sendall(b"GET /fail HTTP/1.1\r\nHost: x\r\n\r\n")
    failed, _ = raw_response(s)
    assert failed.startswith(b"HTTP/1.1 500 ")
    big, fail = records(observe, 2)
    assert (big["method"], big["target"], big["status"], big["bytes_in"], big["bytes_out"]) == ("POST", "/upload", 413, len(req), len(raw))
    assert (fail["status"], fail["bytes_out"]) == (500, len(failed))
    (r1, st1, peer, _, text1), (r2, st2, _, port2, text2) = errors(observe, 2)
    assert (r1, st1, peer, text1) == (BODY_TOO_LARGE, 413, "127.0.0.1", "request body too large")
    assert (r2, st2, port2, text2) == (HANDLER_FAILED, 500, s.getsockname()[1], "handler failed")


def test_limits_and_timeouts_reach_the_hook_and_the_log(observe):
    # head timeout: an unfinished head is answered 408 after 500 ms
    s = observe.connect()
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n")
    timed_out = until_close(s)
    assert timed_out.startswith(b"HTTP/1.1 408 ")
    # the request line over 8 KiB: 414; a head over 8 KiB: 431
    s = observe.connect()
    s.sendall(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert until_close(s).startswith(b"HTTP/1.1 414 ")
    s = observe.connect()
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n")
    assert until_close(s).startswith(b"HTTP/1.1 431 ")
    # malformed
    s = observe.connect()
    s.sendall(b"GET /hello HTTP/1.1\r\nBad Header\r\n\r\n")
    assert until_close(s).startswith(b"HTTP/1.1 400 ")
    # a deferred answer past the 500 ms request timeout: 503
    s = observe.connect()
    s.sendall(b"GET /defer?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
    slow, _ = raw_response(s)
    assert slow.startswith(b"HTTP/1.1 503 ")
    errs = errors(observe, 5)
    assert [(e[0], e[1]) for e in errs] == [(HEADER_TIMEOUT, 408), (URI_TOO_LONG, 414), (HEAD_TOO_LARGE, 431), (BAD_REQUEST, 400), (REQUEST_TIMEOUT, 503)]
    recs = records(observe, 5)
    assert [r["status"] for r in recs] == [408, 414, 431, 400, 503]
    assert (recs[0]["method"], recs[0]["target"], recs[0]["bytes_in"]) == ("", "", 0)
    assert recs[0]["bytes_out"] == len(timed_out)
    assert (recs[2]["method"], recs[2]["target"]) == ("GET", "/hello")  # 431 after the head parsed
    assert (recs[4]["target"], recs[4]["bytes_out"]) == ("/defer?ms=1500", len(slow))


def test_connection_limit_refusal(tmp_path):
    p = start("observe", tmp_path / "log", 2)
    p.log = tmp_path / "log"
    try:
        held = [p.connect(), p.connect()]
        for s in held:  # both owed an answer: neither may make room
            s.sendall(b"GET /defer?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        extra = p.connect()
        assert until_close(extra) == b""
        (reason, status, peer, port, text), = errors(p, 1)
        assert (reason, status, peer, port, text) == (CONNECTION_LIMIT, 0, "127.0.0.1", extra.getsockname()[1], "connection limit reached")
    finally:
        code, _, err = p.stop()
        assert code == 0, err


def get(p, path):
    s = p.connect()
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    raw, _ = raw_response(s)
    s.close()
    return raw


def test_metrics_counts_and_prometheus_text(observe):
    for path in ("/hello", "/hello", "/echo", "/nope", "/fail"):
        get(observe, path)
    counts = dict(l.split("=") for l in get(observe, "/counts").partition(b"\r\n\r\n")[2].decode().split())
    assert counts == {
        "version": "1", "size": counts["size"], "requests": "5", "timed": "5",
        "class0": "0", "class1": "0", "class2": "3", "class3": "0", "class4": "1", "class5": "1",
        "code200": "3", "code404": "1", "code500": "1", "error0": "1",
    }
    text = get(observe, "/metrics").partition(b"\r\n\r\n")[2].decode()
    from prometheus_client.parser import text_string_to_metric_families

    fam = {f.name: f for f in text_string_to_metric_families(text)}
    value = lambda name, **labels: next(s.value for s in fam[name].samples if s.name == name + "_total" and s.labels == labels)
    assert value("fastserve_requests") == 6  # and /counts (this one counts once answered)
    assert value("fastserve_responses", **{"class": "2xx"}) == 4
    assert value("fastserve_responses_by_code", code="404") == 1
    assert value("fastserve_errors", reason="handler_failed") == 1
    hist = fam["fastserve_request_duration_seconds"]
    assert hist.type == "histogram"
    count = next(s.value for s in hist.samples if s.name.endswith("_count"))
    inf = next(s.value for s in hist.samples if s.labels.get("le") == "+Inf")
    assert count == inf == 6
    buckets = [s.value for s in hist.samples if s.name.endswith("_bucket")]
    assert buckets == sorted(buckets) and len(buckets) == 17
