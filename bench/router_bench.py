#!/usr/bin/env python3
"""What a router of 50 routes costs: server CPU per request behind 50 routes
(exact, pattern and prefix mixed, bench/router_server.c) against the same
handler behind a single route, for a request that hits an exact route, a
pattern route (two parameters) and a prefix route (checked after every
pattern). The server is pinned to one core and loadgen to another; CPU is
utime + stime of the server process (/proc/PID/stat) over the measured run,
divided by the responses. The configurations alternate, `--rounds` times;
the median of each is reported.

    make lib && flock /tmp/bench.lock python3 bench/router_bench.py
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procstat import cpu_seconds  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "build" / "router_server"
LOADGEN_SRC = ROOT.parent / "shared" / "loadgen"

# target: (path, the one-route mode serving it)
TARGETS = {
    "exact": ("/api/v1/status", "one-exact"),
    "pattern": ("/users/42/posts/7", "one-param"),
    "prefix": ("/assets/css/site.css", "one-prefix"),
}


def build_server():
    lib = ROOT / "build" / "lib"
    if not (lib / "libfastserve.so").exists():
        sys.exit("build/lib/libfastserve.so missing: run make lib")
    subprocess.run(
        ["cc", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'include'}", str(ROOT / "bench" / "router_server.c"),
         f"-L{lib}", "-lfastserve", f"-Wl,-rpath,{lib}", "-o", str(SERVER)],
        check=True,
    )


def loadgen_path(given):
    if given:
        return given
    exe = Path("/tmp/lg/target/release/loadgen")
    if not exe.exists():
        if not Path("/tmp/lg").exists():
            shutil.copytree(LOADGEN_SRC, "/tmp/lg")
        subprocess.run(["cargo", "build", "--release", "-q"], cwd="/tmp/lg", check=True)
    return str(exe)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen")


def measure(mode, path, args, loadgen):
    """Server CPU ns per request and req/s for one server mode and path."""
    port = free_port()
    srv = subprocess.Popen(["taskset", "-c", args.server_cpu, str(SERVER), str(port), mode],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port, srv)
        url = f"http://127.0.0.1:{port}{path}"
        base = ["taskset", "-c", args.client_cpu, loadgen, "--url", url, "--conns", str(args.conns),
                "--depth", str(args.depth), "--expect-body", "Hello, World!", "--no-latency"]
        subprocess.run(base + ["--duration", str(args.warmup)], check=True, capture_output=True, timeout=60)
        before = cpu_seconds(srv.pid)
        out = subprocess.run(base + ["--duration", str(args.duration)], check=True, capture_output=True,
                             text=True, timeout=args.duration + 60).stdout
        after = cpu_seconds(srv.pid)
    finally:
        srv.terminate()
        try:
            srv.wait(10)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
    result = dict(kv.split("=") for kv in out.strip().splitlines()[-1].split()[1:])
    n = int(result["requests"])
    return (after - before) * 1e9 / n, float(result["rps"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-d", "--duration", type=float, default=5.0, help="measured seconds per run (5)")
    ap.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run (1)")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each configuration, alternating (3)")
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--depth", type=int, default=16)
    ap.add_argument("--server-cpu", default="0")
    ap.add_argument("--client-cpu", default="1")
    ap.add_argument("--loadgen", help="a built loadgen (default: /tmp/lg, built from ../shared/loadgen)")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args()
    build_server()
    loadgen = loadgen_path(args.loadgen)
    runs = {}
    for _ in range(args.rounds):
        for target, (path, one) in TARGETS.items():
            for mode in (one, "fifty"):
                runs.setdefault((target, mode), []).append(measure(mode, path, args, loadgen))
    print(f"server CPU per request, {args.conns} connections, depth {args.depth}, "
          f"median of {args.rounds} runs of {args.duration:g} s (server on CPU {args.server_cpu}, "
          f"loadgen on CPU {args.client_cpu})\n")
    print("| request | path | 1 route ns/req | 50 routes ns/req | ratio | 1 route req/s | 50 routes req/s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    results = {}
    for target, (path, one) in TARGETS.items():
        a = statistics.median(ns for ns, _ in runs[(target, one)])
        b = statistics.median(ns for ns, _ in runs[(target, "fifty")])
        ra = statistics.median(r for _, r in runs[(target, one)])
        rb = statistics.median(r for _, r in runs[(target, "fifty")])
        results[target] = {"path": path, "one_ns": a, "fifty_ns": b, "ratio": b / a, "one_rps": ra, "fifty_rps": rb}
        print(f"| {target} | `{path}` | {a:.0f} | {b:.0f} | {b / a:.3f} | {ra:,.0f} | {rb:,.0f} |")
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
