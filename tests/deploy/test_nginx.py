"""nginx as a reverse proxy with upstream keep-alive in front of fastserve:
every request succeeds, and nginx reuses its upstream connections."""
import threading

from conftest import KeepAliveClient, Proc, free_port, need

# The README's nginx snippet, with ports and paths filled in.
NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    upstream fastserve {{
        server 127.0.0.1:{backend};
        keepalive 16;
        keepalive_requests 100000;
        keepalive_timeout 60s;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://fastserve;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }}
    }}
}}
"""

REQUESTS = 10_000
THREADS = 8


def test_nginx_upstream_keepalive(backends, tmp_path):
    (nginx,) = need("nginx")
    backend = backends()
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(run=tmp_path, backend=backend.port, port=port))
    proxy = Proc([nginx, "-p", f"{tmp_path}/", "-c", str(conf), "-e", f"{tmp_path}/error.log"], port)
    results, failures = [], []

    def client(n):
        c = KeepAliveClient(port)
        try:
            for _ in range(n):
                results.append(c.get("/"))
        except Exception as e:  # noqa: BLE001 - every failure counts
            failures.append(repr(e))
        finally:
            c.close()
        assert c.resent == 0  # nginx keeps the client's connection open

    try:
        before = backend.stats()
        threads = [threading.Thread(target=client, args=(REQUESTS // THREADS,)) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
            assert not t.is_alive(), "a client is stuck"
        after = backend.stats()
    finally:
        log = proxy.stop()
    assert failures == [], (failures[:3], log)
    assert len(results) == REQUESTS
    assert all(r == (200, b"ok") for r in results)
    served = after["requests"] - before["requests"]
    accepted = after["accepted_connections"] - before["accepted_connections"]
    print(f"{REQUESTS} requests through nginx: the backend served {served} on {accepted} connections")
    assert served >= REQUESTS
    # nginx keeps at most `keepalive` idle connections per worker: a few
    # dozen accepts at most, against one per request without keep-alive
    assert accepted <= 2 * THREADS + 16, accepted
