#!/usr/bin/env python3
"""HTTP/1.1 load benchmark: throughput and server CPU cost per request.

For each selected server: start it pinned to one core, check that it answers
`Hello, World!`, load it with wrk pinned to the other core (no pipelining,
then pipelined at depth 16 and 24), and report requests per second and the
server's CPU time per request (user + system time of all its processes and
threads, read from /proc just before and just after each wrk run).

    python3 bench/http_bench.py --servers nginx,may_minihttp -d 10 \\
        --baseline nginx --out bench/.peers/results.json

`bench/setup.sh` installs wrk and the peer servers. Standard library only.
Every server listens on 127.0.0.1 and every run is bounded in time.
"""

import argparse
import datetime
import getpass
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from procstat import CLK_TCK, _stat_fields, cpu_seconds, process_tree, rss_bytes, tree_counts  # noqa: F401

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PEERS = BENCH / '.peers'
PY37 = PEERS / 'py37' / 'bin' / 'python'
PY311 = PEERS / 'py311' / 'bin'
MAY_MINIHTTP = PEERS / 'may_minihttp-target' / 'release' / 'may_minihttp_hello'
PIPELINE_LUA = BENCH / 'pipeline.lua'

HOST = '127.0.0.1'
HELLO = b'Hello, World!'

# The servers. Each entry has:
#   cmd       argv template; {port}, {rundir}, {bench} and {root} are filled in
#   path      the request path the load generator hits
#   env       optional extra environment (values are templates too)
#   requires  optional setup check: executables (bare names, looked up in
#             PATH) or files (templates) that must exist, else the server is
#             skipped with a message
#   templates optional config files rendered into {rundir}: name -> source
#             under bench/, with @PORT@, @RUNDIR@, @USER@, @BENCH@ and @ROOT@
#             replaced
#   files     optional literal files written into {rundir}: name -> content
#   expect    optional response body to check before loading (HELLO if unset;
#             None to skip the check)
# Servers run with the repository root as working directory.
SERVERS = {
    'nginx': {
        'cmd': ['nginx', '-p', '{rundir}/', '-c', '{rundir}/nginx.conf',
                '-e', '{rundir}/error.log'],
        'path': '/plaintext',
        'templates': {'nginx.conf': 'peers/nginx.conf.in'},
        'requires': ['nginx'],
    },
    'h2o': {
        'cmd': ['h2o', '-c', '{rundir}/h2o.conf'],
        'path': '/plaintext',
        'templates': {'h2o.conf': 'peers/h2o.conf.in'},
        'files': {'hello.txt': HELLO},
        'requires': ['h2o'],
    },
    'may_minihttp': {
        'cmd': [str(MAY_MINIHTTP), '{port}', '1'],
        'path': '/plaintext',
        'requires': [str(MAY_MINIHTTP)],
    },
    'japronto': {
        'cmd': [str(PY37), '{bench}/peers/japronto_hello.py', '--port', '{port}'],
        'path': '/plaintext',
        'requires': [str(PY37)],
    },
    'uvloop_httptools': {
        'cmd': [str(PY311 / 'python'), '{bench}/peers/uvloop_httptools_hello.py',
                '--port', '{port}'],
        'path': '/plaintext',
        'requires': [str(PY311 / 'python')],
    },
    'granian': {
        'cmd': [str(PY311 / 'granian'), '--interface', 'rsgi', '--host', HOST,
                '--port', '{port}', '--workers', '1', '--runtime-threads', '1',
                '--http', '1', '--no-ws', '--http1-pipeline-flush',
                '--backlog', '16384', '--backpressure', '16384',
                '--log-level', 'warning', '--working-dir', '{bench}/peers',
                'granian_hello:app'],
        'path': '/plaintext',
        'requires': [str(PY311 / 'granian')],
    },
    'fastserve_static': {
        'cmd': ['{root}/build/hello', HOST, '{port}'],
        'path': '/plaintext',
        'requires': ['{root}/build/hello'],
    },
    'fastserve_handler': {
        'cmd': ['{root}/build/hello', HOST, '{port}'],
        'path': '/hello',
        'requires': ['{root}/build/hello'],
    },
    # the same two on the io_uring driver
    'fastserve_static_uring': {
        'cmd': ['{root}/build/hello', HOST, '{port}'],
        'path': '/plaintext',
        'env': {'FASTSERVE_DRIVER': 'io_uring'},
        'requires': ['{root}/build/hello'],
    },
    'fastserve_handler_uring': {
        'cmd': ['{root}/build/hello', HOST, '{port}'],
        'path': '/hello',
        'env': {'FASTSERVE_DRIVER': 'io_uring'},
        'requires': ['{root}/build/hello'],
    },
    # python/examples/hello.py from this tree, on the library of `make lib`
    # (Python 3.11 venv of `make python`): a sync Python handler returning
    # "Hello, World!", batch-dispatched
    'fastserve_py': {
        'cmd': ['{root}/.venv/bin/python', '{root}/python/examples/hello.py',
                '--port', '{port}'],
        'path': '/plaintext-py',
        'env': {'PYTHONPATH': '{root}/python',
                'FASTSERVE_LIB': '{root}/build/lib/libfastserve.so'},
        'requires': ['{root}/.venv/bin/python', '{root}/python/examples/hello.py',
                     '{root}/build/lib/libfastserve.so'],
    },
    # the same on the io_uring driver
    'fastserve_py_uring': {
        'cmd': ['{root}/.venv/bin/python', '{root}/python/examples/hello.py',
                '--port', '{port}'],
        'path': '/plaintext-py',
        'env': {'PYTHONPATH': '{root}/python',
                'FASTSERVE_LIB': '{root}/build/lib/libfastserve.so',
                'FASTSERVE_DRIVER': 'io_uring'},
        'requires': ['{root}/.venv/bin/python', '{root}/python/examples/hello.py',
                     '{root}/build/lib/libfastserve.so'],
    },
    # the same process, its static route (served without calling Python)
    'fastserve_py_static': {
        'cmd': ['{root}/.venv/bin/python', '{root}/python/examples/hello.py',
                '--port', '{port}'],
        'path': '/plaintext',
        'env': {'PYTHONPATH': '{root}/python',
                'FASTSERVE_LIB': '{root}/build/lib/libfastserve.so'},
        'requires': ['{root}/.venv/bin/python', '{root}/python/examples/hello.py',
                     '{root}/build/lib/libfastserve.so'],
    },
    # no HTTP at all (bench/loadgen/floor.c): the least a server can cost here
    'floor': {
        'cmd': ['{root}/build/floor', '{port}'],
        'path': '/plaintext',
        'requires': ['{root}/build/floor'],
    },
}

