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
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadrun  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "build" / "observe"
MODES = {"off": "off", "counting": "count", "fprintf": "/dev/null"}


def measure(log, args, loadgen):
    """Server CPU ns per request and req/s with the access log `log`."""
    return loadrun.measure(lambda port: [str(SERVER), "127.0.0.1", str(port), log], "/hello", "hello\n", args, loadgen)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    loadrun.add_args(ap)
    args = ap.parse_args()
    if not SERVER.exists():
        sys.exit(f"{SERVER} missing: run make build/observe")
    loadgen = loadrun.loadgen_path(args.loadgen)
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
    loadrun.save(args.out, results)


if __name__ == "__main__":
    main()
