#!/usr/bin/env python3
"""The Python side of an ASGI request, without sockets or threads.

A batch of 64 requests for the bare ASGI hello (bench/asgi_apps.py) is
captured from a live server, then replayed: the scopes and calls built as
the worker thread builds them (`Scopes.calls`), each app call stepped as the
loop's runner steps it (`Runner._drive`), and the replies put in columns for
`fastserve_server_complete` (the C call itself left out). Timings on this
shared machine move by 10 % from run to run; with --callgrind the count is
Python's instructions per request (the difference of two runs under
valgrind, so start-up cancels out), which does not.

    python3 bench/asgi_cycle.py                 # ns per request, best of 5
    python3 bench/asgi_cycle.py --callgrind     # instructions per request
    python3 bench/asgi_cycle.py --scopes-only   # Scopes.calls alone

Runs with bench/.peers/asgi/bin/python when it exists (made by
bench/asgi_bench.py), else this Python with uvloop not needed; fastserve
from this checkout (python/, build/lib). Needs build/loadgen (make
build/loadgen) and, for --callgrind, valgrind.
"""
import argparse
import asyncio
import os
import pickle
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCH = 64


def setup_paths():
    sys.path[:0] = [str(ROOT / "python"), str(ROOT / "bench")]
    os.environ.setdefault("FASTSERVE_LIB", str(ROOT / "build" / "lib" / "libfastserve.so"))


def capture(path):
    """Serves the bare hello and keeps the first batch of at least BATCH
    requests: (blob, data offset, BATCH)."""
    setup_paths()
    import fastserve
    from fastserve.asgi import mount_asgi
    from fastserve._http import REC
    from asgi_apps import bare

    srv = fastserve.Server()
    mount_asgi(srv, bare, lifespan="off")
    m = srv._mount
    kept = []
    batch = m.batch

    def keep(b, blob, count):
        if count >= BATCH and not kept:
            kept.append(blob[: BATCH * REC] + blob[count * REC :])
        return batch(b, blob, count)

    m.batch = keep
    port = srv.start("127.0.0.1", 0)
    try:
        subprocess.run([str(ROOT / "build" / "loadgen"), "--url", f"http://127.0.0.1:{port}/",
                        "--conns", "8", "--depth", "16", "--duration", "1", "--no-latency"],
                       check=True, capture_output=True, timeout=60)
    finally:
        srv.stop()
    if not kept:
        sys.exit(f"no batch of {BATCH} requests came")
    # the data offsets of the records count from the end of all `count` records
    Path(path).write_bytes(pickle.dumps((kept[0], BATCH * REC)))


def replay(path, rounds, scopes_only, timed):
    """Builds the calls, runs them and makes the reply columns, `rounds`
    times; prints ns per request when `timed`."""
    setup_paths()
    from fastserve import _asgi_http, _asgi_scope, _lib
    from asgi_apps import bare

    blob, o = pickle.loads(Path(path).read_bytes())
    loop = asyncio.new_event_loop()

    class Server:
        _tasks: set = set()
        _srv = 1

    runner = _asgi_http.Runner(bare, Server)
    runner.loop = loop
    runner.done = loop.create_future()
    runner.done.set_result(None)
    scopes = _asgi_scope.Scopes("", ("127.0.0.1", 8000))
    answered = []
    # the replies' columns are made; the C call only counts them
    _lib.lib = type("Lib", (), {"fastserve_server_complete": staticmethod(lambda *a: answered.append(a[5]))})()
    http = _asgi_http.Http

    def cycle():
        calls = scopes.calls(blob, o, 0, BATCH, runner, http, None)
        if scopes_only:
            runner.live.clear()
            return
        try:
            runner._drive(calls).send(None)
        except StopIteration:
            pass
        runner._flush_soon = False  # the flush is called here, not by the loop
        runner._flush()

    cycle()
    if not scopes_only and (answered != [BATCH] or runner.live):
        sys.exit(f"the replay did not answer every request: {answered}, {len(runner.live)} left")
    if timed:
        best = min(timeit.repeat(cycle, number=rounds, repeat=5))
        print(f"{best / rounds / BATCH * 1e9:.0f} ns per request ({'scopes' if scopes_only else 'scopes to replies'})")
    else:
        for _ in range(rounds):
            cycle()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--callgrind", action="store_true", help="count instructions instead of timing")
    ap.add_argument("--scopes-only", action="store_true", help="Scopes.calls alone")
    ap.add_argument("--replay", help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.replay:
        return replay(args.replay, args.rounds, args.scopes_only, timed=False)
    peer = ROOT / "bench" / ".peers" / "asgi" / "bin" / "python"
    py = str(peer) if peer.exists() else sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        blob = str(Path(tmp) / "batch.pickle")
        subprocess.run([py, "-c", f"import sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); "
                        f"import asgi_cycle; asgi_cycle.capture({blob!r})"], check=True)
        extra = ["--scopes-only"] if args.scopes_only else []
        if not args.callgrind:
            subprocess.run([py, "-c", f"import sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); "
                            f"import asgi_cycle; asgi_cycle.replay({blob!r}, 2000, {args.scopes_only}, True)"],
                           check=True)
            return
        counts = []
        for rounds in (100, 400):
            out = Path(tmp) / f"callgrind.{rounds}"
            subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", py, __file__,
                            "--replay", blob, "--rounds", str(rounds), *extra],
                           check=True, capture_output=True)
            summary = [ln for ln in out.read_text().splitlines() if ln.startswith("summary:")]
            counts.append(int(summary[0].split()[1]))
        per = (counts[1] - counts[0]) / (300 * BATCH)
        print(f"{per:.0f} Python instructions per request ({'scopes' if args.scopes_only else 'scopes to replies'})")


if __name__ == "__main__":
    main()
