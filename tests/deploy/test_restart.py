"""A restart on one host without losing a request: a new process binds the
same port (SO_REUSEPORT), then the old one stops gracefully, while clients
keep asking, on keep-alive connections and on a new connection each time."""
import threading
import time

from conftest import KeepAliveClient, fresh_get, free_port


class Load:
    """Clients in threads until stopped: `keep` on keep-alive connections,
    `fresh` on a new connection per request. Each answer's backend pid is
    counted; any failure is kept."""

    def __init__(self, port, keep=2, fresh=2):
        self.port = port
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.by_pid = {}
        self.failures = []
        self.total = 0
        self.clients = []
        self.threads = [threading.Thread(target=self._keep) for _ in range(keep)]
        self.threads += [threading.Thread(target=self._fresh) for _ in range(fresh)]
        for t in self.threads:
            t.start()

    def _record(self, status, body):
        with self.lock:
            if status != 200:
                self.failures.append((status, body))
                return
            pid = int(body)
            self.by_pid[pid] = self.by_pid.get(pid, 0) + 1
            self.total += 1

    def _run(self, get):
        while not self.done.is_set():
            try:
                self._record(*get("/pid"))
            except Exception as e:  # noqa: BLE001 - every failure counts
                with self.lock:
                    self.failures.append(repr(e))

    def _keep(self):
        c = KeepAliveClient(self.port)
        self.clients.append(c)
        self._run(c.get)
        c.close()

    def _fresh(self):
        self._run(lambda path: fresh_get(self.port, path))

    def wait_for(self, n, timeout=20):
        """Waits until `n` more answers came."""
        with self.lock:
            target = self.total + n
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.total >= target or self.failures:
                    return
            time.sleep(0.01)
        raise AssertionError(f"{n} answers not served within {timeout} s")

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(20)
            assert not t.is_alive(), "a client is stuck"


def test_start_new_then_stop_old_loses_no_request(backends):
    port = free_port()
    old = backends(port, grace=20)
    load = Load(port)
    try:
        load.wait_for(1000)
        new = backends(port, grace=20)  # both listen now; the kernel spreads new connections
        load.wait_for(1000)
        t = time.monotonic()
        old.term()
        code, final = old.wait(timeout=15)
        stopped_in = time.monotonic() - t
        load.wait_for(2000)
    finally:
        load.stop()
    resent = sum(c.resent for c in load.clients)
    print(f"answers: {load.by_pid}; old stopped in {stopped_in:.2f} s; "
          f"resent after an idle close: {resent}; old served {final['requests']}")
    assert load.failures == []
    assert set(load.by_pid) == {old.pid, new.pid}
    assert load.by_pid[new.pid] >= 2000
    # every answer the old process counted reached a client
    assert final["requests"] == load.by_pid[old.pid]
    assert new.stats()["requests"] >= load.by_pid[new.pid]
