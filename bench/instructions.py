#!/usr/bin/env python3
"""User-space instructions per request of build/hello, counted by callgrind.

Timings on a shared two-core machine move by 10-20 % from run to run;
instruction counts do not, so a change to the hot path can be judged here
before a quiet `make bench` confirms it in time. The server runs under
`valgrind --tool=callgrind`, counting only inside the worker's turn
(`Worker::drive` and what it calls: parsing, routing, handlers, rendering,
the user-space side of read and send); loadgen drives it for a few seconds
and the count is divided by the responses. With `--python` the server is
python/examples/hello.py and the worker's whole loop is counted (a batch's
handlers, Python included, run when its pass ends). Under valgrind the CPU has no
AVX-512, so the parser runs its AVX2 kernel.

    python3 bench/instructions.py                       # /plaintext and /hello, depth 16
    python3 bench/instructions.py --lib /tmp/old/lib    # the same against another build
    python3 bench/instructions.py --paths /hello --depth 1
    python3 bench/instructions.py --python              # the Python handler route

`--lib` points at a directory with another libfastserve.so.0 (copy
build/lib aside before a change). Needs valgrind (apt-get install valgrind).
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadrun import ROOT, free_port, wait_port  # noqa: E402


def count(lib, path, depth, conns, seconds, python=False):
    """(responses, instructions) for one run of build/hello (or, with
    `python`, python/examples/hello.py) on `lib`."""
    port = free_port()
    env = dict(os.environ)
    if lib:
        env["LD_LIBRARY_PATH"] = str(lib)
    if python:
        env["PYTHONPATH"] = str(ROOT / "python")
        env["FASTSERVE_LIB"] = str(Path(lib or ROOT / "build/lib") / "libfastserve.so")
        served = [str(ROOT / ".venv/bin/python"), str(ROOT / "python/examples/hello.py"), "--port", str(port)]
    else:
        served = [str(ROOT / "build/hello"), "127.0.0.1", str(port)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        # a batch's handlers run when the worker's pass flushes it, inlined
        # into its loop: for Python the whole loop is counted
        within = "Worker::run" if python else "Worker::drive*"
        server = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             f"--toggle-collect=fastserve::server::worker::{within}", *served],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port, server, timeout=60.0)  # valgrind starts slowly
            gen = subprocess.run(
                [str(ROOT / "build/loadgen"), "--url", f"http://127.0.0.1:{port}{path}",
                 "--conns", str(conns), "--depth", str(depth), "--duration", str(seconds),
                 "--no-latency"],
                capture_output=True, text=True, timeout=seconds + 60)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        last = gen.stdout.strip().splitlines()[-1] if gen.stdout.strip() else ""
        m = re.search(r"requests=(\d+)", last)
        if gen.returncode != 0 or not m:
            raise RuntimeError(f"loadgen failed: {gen.stdout}{gen.stderr}")
        totals = re.search(r"^summary:\s+(\d+)", out.read_text(), re.M)
        if not totals:
            raise RuntimeError("no callgrind summary")
        return int(m.group(1)), int(totals.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paths", default="/plaintext,/hello",
                    help="routes of build/hello, comma-separated (default /plaintext,/hello)")
    ap.add_argument("--depth", type=int, default=16, help="pipelining depth (default 16)")
    ap.add_argument("--conns", type=int, default=10, help="connections (default 10)")
    ap.add_argument("--seconds", type=float, default=5, help="loadgen run, seconds (default 5)")
    ap.add_argument("--lib", help="a directory holding another libfastserve.so.0, counted too")
    ap.add_argument("--python", action="store_true",
                    help="python/examples/hello.py (make python) instead, its route /plaintext-py by default; "
                         "the worker's whole loop is counted, the handlers' Python with it")
    args = ap.parse_args()
    if args.python and args.paths == ap.get_default("paths"):
        args.paths = "/plaintext-py"
    if not shutil.which("valgrind"):
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    for need in ("build/hello", "build/loadgen"):
        if not (ROOT / need).exists():
            sys.exit(f"{need} is missing: make examples build/loadgen")
    libs = [("this tree", None)] + ([(args.lib, args.lib)] if args.lib else [])
    for path in [p for p in args.paths.split(",") if p]:
        per = {}
        for name, lib in libs:
            n, ir = count(lib, path, args.depth, args.conns, args.seconds, args.python)
            per[name] = ir / n
            print(f"{path:12} depth {args.depth:2}  {name:24} {n:>9,} responses  "
                  f"{per[name]:7.0f} instructions/request", flush=True)
        if args.lib:
            print(f"{path:12} this tree / {args.lib}: {per['this tree'] / per[args.lib]:.3f}")


if __name__ == "__main__":
    main()
