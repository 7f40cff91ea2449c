"""Memory goes back after a burst: 1,500 connections each send half of a
64 KiB body. When all but 20 have left, RSS has given back at least three
quarters of what the burst cost (without the trim it stays at the peak: the
20 pin the top of the heap). When the last 20 leave too, RSS is within twice
its size before the burst plus the spare buffers kept."""
import socket
import time

from conftest import start

SPARE_MIB = 256 * 16 / 1024  # the default spare set: 256 buffers of 16 KiB


def wait_for_rss(p, ok, seconds=6):
    """RSS in MiB once ok(rss) holds, or the last reading after `seconds`
    (the worker looks once a second)."""
    deadline = time.time() + seconds
    rss = p.rss_kib() / 1024
    while not ok(rss) and time.time() < deadline:
        time.sleep(0.25)
        rss = p.rss_kib() / 1024
    return rss


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
        after = wait_for_rss(p, lambda rss: rss - before <= (peak - before) / 4)
        assert peak > before + 40, f"the burst did not cost memory: {before:.1f} -> {peak:.1f} MiB"
        assert after - before <= (peak - before) / 4, f"RSS {before:.1f} MiB before, {peak:.1f} at the peak, {after:.1f} with 20 left"
        for s in socks[-20:]:
            s.close()
        idle = wait_for_rss(p, lambda rss: rss <= 2 * before + SPARE_MIB)
        assert idle <= 2 * before + SPARE_MIB, f"RSS {before:.1f} MiB before, {peak:.1f} at the peak, {idle:.1f} idle"
        # and the server still serves
        s = p.connect()
        s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).endswith(b"Hello, World!")
    finally:
        for s in socks:
            s.close()
        code, _, err = p.stop()
    assert code == 0, err
