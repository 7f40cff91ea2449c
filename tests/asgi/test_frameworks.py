"""FastAPI and Starlette apps, against fastserve and uvicorn."""
import time

import httpx
import pytest
from conftest import SERVERS, start
from frameworks_app import FILE


@pytest.fixture(scope="module", params=SERVERS)
def client(request):
    for srv in start(request, "frameworks_app:app"):
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            yield c


def test_path_and_query(client):
    r = client.get("/items/42", params={"q": "a b"})
    assert r.status_code == 200
    assert r.json() == {"item_id": 42, "q": "a b"}
    assert client.get("/items/nope").status_code == 422
    assert client.get("/missing").status_code == 404


def test_sync_endpoint(client):
    assert client.get("/sync/ann").json() == {"hello": "ann"}


def test_json_body_validation(client):
    r = client.post("/items", json={"name": "pen", "price": 1.5, "tags": ["a"]})
    assert r.status_code == 200
    assert r.json() == {"name": "pen", "total": 3.0, "tags": ["a"]}
    bad = client.post("/items", json={"name": "pen", "price": "cheap"})
    assert bad.status_code == 422
    assert bad.reason_phrase.startswith("Unprocessable"), bad.reason_phrase  # on the wire
    assert bad.json()["detail"][0]["loc"] == ["body", "price"]
    assert client.post("/items", content=b"{not json", headers={"content-type": "application/json"}).status_code == 422


def test_lifespan_state(client):
    assert client.get("/state").json() == {"db": "connected"}


def test_streaming_response(client):
    with client.stream("GET", "/stream", params={"n": 4}) as r:
        assert r.headers["transfer-encoding"] == "chunked"
        assert r.read() == b"part 0\npart 1\npart 2\npart 3\n"


def test_background_task(client):
    r = client.post("/later", params={"word": "bg1"})
    assert r.json() == {"queued": "bg1"}
    end = time.monotonic() + 5
    while "bg1" not in client.get("/done").json():
        assert time.monotonic() < end, "the background task did not run"
        time.sleep(0.02)


def test_starlette_middleware(client):
    r = client.get("/st/plain/hey")
    assert r.status_code == 200
    assert r.text == "plain hey"
    assert r.headers["x-stamp"] == "stamped"


def test_starlette_file_response(client):
    r = client.get("/st/file")
    assert r.status_code == 200
    with open(FILE, "rb") as f:
        assert r.content == f.read()
    assert r.headers["content-length"] == str(len(r.content))
    assert "etag" in r.headers
