"""What both Python suites use: a server process started on a free port
(stopped by PID), and a minimal HTTP/1.1 response reader."""
import os
import re
import signal
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(proc, port, what, timeout=20):
    """Returns once `port` takes connections; fails if `proc` exits first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"{what} exited with {proc.returncode}: {out}{err}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen")


def stop(proc, what, timeout=10):
    """SIGTERM to `proc` (if it still runs): (exit code, stdout, stderr)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"{what} did not stop on SIGTERM: {err}")
    return proc.returncode, out, err


class Proc:
    def __init__(self, argv, env=None):
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}, text=True
        )
        line = self.proc.stdout.readline()
        m = re.search(r"http://([\d.]+):(\d+)/", line)
        assert m, f"no listening line from {argv}: {line!r} {self.proc.stderr.read() if self.proc.poll() is not None else ''}"
        self.host, self.port = m.group(1), int(m.group(2))
        self.proc.stdout.readline()  # the "try:" line

    def connect(self, timeout=5):
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def stop(self, timeout=10):
        return stop(self.proc, "server", timeout)

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def _fill(sock, buf, until):
    while not until(buf):
        d = sock.recv(65536)
        if not d:
            raise EOFError(f"closed after {buf[-200:]!r}")
        buf += d
    return buf


def _read_chunked(sock, rest):
    body = b""
    while True:
        rest = _fill(sock, rest, lambda b: b"\r\n" in b)
        line, _, rest = rest.partition(b"\r\n")
        n = int(line.split(b";")[0], 16)
        if n == 0:
            rest = _fill(sock, rest, lambda b: b.startswith(b"\r\n") or b"\r\n\r\n" in b)
            end = 2 if rest.startswith(b"\r\n") else rest.index(b"\r\n\r\n") + 4
            return body, rest[end:]
        rest = _fill(sock, rest, lambda b: len(b) >= n + 2)
        assert rest[n : n + 2] == b"\r\n", "chunk data not followed by CRLF"
        body += rest[:n]
        rest = rest[n + 2 :]


def read_response(sock, buf=b""):
    """Reads one response (Content-Length or chunked). Returns (status,
    headers, body, rest)."""
    buf = _fill(sock, buf, lambda b: b"\r\n\r\n" in b)
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode()
    if headers.get("transfer-encoding") == "chunked":
        body, rest = _read_chunked(sock, rest)
        return status, headers, body, rest
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        d = sock.recv(65536)
        if not d:
            raise EOFError("closed in body")
        rest += d
    return status, headers, rest[:n], rest[n:]


def read_all_until_close(sock, timeout=5):
    sock.settimeout(timeout)
    data = b""
    while True:
        d = sock.recv(65536)
        if not d:
            return data
        data += d
