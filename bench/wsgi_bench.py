#!/usr/bin/env python3
"""WSGI apps on fastserve against granian's WSGI mode: server CPU per
request and req/s for a bare WSGI hello and a Flask hello, at pipeline
depth 1 and 16, one worker each. The server is pinned to one core, loadgen
to the other; CPU is the server's whole process tree (utime + stime from
/proc) over the measured run, divided by the responses. The servers
alternate, `--rounds` times; the median of each is reported, with the
ratio fastserve / granian from the same run.

    flock /tmp/bench.lock make bench-wsgi

granian (and Flask beside it) live in bench/.peers/py311, made here when
missing; fastserve runs on the repository's .venv interpreter from this
checkout (python/ and build/lib, as bench/asgi_bench.py does).
"""
import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadrun  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
PY311 = BENCH / ".peers" / "py311" / "bin"
VENV_PY = ROOT / ".venv" / "bin" / "python"
LIB = ROOT / "build" / "lib" / "libfastserve.so"
PEER_PINS = ["granian==2.8.9", "flask==3.1.3"]
APPS = {"hello": "wsgi_apps:hello", "flask": "wsgi_apps:flask_app"}


def setup_peer():
    if not (PY311 / "python").exists():
        subprocess.run(["python3.11", "-m", "venv", str(PY311.parent)], check=True)
    if subprocess.run([str(PY311 / "python"), "-c", "import granian, flask"], capture_output=True).returncode:
        subprocess.run([str(PY311 / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PEER_PINS], check=True)


def argv(server, app, threads):
    def make(port):
        if server == "fastserve":
            return ["env", f"PYTHONPATH={BENCH}:{ROOT / 'python'}", f"FASTSERVE_LIB={LIB}", str(VENV_PY),
                    str(BENCH / "wsgi_serve.py"), str(port), APPS[app], str(threads)]
        return ["env", f"PYTHONPATH={BENCH}", str(PY311 / "granian"), "--interface", "wsgi", "--host", "127.0.0.1",
                "--port", str(port), "--workers", "1", "--runtime-threads", "1", "--http", "1", "--no-ws",
                "--log-level", "warning", "--working-dir", str(BENCH), APPS[app]]
    return make


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    loadrun.add_args(ap)
    ap.add_argument("--apps", default="hello,flask")
    ap.add_argument("--depths", default="1,16")
    ap.add_argument("--threads", type=int, default=8, help="fastserve's WSGI threads (8)")
    ap.set_defaults(rounds=3, duration=5.0, conns=50)
    args = ap.parse_args()
    if subprocess.run([str(VENV_PY), "-c", "import flask"], capture_output=True).returncode:
        sys.exit("flask missing in .venv: run make python (and pip install flask)")
    if not LIB.exists():
        sys.exit("build/lib/libfastserve.so missing: run make lib")
    setup_peer()
    loadgen = loadrun.loadgen_path(args.loadgen)
    runs = {}
    for _ in range(args.rounds):
        for app in args.apps.split(","):
            for depth in map(int, args.depths.split(",")):
                args.depth = depth
                for server in ("fastserve", "granian"):
                    ns, rps = loadrun.measure(argv(server, app, args.threads), "/", "Hello, World!", args, loadgen)
                    runs.setdefault((app, depth, server), []).append((ns, rps))
    rows = []
    print(f"{'app':6} {'depth':>5} {'server':10} {'CPU us/req':>10} {'req/s':>9} {'CPU vs granian':>14}")
    for app in args.apps.split(","):
        for depth in map(int, args.depths.split(",")):
            med = {s: (statistics.median(n for n, _ in runs[(app, depth, s)]), statistics.median(r for _, r in runs[(app, depth, s)]))
                   for s in ("fastserve", "granian")}
            for s in ("fastserve", "granian"):
                ns, rps = med[s]
                ratio = ns / med["granian"][0]
                print(f"{app:6} {depth:>5} {s:10} {ns / 1000:>10.2f} {rps:>9.0f} {ratio:>14.2f}")
                rows.append({"app": app, "depth": depth, "server": s, "cpu_ns_per_req": ns, "rps": rps, "ratio": ratio})
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
