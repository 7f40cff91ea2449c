#!/usr/bin/env python3
"""Static files: server CPU per MiB sent, fastserve against nginx.

Both serve one directory holding a 1 MiB and a 10 KiB file: fastserve
through c-examples/files.c (a directory route, one worker), nginx with a
temporary config (`sendfile on`, one worker, access log off). Each server is
pinned to core 0 and wrk to core 1; the server's user + system CPU time over
each wrk run is read from /proc and divided by the body bytes sent.

    python3 bench/file_bench.py -d 10 --out build/bench_files.json

Needs wrk and nginx (bench/setup.sh installs them). 127.0.0.1 only; every
run is bounded in time. Standard library only.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_bench import BenchError, free_port, parse_wrk, port_answers, raise_nofile, run_wrk  # noqa: E402
from procstat import cpu_seconds, rss_bytes  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
FILES = {'1m.bin': MIB, '10k.bin': 10 * 1024}

NGINX_CONF = """daemon off;
master_process on;
worker_processes 1;
{user}
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    client_body_temp_path {run}/client_body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    types {{ application/octet-stream bin; }}
    server {{
        listen 127.0.0.1:{port};
        location /static/ {{ alias {root}/; }}
    }}
}}
"""


def start(argv, port, cpu):
    p = subprocess.Popen(['taskset', '-c', str(cpu), *argv], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not port_answers(port):
        if p.poll() is not None or time.monotonic() > deadline:
            p.kill()
            raise BenchError(f'{argv[0]} did not start: {p.stderr.read().decode()[-400:]}')
        time.sleep(0.05)
    return p


def stop(p):
    p.terminate()
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def measure(name, proc, port, fname, args):
    path = f'/static/{fname}'
    # warm the page cache and the connections' buffers
    run_wrk(port, path, 1, 1, args.connections, 1, args.client_cpu)
    cpu0 = cpu_seconds(proc.pid)
    argv, out = run_wrk(port, path, 1, args.duration, args.connections, 1, args.client_cpu)
    cpu1 = cpu_seconds(proc.pid)
    if proc.poll() is not None:
        raise BenchError(f'{name} exited during the run')
    res = parse_wrk(out)
    if res['non_2xx'] or any(res['socket_errors'].values()):
        raise BenchError(f'{name}: errors during the run:\n{out}')
    mib = res['requests'] * FILES[fname] / MIB
    cpu = cpu1 - cpu0
    res.update({
        'server': name, 'file': fname, 'mib_sent': mib, 'mib_per_s': mib / res['duration_s'],
        'server_cpu_s': cpu, 'cpu_ms_per_mib': cpu * 1e3 / mib if mib else None,
        'server_rss_mib': rss_bytes(proc.pid) / MIB, 'wrk_cmd': ' '.join(argv),
    })
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('-d', '--duration', type=int, default=10, help='seconds per run (default 10)')
    ap.add_argument('-c', '--connections', type=int, default=16)
    ap.add_argument('--server-cpu', type=int, default=0)
    ap.add_argument('--client-cpu', type=int, default=1)
    ap.add_argument('--out', help='write the results as JSON here')
    args = ap.parse_args()
    for tool in ('wrk', 'nginx', 'taskset'):
        if shutil.which(tool) is None:
            sys.exit(f'file_bench: {tool} is missing (bash bench/setup.sh installs it)')
    files_bin = ROOT / 'build' / 'files'
    if not files_bin.exists():
        sys.exit('file_bench: build/files is missing (make examples)')
    raise_nofile()
    results = []
    with tempfile.TemporaryDirectory(prefix='fastserve-files-bench-') as tmp:
        tmp = Path(tmp)
        www = tmp / 'www'
        www.mkdir()
        for fname, size in FILES.items():
            (www / fname).write_bytes(os.urandom(size))
        run = tmp / 'nginx'
        run.mkdir()
        # nginx's workers drop to an unprivileged user when it starts as root
        for d in (tmp, www):
            d.chmod(0o755)
        user = 'user root;' if os.geteuid() == 0 else ''
        servers = {
            'fastserve': lambda port: [str(files_bin), '127.0.0.1', str(port), str(www)],
            'nginx': lambda port: ['nginx', '-p', f'{run}/', '-c', f'{run}/nginx.conf', '-e', f'{run}/error.log'],
        }
        for name, argv in servers.items():
            port = free_port()
            if name == 'nginx':
                (run / 'nginx.conf').write_text(NGINX_CONF.format(user=user, run=run, port=port, root=www))
            proc = start(argv(port), port, args.server_cpu)
            try:
                for fname in FILES:
                    r = measure(name, proc, port, fname, args)
                    results.append(r)
                    print(f"{name:10} {fname:8} {r['rps']:10.0f} req/s {r['mib_per_s']:8.1f} MiB/s "
                          f"{r['cpu_ms_per_mib']:7.3f} CPU ms/MiB", flush=True)
            finally:
                stop(proc)
    print()
    print('| file | fastserve CPU ms/MiB | nginx CPU ms/MiB | fastserve / nginx | fastserve MiB/s | nginx MiB/s |')
    print('|---|---|---|---|---|---|')
    for fname in FILES:
        f = next(r for r in results if r['server'] == 'fastserve' and r['file'] == fname)
        n = next(r for r in results if r['server'] == 'nginx' and r['file'] == fname)
        print(f"| {fname} | {f['cpu_ms_per_mib']:.3f} | {n['cpu_ms_per_mib']:.3f} | "
              f"{f['cpu_ms_per_mib'] / n['cpu_ms_per_mib']:.2f}x | {f['mib_per_s']:.0f} | {n['mib_per_s']:.0f} |")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == '__main__':
    try:
        main()
    except BenchError as e:
        sys.exit(f'file_bench: {e}')
