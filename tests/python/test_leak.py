"""No leak: 100,000 requests through Python handlers leave the process's RSS
and the number of live Python objects flat.

Bounds, after a 20,000-request warm-up: live objects (gc.get_objects) grow
by at most 200, RSS by at most 4 MiB (allocator slack; a leak of one 100-byte
object per request would be 10 MB)."""
import gc
import subprocess
import sys
import textwrap

import fastserve

CLIENT = textwrap.dedent(r"""
    import selectors, socket, sys
    port, total, depth, conns = int(sys.argv[1]), int(sys.argv[2]), 16, 20
    def req(i):
        return b"GET /leak?i=%06d HTTP/1.1\r\nHost: x\r\nX-Trace: %d\r\n\r\n" % (i % 1000000, i)
    size = []
    for i in (0, 1):  # the two shapes of answer: even and odd i
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(req(i))
        one = b""
        while not one.endswith(b"!"):
            one += s.recv(4096)
        s.close()
        size.append(len(one))
    sel = selectors.DefaultSelector()
    sent = 0
    def send(c, st):
        global sent
        k = min(depth, total - sent)
        if k <= 0:
            return False
        c.sendall(b"".join(req(sent + j) for j in range(k)))
        st[0] = sum(size[(sent + j) % 2] for j in range(k))
        sent += k
        return True
    active = 0
    for _ in range(conns):
        c = socket.create_connection(("127.0.0.1", port))
        st = [0]
        sel.register(c, selectors.EVENT_READ, st)
        active += send(c, st)
    while active:
        for key, _ in sel.select(10):
            d = key.fileobj.recv(1 << 20)
            if not d:
                sys.exit("closed")
            key.data[0] -= len(d)
            if key.data[0] == 0 and not send(key.fileobj, key.data):
                active -= 1
""")


def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024


def load(port, n):
    subprocess.run([sys.executable, "-c", CLIENT, str(port), str(n)], check=True, timeout=120)


def test_100k_requests_leave_rss_and_objects_flat():
    app = fastserve.Server()
    seen = {"n": 0}

    @app.get("/leak")
    def leak(req):
        # touch every lazy attribute, and answer in two shapes
        seen["n"] += 1
        i = req.query["i"]
        assert req.headers["x-trace"] and req.method == "GET" and req.body == b""
        if int(i) % 2:
            return "ok " + i + "!"
        return fastserve.Response("OK " + i + "!", headers={"X-I": i})

    port = app.start()
    try:
        load(port, 20_000)
        gc.collect()
        objects0, rss0 = len(gc.get_objects()), rss()
        load(port, 100_000)
        gc.collect()
        objects1, rss1 = len(gc.get_objects()), rss()
    finally:
        app.stop()
    assert seen["n"] == 120_004
    print(f"objects {objects0} -> {objects1}, RSS {rss0 >> 10} KiB -> {rss1 >> 10} KiB")
    assert objects1 - objects0 <= 200
    assert rss1 - rss0 <= 4 << 20
