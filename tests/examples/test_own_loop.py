"""c-examples/own_loop.c: the sans-I/O API under a plain epoll loop, with real clients."""
import http.client
import shutil
import subprocess

import pytest

from conftest import read_all_until_close, read_response, start


def test_routes_with_http_client(own_loop):
    c = http.client.HTTPConnection(own_loop.host, own_loop.port, timeout=5)
    for _ in range(3):
        c.request("GET", "/plaintext")
        r = c.getresponse()
        assert (r.status, r.read(), r.getheader("Server")) == (200, b"Hello, World!", "fastserve")
        c.request("GET", "/hello?name=loop")
        assert c.getresponse().read() == b"Hello, loop!"
        c.request("POST", "/echo", body=b"x" * 70000)
        assert c.getresponse().read() == b"x" * 70000
        c.request("HEAD", "/plaintext")
        r = c.getresponse()
        assert (r.status, r.getheader("Content-Length"), r.read()) == (200, "13", b"")
        c.request("GET", "/nope")
        r = c.getresponse()
        assert (r.status, r.read()) == (404, b"Not Found\n")
    c.close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl(own_loop):
    base = f"http://{own_loop.host}:{own_loop.port}"
    out = subprocess.run(["curl", "-s", f"{base}/plaintext", f"{base}/hello?name=curl", f"{base}/later"],
                         capture_output=True, timeout=10)
    assert out.stdout.startswith(b"Hello, World!Hello, curl!later ")


def test_pipelined_with_answers_deferred_across_loop_turns(own_loop):
    # /later is answered on the next loop turn, after the requests behind it
    reqs = []
    for i in range(600):
        reqs.append([b"GET /later HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /hello?name=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i,
                     b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n%03d" % (i % 1000)][i % 3])
    s = own_loop.connect()
    s.sendall(b"".join(reqs))
    rest = b""
    for i in range(600):
        status, _, body, rest = read_response(s, rest)
        assert status == 200
        if i % 3 == 0:
            assert body == b"later %d" % i
        elif i % 3 == 1:
            assert body == b"Hello, %d!" % i
        else:
            assert body == b"%03d" % (i % 1000)
    s.close()


def test_bad_request_and_close(own_loop):
    s = own_loop.connect()
    s.sendall(b"GET / HTTP/1.1\r\nHost : x\r\n\r\n")
    data = read_all_until_close(s)
    assert data.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in data
    s = own_loop.connect()
    s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert read_all_until_close(s).endswith(b"Hello, World!")


def test_graceful_stop():
    p = start("own_loop")
    s = p.connect()
    s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(s)[2] == b"Hello, World!"
    code, out, err = p.stop()
    assert code == 0, err
    assert "stopped" in out
