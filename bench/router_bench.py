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
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadrun  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "build" / "router_server"

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


def measure(mode, path, args, loadgen):
    """Server CPU ns per request and req/s for one server mode and path."""
    return loadrun.measure(lambda port: [str(SERVER), str(port), mode], path, "Hello, World!", args, loadgen)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    loadrun.add_args(ap)
    args = ap.parse_args()
    build_server()
    loadgen = loadrun.loadgen_path(args.loadgen)
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
    loadrun.save(args.out, results)


if __name__ == "__main__":
    main()
