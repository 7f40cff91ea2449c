"""Fixtures: a WSGI app served by fastserve, or by gunicorn as the
reference, each a subprocess on a free port, stopped by PID with SIGTERM.
The same tests run against both."""
import os
import subprocess
import sys

import httpx
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "support"))
from wire import free_port, stop, wait_listening  # noqa: E402

SERVERS = ["fastserve", "gunicorn"]


class Served:
    def __init__(self, server, target, root=""):
        self.server = server
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "serve.py"), server, str(self.port), target, root],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_listening(self.proc, self.port, server)
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def stop(self):
        self.client.close()
        code, _, err = stop(self.proc, self.server, 15)
        return code, err


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
