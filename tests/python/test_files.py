"""Server.directory: files served by the engine, next to Python handlers."""
import http.client
import os

import pytest

import fastserve
from fastserve.asyncio import HttpProtocol


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("site")
    (base / "secret.txt").write_bytes(b"secret")
    www = base / "www"
    (www / "docs").mkdir(parents=True)
    (www / "style.css").write_bytes(b"body{}")
    (www / "docs" / "index.html").write_bytes(b"<h1>docs</h1>")
    os.symlink("../secret.txt", www / "out")
    return base


@pytest.fixture(scope="module")
def app(site):
    a = fastserve.Server()
    a.directory("/assets", site / "www", index=True)
    a.directory("/plain/", str(site / "www"))
    a.directory("/follow", site / "www", follow_symlinks=True)

    @a.get("/hello")
    def hello(req):
        return "hi"

    a.start("127.0.0.1", 0)
    yield a
    a.stop()


def get(app, path, headers=None, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", app.port, timeout=5)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    out = (r.status, r.read(), r)
    c.close()
    return out


def test_files_and_handlers_side_by_side(app):
    status, body, r = get(app, "/assets/style.css")
    assert (status, body, r.getheader("Content-Type")) == (200, b"body{}", "text/css")
    assert get(app, "/hello")[:2] == (200, b"hi")
    assert get(app, "/plain/style.css")[:2] == (200, b"body{}")


def test_index_and_its_flag(app):
    assert get(app, "/assets/docs/")[:2] == (200, b"<h1>docs</h1>")
    assert get(app, "/assets/docs")[2].getheader("Location") == "/assets/docs/"
    assert get(app, "/plain/docs/")[0] == 404


def test_conditional_and_range(app):
    _, _, r = get(app, "/assets/style.css")
    assert get(app, "/assets/style.css", {"If-None-Match": r.getheader("ETag")})[:2] == (304, b"")
    assert get(app, "/assets/style.css", {"If-Modified-Since": r.getheader("Last-Modified")})[:2] == (304, b"")
    status, body, r = get(app, "/assets/style.css", {"Range": "bytes=-2"})
    assert (status, body, r.getheader("Content-Range")) == (206, b"{}", "bytes 4-5/6")


def test_symlinks_out_only_with_the_flag(app):
    assert get(app, "/assets/out")[0] == 404
    assert get(app, "/assets/../secret.txt")[0] == 404
    assert get(app, "/follow/out")[:2] == (200, b"secret")


def test_a_missing_root_is_refused(tmp_path):
    a = fastserve.Server()
    with pytest.raises(NotADirectoryError, match="nope"):
        a.directory("/x", tmp_path / "nope")
    (tmp_path / "gone").mkdir()
    a.directory("/x", tmp_path / "gone")
    (tmp_path / "gone").rmdir()
    with pytest.raises(fastserve.FastserveError, match="gone"):
        a.start("127.0.0.1", 0)


def test_http_protocol_refuses_directory_routes(site):
    a = fastserve.Server()
    a.directory("/assets", site / "www")
    with pytest.raises(NotImplementedError, match="served by the engine"):
        HttpProtocol(a)
