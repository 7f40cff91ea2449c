"""A raw ASGI app that reports what it was given: the scope, the body
events, and what receive() said at the end, for tests/asgi/test_conformance.py.

Set SHUTDOWN_FILE to have lifespan shutdown write "shutdown" there;
STARTUP_FAIL=1 makes startup fail.
"""
import asyncio
import hashlib
import json
import os

events = []  # what the app saw after responding, fetched by GET /events
holds = []  # futures of /hold calls, set by GET /release


async def lifespan(scope, receive, send):
    while True:
        m = await receive()
        if m["type"] == "lifespan.startup":
            if os.environ.get("STARTUP_FAIL"):
                await send({"type": "lifespan.startup.failed", "message": "no database here"})
                return
            scope["state"]["greeting"] = "hi"
            await send({"type": "lifespan.startup.complete"})
        else:
            path = os.environ.get("SHUTDOWN_FILE")
            if path:
                with open(path, "w") as f:
                    f.write("shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return


async def reply(send, body, status=200, ctype=b"application/json"):
    headers = [(b"content-type", ctype), (b"x-app", b"conformance"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def jsonable_scope(scope):
    return {
        "type": scope["type"],
        "asgi": scope["asgi"],
        "http_version": scope["http_version"],
        "method": scope["method"],
        "scheme": scope["scheme"],
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode("latin-1"),
        "query_string": scope["query_string"].decode("latin-1"),
        "root_path": scope["root_path"],
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        "client": list(scope["client"]) if scope.get("client") else None,
        "server": list(scope["server"]) if scope.get("server") else None,
        "state": scope.get("state"),
        "types": [type(scope["raw_path"]).__name__, type(scope["query_string"]).__name__],
    }


async def websocket(scope, receive, send):
    m = await receive()
    assert m["type"] == "websocket.connect"
    if scope["path"] == scope["root_path"] + "/ws/deny":
        await send({"type": "websocket.close"})
        return
    sub = scope["subprotocols"][0] if scope["subprotocols"] else None
    await send({"type": "websocket.accept", "subprotocol": sub})
    while True:
        m = await receive()
        if m["type"] == "websocket.disconnect":
            events.append(["ws-disconnect", m["code"]])
            return
        if m.get("text") == "close":
            await send({"type": "websocket.close", "code": 4000})
            return
        if "text" in m and m["text"] is not None:
            await send({"type": "websocket.send", "text": "echo:" + m["text"]})
        else:
            await send({"type": "websocket.send", "bytes": m["bytes"][::-1]})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(scope, receive, send)
    if scope["type"] == "websocket":
        return await websocket(scope, receive, send)
    path = scope["path"][len(scope["root_path"]):]  # served under --root-path /api
    if path == "/events":
        return await reply(send, json.dumps(events).encode())
    if path == "/mutate":
        # what the app was given, then changed as middleware may change it
        seen = jsonable_scope(scope)
        seen["keys"] = sorted(scope)
        scope["headers"].append((b"x-added", b"1"))
        scope["path"] = "/changed"
        scope["extra"] = True
        return await reply(send, json.dumps(seen).encode())
    if path == "/body":
        # every body event: its size and more_body; a digest of the whole
        seen, h = [], hashlib.sha256()
        while True:
            m = await receive()
            assert m["type"] == "http.request", m
            h.update(m["body"])
            seen.append([len(m["body"]), m.get("more_body", False)])
            if not m.get("more_body"):
                break
        return await reply(send, json.dumps({"events": seen, "sha256": h.hexdigest()}).encode())
    if path == "/stream":
        n = int(scope["query_string"].split(b"=")[1])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for i in range(n):
            await send({"type": "http.response.body", "body": b"chunk %d\n" % i, "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    if path == "/big-stream":
        # 8 MiB through the stream's flow control; the client reads slowly
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % (8 << 20))]})
        piece = b"x" * (64 << 10)
        for _ in range(128):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/wait-disconnect":
        # the body is read; the next receive() waits for the client to leave
        await receive()
        events.append(["waiting", scope["query_string"].decode()])
        m = await receive()
        events.append([m["type"], scope["query_string"].decode()])
        return
    if path == "/after-response":
        await reply(send, b"done", ctype=b"text/plain")
        m = await receive()
        events.append([m["type"], "after-response"])
        return
    if path == "/error-before":
        raise RuntimeError("failed before the response")
    if path == "/error-after":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("failed in the middle of the body")
    if path == "/no-response":
        return
    if path == "/hold":
        # waits until /release is called: other requests go on meanwhile
        held = asyncio.get_running_loop().create_future()
        holds.append(held)
        await held
        return await reply(send, b"released", ctype=b"text/plain")
    if path == "/release":
        for held in holds:
            if not held.done():
                held.set_result(None)
        holds.clear()
        return await reply(send, b"ok", ctype=b"text/plain")
    if path == "/sleep":
        await asyncio.sleep(0.05)
        return await reply(send, b"slept", ctype=b"text/plain")
    if path == "/echo-header":
        # a header whose value is the query; lists rather than tuples when
        # the query starts with "list"
        q = scope["query_string"]
        pair = [b"x-value", q] if q.startswith(b"list") else (b"x-value", q)
        headers = [(b"content-type", b"text/plain"), pair]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": q})
        return
    if path == "/sleep-between":
        # the head, a wait on the loop, then the body
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await asyncio.sleep(0.05)
        await send({"type": "http.response.body", "body": b"after the wait"})
        return
    if path == "/status":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    await receive()
    await reply(send, json.dumps(jsonable_scope(scope)).encode())
