"""What the deployment tests share: backends (tests/deploy/backend.py, a
fastserve app) started on free ports and stopped by PID, the Debian packages
the proxies come from, and an HTTP client that behaves like the ones in
front of real servers."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# every test here is bounded: a stuck proxy or backend fails the test
STARTUP = 15


def need(*specs):
    """Installs the Debian packages ("package" or "package:command") whose
    command is missing (apt_install.sh: as root or through sudo)."""
    missing = [s for s in specs if not shutil.which(s.split(":")[-1], path=os.environ.get("PATH", "") + ":/usr/sbin")]
    if missing:
        subprocess.run(["sh", str(HERE / "apt_install.sh"), *missing], check=True, timeout=600)
    return [shutil.which(s.split(":")[-1], path=os.environ.get("PATH", "") + ":/usr/sbin") for s in specs]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=STARTUP):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode} before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port} after {timeout} s")


class Backend:
    """tests/deploy/backend.py on `port` (SO_REUSEPORT: a second one may
    share it)."""

    def __init__(self, port, grace=20.0, proxy=False):
        self.port = port
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "backend.py"), str(port), "--grace", str(grace)] + ["--proxy"] * proxy,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        assert re.search(r"listening on http://127\.0\.0\.1:%d/" % port, line), (line, self._err())
        assert self.proc.stdout.readline().strip() == "ready"
        self.pid = self.proc.pid

    def _err(self):
        return self.proc.stderr.read() if self.proc.poll() is not None else ""

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def stats(self):
        status, body = self.get("/stats")
        assert status == 200
        return json.loads(body)

    def term(self):
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout):
        """Waits for the exit; returns (exit code, the final counters)."""
        out, err = self.proc.communicate(timeout=timeout)
        last = out.strip().splitlines()[-1] if out.strip() else "{}"
        assert self.proc.returncode == 0, err
        return self.proc.returncode, json.loads(last)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def backends():
    """Starts backends on request; kills (by PID) any still running after
    the test."""
    started = []

    def start(port=None, **kw):
        b = Backend(port or free_port(), **kw)
        started.append(b)
        return b

    yield start
    for b in started:
        b.kill()


class Proc:
    """A proxy in the foreground, stopped by PID."""

    def __init__(self, argv, port):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_port(port, self.proc)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.communicate(timeout=10)[0]
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.communicate()[0]
        return self.proc.communicate()[0]


class KeepAliveClient:
    """One keep-alive connection, as a browser or an HTTP library keeps it:
    after a response that says `Connection: close` (or a close), the next
    request goes on a new connection. A request sent on a reused connection
    that ends before any byte of the response is sent again, once, on a new
    one: the server may close an idle connection at any moment (RFC 9112,
    section 9.3.1), and clients retry idempotent requests then. A failure
    on a new connection is never retried."""

    def __init__(self, port, timeout=10):
        self.port, self.timeout = port, timeout
        self.conn = None
        self.reused = False
        self.connections = 0
        self.resent = 0

    def _open(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        self.conn.connect()
        self.connections += 1
        self.reused = False

    def get(self, path):
        if self.conn is None:
            self._open()
        try:
            return self._get(path)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not self.reused:
                raise
            self.close()
            self.resent += 1
            self._open()
            return self._get(path)

    def _get(self, path):
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        body = r.read()
        if r.will_close:
            self.close()
        else:
            self.reused = True
        return r.status, body

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def fresh_get(port, path, timeout=10):
    """One request on a connection of its own."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()
