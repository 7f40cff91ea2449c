"""Small apps for tests/asgi/test_cli.py."""
import os


async def pid(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b"%d" % os.getpid()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


class Counter:
    """An ASGI app that is an object with an async __call__."""

    def __init__(self):
        self.n = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        more = True
        size = 0
        while more:
            m = await receive()
            size += len(m.get("body", b""))
            more = m.get("more_body", False)
        self.n += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"%d %d" % (self.n, size)})


counter = Counter()


def make_app():
    return pid


def wsgi_app(environ, start_response):
    """A WSGI app: the command line tells it from an ASGI one."""
    body = ("%s %s %s" % (environ["REQUEST_METHOD"], environ["SCRIPT_NAME"], environ["PATH_INFO"])).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
