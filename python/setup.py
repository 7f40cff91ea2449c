"""Puts libfastserve.so inside the package when it is built.

The library is $FASTSERVE_LIB when that is set, else the output of
`cargo build --release` in the repository this directory belongs to (the
directory above it, which holds fastserve's Cargo.toml). The copy in the
package is stripped. The wheel is tagged py3-none-<platform>: it holds no
Python extension, but a native library.
"""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py
from setuptools.errors import SetupError

try:
    from setuptools.command.bdist_wheel import bdist_wheel  # setuptools >= 70.1
except ImportError:
    from wheel.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent
LIB = "libfastserve.so"
HELP = "set FASTSERVE_LIB to a built libfastserve.so, or install from the fastserve repository (pip install ./python)"


def repo_root():
    root = HERE.parent
    try:
        manifest = (root / "Cargo.toml").read_text()
    except OSError:
        manifest = ""
    if not re.search(r'^name\s*=\s*"fastserve"', manifest, re.M):
        # pip older than 21.3 (or `python -m build` via an sdist) builds a
        # copy of python/ somewhere else
        raise SetupError(f"fastserve: no fastserve Cargo.toml in {root} to build libfastserve.so from: {HELP}")
    return root


def cargo_build(root, warn):
    cargo = shutil.which("cargo") or str(Path.home() / ".cargo" / "bin" / "cargo")
    if not os.access(cargo, os.X_OK):
        target = Path(os.environ.get("CARGO_TARGET_DIR") or root / "target")
        built = target / "release" / LIB
        if built.is_file():
            warn(f"cargo not found: using {built} as it is (rebuild it if the sources changed)")
            return built
        raise SetupError(f"fastserve: cargo not found: install Rust (https://rustup.rs) or {HELP}")
    # JSON messages name the artifact wherever the target directory is
    # (CARGO_TARGET_DIR, .cargo/config.toml); diagnostics still go to stderr
    cmd = [cargo, "build", "--release", "--lib", "--message-format=json-render-diagnostics"]
    proc = subprocess.run(cmd, cwd=root, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SetupError(f"fastserve: `cargo build --release` failed in {root} (its errors are above)")
    for line in proc.stdout.splitlines():
        if not line.startswith("{"):
            continue
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "fastserve":
            for f in msg["filenames"]:
                if os.path.basename(f) == LIB:
                    return Path(f)
    raise SetupError(f"fastserve: `cargo build --release` made no {LIB} (fastserve runs on Linux only)")


def find_library(warn):
    env = os.environ.get("FASTSERVE_LIB")
    if env:
        if not os.path.isfile(env):
            raise SetupError(f"fastserve: FASTSERVE_LIB={env} is not a file")
        return Path(env)
    return cargo_build(repo_root(), warn)


def strip(path, warn):
    for tool in ("strip", "objcopy"):
        exe = shutil.which(tool)
        if exe and subprocess.run([exe, "--strip-unneeded", str(path)]).returncode == 0:
            return
    warn(f"neither strip nor objcopy could strip {LIB}: it keeps its symbols and debug info")


def put_library(dest_dir, warn):
    src = find_library(warn)
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest_dir / (LIB + ".tmp")
    shutil.copyfile(src, tmp)
    strip(tmp, warn)
    os.chmod(tmp, 0o755)
    # a new file, not a rewrite: a running process may have the old one mapped
    os.replace(tmp, dest_dir / LIB)


class BuildPy(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            # an editable install imports the source tree
            dest = HERE / "fastserve"
        else:
            dest = Path(self.build_lib) / "fastserve"
        put_library(dest, self.warn)


class NativeLibrary(Distribution):
    # platform-specific: the wheel's root is platlib, the package goes there
    def has_ext_modules(self):
        return True


class BdistWheel(bdist_wheel):
    def get_tag(self):
        # any Python 3 (ctypes, no extension module), this platform only
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(distclass=NativeLibrary, cmdclass={"build_py": BuildPy, "bdist_wheel": BdistWheel})