# Named sets for --servers.
PRESETS = {
    # Python handlers at Japronto speed: the comparison in one go
    'python': 'japronto,fastserve_py,fastserve_py_uring,fastserve_py_static,fastserve_static,'
              'uvloop_httptools,granian',
}

DEFAULT_SERVERS = 'nginx,may_minihttp,japronto'
DEFAULT_WORKLOADS = 'plain,pipe16,pipe24'

class BenchError(Exception):
    pass


def parse_cpus(spec):
    """A taskset-style CPU list ("1", "0,2", "2-3") as a set of ints."""
    cpus = set()
    for part in spec.split(','):
        lo, _, hi = part.partition('-')
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_answers(port):
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def stop_on_sigterm():
    """Turn SIGTERM into KeyboardInterrupt, so that servers are still stopped."""
    signal.signal(signal.SIGTERM, _interrupt)


def raise_nofile():
    """Raise the open-file limit to the hard limit (servers inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _fill(template, values):
    return template.format(**values)


def missing_requirements(name):
    """None when `name` can run here, else a short reason."""
    spec = SERVERS[name]
    values = {'root': ROOT, 'bench': BENCH, 'port': 0, 'rundir': ''}
    missing = []
    for req in spec.get('requires', ()):
        req = _fill(req, values)
        if '/' in req:
            if not os.path.exists(req):
                missing.append(req)
        elif shutil.which(req) is None:
            missing.append(f'{req} (not in PATH)')
    if missing:
        return 'missing ' + ', '.join(missing)
    return None


def http_get(port, path, timeout=5.0):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request('GET', path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class Server:
    """One server process, pinned with taskset, started and stopped by PID."""

    def __init__(self, name, cpu, start_timeout=30.0, stop_timeout=5.0):
        if name not in SERVERS:
            raise BenchError(f'unknown server {name!r}; known: {", ".join(SERVERS)}')
        self.name = name
        self.spec = SERVERS[name]
        self.cpu = cpu
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.proc = None
        self.port = None
        self.seen = {}
        self.log_path = PEERS / 'logs' / f'{name}.log'
        self.rundir = PEERS / 'run' / name

    @property
    def pid(self):
        return self.proc.pid

    @property
    def path(self):
        return self.spec['path']

    def _prepare(self):
        if self.rundir.exists():
            shutil.rmtree(self.rundir)
        self.rundir.mkdir(parents=True)
        subst = {'@PORT@': str(self.port), '@RUNDIR@': str(self.rundir),
                 '@USER@': getpass.getuser(), '@BENCH@': str(BENCH),
                 '@ROOT@': str(ROOT)}
        for dst, src in self.spec.get('templates', {}).items():
            text = (BENCH / src).read_text()
            for key, val in subst.items():
                text = text.replace(key, val)
            (self.rundir / dst).write_text(text)
        for dst, content in self.spec.get('files', {}).items():
            (self.rundir / dst).write_bytes(content)

    def start(self):
        reason = missing_requirements(self.name)
        if reason:
            raise BenchError(reason)
        self.port = free_port()
        values = {'port': self.port, 'rundir': self.rundir, 'bench': BENCH, 'root': ROOT}
        self._prepare()
        argv = ['taskset', '-c', str(self.cpu)] + [_fill(a, values) for a in self.spec['cmd']]
        env = dict(os.environ)
        for key, val in self.spec.get('env', {}).items():
            env[key] = _fill(val, values)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, 'wb')
        try:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + self.start_timeout
        while not port_answers(self.port):
            if self.proc.poll() is not None:
                raise BenchError(f'exited with status {self.proc.returncode} before listening'
                                 f'{self.log_tail()}')
            if time.monotonic() > deadline:
                self.stop()
                raise BenchError(f'did not listen on port {self.port} within '
                                 f'{self.start_timeout:.0f}s{self.log_tail()}')
            time.sleep(0.05)
        self.seen.update(process_tree(self.pid))

    def check_response(self):
        """GET the benchmark path once; raise unless it is a 200."""
        try:
            status, body = http_get(self.port, self.path)
        except (OSError, http.client.HTTPException) as e:
            raise BenchError(f'GET {self.path} failed: {e!r}{self.log_tail()}')
        if status != 200:
            raise BenchError(f'GET {self.path} answered {status}, not 200')
        expect = self.spec.get('expect', HELLO)
        if expect is not None and body != expect:
            print(f'  warning: {self.name} GET {self.path} body is {body[:60]!r}, '
                  f'expected {expect!r}', file=sys.stderr)

    def log_tail(self, lines=15):
        try:
            text = self.log_path.read_text(errors='replace').rstrip()
        except OSError:
            return ''
        if not text:
            return ''
        tail = '\n'.join(text.splitlines()[-lines:])
        return f'\n  --- {self.log_path} (tail) ---\n{tail}'

    def remember_tree(self):
        if self.proc is not None and self.proc.poll() is None:
            self.seen.update(process_tree(self.pid))

    def stop(self):
        """SIGTERM the server, SIGKILL it after stop_timeout, then SIGKILL
        any of its descendants that outlived it (by PID and start time)."""
        if self.proc is None:
            return
        self.remember_tree()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        leftovers = {}
        for pid, start in self.seen.items():
            fields = _stat_fields(pid)
            if pid != self.proc.pid and fields is not None and int(fields[19]) == start:
                leftovers[pid] = start
        if leftovers:
            deadline = time.monotonic() + self.stop_timeout
            while leftovers and time.monotonic() < deadline:
                time.sleep(0.05)
                leftovers = {p: s for p, s in leftovers.items()
                             if (f := _stat_fields(p)) is not None and int(f[19]) == s
                             and f[0] != b'Z'}
            for pid in leftovers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ---------------------------------------------------------------- wrk


def workload_depth(workload):
    if workload == 'plain':
        return 1
    m = re.fullmatch(r'pipe(\d+)', workload)
    if not m or int(m.group(1)) < 1:
        raise BenchError(f'bad workload {workload!r}: use plain or pipeN (e.g. pipe16)')
    return int(m.group(1))


def _seconds(value, unit):
    return float(value) * {'us': 1e-6, 'ms': 1e-3, 's': 1.0, 'm': 60.0, 'h': 3600.0}[unit]


def parse_wrk(out):
    m = re.search(r'(\d+) requests in ([\d.]+)(us|ms|s|m|h),', out)
    if not m:
        raise BenchError('cannot parse wrk output:\n' + out)
    res = {'requests': int(m.group(1)), 'duration_s': _seconds(m.group(2), m.group(3))}
    m = re.search(r'Requests/sec:\s+([\d.]+)', out)
    res['rps'] = float(m.group(1)) if m else res['requests'] / res['duration_s']
    m = re.search(r'Latency\s+([\d.]+)(us|ms|s)', out)
    res['latency_avg_s'] = _seconds(m.group(1), m.group(2)) if m else None
    m = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)', out)
    res['socket_errors'] = dict(zip(('connect', 'read', 'write', 'timeout'),
                                    map(int, m.groups()))) if m else {}
    m = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    res['non_2xx'] = int(m.group(1)) if m else 0
    return res


def run_wrk(port, path, depth, duration, connections, threads, cpu, timeout_s='5s'):
    url = f'http://{HOST}:{port}{path}'
    # wrk takes whole seconds only.
    argv = ['taskset', '-c', str(cpu), 'wrk', f'-t{threads}', f'-c{connections}',
            f'-d{int(duration)}s', f'--timeout={timeout_s}']
    env = dict(os.environ)
    if depth > 1:
        argv += ['-s', str(PIPELINE_LUA)]
        env['PIPELINE_DEPTH'] = str(depth)
    argv.append(url)
    try:
        done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=duration + 30)
    except subprocess.TimeoutExpired:
        raise BenchError(f'wrk did not finish within {duration + 30:.0f}s')
    if done.returncode != 0:
        msg = (done.stderr.strip() or done.stdout.strip())[-400:]
        raise BenchError(f'wrk exited with {done.returncode}: {msg}')
    return argv, done.stdout


def bench_workload(server, workload, args):
    depth = workload_depth(workload)
    server.remember_tree()
    cpu0 = cpu_seconds(server.pid)
    t0 = time.monotonic()
    argv, out = run_wrk(server.port, server.path, depth, args.duration, args.connections,
                        args.threads, args.client_cpu)
    wall = time.monotonic() - t0
    cpu1 = cpu_seconds(server.pid)
    server.remember_tree()
    if server.proc.poll() is not None:
        raise BenchError(f'server exited during the run{server.log_tail()}')
    procs, threads = tree_counts(server.pid)
    res = parse_wrk(out)
    cpu_s = cpu1 - cpu0
    res.update({
        'server': server.name,
        'workload': workload,
        'pipeline_depth': depth,
        'path': server.path,
        'server_cpu_s': cpu_s,
        'cpu_ns_per_req': cpu_s * 1e9 / res['requests'] if res['requests'] else None,
        'server_cpu_util': cpu_s / res['duration_s'] if res['duration_s'] else None,
        'server_processes': procs,
        'server_threads': threads,
        'wall_s': wall,
        'wrk_cmd': ' '.join(argv),
        'wrk_output': out,
    })
    return res


# ---------------------------------------------------------------- report


def _fmt_ratio(x, base):
    if x is None or not base:
        return '-'
    return f'{x / base:.2f}x'


def markdown_table(results, baseline):
    base = {r['workload']: r for r in results if r['server'] == baseline}
    lines = [
        f'| server | workload | RPS | CPU ns/req | server CPU | RPS vs {baseline} '
        f'| CPU/req vs {baseline} |',
        '|---|---|---:|---:|---:|---:|---:|',
    ]
    for r in results:
        b = base.get(r['workload'], {})
        cpu = f"{r['cpu_ns_per_req']:.0f}" if r['cpu_ns_per_req'] is not None else '-'
        util = f"{100 * r['server_cpu_util']:.0f}%" if r['server_cpu_util'] is not None else '-'
        flags = ''
        if r['non_2xx'] or any(r['socket_errors'].values()):
            flags = ' (!)'
        lines.append(
            f"| {r['server']}{flags} | {r['workload']} | {r['rps']:,.0f} | {cpu} | {util} "
            f"| {_fmt_ratio(r['rps'], b.get('rps'))} "
            f"| {_fmt_ratio(r['cpu_ns_per_req'], b.get('cpu_ns_per_req'))} |")
    return '\n'.join(lines)


def machine_info():
    info = {'kernel': platform.release(), 'cpus': os.cpu_count(), 'clk_tck': CLK_TCK}
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    info['cpu_model'] = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        info['wrk'] = subprocess.run(['wrk', '--version'], capture_output=True, text=True,
                                     timeout=5).stdout.splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        pass
    return info


def list_servers():
    for name, spec in SERVERS.items():
        reason = missing_requirements(name)
        state = 'ready' if reason is None else reason
        print(f'{name:18} {spec["path"]:14} {state}')


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog='servers: ' + ', '.join(SERVERS))
    ap.add_argument('--servers', default=DEFAULT_SERVERS,
                    help=f'comma-separated server names, or a preset ({", ".join(PRESETS)}) '
                         f'(default {DEFAULT_SERVERS})')
    ap.add_argument('--workloads', default=DEFAULT_WORKLOADS,
                    help=f'comma-separated: plain, pipeN (default {DEFAULT_WORKLOADS})')
    ap.add_argument('--baseline', help='server the ratio columns compare to '
                    '(default: the first one that ran)')
    ap.add_argument('-d', '--duration', type=int, default=10,
                    help='whole seconds per wrk run (default 10)')
    ap.add_argument('--warmup', type=int, default=1,
                    help='seconds of unmeasured load before the first workload (default 1)')
    ap.add_argument('-c', '--connections', type=int, default=100)
    ap.add_argument('-t', '--threads', type=int, default=1, help='wrk threads (default 1)')
    ap.add_argument('--server-cpu', default='0', help='taskset CPU list for servers (default 0)')
    ap.add_argument('--client-cpu', default='1', help='taskset CPU list for wrk (default 1)')
    ap.add_argument('--path', action='append', default=[], metavar='NAME=PATH',
                    help='override the request path of a server (repeatable)')
    ap.add_argument('--out', type=Path, help='write the results as JSON to this file')
    ap.add_argument('--list', action='store_true', help='list the servers and exit')
    args = ap.parse_args(argv)
    if not 1 <= args.duration <= 600:
        ap.error('--duration must be 1 to 600 seconds')
    if not 0 <= args.warmup <= 60:
        ap.error('--warmup must be 0 to 60 seconds')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.list:
        list_servers()
        return 0
    if shutil.which('wrk') is None or shutil.which('taskset') is None:
        print('wrk and taskset are needed: run bench/setup.sh', file=sys.stderr)
        return 2
    servers = [s.strip() for s in PRESETS.get(args.servers, args.servers).split(',')
               if s.strip()]
    unknown = [s for s in servers if s not in SERVERS]
    if unknown:
        print(f'unknown server(s): {", ".join(unknown)}; known: {", ".join(SERVERS)}',
              file=sys.stderr)
        return 2
    for item in args.path:
        name, sep, path = item.partition('=')
        if not sep or name not in SERVERS or not path.startswith('/'):
            print(f'bad --path {item!r}: use NAME=/path', file=sys.stderr)
            return 2
        SERVERS[name] = dict(SERVERS[name], path=path)
    try:
        workloads = [w.strip() for w in args.workloads.split(',') if w.strip()]
        for w in workloads:
            workload_depth(w)
    except BenchError as e:
        print(e, file=sys.stderr)
        return 2
    raise_nofile()
    stop_on_sigterm()

    results, skipped = [], {}
    estimate = len(servers) * (len(workloads) * args.duration + args.warmup)
    print(f'# {len(servers)} server(s) x {len(workloads)} workload(s), '
          f'{args.duration:g}s each: about {estimate:.0f}s of load', file=sys.stderr)
    for name in servers:
        reason = missing_requirements(name)
        if reason:
            print(f'skip {name}: {reason}', file=sys.stderr)
            skipped[name] = reason
            continue
        server = Server(name, args.server_cpu)
        try:
            with server:
                server.start()
                server.check_response()
                print(f'{name}: pid {server.pid}, port {server.port}, '
                      f'GET {server.path}', file=sys.stderr)
                if args.warmup:
                    run_wrk(server.port, server.path, 1, args.warmup, args.connections,
                            args.threads, args.client_cpu)
                for w in workloads:
                    r = bench_workload(server, w, args)
                    results.append(r)
                    errs = sum(r['socket_errors'].values())
                    print(f'  {w:8} {r["rps"]:>12,.0f} req/s  '
                          f'{r["cpu_ns_per_req"] or 0:>8.0f} ns CPU/req  '
                          f'server CPU {100 * (r["server_cpu_util"] or 0):.0f}%'
                          + (f'  non-2xx {r["non_2xx"]}' if r['non_2xx'] else '')
                          + (f'  socket errors {r["socket_errors"]}' if errs else ''),
                          file=sys.stderr)
        except BenchError as e:
            print(f'skip {name}: {e}', file=sys.stderr)
            skipped[name] = str(e)
        except KeyboardInterrupt:
            print('interrupted', file=sys.stderr)
            return 130

    if not results:
        print('no results', file=sys.stderr)
        return 1
    ran = [s for s in servers if any(r['server'] == s for r in results)]
    baseline = args.baseline or ran[0]
    if baseline not in ran:
        print(f'baseline {baseline} has no results; using {ran[0]}', file=sys.stderr)
        baseline = ran[0]
    print()
    print(markdown_table(results, baseline))
    if any(r['non_2xx'] or any(r['socket_errors'].values()) for r in results):
        print('\n(!) wrk saw non-2xx responses or socket errors: see the JSON output.')

    if args.out:
        doc = {
            'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
            'settings': {
                'duration_s': args.duration, 'warmup_s': args.warmup,
                'connections': args.connections, 'wrk_threads': args.threads,
                'server_cpu': args.server_cpu, 'client_cpu': args.client_cpu,
                'workloads': workloads, 'baseline': baseline,
            },
            'machine': machine_info(),
            'results': results,
            'skipped': skipped,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=2) + '\n')
        print(f'\nwrote {args.out}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
