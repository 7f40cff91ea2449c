"""The apps of bench/asgi_bench.py: a bare ASGI hello, Starlette's
PlainTextResponse and a FastAPI endpoint returning a small pydantic model."""

HELLO = b"Hello, World!"


async def bare(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            await send({"type": m["type"] + ".complete"})
            if m["type"] == "lifespan.shutdown":
                return
    await send({
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")],
    })
    await send({"type": "http.response.body", "body": HELLO})


def _starlette():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request):
        return PlainTextResponse("Hello, World!")

    return Starlette(routes=[Route("/", hello)])


def _fastapi():
    from fastapi import FastAPI
    from pydantic import BaseModel

    class Greeting(BaseModel):
        message: str
        count: int

    app = FastAPI()

    @app.get("/", response_model=Greeting)
    async def hello():
        return Greeting(message="Hello, World!", count=1)

    return app


def __getattr__(name):
    # frameworks imported only by the runs that serve them
    if name == "starlette":
        return _starlette()
    if name == "fastapi":
        return _fastapi()
    raise AttributeError(name)
