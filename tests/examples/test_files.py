"""File bodies and the static directory route, through c-examples/files.c,
with curl, http.client and raw TCP."""
import hashlib
import http.client
import os
import shutil
import socket
import subprocess
import time

import pytest

from conftest import read_all_until_close, read_response, start

SECRET = b"TOP-SECRET-outside-the-root\n"
HELLO = b"hello, file world\n"  # 18 bytes
BIG = 64 * 1024 * 1024
MID = 3 * 1024 * 1024  # more than max_unsent_bytes


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """base/secret.txt outside the root; the root base/www with files, a
    directory with an index, and symlinks inside and out."""
    base = tmp_path_factory.mktemp("files")
    (base / "secret.txt").write_bytes(SECRET)
    www = base / "www"
    (www / "sub").mkdir(parents=True)
    (www / "empty").mkdir()
    (www / "hello.txt").write_bytes(HELLO)
    (www / "page.html").write_bytes(b"<p>page</p>")
    (www / "data.json").write_bytes(b"{}")
    (www / "a b.txt").write_bytes(b"spaced")
    (www / "sub" / "index.html").write_bytes(b"<h1>index</h1>")
    (www / "sub" / "inner.txt").write_bytes(b"inner")
    os.symlink("../secret.txt", www / "up")
    os.symlink(str(base / "secret.txt"), www / "abs")
    os.symlink("/etc", www / "etc")
    os.symlink("hello.txt", www / "alias.txt")
    (www / "mid.bin").write_bytes(b"m" * MID)
    # a sparse 64 MiB file with marks at its start, middle and end
    with open(www / "big.bin", "wb") as f:
        f.truncate(BIG)
        for at in (0, BIG // 2, BIG - 16):
            f.seek(at)
            f.write(b"mark@%011d" % at)
    return base


@pytest.fixture
def files(tree):
    p = start("files", tree / "www")
    yield p
    code, _, err = p.stop()
    assert code == 0, err


def read_big(sock, buf=b""):
    """read_response for large bodies (a bytearray, not repeated copies)."""
    buf = bytearray(buf)
    while b"\r\n\r\n" not in buf:
        d = sock.recv(1 << 20)
        if not d:
            raise EOFError(bytes(buf))
        buf += d
    end = buf.index(b"\r\n\r\n")
    lines = bytes(buf[:end]).split(b"\r\n")
    headers = {k.strip().lower().decode(): v.strip().decode() for k, _, v in (l.partition(b":") for l in lines[1:])}
    n = int(headers.get("content-length", "0"))
    del buf[: end + 4]
    while len(buf) < n:
        d = sock.recv(1 << 20)
        if not d:
            raise EOFError("closed in body")
        buf += d
    return int(lines[0].split()[1]), headers, bytes(buf[:n]), bytes(buf[n:])


def get(p, path, headers=None, method="GET"):
    c = http.client.HTTPConnection(p.host, p.port, timeout=10)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


def test_files_with_http_client(files):
    r, body = get(files, "/static/hello.txt")
    assert (r.status, body) == (200, HELLO)
    assert r.getheader("Content-Type") == "text/plain"
    assert r.getheader("Content-Length") == str(len(HELLO))
    assert r.getheader("Accept-Ranges") == "bytes"
    for path, ctype in [("/static/page.html", "text/html"), ("/static/data.json", "application/json")]:
        assert get(files, path)[0].getheader("Content-Type") == ctype
    assert get(files, "/static/a%20b.txt")[1] == b"spaced"
    assert get(files, "/static/alias.txt")[1] == HELLO  # a symlink inside the root
    assert get(files, "/static/hello.txt?v=1")[1] == HELLO


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_files_with_curl(files, tmp_path):
    base = f"http://{files.host}:{files.port}"
    out = tmp_path / "big"
    subprocess.run(["curl", "-sf", "-o", str(out), f"{base}/static/big.bin"], check=True, timeout=60)
    assert out.stat().st_size == BIG
    r = subprocess.run(["curl", "-sf", "-r", "3-7", f"{base}/static/hello.txt"], capture_output=True, timeout=10, check=True)
    assert r.stdout == HELLO[3:8]
    r = subprocess.run(["curl", "-si", f"{base}/static/sub/"], capture_output=True, timeout=10, check=True)
    assert r.stdout.startswith(b"HTTP/1.1 200") and r.stdout.endswith(b"<h1>index</h1>")
    assert b"Content-Type: text/html" in r.stdout
    r = subprocess.run(["curl", "-sfL", f"{base}/static/sub"], capture_output=True, timeout=10, check=True)
    assert r.stdout == b"<h1>index</h1>"


def test_directories(files):
    r, _ = get(files, "/static/sub")
    assert (r.status, r.getheader("Location")) == (301, "/static/sub/")
    assert get(files, "/static/sub/inner.txt")[1] == b"inner"
    assert get(files, "/static/empty/")[0].status == 404  # no index.html
    assert get(files, "/static/hello.txt/")[0].status == 404
    assert get(files, "/static/missing")[0].status == 404
    assert get(files, "/staticx")[0].status == 404  # the prefix is a whole segment
    assert get(files, "/static/hello.txt", method="POST")[0].status == 405


def test_conditional_requests(files):
    r, _ = get(files, "/static/hello.txt")
    etag, lm = r.getheader("ETag"), r.getheader("Last-Modified")
    assert etag.startswith('"') and lm.endswith("GMT")
    for h in [{"If-None-Match": etag}, {"If-None-Match": f'"other", W/{etag}'}, {"If-None-Match": "*"}, {"If-Modified-Since": lm}]:
        r, body = get(files, "/static/hello.txt", h)
        assert (r.status, body) == (304, b""), h
        assert r.getheader("Content-Length") is None
        assert r.getheader("ETag") == etag and r.getheader("Last-Modified") == lm
    past = "Thu, 01 Jan 1998 00:00:00 GMT"
    for h in [{"If-None-Match": '"other"'}, {"If-Modified-Since": past}, {"If-None-Match": '"other"', "If-Modified-Since": lm}, {"If-Modified-Since": "garbage"}]:
        r, body = get(files, "/static/hello.txt", h)
        assert (r.status, body) == (200, HELLO), h


@pytest.mark.parametrize(
    "spec,status,body,crange",
    [
        ("bytes=0-0", 206, HELLO[:1], "bytes 0-0/18"),
        ("bytes=17-17", 206, HELLO[17:], "bytes 17-17/18"),
        ("bytes=-4", 206, HELLO[-4:], "bytes 14-17/18"),
        ("bytes=-100", 206, HELLO, "bytes 0-17/18"),
        ("bytes=5-", 206, HELLO[5:], "bytes 5-17/18"),
        ("bytes=2-1000", 206, HELLO[2:], "bytes 2-17/18"),
        ("bytes=18-", 416, b"", "bytes */18"),
        ("bytes=100-200", 416, b"", "bytes */18"),
        ("bytes=-0", 416, b"", "bytes */18"),
        ("bytes=5-2", 200, HELLO, None),
        ("bytes=0-1,4-5", 200, HELLO, None),
        ("bytes=zz", 200, HELLO, None),
        ("lines=1-2", 200, HELLO, None),
        ("garbage", 200, HELLO, None),
    ],
)
def test_ranges(files, spec, status, body, crange):
    r, got = get(files, "/static/hello.txt", {"Range": spec})
    assert (r.status, got, r.getheader("Content-Range")) == (status, body, crange)
    assert r.getheader("Content-Length") == str(len(body))


def test_if_range(files):
    r, _ = get(files, "/static/hello.txt")
    etag, lm = r.getheader("ETag"), r.getheader("Last-Modified")
    assert get(files, "/static/hello.txt", {"Range": "bytes=0-1", "If-Range": etag})[0].status == 206
    assert get(files, "/static/hello.txt", {"Range": "bytes=0-1", "If-Range": lm})[0].status == 206
    r, body = get(files, "/static/hello.txt", {"Range": "bytes=0-1", "If-Range": '"stale"'})
    assert (r.status, body) == (200, HELLO)


def test_head(files):
    r, body = get(files, "/static/hello.txt", method="HEAD")
    assert (r.status, body, r.getheader("Content-Length")) == (200, b"", str(len(HELLO)))
    r, body = get(files, "/static/big.bin", {"Range": "bytes=10-19"}, method="HEAD")
    assert (r.status, body, r.getheader("Content-Length")) == (206, b"", "10")
    # the connection stays usable after a HEAD of a file
    with files.connect() as s:
        s.sendall(b"HEAD /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /static/hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(65536)
        head, _, rest = buf.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: %d" % BIG in head
        status, _, body, _ = read_response(s, rest)
        assert (status, body) == (200, HELLO)


TRAVERSALS = [
    "/static/../secret.txt",
    "/static/../../secret.txt",
    "/static/sub/../../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/.%2e/secret.txt",
    "/static/%2e./secret.txt",
    "/static/..%2fsecret.txt",
    "/static/%2e%2e%2fsecret.txt",
    "/static/sub%2f..%2f..%2fsecret.txt",
    "/static/..%5csecret.txt",
    "/static/..\\secret.txt",
    "/static/sub\\..\\..\\secret.txt",
    "/static/%252e%252e/secret.txt",
    "/static/..%00/secret.txt",
    "/static/secret.txt%00.html",
    "/static/%00",
    "/static/up",
    "/static/abs",
    "/static/etc/passwd",
    "/static/etc/hostname",
    "/static//../secret.txt",
    "/static/./../secret.txt",
    "/static/sub/./../../secret.txt",
    "/static/%2fetc%2fpasswd",
    "/static/%2f..%2fsecret.txt",
    "/static/..;/secret.txt",
    "/static/./secret.txt",
    "/static/%c0%ae%c0%ae/secret.txt",
    "/static/%e0%80%ae%e0%80%ae/secret.txt",
    "/static/....//secret.txt",
    "/static/%2e%2e%5c%2e%2e%5csecret.txt",
    "/static/..%c0%afsecret.txt",
    "/static/.../secret.txt",
    "/static/sub/%2e%2e/%2e%2e/secret.txt",
    "/static/%25%32%65%25%32%65/secret.txt",
    "/static/up/",
    "/static/abs?x=1",
    "/static/..",
    "/static/%2e%2e",
    "/static/sub/..",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_traversal_is_refused(files, target):
    with files.connect() as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = read_all_until_close(s)
    status = int(data.split(b" ", 2)[1])
    assert status in (400, 404), data
    assert SECRET.strip() not in data and b"root:" not in data, data


def test_traversal_corpus_is_large_enough():
    assert len(TRAVERSALS) >= 30


def test_big_file_downloads_whole_with_small_rss(files, tree):
    expected = hashlib.sha256((tree / "www" / "big.bin").read_bytes()).hexdigest()
    rss_before = rss_kib(files.proc.pid)
    with files.connect(timeout=30) as s:
        s.sendall(b"GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        # read slowly at first, so that the server meets a full socket
        time.sleep(0.2)
        status, headers, body, rest = read_big(s)
    assert (status, int(headers["content-length"]), rest) == (200, BIG, b"")
    assert hashlib.sha256(body).hexdigest() == expected
    del body
    # file bytes are never in the server's memory
    assert rss_kib(files.proc.pid) - rss_before < 16 * 1024


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_client_leaving_mid_file_does_not_hurt_the_server(files):
    for _ in range(3):
        s = files.connect()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.sendall(b"GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(65536)
        s.close()  # a reset while the server is in sendfile
    assert get(files, "/static/hello.txt")[1] == HELLO


def test_pipelined_around_files_in_order(files):
    reqs = [
        "/static/hello.txt",
        "/static/mid.bin",
        "/file?name=hello.txt&off=6&len=4",
        "/later?name=hello.txt",
        "/static/missing",
        "/static/page.html",
        "/later?name=page.html",
        "/file?name=page.html",
    ]
    with files.connect(timeout=30) as s:
        s.sendall(b"".join(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in reqs))
        rest = b""
        got = []
        for _ in reqs:
            status, _, body, rest = read_big(s, rest)
            got.append((status, body if len(body) < 100 else len(body)))
    assert got == [
        (200, HELLO),
        (200, MID),
        (200, HELLO[6:10]),
        (200, HELLO),
        (404, b"Not Found\n"),
        (200, b"<p>page</p>"),
        (200, b"<p>page</p>"),
        (200, b"<p>page</p>"),
    ]


def test_response_file_refuses_a_range_past_the_end(files):
    r, body = get(files, "/file?name=hello.txt&off=10&len=9")
    assert r.status == 400
    assert b"past the end of the file (18 bytes)" in body
    # the refused descriptor was closed: many refusals leak nothing
    fds = len(os.listdir(f"/proc/{files.proc.pid}/fd"))
    for _ in range(50):
        assert get(files, "/file?name=hello.txt&off=30&len=1")[0].status == 400
    assert len(os.listdir(f"/proc/{files.proc.pid}/fd")) <= fds + 2
    assert get(files, "/file?name=hello.txt&off=18&len=0")[1] == b""


def test_a_file_that_shrinks_closes_the_connection(files, tree):
    path = tree / "www" / "shrinks.bin"
    with open(path, "wb") as f:
        f.truncate(BIG)
    with files.connect(timeout=10) as s:
        s.sendall(b"GET /static/shrinks.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)  # the socket buffers fill; the server waits mid-file
        os.truncate(path, 1024 * 1024)
        got = 0
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            got += len(d)
    assert got < BIG
    assert get(files, "/static/hello.txt")[1] == HELLO
