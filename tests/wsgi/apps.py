"""The WSGI apps the tests serve: `conformance`, a bare app that shows
what a server hands it, and `flask_app`."""
import hashlib
import json
import os
import threading
import time

# What the apps saw, for /state: close() calls, start_response re-raising.
STATE = {"closed": 0, "reraised": 0}
_lock = threading.Lock()
_BARRIER = threading.Barrier(4, timeout=20)


def _bump(key):
    with _lock:
        STATE[key] += 1


def _json(start_response, obj, status="200 OK"):
    body = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class Closing:
    """An iterable whose close() is counted; `fail` raises after the first
    piece, `forever` never ends (the client is meant to leave)."""

    def __init__(self, pieces, fail=False, forever=False):
        self.pieces = pieces
        self.fail = fail
        self.forever = forever

    def __iter__(self):
        yield from self.pieces
        if self.fail:
            raise RuntimeError("failing half-way")
        while self.forever:
            time.sleep(0.01)
            yield b"x" * 65536

    def close(self):
        _bump("closed")


def _read_input(env, how):
    inp = env["wsgi.input"]
    if how == "all":
        return inp.read()
    if how == "n":
        parts = []
        while True:
            b = inp.read(7777)
            if not b:
                return b"".join(parts)
            parts.append(b)
    if how == "readline":
        parts = []
        while True:
            line = inp.readline()
            if not line:
                return b"".join(parts)
            parts.append(line)
    if how == "readlines":
        return b"".join(inp.readlines())
    if how == "iter":
        return b"".join(line for line in inp)
    raise ValueError(how)


def conformance(env, start_response):
    path = env["PATH_INFO"]
    if path.startswith("/env"):
        keys = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH",
                "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "REMOTE_PORT", "wsgi.url_scheme",
                "wsgi.multithread", "wsgi.run_once", "wsgi.input_terminated")
        out = {k: env.get(k) for k in keys}
        out["wsgi.version"] = list(env["wsgi.version"])
        out["http"] = {k: v for k, v in env.items() if k.startswith("HTTP_")}
        out["errors"] = all(hasattr(env["wsgi.errors"], m) for m in ("write", "writelines", "flush"))
        env["wsgi.errors"].write("a line for the error log\n")
        out["file_wrapper"] = callable(env.get("wsgi.file_wrapper"))
        out["types"] = sorted({type(v).__name__ for k, v in env.items() if k.isupper()})
        return _json(start_response, out)
    if path == "/mutate":
        # what an earlier request with the same head may have left, then
        # changes that must not reach the next one
        seen = {"mark": env.get("x.mark"), "agent": env.get("HTTP_USER_AGENT"), "port": env.get("REMOTE_PORT"),
                "input": env["wsgi.input"].read().decode()}
        env["x.mark"] = "left by an earlier request"
        env["HTTP_USER_AGENT"] = "changed"
        return _json(start_response, seen)
    if path == "/sched":
        policy = os.sched_getscheduler(0)
        names = {os.SCHED_OTHER: "other", os.SCHED_BATCH: "batch"}
        return _json(start_response, {"policy": names.get(policy, str(policy))})
    if path == "/body":
        how = env["QUERY_STRING"] or "all"
        data = _read_input(env, how)
        return _json(start_response, {"len": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    if path == "/lines":
        inp = env["wsgi.input"]
        first = inp.readline()
        second = inp.readline(3)
        rest = inp.readlines()
        return _json(start_response, {"first": first.decode(), "second": second.decode(), "rest": [r.decode() for r in rest]})
    if path == "/state":
        return _json(start_response, dict(STATE))
    if path == "/closing":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing([b"one ", b"two"])
    if path == "/closing-list":
        start_response("200 OK", [("Content-Type", "text/plain")])

        class L(list):
            def close(self):
                _bump("closed")

        return L([b"listed"])
    if path == "/closing-fail":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing([b"one "], fail=True)
    if path == "/closing-forever":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Closing([b"start"], forever=True)
    if path == "/exc-info":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "1")])
        try:
            raise KeyError("nothing sent yet")
        except KeyError:
            import sys

            start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"replaced"]
    if path == "/exc-info-late":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def gen():
            yield b"sent "
            try:
                raise KeyError("too late")
            except KeyError:
                import sys

                try:
                    start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
                except KeyError:
                    _bump("reraised")
            yield b"more"

        return gen()
    if path == "/error":
        raise RuntimeError("the app failed")
    if path == "/bad-header":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Evil", "a\r\nInjected: 1")])
        return [b"never"]
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"legacy ")
        write(b"write, ")
        return [b"then the iterable"]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"piece %d\n" % i for i in range(5))
    if path == "/file":
        f = open(os.path.abspath(__file__), "rb")
        start_response("200 OK", [("Content-Type", "text/x-python")])
        return env["wsgi.file_wrapper"](f, 4096)
    if path == "/sleep":
        time.sleep(float(env["QUERY_STRING"] or "1"))
        return _json(start_response, {"slept": True})
    if path == "/barrier":
        # answers only once four requests are inside the view together
        try:
            _BARRIER.wait()
        except threading.BrokenBarrierError:
            return _json(start_response, {"together": False}, "500 Internal Server Error")
        return _json(start_response, {"together": True})
    if path == "/fast":
        return _json(start_response, {"fast": True})
    if path == "/echo-header":
        # the query back in a header: as (name, value) tuples, or as lists
        # when it starts with "list"; "204" answers 204 with that header,
        # "bad" gives a value with CR LF
        q = env["QUERY_STRING"]
        value = "a\r\nInjected: 1" if q == "bad" else q
        pair = ["X-Value", value] if q.startswith("list") else ("X-Value", value)
        start_response("204 No Content" if q == "204" else "200 OK", [("Content-Type", "text/plain"), pair])
        return [q.encode()]
    if path == "/status":
        start_response("418 I'm a teapot", [("Content-Type", "text/plain"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        return [b"short and stout"]
    return _json(start_response, {"missing": path}, "404 Not Found")


def _make_flask():
    from flask import Flask, abort, request, stream_with_context

    app = Flask(__name__)

    @app.route("/users/<int:uid>/posts/<slug>")
    def post(uid, slug):
        return {"uid": uid, "slug": slug, "q": request.args.get("q")}

    @app.route("/form", methods=["POST"])
    def form():
        return {"name": request.form["name"], "tags": request.form.getlist("tag")}

    @app.route("/upload", methods=["POST"])
    def upload():
        f = request.files["file"]
        data = f.read()
        return {"filename": f.filename, "len": len(data), "sha256": hashlib.sha256(data).hexdigest(), "note": request.form.get("note")}

    @app.route("/stream")
    def stream():
        def gen():
            for i in range(int(request.args.get("n", "3"))):
                yield f"{request.args.get('word', 'w')} {i}\n"

        return app.response_class(stream_with_context(gen()), mimetype="text/plain")

    @app.route("/boom")
    def boom():
        raise RuntimeError("a bug in a view")

    @app.route("/teapot")
    def teapot():
        abort(418)

    return app


flask_app = _make_flask()
