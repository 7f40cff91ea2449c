#!/usr/bin/env python3
"""Hello-world servers under loadgen: req/s, server CPU per request and p99.

Each server (a name from http_bench.SERVERS) runs pinned to one core and
loadgen (bench/loadgen) to the other. The servers alternate: every round
starts each server in turn and loads it at every depth (a warm-up, then a
measured run), so a slow spell on the machine hits one round of every
server rather than every round of one. Reported per server and depth: the
median over the rounds of req/s, server CPU per request (utime + stime of
the server's process tree from /proc over the measured run, divided by the
responses) and loadgen's p99 latency, and the CPU per request over that of
each --ratios server (the floor is the no-HTTP server, bench/loadgen/floor.c).

    flock /tmp/bench.lock python3 bench/hello_bench.py -d 5 --rounds 3 \\
        --out bench/results/hello.json

`bench/setup.sh` installs the peers; `make bench` builds the rest first.
"""
import argparse
import datetime
import json
import shlex
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import http_bench  # noqa: E402
import loadrun  # noqa: E402
from http_bench import SERVERS, BenchError, Server, missing_requirements  # noqa: E402

DEFAULT_SERVERS = ("fastserve_static,fastserve_handler,fastserve_py,fastserve_py_uring,may_minihttp,japronto,"
                   "uvloop_httptools,granian,floor")
DEFAULT_RATIOS = "may_minihttp,japronto,floor"
BODY = "Hello, World!"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    loadrun.add_args(ap)
    ap.add_argument("--servers", default=DEFAULT_SERVERS, help=f"comma-separated (default {DEFAULT_SERVERS})")
    ap.add_argument("--depths", default="1,16", help="pipeline depths, comma-separated (default 1,16)")
    ap.add_argument("--ratios", default=DEFAULT_RATIOS,
                    help=f"servers the CPU per request is divided by (default {DEFAULT_RATIOS})")
    args = ap.parse_args(argv)
    args.servers = [s for s in args.servers.split(",") if s]
    args.depths = [int(d) for d in args.depths.split(",") if d]
    args.ratios = [s for s in args.ratios.split(",") if s]
    unknown = [s for s in args.servers if s not in SERVERS]
    if unknown:
        ap.error(f"unknown server(s) {', '.join(unknown)}; known: {', '.join(SERVERS)}")
    if not 1 <= args.rounds <= 20 or not 0 < args.duration <= 120:
        ap.error("--rounds must be 1 to 20 and --duration 0 to 120 seconds")
    return args


def one_round(name, args, loadgen, log):
    """Start `name`, load it at every depth, stop it: {depth: result}."""
    out = {}
    with Server(name, args.server_cpu) as srv:
        srv.start()
        srv.check_response()
        for depth in args.depths:
            srv.remember_tree()
            res = loadrun.load(srv.pid, srv.port, srv.path, BODY, args, loadgen, depth=depth, latency=True)
            if srv.proc.poll() is not None:
                raise BenchError(f"exited during the run{srv.log_tail()}")
            out[depth] = res
            log(f"  {name:18} depth {depth:2}  {res['rps']:>11,.0f} req/s  {res['cpu_ns']:>7.0f} ns/req  "
                f"p99 {res['p99_us']:>8.1f} us  server CPU {100 * res['server_cpu']:3.0f}%  "
                f"loadgen CPU {res['gen_cpu_pct']:3.0f}%  cores busy "
                f"{'/'.join(f'{b:.0f}%' for _, b in sorted(res['busy'].items()))}")
    return out


def summarize(runs, args):
    """Medians per (server, depth), with the spread of CPU per request."""
    rows = []
    for name in args.servers:
        for depth in args.depths:
            rs = runs.get(name, {}).get(depth, [])
            if not rs:
                continue
            ns = [r["cpu_ns"] for r in rs]
            med = statistics.median(ns)
            rows.append({
                "server": name, "depth": depth, "runs": len(rs),
                "rps": statistics.median(r["rps"] for r in rs),
                "cpu_ns": med,
                "cpu_ns_min": min(ns), "cpu_ns_max": max(ns),
                "p99_us": statistics.median(r["p99_us"] for r in rs),
                "server_cpu": statistics.median(r["server_cpu"] for r in rs),
                "gen_cpu_pct": statistics.median(r["gen_cpu_pct"] for r in rs),
                "server_core_busy": statistics.median(r["busy"].get(int(args.server_cpu), 0) for r in rs)
                if args.server_cpu.isdigit() else None,
            })
    base = {(r["server"], r["depth"]): r["cpu_ns"] for r in rows}
    for r in rows:
        r["ratios"] = {ref: r["cpu_ns"] / base[(ref, r["depth"])] for ref in args.ratios
                       if (ref, r["depth"]) in base}
    return rows


