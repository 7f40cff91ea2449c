"""What both Python suites use: a server process started on a free port
(stopped by PID), and a minimal HTTP/1.1 response reader."""
import os
import re
import signal
import socket
import subprocess


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
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError("server did not stop on SIGTERM")
        return self.proc.returncode, out, err



def read_response(sock, buf=b""):
    """Reads one response (Content-Length framed). Returns (status, headers, body, rest)."""
    while b"\r\n\r\n" not in buf:
        d = sock.recv(65536)
        if not d:
            raise EOFError(f"closed after {buf!r}")
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode()
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
