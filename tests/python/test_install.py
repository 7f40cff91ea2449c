"""`pip install ./python` (done by `make python`) and how the package finds
libfastserve.so: beside itself, then $FASTSERVE_LIB, then the system path."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import fastserve
from fastserve import _lib

ROOT = Path(__file__).resolve().parents[2]
PROBE = "import fastserve, fastserve._lib as l; print(l.path); print(fastserve.parse_request(b'GET / HTTP/1.1\\r\\n\\r\\n').method)"


def test_installed_package_loads_the_library_beside_itself():
    pkg = Path(fastserve.__file__).parent
    assert "site-packages" in str(pkg), pkg  # the installed copy, not the source tree
    assert Path(_lib.path) == pkg / "libfastserve.so"


def run_probe(tmp_path, env_lib):
    pkg = tmp_path / "fastserve"
    shutil.copytree(ROOT / "python" / "fastserve", pkg, ignore=shutil.ignore_patterns("*.so*", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("FASTSERVE_LIB", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = str(tmp_path)
    if env_lib:
        env["FASTSERVE_LIB"] = env_lib
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=30)


def test_fastserve_lib_environment_variable(tmp_path):
    lib = str(ROOT / "build" / "lib" / "libfastserve.so")
    out = run_probe(tmp_path, lib)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [lib, "b'GET'"]


def test_missing_library_is_a_clear_import_error(tmp_path):
    out = run_probe(tmp_path, str(tmp_path / "nowhere.so"))
    if out.returncode == 0:  # installed system-wide (make install): found on the system path
        assert "libfastserve" in out.stdout
    else:
        assert "cannot load libfastserve.so" in out.stderr
