"""The engine through the C examples, with real clients over real sockets."""
import http.client
import re
import select
import shutil
import subprocess
import time

import pytest

from conftest import read_all_until_close, read_response, start


def test_every_route_with_http_client(hello):
    c = http.client.HTTPConnection(hello.host, hello.port, timeout=5)
    for _ in range(3):  # one keep-alive connection throughout
        c.request("GET", "/plaintext")
        r = c.getresponse()
        assert (r.status, r.read()) == (200, b"Hello, World!")
        assert r.getheader("Content-Type") == "text/plain"
        assert r.getheader("Server") == "fastserve"
        assert re.match(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", r.getheader("Date"))
        c.request("GET", "/hello?name=ada")
        r = c.getresponse()
        assert (r.status, r.read()) == (200, b"Hello, ada!")
        c.request("GET", "/hello")
        assert c.getresponse().read() == b"Hello, World!"
        c.request("POST", "/echo", body=b"some bytes \x00\xff", headers={"Content-Type": "application/x-test"})
        r = c.getresponse()
        assert (r.status, r.read(), r.getheader("Content-Type")) == (200, b"some bytes \x00\xff", "application/x-test")
        c.request("HEAD", "/plaintext")
        r = c.getresponse()
        assert (r.status, r.getheader("Content-Length"), r.read()) == (200, "13", b"")
        c.request("GET", "/missing")
        r = c.getresponse()
        assert (r.status, r.read()) == (404, b"Not Found\n")
        c.request("DELETE", "/plaintext")
        r = c.getresponse()
        assert r.status == 405
        r.read()
    c.close()


def test_long_names_are_answered_whole(hello):
    # as long as the request line allows (8 KiB by default): nothing is cut
    name = "n" * 7000 + "-end"
    c = http.client.HTTPConnection(hello.host, hello.port, timeout=5)
    c.request("GET", f"/hello?name={name}&x=1")
    r = c.getresponse()
    assert (r.status, r.read()) == (200, f"Hello, {name}!".encode())
    c.request("GET", f"/users/{name}%21")
    r = c.getresponse()
    assert (r.status, r.read()) == (200, f"user {name}!".encode())
    # past the limit: 414, not a truncated answer
    c.request("GET", "/hello?name=" + "n" * 9000)
    r = c.getresponse()
    assert r.status == 414
    c.close()


def test_whoami_is_the_clients_address(hello):
    c = http.client.HTTPConnection(hello.host, hello.port, timeout=5)
    c.request("GET", "/whoami")
    r = c.getresponse()
    host, port = c.sock.getsockname()
    assert (r.status, r.read()) == (200, f"{host} {port}".encode())
    c.close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_every_route_with_curl(hello):
    base = f"http://{hello.host}:{hello.port}"
    out = subprocess.run(
        ["curl", "-s", "--http1.1", f"{base}/plaintext", f"{base}/hello?name=curl", "-d", "posted", f"{base}/echo"],
        capture_output=True,
        timeout=10,
    )
    # curl reuses the connection and posts the data to every URL: /plaintext
    # and /hello only answer GET, so those two get 405
    assert out.returncode == 0
    out = subprocess.run(["curl", "-s", f"{base}/plaintext", f"{base}/hello?name=curl"], capture_output=True, timeout=10)
    assert out.stdout == b"Hello, World!Hello, curl!"
    out = subprocess.run(["curl", "-s", "--data-binary", "@-", f"{base}/echo"], input=b"x" * 100_000, capture_output=True, timeout=10)
    assert out.stdout == b"x" * 100_000
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{base}/nope"], capture_output=True, timeout=10)
    assert out.stdout == b"404"


def pipelined(server, requests):
    s = server.connect()
    s.sendall(b"".join(requests))
    rest = b""
    out = []
    for _ in requests:
        status, headers, body, rest = read_response(s, rest)
        out.append((status, body))
    s.close()
    return out


def test_1000_pipelined_in_one_send(hello):
    reqs = []
    for i in range(1000):
        if i % 3 == 0:
            reqs.append(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        elif i % 3 == 1:
            reqs.append(b"GET /hello?name=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
        else:
            reqs.append(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%d" % (len(str(i)), i))
    got = pipelined(hello, reqs)
    for i, (status, body) in enumerate(got):
        want = [b"Hello, World!", b"Hello, %d!" % i, b"%d" % i][i % 3]
        assert (status, body) == (200, want), i


def test_1000_pipelined_deferred_answered_in_request_order(deferred):
    reqs = [b"GET /job?id=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(1000)]
    got = pipelined(deferred, reqs)
    assert [b for _, b in got] == [b"job %d\n" % i for i in range(1000)]


def test_bodies_by_length_and_chunked_split_everywhere(hello):
    body = b"hello, chunked world"
    chunked = b"5\r\nhello\r\n2;ext=1\r\n, \r\nd\r\nchunked world\r\n0\r\nTrailer: x\r\n\r\n"
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    msg = head + chunked
    for cut in range(len(head) - 2, len(msg)):
        s = hello.connect()
        s.sendall(msg[:cut])
        time.sleep(0.002)
        s.sendall(msg[cut:])
        status, _, got, _ = read_response(s)
        assert (status, got) == (200, body), cut
        s.close()
    s = hello.connect()
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello")
    time.sleep(0.01)
    s.sendall(b" world")
    assert read_response(s)[2] == b"hello world"


def test_expect_100_continue(hello):
    s = hello.connect()
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
    assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    s.sendall(b"ping")
    status, _, body, _ = read_response(s)
    assert (status, body) == (200, b"ping")


def test_single_bytes_with_pauses(hello):
    s = hello.connect()
    for b in b"GET /hello?name=slow HTTP/1.1\r\nHost: x\r\n\r\n":
        s.send(bytes([b]))
        time.sleep(0.001)
    assert read_response(s)[:3:2] == (200, b"Hello, slow!")


ERRORS = [
    ("malformed request line", b"GET /\r\n\r\n", 400),
    ("bare CR", b"GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
    ("space before colon", b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    ("body too large", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413),
    ("uri too long", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("header section too large", b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
    ("too many headers", b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X%d: y\r\n" % i for i in range(101)) + b"\r\n", 431),
    ("unknown coding", b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ("HTTP/2.0", b"GET / HTTP/2.0\r\n\r\n", 505),
    ("expectation", b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417),
]

SMUGGLING = [
    ("CL and TE", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("two differing CL", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
    ("CL list differing", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!"),
    ("signed CL", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello"),
    ("TE not final chunked", b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"),
    ("TE twice", b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("TE in HTTP/1.0", b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("invalid chunk size", b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
    ("chunk size overflow", b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n"),
    ("chunk LF only", b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"),
    ("bare CR in field", b"GET /plaintext HTTP/1.1\r\nHost: x\r\nX: a\rGET /x HTTP/1.1\r\nHost: x\r\n\r\n"),
]


@pytest.mark.parametrize("name,raw,status", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_get_status_and_close(hello, name, raw, status):
    s = hello.connect()
    s.sendall(raw)
    data = read_all_until_close(s)
    assert data.startswith(b"HTTP/1.1 %d " % status), data[:80]
    assert b"Connection: close\r\n" in data
    assert data.count(b"HTTP/1.1 ") == 1


@pytest.mark.parametrize("name,raw", SMUGGLING, ids=[s[0] for s in SMUGGLING])
def test_smuggling_vectors_rejected(hello, name, raw):
    s = hello.connect()
    s.sendall(raw)
    data = read_all_until_close(s)
    assert data.startswith(b"HTTP/1.1 400 "), data[:80]
    assert data.count(b"HTTP/1.1 ") == 1  # nothing smuggled through


def test_connection_close_and_http10(hello):
    s = hello.connect()
    s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
    data = read_all_until_close(s)
    assert data.count(b"HTTP/1.1 200") == 1 and b"Connection: close" in data
    s = hello.connect()
    s.sendall(b"GET /plaintext HTTP/1.0\r\n\r\n")
    data = read_all_until_close(s)
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"Hello, World!")
    s = hello.connect()
    s.sendall(b"GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    status, headers, body, _ = read_response(s)
    assert headers["connection"] == "keep-alive"
    s.sendall(b"GET /hello HTTP/1.0\r\n\r\n")
    assert read_all_until_close(s).endswith(b"Hello, World!")


def test_half_closed_client_gets_its_response(hello):
    s = hello.connect()
    s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
    s.shutdown(1)  # FIN after the request
    assert read_all_until_close(s).endswith(b"Hello, World!")


def test_graceful_stop_finishes_in_flight_request():
    p = start("deferred")
    s = p.connect()
    s.sendall(b"GET /job?id=42&delay=400 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.1)  # accepted, read and deferred; the answer is 300 ms away
    t = time.monotonic()
    code, out, err = p.stop()
    assert time.monotonic() - t > 0.2  # the stop waited for it
    data = read_all_until_close(s)
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"job 42\n"), data
    assert code == 0, err
    # and the listener is gone
    with pytest.raises(OSError):
        p.connect(timeout=1)


def test_jobs_are_taken_oldest_first():
    # one pool thread, busy with job 1 while jobs 2 and 3 queue up: 2,
    # the older, must be answered first
    p = start("deferred", 1)
    try:
        socks = []
        for rid, delay in ((1, 300), (2, 100), (3, 100)):
            s = p.connect()
            s.sendall(b"GET /job?id=%d&delay=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (rid, delay))
            socks.append(s)
            time.sleep(0.05)
        order = []
        pending = {s: rid for s, rid in zip(socks, (1, 2, 3))}
        while pending:
            ready, _, _ = select.select(list(pending), [], [], 5)
            assert ready, f"answers missing for {sorted(pending.values())}"
            for s in ready:
                status, _, body, _ = read_response(s)
                assert (status, body) == (200, b"job %d\n" % pending[s])
                order.append(pending.pop(s))
        assert order == [1, 2, 3]
    finally:
        code, _, err = p.stop()
    assert code == 0, err


def test_a_job_whose_client_left_is_dropped():
    # one pool thread: a 5 s job in front would hold the next one 5 s
    p = start("deferred", 1)
    try:
        a = p.connect()
        a.sendall(b"GET /job?id=5&delay=5000 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)  # deferred, and the pool thread is on it
        a.close()
        b = p.connect(timeout=3)
        b.sendall(b"GET /job?id=6 HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body, _ = read_response(b)
        assert (status, body) == (200, b"job 6\n")
    finally:
        code, out, err = p.stop()
    assert code == 0, err
    assert "job 5 dropped: the client left" in out, out


def test_path_parameters_tail_and_any_method(hello):
    c = http.client.HTTPConnection(hello.host, hello.port, timeout=5)

    def get(method, path):
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.read(), r.getheader("Allow")

    assert get("GET", "/users/42") == (200, b"user 42", None)
    assert get("GET", "/users/ada%20lovelace") == (200, b"user ada lovelace", None)
    assert get("GET", "/users/a%2Fb") == (200, b"user a/b", None)
    assert get("GET", "/users/") == (404, b"Not Found\n", None)
    assert get("GET", "/users/1/2") == (404, b"Not Found\n", None)
    assert get("GET", "/files/a/b%3Fc/d.txt") == (200, b"path=a/b?c/d.txt\n", None)
    assert get("GET", "/files/") == (404, b"Not Found\n", None)
    assert get("DELETE", "/users/42") == (405, b"Method Not Allowed\n", "GET, HEAD")
    assert get("POST", "/plaintext") == (405, b"Method Not Allowed\n", "GET, HEAD")
    assert get("GET", "/echo") == (405, b"Method Not Allowed\n", "POST")
    for m in ("GET", "PURGE", "DELETE", "M-SEARCH"):
        assert get(m, "/any") == (200, m.encode(), None)
    c.close()
