"""HAProxy in front of two fastserve processes, round-robin, with HTTP
health checks; one backend stops gracefully (SIGTERM) under load and no
request fails."""
import csv
import http.client
import io
import threading
import time

from conftest import KeepAliveClient, Proc, free_port, need

# The README's HAProxy snippet without the PROXY protocol, with ports filled in.
HAPROXY_CFG = """
global
    maxconn 1024

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    # a backend that stopped, or closed an idle connection just as a
    # request went out on it: send the request again, to the other one
    retries 3
    option redispatch 1
    retry-on all-retryable-errors

frontend web
    bind 127.0.0.1:{port}
    default_backend app

backend app
    balance roundrobin
    http-reuse safe
    option httpchk GET /health
    http-check expect status 200
    default-server check inter 200ms fall 2 rise 1
    server a 127.0.0.1:{a}
    server b 127.0.0.1:{b}

listen stats
    bind 127.0.0.1:{stats}
    stats enable
    stats uri /stats
"""

REQUESTS = 20_000
THREADS = 8


def server_status(port):
    """The status HAProxy gives each server of `app` (UP, DOWN, ...)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/stats;csv")
    text = c.getresponse().read().decode()
    c.close()
    rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
    return {r["svname"]: r["status"] for r in rows if r["pxname"] == "app" and r["svname"] in ("a", "b")}


def wait_status(port, want, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = server_status(port)
        if got == want:
            return
        time.sleep(0.05)
    raise AssertionError(f"HAProxy says {got}, not {want}")


def test_haproxy_round_robin_survives_a_graceful_stop(backends, tmp_path):
    (haproxy,) = need("haproxy")
    a, b = backends(), backends()
    port, stats = free_port(), free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(HAPROXY_CFG.format(port=port, stats=stats, a=a.port, b=b.port))
    check = __import__("subprocess").run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    proxy = Proc([haproxy, "-db", "-f", str(cfg)], port)
    done, failures, by_pid = [0], [], {}
    lock = threading.Lock()

    def client(n):
        c = KeepAliveClient(port)
        try:
            for _ in range(n):
                status, body = c.get("/pid")
                with lock:
                    if status != 200:
                        failures.append((status, body))
                    else:
                        by_pid[int(body)] = by_pid.get(int(body), 0) + 1
                    done[0] += 1
        except Exception as e:  # noqa: BLE001 - every failure counts
            failures.append(repr(e))
        finally:
            c.close()
        # HAProxy keeps the client's connection: nothing to send again
        assert c.resent == 0 and c.connections == 1

    try:
        wait_status(stats, {"a": "UP", "b": "UP"})  # both pass their health checks
        threads = [threading.Thread(target=client, args=(REQUESTS // THREADS,)) for _ in range(THREADS)]
        for t in threads:
            t.start()
        while done[0] < REQUESTS // 4 and not failures and any(t.is_alive() for t in threads):
            time.sleep(0.01)
        b.term()  # mid-load
        _, b_final = b.wait(timeout=15)
        wait_status(stats, {"a": "UP", "b": "DOWN"})
        for t in threads:
            t.join(60)
            assert not t.is_alive(), "a client is stuck"
    finally:
        log = proxy.stop()
    print(f"answers by backend: {by_pid}; b served {b_final['requests']} before it stopped")
    assert failures == [], (failures[:3], log)
    assert sum(by_pid.values()) == REQUESTS
    # round-robin: both served while both were up; b's every answer arrived
    assert by_pid[b.pid] >= REQUESTS // 8
    assert by_pid[a.pid] > by_pid[b.pid]
    # b's count includes its health checks
    assert b_final["requests"] >= by_pid[b.pid]
