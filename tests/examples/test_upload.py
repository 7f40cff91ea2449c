"""Request bodies streamed to the handler (c-examples/upload.c): any size in
constant memory, flow control, 100 Continue, and per-route limits."""
import re
import subprocess
import threading
import time
import zlib

from conftest import BUILD, read_response

BLOCK = bytes(range(256)) * 4096  # 1 MiB


def get(p, path):
    s = p.connect()
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    status, _, body, _ = read_response(s)
    s.close()
    return status, body


def test_2_gib_chunked_upload_in_constant_memory(upload):
    # under the sanitizers, 256 MiB tells the same and takes a tenth the time
    blocks = 256 if "asan" in str(BUILD) else 2048
    s = upload.connect(timeout=120)
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n" % len(BLOCK) + BLOCK + b"\r\n"
    peak = 0
    crc = 0
    for i in range(blocks):
        s.sendall(chunk)
        crc = zlib.crc32(BLOCK, crc)
        if i % 128 == 0:
            peak = max(peak, upload.rss_kib())
    s.sendall(b"0\r\n\r\n")
    status, _, body, _ = read_response(s)
    peak = max(peak, upload.rss_kib())
    assert status == 200
    assert body == b"%d %08x\n" % (blocks * len(BLOCK), crc)
    assert peak < 64 * 1024, f"server RSS reached {peak} KiB"


def test_curl_upload_with_expect_continue(upload, tmp_path):
    f = tmp_path / "data"
    data = bytes(range(256)) * 12000  # 3 MB: over the server's 1 MiB max_body
    f.write_bytes(data)
    url = f"http://{upload.host}:{upload.port}/upload"
    # curl sends Expect: 100-continue for a body this large, and waits for it
    r = subprocess.run(["curl", "-sS", "-v", "--data-binary", f"@{f}", url], capture_output=True, check=True)
    assert r.stdout == b"%d %08x\n" % (len(data), zlib.crc32(data))
    assert b"HTTP/1.1 100 Continue" in r.stderr
    r = subprocess.run(["curl", "-sS", "-T", str(f), url], capture_output=True, check=True)  # PUT
    assert r.stdout == b"%d %08x\n" % (len(data), zlib.crc32(data))


def test_100_continue_only_once_the_handler_reads(upload):
    s = upload.connect()
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(100)
    assert buf == b"HTTP/1.1 100 Continue\r\n\r\n"
    s.sendall(b"hello")
    status, _, body, _ = read_response(s)
    assert (status, body) == (200, b"5 %08x\n" % zlib.crc32(b"hello"))


def test_paused_reader_holds_the_client_back(upload):
    total = 64 << 20
    result = {}

    def send():
        s = upload.connect(timeout=30)
        s.sendall(b"POST /hold HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % total)
        for i in range(0, total, len(BLOCK)):
            s.sendall(BLOCK)
        result["response"] = read_response(s)
        s.close()

    t = threading.Thread(target=send)
    t.start()
    time.sleep(1.0)
    before = int(re.search(rb"taken=(\d+)", get(upload, "/stats")[1]).group(1))
    time.sleep(0.5)
    after = int(re.search(rb"taken=(\d+)", get(upload, "/stats")[1]).group(1))
    assert before == after, "reading went on while paused"
    assert after < 1 << 20, f"{after} bytes taken before the pause"
    assert t.is_alive(), "the client was not held back"
    assert get(upload, "/resume") == (200, b"resumed\n")
    t.join(30)
    status, _, body, _ = result["response"]
    crc = 0
    for _ in range(total // len(BLOCK)):
        crc = zlib.crc32(BLOCK, crc)
    assert (status, body) == (200, b"%d %08x\n" % (total, crc))


def test_route_limits(upload):
    s = upload.connect()
    s.sendall(b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    assert read_response(s)[:3:2] == (200, b"hello")
    s.sendall(b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n")
    status, headers, _, _ = read_response(s)
    assert status == 413 and headers["connection"] == "close"
    # chunked past the route's limit: 413 as well
    s = upload.connect()
    s.sendall(b"POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n" + b"x" * 17 + b"\r\n0\r\n\r\n")
    assert read_response(s)[0] == 413
    # a streaming route takes far more than the server's 1 MiB max_body
    s = upload.connect()
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (3 << 20))
    for _ in range(3):
        s.sendall(BLOCK)
    assert read_response(s)[0] == 200


def test_client_leaving_mid_upload_leaves_the_server_serving(upload):
    for _ in range(20):
        s = upload.connect()
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + BLOCK[:5000])
        s.close()
    time.sleep(0.2)
    assert get(upload, "/stats")[0] == 200
