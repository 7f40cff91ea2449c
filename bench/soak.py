#!/usr/bin/env python3
"""Soak: millions of keep-alive requests; the server's memory must stay flat.

Starts a server from http_bench.py (default fastserve_static: build/hello)
pinned to one core, loads it with wrk pinned to the other (plain keep-alive,
no pipelining) in back-to-back runs until --requests are done, samples the
server's RSS every second from /proc, and reports the RSS after the warm-up
against the RSS at the end: flat means within --tolerance (5%). Exits 1 when
it is not flat or the request count was not reached.

    python3 bench/soak.py                                  # 10M requests
    python3 bench/soak.py --server fastserve_handler -n 2000000 --out soak.json

Every run is bounded: wrk runs for whole seconds, and the load stops after
--max-seconds whatever the count. Standard library only, like http_bench.py.
"""

import argparse
import json
import math
import shutil
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import http_bench as hb  # noqa: E402


class RssSampler(threading.Thread):
    """RSS of a process tree, every `interval` seconds, as (elapsed_s, bytes)."""

    def __init__(self, pid, interval=1.0):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.samples = []
        self.t0 = time.monotonic()
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            self.samples.append((time.monotonic() - self.t0, hb.rss_bytes(self.pid)))
            self._halt.wait(self.interval)

    def now(self):
        """One sample taken now (also recorded)."""
        s = (time.monotonic() - self.t0, hb.rss_bytes(self.pid))
        self.samples.append(s)
        return s

    def stop(self):
        self._halt.set()
        self.join()


def mib(b):
    return b / (1 << 20)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--server', default='fastserve_static',
                    help='a server name from http_bench.py (default fastserve_static)')
    ap.add_argument('-n', '--requests', type=int, default=10_000_000,
                    help='keep-alive requests to send in all (default 10,000,000)')
    ap.add_argument('--warmup', type=int, default=10,
                    help='seconds of load before the reference RSS is taken (default 10)')
    ap.add_argument('--segment', type=int, default=20,
                    help='seconds per wrk run after the warm-up (default 20)')
    ap.add_argument('--max-seconds', type=int, default=220,
                    help='stop the load after this many seconds in all (default 220)')
    ap.add_argument('--tolerance', type=float, default=5.0,
                    help='allowed RSS change from warm-up to end, in percent (default 5)')
    ap.add_argument('-c', '--connections', type=int, default=100)
    ap.add_argument('-t', '--threads', type=int, default=1, help='wrk threads (default 1)')
    ap.add_argument('--server-cpu', default='0', help='taskset CPU list for the server')
    ap.add_argument('--client-cpu', default='1', help='taskset CPU list for wrk')
    ap.add_argument('--out', type=Path, help='write the results and RSS samples as JSON')
    args = ap.parse_args(argv)
    if args.server not in hb.SERVERS:
        ap.error(f'unknown server {args.server!r}; known: {", ".join(hb.SERVERS)}')
    if args.requests < 1 or not 1 <= args.warmup <= 120 or not 1 <= args.segment <= 120:
        ap.error('--requests must be positive, --warmup and --segment 1 to 120 seconds')
    if not args.warmup < args.max_seconds <= 3600:
        ap.error('--max-seconds must exceed --warmup and be at most 3600')
    return args


