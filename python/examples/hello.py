"""hello: fastserve from Python in one page (the twin of c-examples/hello.c).

    GET  /plaintext     static response, served by the engine without Python
    GET  /hello?name=x  a handler: "Hello, x!" ("Hello, World!" without a name)
    POST /echo          a handler that answers with the request body
    GET  /plaintext-py  a Python handler returning "Hello, World!"
    GET  /json          a dict, sent as JSON
    GET  /sleep?ms=N    an async handler that answers after N ms

Usage: python hello.py [--host H] [--port P] [--workers N]
Ctrl-C or SIGTERM stops it gracefully.
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
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()

    def ready(server):
        print(f"try:   curl 'http://{args.host}:{server.port}/hello?name=you'", flush=True)

    app.run(args.host, args.port, args.workers, ready=ready)
    st = app.final_stats
    print(f"hello: stopped after {st['requests']} requests; Python was called {st['batches']} times")


if __name__ == "__main__":
    main()
