"""Fixtures: a WSGI app served by fastserve, or by gunicorn as the
reference, each a subprocess on a free port, stopped by PID with SIGTERM.
The same tests run against both."""
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS = ["fastserve", "gunicorn"]


class Served:
    def __init__(self, server, target, root=""):
        self.server = server
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "serve.py"), server, str(self.port), target, root],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        end = time.monotonic() + 20
        while True:
            assert self.proc.poll() is None, self.proc.communicate()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < end, f"{server} did not listen"
                time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def stop(self):
        self.client.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise AssertionError(f"{self.server} did not stop on SIGTERM")
        return self.proc.returncode, err


def _serve(request, target, root=""):
    s = Served(request.param, target, root)
    yield s
    code, err = s.stop()
    assert code == 0, f"{s.server} exited with {code}: {err[-3000:]}"


@pytest.fixture(scope="module", params=SERVERS)
def app(request):
    yield from _serve(request, "apps:conformance")


@pytest.fixture(scope="module", params=SERVERS)
def rooted(request):
    yield from _serve(request, "apps:conformance", "/mount")


@pytest.fixture(scope="module", params=SERVERS)
def flask(request):
    yield from _serve(request, "apps:flask_app")
