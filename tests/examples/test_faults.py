"""Faults a C host process must survive: descriptor exhaustion and peers that
vanish while being written to (no SIGPIPE: the example installs no handler)."""
import os
import socket
import struct
import subprocess
import time

from conftest import BUILD, Proc, read_all_until_close, read_response


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_emfile_backs_off_and_recovers():
    p = Proc(["bash", "-c", f"ulimit -n 24; exec {BUILD / 'hello'} 127.0.0.1 0"])
    try:
        clients = [socket.create_connection((p.host, p.port)) for _ in range(40)]
        time.sleep(0.3)
        before = cpu_seconds(p.proc.pid)
        time.sleep(1.0)
        used = cpu_seconds(p.proc.pid) - before
        assert used < 0.2, f"server burned {used:.2f}s of CPU while out of descriptors"
        for c in clients:
            c.close()
        time.sleep(0.3)
        s = p.connect()
        s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_all_until_close(s).endswith(b"Hello, World!")
    finally:
        code, _, err = p.stop()
    assert code == 0, err


def rst(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_peer_reset_while_written_to_is_no_sigpipe(hello):
    body = b"z" * 900_000
    for _ in range(5):
        s = hello.connect()
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        s.recv(1000)  # the answer has started
        rst(s)
    time.sleep(0.2)
    assert hello.proc.poll() is None, "the server died"
    s = hello.connect()
    s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(s)[2] == b"Hello, World!"
