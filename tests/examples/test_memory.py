"""Memory goes back after a burst: 1,500 connections each send half of a
64 KiB body, and all but 20 leave; the server's RSS then gives back at least
three quarters of what the burst cost. Without the trim it stays at the peak
(the 20 pin the top of the heap); the margin is for the spare buffers kept and
the allocator's fragments, which vary from one machine to another."""
import socket
import time

from conftest import start


def test_rss_falls_back_after_a_burst_of_partial_bodies():
    p = start("hello")
    socks = []
    try:
        warm = p.connect()
        warm.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        warm.recv(4096)
        warm.close()
        time.sleep(0.2)
        before = p.rss_kib() / 1024
        part = b"x" * 32 * 1024
        for _ in range(1500):
            s = p.connect()
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n" + part)
            socks.append(s)
        time.sleep(0.5)
        peak = p.rss_kib() / 1024
        # the last few stay: they pin the top of the heap, which the
        # allocator would otherwise give back by itself
        for s in socks[:-20]:
            s.close()
        # the worker looks once a second
        deadline = time.time() + 6
        after = peak
        while time.time() < deadline:
            time.sleep(0.5)
            after = p.rss_kib() / 1024
            if after - before <= (peak - before) / 4:
                break
        print(f"RSS {before:.1f} -> {peak:.1f} -> {after:.1f} MiB")
        assert peak > before + 40, f"the burst did not cost memory: {before:.1f} -> {peak:.1f} MiB"
        assert after - before <= (peak - before) / 4, f"RSS {before:.1f} MiB before, {peak:.1f} at the peak, {after:.1f} after"
        # and the server still serves
        s = p.connect()
        s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).endswith(b"Hello, World!")
    finally:
        for s in socks:
            s.close()
        code, _, err = p.stop()
    assert code == 0, err
