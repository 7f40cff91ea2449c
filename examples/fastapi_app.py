"""A small FastAPI app for `python -m fastserve examples.fastapi_app:app`.

    GET  /                     {"hello": "world"}
    GET  /items/{id}?q=...     path and query parameters
    POST /items                a JSON body checked by pydantic (422 if not)
    GET  /stream?n=3           a streamed body, one line at a time
"""
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel


@asynccontextmanager
async def lifespan(app):
    app.state.started = True  # startup runs before the server listens
    yield


app = FastAPI(lifespan=lifespan)


class Item(BaseModel):
    name: str
    price: float


@app.get("/")
async def root():
    return {"hello": "world"}


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str = ""):
    return {"id": item_id, "q": q}


@app.post("/items")
async def create_item(item: Item):
    return {"name": item.name, "price": item.price}


@app.get("/stream")
async def stream(n: int = 3):
    async def lines():
        for i in range(n):
            yield f"line {i}\n"

    return StreamingResponse(lines(), media_type="text/plain")