def markdown(rows, args):
    refs = [ref for ref in args.ratios if any(ref in r["ratios"] for r in rows)]
    head = ("| server | depth | req/s | CPU ns/req | spread | p99 µs | server CPU / core busy | "
            + " | ".join(f"÷ {ref}" for ref in refs) + " |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(refs)]
    for r in sorted(rows, key=lambda r: (r["depth"], args.servers.index(r["server"]))):
        spread = (r["cpu_ns_max"] - r["cpu_ns_min"]) / r["cpu_ns"]
        ratios = " | ".join(f"{r['ratios'][ref]:.2f}" if ref in r["ratios"] else "-" for ref in refs)
        busy = f" / {r['server_core_busy']:.0f}%" if r.get("server_core_busy") is not None else ""
        lines.append(f"| {r['server']} | {r['depth']} | {r['rps']:,.0f} | {r['cpu_ns']:.0f} | "
                     f"±{50 * spread:.0f}% | {r['p99_us']:.0f} | {100 * r['server_cpu']:.0f}%{busy} | {ratios} |")
    return "\n".join(lines)


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def main(argv=None):
    args = parse_args(argv)
    command = shlex.join([sys.executable.rsplit("/", 1)[-1], *sys.argv]) if argv is None else None
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    http_bench.raise_nofile()
    http_bench.stop_on_sigterm()
    if "floor" in args.servers:
        loadrun.floor_path()
    loadgen = loadrun.loadgen_path(args.loadgen)
    servers = []
    for name in args.servers:
        reason = missing_requirements(name)
        if reason:
            log(f"skip {name}: {reason}")
        else:
            servers.append(name)
    per_round = len(servers) * len(args.depths) * (args.warmup + args.duration)
    print(f"# {command or 'hello_bench'}", flush=True)
    print(f"# {len(servers)} servers x depths {args.depths} x {args.rounds} rounds, "
          f"about {per_round * args.rounds:.0f} s of load; server on CPU {args.server_cpu}, "
          f"loadgen on CPU {args.client_cpu}, {args.conns} connections", flush=True)
    runs, errors, loadavg = {}, {}, [load_average()]
    try:
        for rnd in range(args.rounds):
            log(f"round {rnd + 1}/{args.rounds}")
            for name in servers:
                try:
                    for depth, res in one_round(name, args, loadgen, log).items():
                        runs.setdefault(name, {}).setdefault(depth, []).append(res)
                except (BenchError, RuntimeError) as e:
                    log(f"  {name}: {e}")
                    errors.setdefault(name, []).append(str(e))
            loadavg.append(load_average())
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    rows = summarize(runs, args)
    if not rows:
        log("no results")
        return 1
    example = next(iter(next(iter(runs.values())).values()))[0]["cmd"]
    print(f"\nmedian of {args.rounds} rounds of {args.duration:g} s (after {args.warmup:g} s of warm-up), "
          f"{args.conns} connections, servers alternating; spread = half the min-max range of CPU ns/req; "
          f"÷ columns: CPU per request over that server's at the same depth; "
          f"load average at each round's end: {', '.join(f'{la[0]:.1f}' for la in loadavg[1:] if la)}\n")
    print(markdown(rows, args))
    print(f"\nloadgen command (one run): {example}")
    if args.out:
        doc = {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": command,
            "settings": {"duration_s": args.duration, "warmup_s": args.warmup, "rounds": args.rounds,
                         "conns": args.conns, "depths": args.depths, "server_cpu": args.server_cpu,
                         "client_cpu": args.client_cpu, "ratios": args.ratios},
            "machine": http_bench.machine_info(),
            "loadavg": loadavg,
            "medians": rows,
            "runs": runs,
            "errors": errors,
        }
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=2) + "\n")
        out.with_suffix(".md").write_text(markdown(rows, args) + "\n")
        log(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
