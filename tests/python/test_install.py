"""`pip install ./python` and `pip wheel ./python`: the build puts a stripped
libfastserve.so in the package and tags the wheel for its platform; and how
the package finds the library: beside itself, then $FASTSERVE_LIB, then the
system path."""
import os
import shutil
import struct
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import fastserve
from fastserve import _lib

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / (os.environ.get("CARGO_TARGET_DIR") or "target")  # as cargo resolves it from ROOT
PROBE = "import fastserve, fastserve._lib as l; print(l.path); print(fastserve.parse_request(b'GET / HTTP/1.1\\r\\n\\r\\n').method)"


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("FASTSERVE_LIB", "LD_LIBRARY_PATH", "PYTHONPATH")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def pip(*args, env=None, timeout=600):
    # offline: the build uses this environment's setuptools and wheel
    cmd = [sys.executable, "-m", "pip", *args, "--no-deps", "--no-build-isolation"]
    return subprocess.run(cmd, cwd=ROOT, env=env or clean_env(), capture_output=True, text=True, timeout=timeout)


def section_names(elf):
    """The section names of an ELF64 little-endian file."""
    assert elf[:6] == b"\x7fELF\x02\x01", "not an ELF64 LE file"
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize) for i in range(shnum)]
    strtab = headers[shstrndx][4]  # sh_offset of the names
    return {elf[strtab + h[0] : elf.index(b"\0", strtab + h[0])].decode() for h in headers}


def debug_sections(names):
    return {n for n in names if n == ".symtab" or n.startswith((".debug", ".zdebug"))}


def test_installed_package_loads_the_library_beside_itself():
    pkg = Path(fastserve.__file__).parent
    assert "site-packages" in str(pkg), pkg  # the installed copy, not the source tree
    assert Path(_lib.path) == pkg / "libfastserve.so"


def test_wheel_is_for_this_platform_and_carries_the_stripped_library(tmp_path):
    out = pip("wheel", "./python", "-w", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    wheels = list(tmp_path.glob("*.whl"))
    assert len(wheels) == 1, wheels
    name, version, python, abi, plat = wheels[0].name[: -len(".whl")].split("-")
    assert (name, version) == ("fastserve", fastserve.__version__)
    assert plat != "any"
    assert (python, abi, plat) == ("py3", "none", sysconfig.get_platform().replace("-", "_").replace(".", "_"))
    with zipfile.ZipFile(wheels[0]) as z:
        files = set(z.namelist())
        assert {"fastserve/libfastserve.so", "fastserve/py.typed", "fastserve/__init__.py"} <= files
        assert "Root-Is-Purelib: false" in z.read(f"fastserve-{version}.dist-info/WHEEL").decode()
        so = z.read("fastserve/libfastserve.so")
    names = section_names(so)
    assert {".dynsym", ".text"} <= names
    assert not debug_sections(names), sorted(names)
    # the build it came from has them (release builds keep line tables)
    built = (TARGET / "release" / "libfastserve.so").read_bytes()
    assert ".symtab" in debug_sections(section_names(built))
    assert len(so) < len(built) / 2


def copy_checkout(dst):
    # what a fresh clone holds: no build outputs, no library in the package
    junk = shutil.ignore_patterns(".git", "target", "build", ".venv", "__pycache__", "*.egg-info", "libfastserve.so*", "fuzz", "bench")
    shutil.copytree(ROOT, dst, ignore=junk)  # keeps mtimes: cargo finds TARGET's build up to date
    assert not list((dst / "python" / "fastserve").glob("*.so*"))


def probe(site, cwd):
    env = clean_env(PYTHONPATH=str(site))
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=cwd, timeout=30)


def test_install_from_a_clean_checkout_builds_the_library(tmp_path):
    src = tmp_path / "checkout"
    copy_checkout(src)
    site = tmp_path / "site"
    out = pip("install", "--target", str(site), str(src / "python"), env=clean_env(CARGO_TARGET_DIR=str(TARGET)))
    assert out.returncode == 0, out.stdout + out.stderr
    run = probe(site, tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [str(site / "fastserve" / "libfastserve.so"), "b'GET'"]
    assert not debug_sections(section_names((site / "fastserve" / "libfastserve.so").read_bytes()))
    assert not list((src / "python" / "fastserve").glob("*.so*"))  # built into the wheel, not the sources


def copy_python_dir(dst):
    shutil.copytree(ROOT / "python", dst, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "*.so*"))


def test_outside_the_repository_the_build_asks_for_fastserve_lib(tmp_path):
    copy_python_dir(tmp_path / "python")
    out = pip("wheel", str(tmp_path / "python"), "-w", str(tmp_path / "dist"))
    assert out.returncode != 0
    assert "set FASTSERVE_LIB to a built libfastserve.so" in out.stdout + out.stderr


def test_the_build_takes_fastserve_lib(tmp_path):
    copy_python_dir(tmp_path / "python")
    site = tmp_path / "site"
    out = pip("install", "--target", str(site), str(tmp_path / "python"), env=clean_env(FASTSERVE_LIB=_lib.path))
    assert out.returncode == 0, out.stdout + out.stderr
    run = probe(site, tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [str(site / "fastserve" / "libfastserve.so"), "b'GET'"]


def run_probe(tmp_path, env_lib):
    pkg = tmp_path / "fastserve"
    shutil.copytree(ROOT / "python" / "fastserve", pkg, ignore=shutil.ignore_patterns("*.so*", "__pycache__"))
    env = clean_env(PYTHONPATH=str(tmp_path))
    if env_lib:
        env["FASTSERVE_LIB"] = env_lib
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=30)


def test_fastserve_lib_environment_variable(tmp_path):
    lib = _lib.path  # the installed package's copy
    out = run_probe(tmp_path, lib)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [lib, "b'GET'"]


def test_missing_library_is_a_clear_import_error(tmp_path):
    out = run_probe(tmp_path, str(tmp_path / "nowhere.so"))
    if out.returncode == 0:  # installed system-wide (make install): found on the system path
        assert "libfastserve" in out.stdout
    else:
        assert "cannot load libfastserve.so" in out.stderr
