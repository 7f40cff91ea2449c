"""python -m fastserve: listeners, workers, limits, the access log."""
import http.client
import os
import socket
import subprocess
import sys
import time

from conftest import HERE, Server


def get(port, path="/", method="GET", body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    return r.status, r.read()


def stop_ok(srv):
    code, out, err = srv.stop()
    assert code == 0, err
    return out, err


def test_workers_are_processes_on_one_port():
    srv = Server("fastserve", "cli_apps:pid", "--workers", "2")
    try:
        # two worker processes under the one started
        end = time.monotonic() + 10
        while True:
            with open(f"/proc/{srv.proc.pid}/task/{srv.proc.pid}/children") as f:
                kids = f.read().split()
            if len(kids) == 2 or time.monotonic() > end:
                break
            time.sleep(0.05)
        assert len(kids) == 2
        seen = set()
        end = time.monotonic() + 10
        while len(seen) < 2 and time.monotonic() < end:
            status, body = get(srv.port)  # a new connection each time
            assert status == 200
            seen.add(body.decode())
        assert seen <= set(kids) and len(seen) >= 1
    finally:
        out, err = stop_ok(srv)
    for k in kids:
        assert not os.path.exists(f"/proc/{k}/status") or "zombie" in open(f"/proc/{k}/status").read()


def test_unix_socket(tmp_path):
    path = str(tmp_path / "app.sock")
    proc = subprocess.Popen([sys.executable, "-m", "fastserve", "cli_apps:counter", "--uds", path, "--app-dir", str(HERE)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "unix:" + path in proc.stdout.readline()
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
        data = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
        assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"1 5")
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def test_limit_body_and_access_log():
    srv = Server("fastserve", "cli_apps:counter", "--limit-body", "100", "--access-log", "--interface", "asgi")
    try:
        assert get(srv.port, "/small", "POST", b"x" * 100)[0] == 200
        assert get(srv.port, "/big", "POST", b"x" * 101)[0] == 413
    finally:
        out, err = stop_ok(srv)
    assert '"POST /small HTTP/1.1" 200' in out
    assert '"POST /big HTTP/1.1" 413' in out


def test_driver_flag_picks_the_event_loop():
    for driver in ("epoll", "io_uring"):
        srv = Server("fastserve", "cli_apps:counter", "--driver", driver, "--interface", "asgi",
                     env={"FASTSERVE_DRIVER": ""})  # the environment would win over the flag
        try:
            assert get(srv.port, "/one", "POST", b"x")[0] == 200
        finally:
            out, err = stop_ok(srv)
        first = out.splitlines()[0]
        assert first.startswith("fastserve: listening on http://127.0.0.1:"), first
        if driver == "io_uring" and "io_uring is not available" in err:
            assert first.endswith(" on epoll"), first  # the kernel refused it: said once, on stderr
        else:
            assert first.endswith(f" on {driver}"), (first, err)
    p = subprocess.run([sys.executable, "-m", "fastserve", "cli_apps:counter", "--driver", "kqueue"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "invalid choice: 'kqueue'" in p.stderr


def test_factory():
    srv = Server("fastserve", "cli_apps:make_app", "--factory")
    try:
        assert get(srv.port)[1] == str(srv.proc.pid).encode()
    finally:
        stop_ok(srv)


def test_bad_app_spec():
    for spec, why in (("cli_apps", "module:attribute"), ("no_such_module:app", "cannot import"), ("cli_apps:nope", "no attribute")):
        r = subprocess.run([sys.executable, "-m", "fastserve", spec, "--app-dir", str(HERE)], capture_output=True, text=True, timeout=30)
        assert r.returncode != 0
        assert why in r.stderr


def test_console_script():
    exe = os.path.join(os.path.dirname(sys.executable), "fastserve")
    r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    assert "module:attribute" in r.stdout and "--limit-body" in r.stdout


def test_a_wsgi_app_is_told_apart_and_served():
    for flags in ([], ["--interface", "wsgi", "--threads", "2", "--root-path", "/app"]):
        srv = Server("fastserve", "cli_apps:wsgi_app", *flags)
        try:
            status, body = get(srv.port, "/app/x%20y")
        finally:
            stop_ok(srv)
        expect = b"GET /app /x y" if flags else b"GET  /app/x y"
        assert (status, body) == (200, expect), flags
