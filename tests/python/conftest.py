"""Fixtures: python/examples/hello.py on a free port (stopped by PID), and a
minimal HTTP/1.1 reader. The C examples have their own suite, tests/examples."""
import sys
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
