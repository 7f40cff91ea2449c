"""Listeners from Python over real sockets: TCP and a Unix socket at once
(its mode checked), an abstract name, an adopted descriptor, PROXY
protocol headers reaching req.client, and hello.py under systemd socket
activation (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES, sockets from fd 3)."""
import fcntl
import http.client
import os
import signal
import socket
import stat
import subprocess
import sys

import pytest

import fastserve
from conftest import HELLO_PY, read_all_until_close, read_response


def app_with_client():
    app = fastserve.Server()

    @app.get("/who")
    def who(req):
        c = req.client
        return "unix" if c is None else f"{c[0]} {c[1]}"

    return app


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=5)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(self.path)


def get(conn, path="/who"):
    conn.request("GET", path)
    r = conn.getresponse()
    return r.status, r.read().decode()


def test_tcp_and_unix_at_once(tmp_path):
    path = tmp_path / "app.sock"
    app = app_with_client()
    port = app.start("127.0.0.1", 0, workers=2, unix=path, unix_mode=0o660)
    try:
        assert port == app.port and port > 0
        assert app.listening == [f"http://127.0.0.1:{port}/", f"unix:{path}"]
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o660
        status, body = get(http.client.HTTPConnection("127.0.0.1", port, timeout=5))
        assert status == 200 and body.startswith("127.0.0.1 ")
        assert get(UnixHTTPConnection(str(path))) == (200, "unix")
    finally:
        app.stop()
    assert not path.exists()


def test_abstract_name_and_fd_only():
    name = f"fastserve-py-{os.getpid()}"
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen()
    port = lsock.getsockname()[1]
    fd = lsock.detach()  # the server takes it
    ino = os.fstat(fd).st_ino
    app = app_with_client()
    assert app.start(unix="@" + name, fd=fd) == port  # the adopted TCP socket's port
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect("\0" + name)
        s.sendall(b"GET /who HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body, _ = read_response(s)
        assert (status, body) == (200, b"unix")
        status, body = get(http.client.HTTPConnection("127.0.0.1", port, timeout=5))
        assert status == 200 and body.startswith("127.0.0.1 ")
    finally:
        app.stop()
    # closed with the server (its number may be in use again by now)
    try:
        assert os.fstat(fd).st_ino != ino
    except OSError:
        pass
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)


def test_bad_listener_arguments():
    app = app_with_client()
    with pytest.raises(ValueError, match="unix_mode"):
        app.start(unix="/tmp/x.sock", unix_mode=0o10000)
    with pytest.raises(ValueError, match="unix_mode without unix"):
        app.start(unix_mode=0o600)
    with pytest.raises(ValueError, match="port"):
        app.start("127.0.0.1", 70000)
    with pytest.raises(fastserve.FastserveError, match="LISTEN_PID"):
        app.start(systemd=True)


def test_proxy_headers_reach_req_client(tmp_path):
    app = app_with_client()
    port = app.start("127.0.0.1", 0, proxy=True)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"PROXY TCP6 2001:db8::9 2001:db8::1 5555 443\r\nGET /who HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body, _ = read_response(s)
        assert (status, body) == (200, b"2001:db8::9 5555")
        # v2 LOCAL: the socket's own peer
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00GET /who HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body, _ = read_response(s)
        assert status == 200 and body.startswith(b"127.0.0.1 ")
        # no header: closed, not a byte back
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /who HTTP/1.1\r\nHost: x\r\n\r\n")
        assert closed_without_response(s)
    finally:
        app.stop()


def closed_without_response(s):
    """The server closed `s` and sent nothing (a reset when it left the
    request unread)."""
    try:
        return read_all_until_close(s) == b""
    except ConnectionResetError:
        return True


def listening(n, backlog=16):
    out = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(backlog)
        out.append(s)
    return out


def activate(socks, names, *args):
    """hello.py started the way systemd starts a socket-activated service:
    the sockets at descriptors 3, 4, ..., LISTEN_FDS and LISTEN_FDNAMES set,
    LISTEN_PID the service's own pid (set by the shell it execs from)."""
    fds = [s.fileno() for s in socks]

    def to_3():
        # out of the way first: a socket may sit at 3 or 4 already
        tmp = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in fds]
        for i, t in enumerate(tmp):
            os.dup2(t, 3 + i)  # inheritable, as systemd passes them

    env = {**os.environ, "LISTEN_FDS": str(len(socks)), "LISTEN_FDNAMES": ":".join(names)}
    argv = ["sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"', sys.executable, str(HELLO_PY), *args]
    p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=to_3, pass_fds=tuple(range(3, 3 + len(fds))))
    line = p.stdout.readline()
    assert "listening on" in line, (line, p.stderr.read() if p.poll() is not None else "")
    return p, line


def stop(p):
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    return out


def test_systemd_activation_every_socket():
    socks = listening(2)
    p, line = activate(socks, ["http", "admin"], "--systemd")
    try:
        assert "systemd" in line
        for s in socks:
            port = s.getsockname()[1]
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            assert get(c, "/hello?name=sd") == (200, "Hello, sd!")
    finally:
        stop(p)


def test_systemd_activation_by_name():
    admin, web = listening(2)
    p, line = activate([admin, web], ["admin", "web"], "--systemd", "web")
    try:
        assert "systemd (web)" in line
        c = http.client.HTTPConnection("127.0.0.1", web.getsockname()[1], timeout=5)
        assert get(c, "/hello") == (200, "Hello, World!")
        # the admin socket was not adopted: a request there waits in its
        # backlog, unanswered, until the process exits
        s = socket.create_connection(("127.0.0.1", admin.getsockname()[1]), timeout=5)
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
    finally:
        stop(p)
    admin.close()  # the test's own copy: now nothing holds the socket
    assert closed_without_response(s)


def test_systemd_activation_with_proxy():
    (sock,) = listening(1)
    p, _ = activate([sock], ["lb"], "--systemd", "--proxy")
    try:
        s = socket.create_connection(("127.0.0.1", sock.getsockname()[1]), timeout=5)
        s.sendall(b"PROXY TCP4 192.0.2.44 10.0.0.1 1234 80\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body, _ = read_response(s)
        assert (status, body) == (200, b"Hello, World!")
    finally:
        stop(p)
