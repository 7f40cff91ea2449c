"""Memory goes back after a burst: 1,500 connections each send half of a
64 KiB body and leave; the server's RSS then falls back near its idle size
(within twice the size before the burst, plus the spare buffers it keeps)."""
import socket
import time

from conftest import start

SPARE_MIB = 256 * 16 / 1024  # the default spare set: 256 buffers of 16 KiB


def test_rss_falls_back_after_a_burst_of_partial_bodies():
    p = start("hello")
    try:
        warm = p.connect()
        warm.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        warm.recv(4096)
        warm.close()
        time.sleep(0.2)
        before = p.rss_kib() / 1024
        socks = []
        part = b"x" * 32 * 1024
        for _ in range(1500):
            s = p.connect()
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n" + part)
            socks.append(s)
        time.sleep(0.5)
        peak = p.rss_kib() / 1024
        for s in socks:
            s.close()
        # the worker looks once a second
        deadline = time.time() + 5
        after = peak
        while time.time() < deadline:
            time.sleep(0.5)
            after = p.rss_kib() / 1024
            if after <= 2 * before + SPARE_MIB:
                break
        assert peak > before + 40, f"the burst did not cost memory: {before:.1f} -> {peak:.1f} MiB"
        assert after <= 2 * before + SPARE_MIB, f"RSS {before:.1f} MiB before, {peak:.1f} at the peak, {after:.1f} after"
        # and the server still serves
        s = p.connect()
        s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).endswith(b"Hello, World!")
    finally:
        code, _, err = p.stop()
    assert code == 0, err
