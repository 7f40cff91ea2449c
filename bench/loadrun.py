"""One measured run of a server under loadgen, shared by the benchmarks that
compare server configurations: the server pinned to one core, loadgen
(built from ../shared/loadgen) to another, and the server's CPU time
(utime + stime, /proc) over the measured run divided by the responses."""
import shutil
import socket
import subprocess
import time
from pathlib import Path

from procstat import cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
LOADGEN_SRC = ROOT.parent / "shared" / "loadgen"
LOADGEN_DIR = Path("/tmp/lg")


def add_args(ap):
    """The run options every such benchmark takes."""
    ap.add_argument("-d", "--duration", type=float, default=5.0, help="measured seconds per run (5)")
    ap.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run (1)")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each configuration, alternating (3)")
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--depth", type=int, default=16)
    ap.add_argument("--server-cpu", default="0")
    ap.add_argument("--client-cpu", default="1")
    ap.add_argument("--loadgen", help=f"a built loadgen (default: {LOADGEN_DIR}, built from ../shared/loadgen)")
    ap.add_argument("--out", help="write the results as JSON here")


def loadgen_path(given):
    if given:
        return given
    exe = LOADGEN_DIR / "target" / "release" / "loadgen"
    if not exe.exists():
        if not LOADGEN_DIR.exists():
            shutil.copytree(LOADGEN_SRC, LOADGEN_DIR)
        subprocess.run(["cargo", "build", "--release", "-q"], cwd=LOADGEN_DIR, check=True)
    return str(exe)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen")


def measure(argv_for_port, path, body, args, loadgen):
    """Server CPU ns per request and req/s: the server `argv_for_port(port)`
    answering GET `path` with `body`."""
    port = free_port()
    srv = subprocess.Popen(["taskset", "-c", args.server_cpu, *argv_for_port(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port, srv)
        url = f"http://127.0.0.1:{port}{path}"
        base = ["taskset", "-c", args.client_cpu, loadgen, "--url", url, "--conns", str(args.conns),
                "--depth", str(args.depth), "--expect-body", body, "--no-latency"]
        subprocess.run(base + ["--duration", str(args.warmup)], check=True, capture_output=True, timeout=60)
        before = cpu_seconds(srv.pid)
        out = subprocess.run(base + ["--duration", str(args.duration)], check=True, capture_output=True,
                             text=True, timeout=args.duration + 60).stdout
        after = cpu_seconds(srv.pid)
    finally:
        srv.terminate()
        try:
            srv.wait(10)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
    result = dict(kv.split("=") for kv in out.strip().splitlines()[-1].split()[1:])
    n = int(result["requests"])
    return (after - before) * 1e9 / n, float(result["rps"])
