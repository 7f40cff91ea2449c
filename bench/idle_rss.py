#!/usr/bin/env python3
"""Server memory per idle keep-alive connection.

Opens N connections (default 10000) to a server on 127.0.0.1; each sends one
full request and reads its whole response, then stays open and idle. The
server's resident memory (VmRSS summed over its processes) is read before and
after, and the difference divided by N is reported as bytes per connection.

    python3 bench/idle_rss.py --servers nginx,may_minihttp -n 10000
    python3 bench/idle_rss.py --pid 1234 --port 8080 --path /plaintext

With --servers the servers come from bench/http_bench.py's registry and are
started (pinned to --server-cpu) and stopped here; with --pid/--port an
already running server is measured. Standard library only; every step is
bounded by --timeout.
"""

import argparse
import json
import os
import resource
import selectors
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import http_bench  # noqa: E402
from http_bench import HOST, BenchError, Server, missing_requirements, rss_bytes  # noqa: E402


def raise_nofile(wanted):
    """Make room for `wanted` descriptors; return the soft limit obtained."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return wanted
        except (ValueError, OSError):
            pass
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Conn:
    __slots__ = ('sock', 'state', 'buf', 'need')

    def __init__(self, sock):
        self.sock = sock
        self.state = 'connect'
        self.buf = b''
        self.need = None


def _response_done(conn):
    """True once conn.buf holds one whole response."""
    if conn.need is None:
        end = conn.buf.find(b'\r\n\r\n')
        if end < 0:
            return False
        head = conn.buf[:end].lower()
        length = None
        for line in head.split(b'\r\n')[1:]:
            name, _, value = line.partition(b':')
            if name.strip() == b'content-length':
                length = int(value.strip())
            elif name.strip() == b'transfer-encoding' and b'chunked' in value:
                length = -1
        if length is None:
            raise BenchError('response has neither Content-Length nor chunked body')
        conn.need = (end + 4, length)
    start, length = conn.need
    if length >= 0:
        return len(conn.buf) >= start + length
    return conn.buf.endswith(b'0\r\n\r\n')


def open_idle(port, path, count, window, deadline, stall=10.0):
    """Open `count` connections, each after one request/response exchange.

    At most `window` exchanges are in flight at once, so the server's accept
    backlog never overflows. Gives up at `deadline`, or when no exchange
    completes for `stall` seconds (a server that caps its connections).
    Returns the open sockets.
    """
    request = (f'GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n'
               f'User-Agent: idle_rss\r\n\r\n').encode()
    sel = selectors.DefaultSelector()
    done, started, in_flight = [], 0, 0
    progress = time.monotonic()
    try:
        while len(done) < count:
            while in_flight < window and started < count:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setblocking(False)
                sock.connect_ex((HOST, port))
                sel.register(sock, selectors.EVENT_WRITE, Conn(sock))
                started += 1
                in_flight += 1
            now = time.monotonic()
            left = deadline - now
            if left <= 0:
                raise BenchError(f'timed out with {len(done)} of {count} connections ready')
            if now - progress > stall:
                raise BenchError(f'stalled for {stall:.0f}s with {len(done)} of {count} '
                                 f'connections ready: does the server cap its connections?')
            for key, _ in sel.select(min(left, 1.0)):
                conn = key.data
                if conn.state == 'connect':
                    err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise BenchError(f'connect failed after {len(done)} connections: '
                                         f'{os.strerror(err)}')
                    conn.sock.send(request)  # small enough for an empty send buffer
                    conn.state = 'read'
                    sel.modify(conn.sock, selectors.EVENT_READ, conn)
                    continue
                try:
                    data = conn.sock.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    raise BenchError(f'server closed a connection before answering '
                                     f'({len(done)} ready)')
                conn.buf += data
                if _response_done(conn):
                    if not conn.buf.startswith((b'HTTP/1.1 200', b'HTTP/1.0 200')):
                        raise BenchError(f'unexpected response: {conn.buf[:40]!r}')
                    sel.unregister(conn.sock)
                    done.append(conn.sock)
                    in_flight -= 1
                    progress = time.monotonic()
    except BaseException:
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        for sock in done:
            sock.close()
        raise
    finally:
        sel.close()
    return done


def count_closed(socks):
    """How many of `socks` the server has closed (EOF or reset pending)."""
    closed = 0
    for sock in socks:
        try:
            if sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b'':
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    return closed


def measure(pid, port, path, args):
    res = {'pid': pid, 'port': port, 'path': path, 'connections': args.n}
    time.sleep(args.settle)
    res['rss_before'] = rss_bytes(pid)
    t0 = time.monotonic()
    socks = open_idle(port, path, args.n, args.window, t0 + args.timeout)
    res['open_s'] = time.monotonic() - t0
    try:
        time.sleep(args.settle)
        res['rss_after'] = rss_bytes(pid)
        res['closed_by_server'] = count_closed(socks)
    finally:
        for sock in socks:
            sock.close()
    time.sleep(args.settle)
    res['rss_after_close'] = rss_bytes(pid)
    res['bytes_per_conn'] = (res['rss_after'] - res['rss_before']) / args.n
    return res


def report(name, r):
    mib = 1 << 20
    line = (f"{name}: {r['connections']} idle connections: RSS {r['rss_before'] / mib:.1f} MiB "
            f"-> {r['rss_after'] / mib:.1f} MiB ({r['bytes_per_conn']:,.0f} bytes/conn); "
            f"{r['rss_after_close'] / mib:.1f} MiB after closing; opened in {r['open_s']:.1f}s")
    if r['closed_by_server']:
        line += f"; {r['closed_by_server']} closed early by the server"
    print(line, file=sys.stderr)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog='servers: ' + ', '.join(http_bench.SERVERS))
    ap.add_argument('--servers', help='comma-separated names from http_bench.py')
    ap.add_argument('--pid', type=int, help='measure this running server instead')
    ap.add_argument('--port', type=int, help='its port on 127.0.0.1 (with --pid)')
    ap.add_argument('--path', help='request path (default: the registry entry\'s, '
                    'or /plaintext with --pid)')
    ap.add_argument('-n', type=int, default=10000, help='connections (default 10000)')
    ap.add_argument('--window', type=int, default=256,
                    help='connections being opened at once (default 256)')
    ap.add_argument('--settle', type=float, default=1.0,
                    help='seconds to wait before each RSS reading (default 1)')
    ap.add_argument('--timeout', type=float, default=120.0,
                    help='seconds allowed to open the connections (default 120)')
    ap.add_argument('--server-cpu', default='0', help='taskset CPU list for servers (default 0)')
    ap.add_argument('--client-cpu', default='1', help='CPU this script runs on (default 1)')
    ap.add_argument('--out', type=Path, help='write the results as JSON to this file')
    args = ap.parse_args(argv)
    if bool(args.servers) == bool(args.pid):
        ap.error('give either --servers or --pid/--port')
    if args.pid and not args.port:
        ap.error('--pid needs --port')
    if not 1 <= args.n <= 100000 or args.timeout <= 0 or args.window < 1:
        ap.error('-n must be 1 to 100000, --timeout and --window positive')

    limit = raise_nofile(args.n + 256)
    if limit < args.n + 64:
        ap.error(f'open-file limit is {limit}: too low for -n {args.n}')
    try:
        os.sched_setaffinity(0, http_bench.parse_cpus(args.client_cpu))
    except (OSError, ValueError) as e:
        print(f'cannot pin to CPU {args.client_cpu}: {e}', file=sys.stderr)

    http_bench.stop_on_sigterm()
    results = {}
    if args.pid:
        path = args.path or '/plaintext'
        try:
            results[str(args.pid)] = r = measure(args.pid, args.port, path, args)
        except BenchError as e:
            print(f'error: {e}', file=sys.stderr)
            return 1
        report(f'pid {args.pid}', r)
    else:
        for name in [s.strip() for s in args.servers.split(',') if s.strip()]:
            if name not in http_bench.SERVERS:
                print(f'skip {name}: unknown server', file=sys.stderr)
                continue
            reason = missing_requirements(name)
            if reason:
                print(f'skip {name}: {reason}', file=sys.stderr)
                continue
            server = Server(name, args.server_cpu)
            try:
                with server:
                    server.start()
                    server.check_response()
                    path = args.path or server.path
                    r = measure(server.pid, server.port, path, args)
                    r['server'] = name
                    results[name] = r
                    report(name, r)
            except BenchError as e:
                print(f'skip {name}: {e}', file=sys.stderr)
            except KeyboardInterrupt:
                print('interrupted', file=sys.stderr)
                return 130
    if not results:
        return 1
    print()
    print('| server | connections | RSS before | RSS after | bytes/conn |')
    print('|---|---:|---:|---:|---:|')
    for name, r in results.items():
        print(f"| {name} | {r['connections'] - r['closed_by_server']} "
              f"| {r['rss_before'] / 1024:,.0f} KiB | {r['rss_after'] / 1024:,.0f} KiB "
              f"| {r['bytes_per_conn']:,.0f} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
