"""Streamed responses (c-examples/stream.c): framing as curl and http.client
see it, order among pipelined responses, and a producer held by a slow reader."""
import http.client
import re
import socket
import subprocess
import time

from conftest import read_all_until_close, read_response


def stats(p):
    c = http.client.HTTPConnection(p.host, p.port, timeout=5)
    c.request("GET", "/stats")
    text = c.getresponse().read().decode()
    c.close()
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", text)}


def test_chunked_with_trailer_as_curl_sees_it(stream):
    url = f"http://{stream.host}:{stream.port}/lines?n=3"
    raw = subprocess.run(["curl", "-s", "--raw", url], capture_output=True, check=True).stdout
    assert raw == b"7\r\nline 1\n\r\n7\r\nline 2\n\r\n7\r\nline 3\n\r\n0\r\nX-Lines: 3\r\n\r\n"
    decoded = subprocess.run(["curl", "-s", url], capture_output=True, check=True).stdout
    assert decoded == b"line 1\nline 2\nline 3\n"


def test_http_client_decodes_chunked_and_sized(stream):
    c = http.client.HTTPConnection(stream.host, stream.port, timeout=5)
    c.request("GET", "/lines?n=1000")
    r = c.getresponse()
    assert r.getheader("Transfer-Encoding") == "chunked"
    assert r.read() == b"".join(b"line %d\n" % i for i in range(1, 1001))
    c.request("GET", "/sized")
    r = c.getresponse()
    assert (r.getheader("Content-Length"), r.read()) == ("11", b"hello world")
    c.request("HEAD", "/lines?n=5")
    r = c.getresponse()
    assert (r.status, r.read()) == (200, b"")
    c.request("GET", "/sized")  # the connection is still in step after HEAD
    assert c.getresponse().read() == b"hello world"
    c.close()


def test_pipelined_around_streams_in_order(stream):
    s = socket.create_connection((stream.host, stream.port), timeout=5)
    s.sendall(
        b"GET /sized HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /firehose?mib=1 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /lines?n=2 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /sized HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    bodies = []
    buf = b""
    for _ in range(4):
        _, _, body, buf = read_response(s, buf)
        bodies.append(body)
    assert bodies[0] == b"hello world"
    assert bodies[1] == b"x" * (1 << 20)
    assert bodies[2] == b"line 1\nline 2\n"
    assert bodies[3] == b"hello world"
    s.close()


def test_http10_body_ends_with_the_connection(stream):
    s = socket.create_connection((stream.host, stream.port), timeout=5)
    s.sendall(b"GET /lines?n=2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    data = read_all_until_close(s)
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Connection: close" in head and b"Transfer-Encoding" not in head
    assert body == b"line 1\nline 2\n"


def test_slow_reader_holds_the_producer_and_a_leaver_is_told_once(stream):
    s = socket.create_connection((stream.host, stream.port), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.sendall(b"GET /firehose?mib=512 HTTP/1.1\r\nHost: x\r\n\r\n")
    got = 0
    while got < 1 << 20:
        got += len(s.recv(65536))
    time.sleep(1.0)  # the client stops reading; the producer must stop too
    first = stats(stream)
    time.sleep(0.5)
    second = stats(stream)
    assert second["accepted"] == first["accepted"], "the producer kept writing"
    # what it wrote: what the client read, the kernel's buffers, and the budget
    assert first["accepted"] - got < 16 << 20, first
    assert first["would_block"] >= 1 and first["running"] == 1
    s.close()  # the client leaves: the producer is told, once, and stops
    deadline = time.time() + 5
    while stats(stream)["running"] and time.time() < deadline:
        time.sleep(0.05)
    final = stats(stream)
    assert (final["running"], final["gone"], final["done"]) == (0, 1, 1), final
    assert stream.rss_kib() < 64 * 1024
