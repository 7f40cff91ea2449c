"""Fixtures: python/examples/hello.py on a free port (stopped by PID), and a
minimal HTTP/1.1 reader. The C examples have their own suite, tests/examples."""
import asyncio
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "support"))
from wire import Proc, read_all_until_close, read_response  # noqa: E402,F401


HELLO_PY = ROOT / "python" / "examples" / "hello.py"


def start_py(*args):
    """python/examples/hello.py on a free port, with the installed package."""
    return Proc([sys.executable, str(HELLO_PY), "--port", "0", *map(str, args)])


@pytest.fixture
def hello_py():
    p = start_py()
    yield p
    code, _, err = p.stop()
    assert code == 0, err


# An app served two ways: by the engine's workers, and by HttpProtocol on an
# asyncio loop of the test's own. Each returns (port, stop).


def run_server(app):
    port = app.start("127.0.0.1", 0, workers=1)
    return port, app.stop


def run_protocol(app, loop_factory=asyncio.new_event_loop):
    from fastserve.asyncio import HttpProtocol

    loop = loop_factory()
    started = threading.Event()
    box = {}

    def run():
        asyncio.set_event_loop(loop)
        srv = loop.run_until_complete(loop.create_server(lambda: HttpProtocol(app), "127.0.0.1", 0))
        box["port"] = srv.sockets[0].getsockname()[1]
        started.set()
        loop.run_forever()
        srv.close()
        loop.run_until_complete(srv.wait_closed())
        loop.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert started.wait(5)

    def stop():
        loop.call_soon_threadsafe(loop.stop)
        t.join(10)
        app._close_pool()

    return box["port"], stop
