#!/usr/bin/env python3
"""What crossing between Python and fastserve costs, piece by piece.

    .venv/bin/python bench/crossing.py

1. a ctypes call into libfastserve (GIL released, and kept: PyDLL);
2. a ctypes callback into Python (libc qsort's comparator, same thread);
3. the Python side of a batch, per request: `Dispatch.run` on a real
   batch (parsed by fastserve_conn) of N requests to a handler returning
   "Hello, World!", plus joining and encoding the replies, for N = 1, 16,
   100.

Under load, see bench/http_bench.py: `hello.py` prints how many batches it
served on exit (the average batch size), in bench/.peers/logs/.
No sockets; a few seconds.
"""
import argparse
import ctypes
import os
import sys
import time
import timeit
from ctypes import byref, string_at

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

import fastserve  # noqa: E402
from fastserve import _lib  # noqa: E402
from fastserve._http import Dispatch  # noqa: E402


def per_call(stmt, g, n=200_000):
    return min(timeit.repeat(stmt, globals=g, number=n, repeat=5)) / n * 1e9


def ctypes_costs():
    g = {"slow": _lib.lib.fastserve_result_str, "fast": _lib.fast.fastserve_result_str,
         "resp": _lib.fast.fastserve_batch_respond, "text": _lib.fast.fastserve_batch_respond_text}
    empty = per_call("pass", g)
    out = {
        "ctypes call, 1 arg, GIL released (CDLL)": per_call("slow(0)", g) - empty,
        "ctypes call, 1 arg, GIL kept (PyDLL)": per_call("fast(0)", g) - empty,
        "ctypes call, 5 args (fastserve_batch_respond_text)": per_call("text(None, 0, 0, None, 0)", g) - empty,
        "ctypes call, 7 args (fastserve_batch_respond)": per_call("resp(None, None, None, None, 0, None, 0)", g) - empty,
    }
    # callbacks: qsort over 1000 ints calls the comparator about n log n times
    libc = ctypes.CDLL(None)
    CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
    calls = [0]

    def cmp(a, b):
        calls[0] += 1
        return a[0] - b[0]

    def plain(a, b):
        calls[0] += 1
        return 0

    c = CMP(cmp)
    n = 1000
    arr = (ctypes.c_int * n)(*reversed(range(n)))
    libc.qsort.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, CMP]
    best = 1e9
    for _ in range(5):
        arr[:] = list(reversed(range(n)))
        calls[0] = 0
        t = time.perf_counter()
        libc.qsort(arr, n, 4, c)
        best = min(best, (time.perf_counter() - t) / calls[0])
    body = per_call("f(a, b)", {"f": cmp, "a": (ctypes.c_int * 1)(1), "b": (ctypes.c_int * 1)(2)})
    out["ctypes callback into Python (same thread)"] = best * 1e9 - body
    out["plain Python function call"] = per_call("f(1, 2)", {"f": plain}) - empty
    return out


def batch_of(n):
    """A real batch of n requests, as fastserve_conn lays them out."""
    c = _lib.lib.fastserve_conn_new(None)
    req = b"GET /plaintext-py HTTP/1.1\r\nHost: localhost\r\nUser-Agent: wrk\r\n\r\n" * n
    b = _lib.ConnBatch()
    _lib.lib.fastserve_conn_feed(c, req, len(req), byref(b))
    assert b.count == n, b.count
    blob = string_at(b.requests, n * 64 + b.data_len)
    _lib.lib.fastserve_conn_free(c)
    return blob


def dispatch_costs():
    d = Dispatch([lambda req: "Hello, World!"])
    out = {}
    for n in (1, 16, 100):
        blob = batch_of(n)
        reps = max(2000, 200_000 // n)
        t = min(timeit.repeat(lambda: d.run(blob, n)[1].encode(), number=reps, repeat=5))
        out[f"Dispatch.run, batch of {n}, per request"] = t / reps / n * 1e9
    return out


def main():
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    rows = {}
    rows.update(ctypes_costs())
    rows.update(dispatch_costs())
    w = max(map(len, rows))
    for k, v in rows.items():
        print(f"{k:<{w}}  {v:8.0f} ns")


if __name__ == "__main__":
    main()
