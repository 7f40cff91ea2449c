"""ASGI apps under fastserve (`python -m fastserve`) and under uvicorn, each
started as a subprocess on a free port and stopped by PID with SIGTERM: the
same tests run against both, so fastserve is held to what uvicorn does."""
import os
import socket
import subprocess
import sys
from pathlib import Path


HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "support"))
from wire import free_port, stop, wait_listening  # noqa: E402

SERVERS = ["fastserve", "uvicorn"]


class Server:
    def __init__(self, kind, app, *extra, env=None, wait=True):
        self.kind = kind
        self.port = free_port()
        if kind == "fastserve":
            argv = [sys.executable, "-m", "fastserve", app, "--port", str(self.port), "--app-dir", str(HERE)]
        else:
            argv = [sys.executable, "-m", "uvicorn", app, "--port", str(self.port), "--app-dir", str(HERE),
                    "--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
        self.proc = subprocess.Popen(argv + list(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        if wait:
            self.wait_listening()

    def wait_listening(self, timeout=20):
        wait_listening(self.proc, self.port, self.kind, timeout)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def stop(self, timeout=15):
        return stop(self.proc, self.kind, timeout)


def start(request, app, *extra, env=None):
    """A module-scoped server of the parametrized kind, stopped at the end
    (fastserve must exit 0)."""
    srv = Server(request.param, app, *extra, env=env)
    yield srv
    code, out, err = srv.stop()
    if srv.kind == "fastserve":
        assert code == 0, err
