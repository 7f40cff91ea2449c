"""A FastAPI app with a Starlette app mounted under /st, for
tests/asgi/test_frameworks.py."""
import asyncio
import os
from contextlib import asynccontextmanager

from fastapi import BackgroundTasks, FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import FileResponse, PlainTextResponse
from starlette.routing import Route

FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conformance_app.py")
done = []  # what background tasks did


@asynccontextmanager
async def lifespan(app):
    yield {"db": "connected"}


api = FastAPI(lifespan=lifespan)


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@api.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None):
    return {"item_id": item_id, "q": q}


@api.get("/sync/{name}")
def sync_endpoint(name: str):  # runs in anyio's thread pool
    return {"hello": name}


@api.post("/items")
async def create_item(item: Item):
    return {"name": item.name, "total": item.price * 2, "tags": item.tags}


@api.get("/state")
async def state(request: __import__("fastapi").Request):
    return {"db": request.state.db}


@api.get("/stream")
async def stream(n: int = 3):
    async def gen():
        for i in range(n):
            await asyncio.sleep(0)
            yield f"part {i}\n"

    return StreamingResponse(gen(), media_type="text/plain")


@api.post("/later")
async def later(background: BackgroundTasks, word: str = "x"):
    async def note():
        await asyncio.sleep(0.01)
        done.append(word)

    background.add_task(note)
    return {"queued": word}


@api.get("/done")
async def get_done():
    return done


class Stamp(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        response = await call_next(request)
        response.headers["x-stamp"] = "stamped"
        return response


async def plain(request):
    return PlainTextResponse("plain " + request.path_params["w"])


async def file(request):
    return FileResponse(FILE)


st = Starlette(routes=[Route("/plain/{w}", plain), Route("/file", file)], middleware=[Middleware(Stamp)])
api.mount("/st", st)
app = api
