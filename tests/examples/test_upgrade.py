"""Protocol switches (c-examples/upgrade.c): after the 101 (or a CONNECT's
200) the connection belongs to the application, driven here over raw TCP."""
import re
import socket

from conftest import read_response


def recv_until(s, marker, buf=b""):
    while marker not in buf:
        d = s.recv(65536)
        assert d, f"closed after {buf!r}"
        buf += d
    return buf


def open_connections(p):
    s = p.connect()
    s.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
    _, _, body, _ = read_response(s)
    s.close()
    return int(re.search(rb"open=(\d+)", body).group(1)) - 1  # less this one


def test_upgrade_after_pipelined_requests_with_bytes_past_the_request(upgrade):
    s = upgrade.connect()
    # a pipelined request before it, and the new protocol's first line in the
    # same packet as the upgrade request
    s.sendall(
        b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: lines\r\nConnection: upgrade\r\n\r\n"
        b"first\nsec"
    )
    status, _, _, rest = read_response(s)
    assert status == 200
    buf = recv_until(s, b"echo: first\n", rest)
    head, _, after = buf.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"\r\nConnection: upgrade" in head and b"\r\nUpgrade: lines" in head
    assert b"Content-Length" not in head and b"Transfer-Encoding" not in head
    assert after == b"echo: first\n"
    s.sendall(b"ond\nGET / HTTP/1.1\r\n\r\n")
    # no HTTP any more: a request line is just a line to echo
    want = b"echo: second\necho: GET / HTTP/1.1\r\necho: \r\n"
    assert recv_until(s, want) == want
    # the engine let go of the connection: it no longer counts it
    assert open_connections(upgrade) == 0
    s.sendall(b"last\n")
    assert b"echo: last\n" in recv_until(s, b"echo: last\n")
    s.close()


def test_connect_tunnel(upgrade):
    s = upgrade.connect()
    s.sendall(b"CONNECT echo:0 HTTP/1.1\r\nHost: echo:0\r\n\r\nhey\n")
    buf = recv_until(s, b"echo: hey\n")
    head, _, after = buf.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length" not in head
    assert after == b"echo: hey\n"
    s.close()
    s = upgrade.connect()
    s.sendall(b"CONNECT elsewhere:443 HTTP/1.1\r\nHost: elsewhere:443\r\n\r\n")
    status, headers, _, _ = read_response(s)
    # no route takes it: 405, with the methods the server takes but CONNECT
    assert status == 405 and "CONNECT" not in headers["allow"] and "GET" in headers["allow"]


def test_no_upgrade_header_is_answered_426_and_stays_http(upgrade):
    s = upgrade.connect()
    s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\nGET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body, rest = read_response(s)
    assert (status, headers["upgrade"], body) == (426, "lines", b"upgrade to lines\n")
    assert read_response(s, rest)[0] == 200