def soak(server, args):
    sampler = RssSampler(server.pid)
    sampler.start()
    runs = []
    t_start = time.monotonic()

    def load(seconds):
        _, out = hb.run_wrk(server.port, server.path, 1, seconds, args.connections,
                            args.threads, args.client_cpu)
        r = hb.parse_wrk(out)
        runs.append(r)
        errs = sum(r['socket_errors'].values())
        print(f'  {seconds:3d}s  {r["requests"]:>11,} requests  {r["rps"]:>10,.0f} req/s'
              f'  RSS {mib(hb.rss_bytes(server.pid)):6.2f} MiB'
              + (f'  non-2xx {r["non_2xx"]}' if r['non_2xx'] else '')
              + (f'  socket errors {r["socket_errors"]}' if errs else ''),
              file=sys.stderr)
        if server.proc.poll() is not None:
            raise hb.BenchError(f'server exited during the soak{server.log_tail()}')
        return r

    try:
        print(f'warm-up, {args.warmup}s:', file=sys.stderr)
        load(args.warmup)
        warm_t, warm_rss = sampler.now()
        done = runs[-1]['requests']
        while done < args.requests:
            left = args.max_seconds - (time.monotonic() - t_start)
            if left < 1:
                print(f'stopping at --max-seconds {args.max_seconds}', file=sys.stderr)
                break
            rate = sum(r['requests'] for r in runs) / sum(r['duration_s'] for r in runs)
            need = math.ceil((args.requests - done) / max(rate, 1.0))
            seconds = int(max(1, min(args.segment, need, left)))
            done += load(seconds)['requests']
        end_t, end_rss = sampler.now()
    finally:
        sampler.stop()
    duration = time.monotonic() - t_start
    after = [b for t, b in sampler.samples if warm_t <= t <= end_t]
    change = 100.0 * (end_rss - warm_rss) / warm_rss
    return {
        'server': server.name,
        'path': server.path,
        'requests': done,
        'requests_target': args.requests,
        'duration_s': duration,
        'load_s': sum(r['duration_s'] for r in runs),
        'rps': done / sum(r['duration_s'] for r in runs),
        'non_2xx': sum(r['non_2xx'] for r in runs),
        'socket_errors': sum(sum(r['socket_errors'].values()) for r in runs),
        'wrk_runs': len(runs),
        'rss_warm_bytes': warm_rss,
        'rss_end_bytes': end_rss,
        'rss_max_after_warmup_bytes': max(after),
        'rss_min_after_warmup_bytes': min(after),
        'rss_change_pct': change,
        'tolerance_pct': args.tolerance,
        'flat': abs(change) <= args.tolerance,
        'rss_samples': sampler.samples,
    }


def main(argv=None):
    args = parse_args(argv)
    if shutil.which('wrk') is None or shutil.which('taskset') is None:
        print('wrk and taskset are needed: run bench/setup.sh', file=sys.stderr)
        return 2
    reason = hb.missing_requirements(args.server)
    if reason:
        print(f'{args.server}: {reason} (make build/hello builds fastserve\'s)', file=sys.stderr)
        return 2
    hb.raise_nofile()
    hb.stop_on_sigterm()
    server = hb.Server(args.server, args.server_cpu)
    try:
        with server:
            server.start()
            server.check_response()
            print(f'{args.server}: pid {server.pid}, port {server.port}, GET {server.path}; '
                  f'{args.requests:,} keep-alive requests over {args.connections} connections',
                  file=sys.stderr)
            res = soak(server, args)
    except hb.BenchError as e:
        print(f'{args.server}: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130

    reached = res['requests'] >= res['requests_target']
    print()
    print(f'server            {res["server"]} (GET {res["path"]})')
    print(f'requests          {res["requests"]:,} of {res["requests_target"]:,} '
          f'in {res["wrk_runs"]} wrk runs, {res["load_s"]:.1f} s of load '
          f'({res["rps"]:,.0f} req/s), {res["duration_s"]:.1f} s in all')
    print(f'errors            non-2xx {res["non_2xx"]}, socket errors {res["socket_errors"]}')
    print(f'RSS after warm-up {mib(res["rss_warm_bytes"]):.2f} MiB')
    print(f'RSS at the end    {mib(res["rss_end_bytes"]):.2f} MiB '
          f'({res["rss_change_pct"]:+.2f}%; min {mib(res["rss_min_after_warmup_bytes"]):.2f}, '
          f'max {mib(res["rss_max_after_warmup_bytes"]):.2f} MiB after warm-up)')
    verdict = 'flat' if res['flat'] else 'NOT flat'
    print(f'verdict           {verdict} (tolerance {res["tolerance_pct"]:g}%)'
          + ('' if reached else '; request count NOT reached'))
    if args.out:
        res['machine'] = hb.machine_info()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=2) + '\n')
        print(f'\nwrote {args.out}', file=sys.stderr)
    return 0 if res['flat'] and reached else 1


if __name__ == '__main__':
    sys.exit(main())
