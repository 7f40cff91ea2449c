"""hello: fastserve from Python in one page (the twin of c-examples/hello.c).

    GET  /plaintext     static response, served by the engine without Python
    GET  /hello?name=x  a handler: "Hello, x!" ("Hello, World!" without a name)
    POST /echo          a handler that answers with the request body
    GET  /plaintext-py  a Python handler returning "Hello, World!"
    GET  /json          a dict, sent as JSON
    GET  /sleep?ms=N    an async handler that answers after N ms

Usage: python hello.py [--host H] [--port P] [--workers N]
                       [--unix PATH [--unix-mode 660]] [--fd N] [--systemd [NAME]] [--proxy]

Listens on 127.0.0.1:8080 unless told where: TCP (--host, --port), a Unix
socket (--unix PATH, or @NAME for an abstract one), a listening descriptor
it inherited (--fd), the sockets systemd passed (--systemd, or those named
NAME), several at once. --proxy: connections start with a PROXY protocol
header (from a load balancer). Ctrl-C or SIGTERM stops it gracefully.
"""
import argparse
import asyncio
import os
import sys

try:
    import fastserve
except ImportError:  # run from a source checkout: python/examples/hello.py
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import fastserve
from fastserve import Response

app = fastserve.Server()

app.static("/plaintext", "Hello, World!")


@app.get("/hello")
def hello(req):
    return "Hello, " + req.query.get("name", "World") + "!"


@app.post("/echo")
def echo(req):
    return Response(req.body, content_type=req.headers.get("content-type", "application/octet-stream"))


@app.get("/plaintext-py")
def plaintext(req):
    return "Hello, World!"


@app.get("/json")
def as_json(req):
    return {"message": "Hello, World!"}


@app.get("/sleep")
async def sleep(req):
    ms = int(req.query.get("ms", "10"))
    await asyncio.sleep(ms / 1000)
    return f"slept {ms} ms"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host")
    ap.add_argument("--port", type=int)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--unix", metavar="PATH")
    ap.add_argument("--unix-mode", type=lambda s: int(s, 8), metavar="OCTAL")
    ap.add_argument("--fd", type=int)
    ap.add_argument("--systemd", nargs="?", const=True, metavar="NAME")
    ap.add_argument("--proxy", action="store_true")
    args = ap.parse_args()

    def ready(server):
        if server.port and not args.proxy:
            host = args.host or "127.0.0.1"
            print(f"try:   curl 'http://{host}:{server.port}/hello?name=you'", flush=True)
        elif args.unix and not args.proxy:
            print(f"try:   curl --unix-socket {args.unix} 'http://x/hello?name=you'", flush=True)

    app.run(
        args.host,
        args.port,
        args.workers,
        unix=args.unix,
        unix_mode=args.unix_mode,
        fd=args.fd,
        systemd=args.systemd,
        proxy=args.proxy,
        ready=ready,
    )
    st = app.final_stats
    print(f"hello: stopped after {st['requests']} requests; Python was called {st['batches']} times")


if __name__ == "__main__":
    main()
