"""The ASGI HTTP, lifespan and WebSocket cycle, against fastserve and uvicorn."""
import hashlib
import http.client
import json
import os
import time

import pytest
from conftest import SERVERS, Server, start
from wire import read_all_until_close, read_response
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

APP = "conformance_app:app"
ROOT = "/api"


@pytest.fixture(scope="module", params=SERVERS)
def server(request):
    extra = ["--root-path", ROOT]
    if request.param == "fastserve":
        extra += ["--limit-body", str(16 << 20)]
    yield from start(request, APP, *extra)


def call(server, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    chunked = (headers or {}).get("Transfer-Encoding") == "chunked"
    c.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def events(server):
    return json.loads(call(server, "GET", "/events")[1])


def wait_event(server, ev, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ev in events(server):
            return
        time.sleep(0.02)
    raise AssertionError(f"{ev} not seen in {events(server)}")


def raw(server, data):
    s = server.connect()
    s.sendall(data)
    return s


def read_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        assert d, buf
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def test_scope(server):
    s = raw(server, b"GET /caf%C3%A9/a%2Fb?x=1&y=%20 HTTP/1.1\r\nHost: example\r\nX-Mixed-Case: One\r\n"
                    b"x-dup: 1\r\nX-Dup: 2\r\nConnection: close\r\n\r\n")
    local_port = s.getsockname()[1]
    status, _, body, _ = read_response(s)
    s.close()
    assert status == 200
    sc = json.loads(body)
    assert sc["type"] == "http"
    assert sc["asgi"]["version"] == "3.0"
    assert sc["http_version"] == "1.1"
    assert sc["method"] == "GET"
    assert sc["scheme"] == "http"
    assert sc["root_path"] == ROOT
    assert sc["path"] == ROOT + "/café/a/b"
    assert sc["raw_path"] == ROOT + "/caf%C3%A9/a%2Fb"
    assert sc["query_string"] == "x=1&y=%20"
    assert sc["types"] == ["bytes", "bytes"]
    assert sc["headers"] == [["host", "example"], ["x-mixed-case", "One"], ["x-dup", "1"], ["x-dup", "2"], ["connection", "close"]]
    assert sc["client"] == ["127.0.0.1", local_port]
    assert sc["server"] == ["127.0.0.1", server.port]
    assert sc["state"] == {"greeting": "hi"}  # a copy of what lifespan startup set


def test_http10_and_head(server):
    s = raw(server, b"GET /x HTTP/1.0\r\n\r\n")
    head, rest = read_head(s)
    rest += read_all_until_close(s)
    assert json.loads(rest)["http_version"] == "1.0"
    r, body = call(server, "HEAD", "/x")
    assert r.status == 200 and body == b""
    assert r.getheader("x-app") == "conformance"


def test_small_body_one_event(server):
    r, data = call(server, "POST", "/body", body=b"hello world")
    assert r.status == 200
    got = json.loads(data)
    assert got["events"] == [[11, False]]
    assert got["sha256"] == hashlib.sha256(b"hello world").hexdigest()


def test_large_body_streamed(server):
    blob = os.urandom(3 << 20)

    def pieces():
        for i in range(0, len(blob), 256 << 10):
            yield blob[i : i + (256 << 10)]

    r, data = call(server, "POST", "/body", body=pieces(), headers={"Transfer-Encoding": "chunked"})
    assert r.status == 200
    got = json.loads(data)
    ev = got["events"]
    assert got["sha256"] == hashlib.sha256(blob).hexdigest()
    assert sum(n for n, _ in ev) == len(blob)
    assert len(ev) > 1, "a 3 MiB body comes in pieces"
    assert all(more for _, more in ev[:-1]) and not ev[-1][1]


def test_streamed_response(server):
    r, data = call(server, "GET", "/stream?n=5")
    assert r.status == 200
    assert r.getheader("transfer-encoding") == "chunked"
    assert data == b"".join(b"chunk %d\n" % i for i in range(5))


def test_big_streamed_response_with_length(server):
    s = raw(server, b"GET /big-stream HTTP/1.1\r\nHost: x\r\n\r\n")
    head, rest = read_head(s)
    assert "content-length: 8388608" in head.lower()
    n = len(rest)
    while n < 8 << 20:
        d = s.recv(1 << 16)
        assert d
        n += len(d)
    assert n == 8 << 20
    s.close()


def test_disconnect_while_waiting(server):
    s = raw(server, b"GET /wait-disconnect?one HTTP/1.1\r\nHost: x\r\n\r\n")
    wait_event(server, ["waiting", "one"])
    s.close()
    wait_event(server, ["http.disconnect", "one"])


def test_disconnect_after_response(server):
    r, data = call(server, "GET", "/after-response")
    assert data == b"done"
    wait_event(server, ["http.disconnect", "after-response"])


def test_errors(server):
    r, data = call(server, "GET", "/error-before")
    assert r.status == 500
    r, data = call(server, "GET", "/no-response")
    assert r.status == 500
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    c.request("GET", "/error-after")
    r = c.getresponse()
    assert r.status == 200
    with pytest.raises(http.client.IncompleteRead):
        r.read()
    # the server goes on
    r, data = call(server, "GET", "/x")
    assert r.status == 200


def test_no_body_status(server):
    r, data = call(server, "GET", "/status")
    assert r.status == 204 and data == b"" and r.getheader("content-length") is None


def test_pipelined_in_order(server):
    # the first waits on the loop; the answers still come in request order
    req = b"GET /sleep HTTP/1.1\r\nHost: x\r\n\r\nGET /x?2 HTTP/1.1\r\nHost: x\r\n\r\nGET /x?3 HTTP/1.1\r\nHost: x\r\n\r\n"
    s = raw(server, req)
    rest = b""
    st, h, body, rest = read_response(s, rest)
    assert body == b"slept"
    for q in ("2", "3"):
        st, h, body, rest = read_response(s, rest)
        assert json.loads(body)["query_string"] == q
    s.close()


def test_a_waiting_call_holds_no_other_answer(server):
    # a call waits until released; requests on other connections, pipelined
    # behind a quick one or sent together with it, are answered meanwhile
    held = raw(server, b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
    held.settimeout(10)
    others = [raw(server, b"GET /x?%d HTTP/1.1\r\nHost: x\r\n\r\nGET /echo-header?%d HTTP/1.1\r\nHost: x\r\n\r\n" % (i, i))
              for i in range(8)]
    for i, s in enumerate(others):
        s.settimeout(10)
        st, h, body, rest = read_response(s, b"")
        assert st == 200 and json.loads(body)["query_string"] == str(i)
        st, h, body, rest = read_response(s, rest)
        assert st == 200 and body == str(i).encode()
        s.close()
    r, data = call(server, "GET", "/release")
    assert data == b"ok"
    st, h, body, rest = read_response(held, b"")
    assert st == 200 and body == b"released"
    held.close()


def test_pipelined_scopes_and_heads_are_each_their_own(server):
    # what repeats from request to request (paths, header names, the
    # client, response heads) against what changes, on two connections
    one = b"".join(
        b"GET /echo-header?%s HTTP/1.1\r\nHost: x\r\n\r\n" % q for q in (b"a", b"b", b"a", b"list1", b"list2", b"c")
    )
    s = raw(server, one)
    rest = b""
    for q in ("a", "b", "a", "list1", "list2", "c"):
        st, h, body, rest = read_response(s, rest)
        assert st == 200 and body == q.encode() and h["x-value"] == q, (q, h)
    s.close()
    scopes = []
    socks = [server.connect(), server.connect()]
    for n, s in enumerate(socks):
        s.sendall(
            b"GET /a%%20b?%d HTTP/1.1\r\nHost: x\r\nX-Case: 1\r\n\r\n"
            b"GET /a%%20b?%d HTTP/1.1\r\nHost: x\r\nx-case: 2\r\n\r\n"
            b"GET /a%%2Fb HTTP/1.1\r\nHost: x\r\nX-CASE: 3\r\n\r\n" % (n, n)
        )
    for s in socks:
        rest = b""
        got = []
        for _ in range(3):
            st, h, body, rest = read_response(s, rest)
            assert st == 200
            got.append(json.loads(body))
        scopes.append((s.getsockname()[1], got))
        s.close()
    for port, got in scopes:
        assert [g["path"] for g in got] == ["/api/a b", "/api/a b", "/api/a/b"]
        assert [g["raw_path"] for g in got] == ["/api/a%20b", "/api/a%20b", "/api/a%2Fb"]
        assert [dict(g["headers"])["x-case"] for g in got] == ["1", "2", "3"]
        assert all(g["client"] == ["127.0.0.1", port] for g in got)


def test_a_scope_changed_by_the_app_is_not_the_next_ones(server):
    # the same head again and again, on two connections: each request sees
    # the scope as sent, whatever the app did to the one before, and its
    # own client
    req = b"GET /mutate?q HTTP/1.1\r\nHost: x\r\nX-One: 1\r\n\r\n"
    socks = [server.connect(), server.connect()]
    for s in socks:
        s.sendall(req * 4)
    for s in socks:
        rest = b""
        port = s.getsockname()[1]
        for _ in range(4):
            st, h, body, rest = read_response(s, rest)
            assert st == 200
            seen = json.loads(body)
            assert seen["path"] == "/api/mutate" and seen["query_string"] == "q"
            assert seen["headers"] == [["host", "x"], ["x-one", "1"]]
            assert "extra" not in seen["keys"]
            assert seen["client"] == ["127.0.0.1", port]
        s.close()


def test_wait_between_head_and_body_in_a_pipeline(server):
    # a call that waits between its head and its body, between two that do not
    req = (
        b"GET /echo-header?1 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /sleep-between HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /echo-header?3 HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    s = raw(server, req)
    rest = b""
    for want in (b"1", b"after the wait", b"3"):
        st, h, body, rest = read_response(s, rest)
        assert st == 200 and body == want
    s.close()


def test_websocket_echo(server):
    with ws_connect(f"ws://127.0.0.1:{server.port}/ws", subprotocols=["chat"]) as ws:
        assert ws.subprotocol == "chat"
        ws.send("hi")
        assert ws.recv(timeout=5) == "echo:hi"
        ws.send(b"\x01\x02\x03")
        assert ws.recv(timeout=5) == b"\x03\x02\x01"
        big = "y" * 200_000
        ws.send(big)
        assert ws.recv(timeout=5) == "echo:" + big
    wait_event(server, ["ws-disconnect", 1000])


def test_websocket_server_close(server):
    with ws_connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
        ws.send("close")
        with pytest.raises(ConnectionClosed) as e:
            ws.recv(timeout=5)
        assert e.value.rcvd.code == 4000


def test_websocket_denied(server):
    with pytest.raises(InvalidStatus) as e:
        ws_connect(f"ws://127.0.0.1:{server.port}/ws/deny")
    assert e.value.response.status_code == 403


@pytest.mark.parametrize("kind", SERVERS)
def test_lifespan_shutdown_on_sigterm(kind, tmp_path):
    marker = tmp_path / "shutdown"
    srv = Server(kind, APP, env={"SHUTDOWN_FILE": str(marker)})
    r, data = call(srv, "GET", "/x")
    assert json.loads(data)["state"] == {"greeting": "hi"}
    code, out, err = srv.stop()
    if kind == "fastserve":
        assert code == 0, err
    assert marker.read_text() == "shutdown"


@pytest.mark.parametrize("kind", SERVERS)
def test_lifespan_startup_failure(kind):
    srv = Server(kind, APP, env={"STARTUP_FAIL": "1"}, wait=False)
    out, err = srv.proc.communicate(timeout=20)
    assert srv.proc.returncode != 0
    assert "no database here" in out + err
