"""The server behind the proxies: a fastserve app on a given port.

    GET /            static "ok" (the engine answers, no Python)
    GET /health      static "ok": the load balancer's health check
    GET /pid         this process's id: which backend answered
    GET /stats       the engine's counters (fastserve_server_stats), as JSON
    GET /client      the client's address and port, as the handler sees it

Usage: backend.py PORT [--grace SECONDS] [--workers N] [--proxy]
With --proxy the listener takes a PROXY protocol header first.
Prints "listening on http://HOST:PORT/" once it serves; SIGTERM stops it
gracefully, then it prints its final counters as JSON and exits 0.
"""
import argparse
import json
import os

import fastserve

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("--grace", type=float, default=20.0)
ap.add_argument("--workers", type=int, default=1)
ap.add_argument("--proxy", action="store_true")
args = ap.parse_args()

app = fastserve.Server(shutdown_grace=args.grace)
app.static("/", "ok")
app.static("/health", "ok")


@app.get("/pid")
def pid(req):
    return str(os.getpid())


@app.get("/client")
def client(req):
    host, port = req.client
    return f"{host} {port}"


@app.get("/stats")
def stats(req):
    return app.stats()


app.run("127.0.0.1", args.port, args.workers, proxy=args.proxy, ready=lambda s: print("ready", flush=True))
print(json.dumps(app.final_stats), flush=True)
