#!/usr/bin/env python3
"""What the access log costs: server CPU per request of c-examples/observe.c
serving its static /hello, with no access log, with one whose callback only
counts the records (the engine's own cost: tracking, copying the request
text, one call per loop pass), and with one that formats each record with
fprintf into /dev/null (what a simple C logger adds on top). The server is
pinned to one core and loadgen to another; CPU is utime + stime of the
server process (/proc/PID/stat) over the measured run, divided by the
responses. The configurations alternate, `--rounds` times; the median of
each is reported, with its ratio to no log.

    make lib examples && flock /tmp/bench.lock python3 bench/access_log_bench.py
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procstat import cpu_seconds  # noqa: E402
from router_bench import free_port, wait_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "build" / "observe"
LOADGEN_SRC = ROOT.parent / "shared" / "loadgen"
MODES = {"off": "off", "counting": "count", "fprintf": "/dev/null"}


def loadgen_path(given):
    if given:
        return given
    exe = Path("/tmp/lg-obs/target/release/loadgen")
    if not exe.exists():
        if not Path("/tmp/lg-obs").exists():
            shutil.copytree(LOADGEN_SRC, "/tmp/lg-obs")
        subprocess.run(["cargo", "build", "--release", "-q"], cwd="/tmp/lg-obs", check=True)
    return str(exe)


def measure(log, args, loadgen):
    """Server CPU ns per request and req/s with the access log `log`."""
    port = free_port()
    srv = subprocess.Popen(["taskset", "-c", args.server_cpu, str(SERVER), "127.0.0.1", str(port), log],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port, srv)
        url = f"http://127.0.0.1:{port}/hello"
        base = ["taskset", "-c", args.client_cpu, loadgen, "--url", url, "--conns", str(args.conns),
                "--depth", str(args.depth), "--expect-body", "hello\n", "--no-latency"]
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
    ap.add_argument("--loadgen", help="a built loadgen (default: /tmp/lg-obs, built from ../shared/loadgen)")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args()
    if not SERVER.exists():
        sys.exit(f"{SERVER} missing: run make build/observe")
    loadgen = loadgen_path(args.loadgen)
    runs = {}
    for _ in range(args.rounds):
        for name, log in MODES.items():
            runs.setdefault(name, []).append(measure(log, args, loadgen))
    print(f"server CPU per request, GET /hello (static), {args.conns} connections, depth {args.depth}, "
          f"median of {args.rounds} runs of {args.duration:g} s (server on CPU {args.server_cpu}, "
          f"loadgen on CPU {args.client_cpu})\n")
    print("| access log | ns/req | ratio to off | req/s |")
    print("|---|---:|---:|---:|")
    base = statistics.median(ns for ns, _ in runs["off"])
    results = {}
    for name in MODES:
        ns = statistics.median(ns for ns, _ in runs[name])
        rps = statistics.median(r for _, r in runs[name])
        results[name] = {"ns": ns, "ratio": ns / base, "rps": rps}
        print(f"| {name} | {ns:.0f} | {ns / base:.3f} | {rps:,.0f} |")
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
