"""Fixtures: the C examples, started on free ports, stopped by PID."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "support"))
from wire import Proc, read_all_until_close, read_response  # noqa: E402,F401

# FASTSERVE_EXAMPLES points at another build of the examples (the ASan one).
BUILD = Path(os.environ.get("FASTSERVE_EXAMPLES", ROOT / "build"))


def start(name, *args, env=None):
    exe = BUILD / name
    assert exe.exists(), f"{exe} missing: run `make examples` first"
    return Proc([str(exe), "127.0.0.1", "0", *map(str, args)], env=env)


@pytest.fixture
def hello():
    p = start("hello")
    yield p
    code, _, err = p.stop()
    assert code == 0, err


@pytest.fixture
def own_loop():
    p = start("own_loop")
    yield p
    code, _, err = p.stop()
    assert code == 0, err


@pytest.fixture
def deferred():
    p = start("deferred")
    yield p
    code, _, err = p.stop()
    assert code == 0, err


@pytest.fixture
def stream():
    p = start("stream")
    yield p
    code, _, err = p.stop()
    assert code == 0, err


@pytest.fixture
def upgrade():
    p = start("upgrade")
    yield p
    code, _, err = p.stop()
    assert code == 0, err


@pytest.fixture
def upload():
    p = start("upload")
    yield p
    code, _, err = p.stop()
    assert code == 0, err
