"""HAProxy sends the client's address in a PROXY protocol v2 header
(`send-proxy-v2`); fastserve, listening with `proxy=True`, gives handlers
that address, and HAProxy's health checks pass through the same listener."""
import http.client
import socket

from conftest import Proc, free_port, need
from test_haproxy import HAPROXY_CFG, wait_status

PROXY_CFG = HAPROXY_CFG.replace("default-server check inter 200ms fall 2 rise 1", "default-server check inter 200ms fall 2 rise 1 send-proxy-v2")


def test_handlers_see_the_client_haproxy_saw(backends, tmp_path):
    (haproxy,) = need("haproxy")
    a, b = backends(proxy=True), backends(proxy=True)
    port, stats = free_port(), free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(PROXY_CFG.format(port=port, stats=stats, a=a.port, b=b.port))
    proxy = Proc([haproxy, "-db", "-f", str(cfg)], port)
    try:
        wait_status(stats, {"a": "UP", "b": "UP"})  # checks carry the header too
        for _ in range(4):  # round-robin: both backends answer
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            me = s.getsockname()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.sock = s
            c.request("GET", "/client")
            r = c.getresponse()
            assert (r.status, r.read().decode()) == (200, f"{me[0]} {me[1]}")
            c.close()
        # without the header, a backend's PROXY listener answers nothing
        raw = socket.create_connection(("127.0.0.1", a.port), timeout=5)
        raw.sendall(b"GET /client HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            got = raw.recv(100)
        except ConnectionResetError:  # closed with the request unread
            got = b""
        assert got == b""
    finally:
        proxy.stop()
