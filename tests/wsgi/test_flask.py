"""A Flask app, unchanged, on fastserve and on gunicorn."""
import hashlib
import os


def test_route_parameters(flask):
    r = flask.client.get("/users/42/posts/hello-world", params={"q": "x y"})
    assert r.status_code == 200
    assert r.json() == {"uid": 42, "slug": "hello-world", "q": "x y"}


def test_form(flask):
    r = flask.client.post("/form", data={"name": "Ada", "tag": ["a", "b"]})
    assert r.json() == {"name": "Ada", "tags": ["a", "b"]}


def test_multipart_upload(flask):
    data = os.urandom(300_000)
    r = flask.client.post("/upload", files={"file": ("blob.bin", data, "application/octet-stream")}, data={"note": "hi"})
    assert r.status_code == 200
    assert r.json() == {"filename": "blob.bin", "len": len(data), "sha256": hashlib.sha256(data).hexdigest(), "note": "hi"}


def test_stream_with_context(flask):
    with flask.client.stream("GET", "/stream", params={"n": "4", "word": "hey"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        assert "".join(r.iter_text()) == "".join(f"hey {i}\n" for i in range(4))


def test_not_found(flask):
    r = flask.client.get("/nope")
    assert r.status_code == 404
    assert "Not Found" in r.text


def test_view_error_is_500(flask):
    r = flask.client.get("/boom")
    assert r.status_code == 500
    assert flask.client.get("/users/1/posts/a").status_code == 200


def test_abort(flask):
    assert flask.client.get("/teapot").status_code == 418


def test_head(flask):
    r = flask.client.head("/users/7/posts/x")
    assert r.status_code == 200
    assert r.content == b""
