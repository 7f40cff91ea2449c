#!/usr/bin/env python3
"""ASGI servers compared: server CPU per request and requests per second for
a bare ASGI hello, Starlette's PlainTextResponse and a FastAPI endpoint
returning a small pydantic model (bench/asgi_apps.py), served by

- fastserve: `python -m fastserve` (the engine, one worker, uvloop);
- uvicorn: uvloop + httptools, one worker, no access log;
- granian: `--interface asgi`, one worker, one runtime thread;

at pipeline depth 1 and 16 over 100 connections. Each server is pinned to
CPU 0 and loadgen (bench/loadgen) to CPU 1; server CPU is utime + stime
of its whole process tree (/proc) over the measured run, divided by the
responses. Every server runs from one venv, bench/.peers/asgi (made here
when missing, with the pins below), fastserve from this checkout
(build/lib and python/). Servers alternate, `--rounds` times; medians.

    make lib && flock /tmp/bench.lock python3 bench/asgi_bench.py
"""
import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadrun  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "bench" / ".peers" / "asgi"
PINS = ["uvloop==0.23.0", "httptools==0.9.0", "granian==2.8.9", "fastapi==0.163.2", "starlette==1.10.0", "uvicorn==0.54.0"]
PY = VENV / "bin" / "python"

APPS = {
    "bare": ("asgi_apps:bare", "Hello, World!"),
    "starlette": ("asgi_apps:starlette", "Hello, World!"),
    "fastapi": ("asgi_apps:fastapi", '{"message":"Hello, World!","count":1}'),
}


def servers(app):
    bench = str(ROOT / "bench")
    return {
        "fastserve": lambda port: [str(PY), "-m", "fastserve", app, "--port", str(port), "--app-dir", bench,
                                   "--log-level", "warning"],
        "uvicorn": lambda port: [str(PY), "-m", "uvicorn", app, "--port", str(port), "--app-dir", bench,
                                 "--loop", "uvloop", "--http", "httptools", "--workers", "1",
                                 "--no-access-log", "--log-level", "warning"],
        "granian": lambda port: [str(VENV / "bin" / "granian"), "--interface", "asgi", "--host", "127.0.0.1",
                                 "--port", str(port), "--workers", "1", "--runtime-threads", "1",
                                 "--http", "1", "--no-ws", "--http1-pipeline-flush", "--backlog", "16384",
                                 "--log-level", "warning", "--working-dir", bench, app],
    }


def setup():
    if not PY.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    have = subprocess.run([str(PY), "-c", "import uvloop, httptools, granian, fastapi, uvicorn"], capture_output=True)
    if have.returncode != 0:
        subprocess.run([str(PY), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PINS], check=True)
    lib = ROOT / "build" / "lib" / "libfastserve.so"
    if not lib.exists():
        sys.exit("build/lib/libfastserve.so missing: run make lib")
    # fastserve from this checkout, for every server (the others ignore it)
    os.environ["PYTHONPATH"] = str(ROOT / "python")
    os.environ["FASTSERVE_LIB"] = str(lib)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    loadrun.add_args(ap)
    ap.add_argument("--apps", default=",".join(APPS))
    ap.add_argument("--servers", default="fastserve,uvicorn,granian")
    ap.add_argument("--depths", default="1,16")
    args = ap.parse_args()
    setup()
    loadgen = loadrun.loadgen_path(args.loadgen)
    names = args.servers.split(",")
    depths = [int(d) for d in args.depths.split(",")]
    runs = {}
    for app in args.apps.split(","):
        spec, body = APPS[app]
        cmds = servers(spec)
        for depth in depths:
            args.depth = depth
            for _ in range(args.rounds):
                for name in names:
                    ns, rps = loadrun.measure(cmds[name], "/", body, args, loadgen)
                    runs.setdefault((app, depth, name), []).append((ns, rps))
                    print(f"  {app} depth {depth} {name}: {ns / 1000:.2f} us/req, {rps:,.0f} req/s", file=sys.stderr, flush=True)
    print(f"\nserver CPU per request (us) and req/s, {args.conns} connections, median of {args.rounds} runs of "
          f"{args.duration:g} s (server on CPU {args.server_cpu}, loadgen on CPU {args.client_cpu})\n")
    head = " | ".join(f"{n} us/req | {n} req/s" for n in names)
    ratios = [n for n in ("uvicorn", "granian") if n in names and "fastserve" in names]
    print(f"| app | depth | {head} | " + " | ".join(f"fastserve / {n}" for n in ratios) + " |")
    print("|---|---:|" + "---:|" * (2 * len(names) + len(ratios)))
    results = []
    for app in args.apps.split(","):
        for depth in depths:
            row = {"app": app, "depth": depth}
            cells = []
            for n in names:
                r = runs[(app, depth, n)]
                us = statistics.median(ns for ns, _ in r) / 1000
                rps = statistics.median(x for _, x in r)
                row[n] = {"us_per_req": us, "rps": rps}
                cells.append(f"{us:.2f} | {rps:,.0f}")
            rs = []
            for n in ratios:
                ratio = row["fastserve"]["us_per_req"] / row[n]["us_per_req"]
                row[f"ratio_{n}"] = ratio
                rs.append(f"{ratio:.2f}")
            results.append(row)
            print(f"| {app} | {depth} | " + " | ".join(cells) + " | " + " | ".join(rs) + " |")
    loadrun.save(args.out, results)


if __name__ == "__main__":
    main()
