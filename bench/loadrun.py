"""One measured run of a server under loadgen, shared by the benchmarks that
compare servers or server configurations: the server pinned to one core,
loadgen (bench/loadgen, built into build/loadgen) to another, and the
server's CPU time (utime + stime of its process tree, /proc) over the
measured run divided by the responses."""
import json
import re
import shlex
import socket
import subprocess
import time
from pathlib import Path

from procstat import cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
LOADGEN = ROOT / "build" / "loadgen"
FLOOR = ROOT / "build" / "floor"


def add_args(ap):
    """The run options every such benchmark takes."""
    ap.add_argument("-d", "--duration", type=float, default=5.0, help="measured seconds per run (5)")
    ap.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run (1)")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each configuration, alternating (3)")
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--depth", type=int, default=16)
    ap.add_argument("--server-cpu", default="0")
    ap.add_argument("--client-cpu", default="1")
    ap.add_argument("--loadgen", help=f"a built loadgen (default: {LOADGEN}, built by make when missing)")
    ap.add_argument("--out", help="write the results as JSON here")


def build(*targets):
    """`make` the given build/ targets (up to date: a no-op)."""
    subprocess.run(["make", "-s", "-C", str(ROOT), *targets], check=True, stdout=subprocess.DEVNULL)


def loadgen_path(given):
    if given:
        return given
    build("build/loadgen")
    return str(LOADGEN)


def floor_path():
    build("build/floor")
    return str(FLOOR)


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


def loadgen_argv(loadgen, port, path, body, args, depth=None, latency=False):
    """The loadgen command line, pinned to args.client_cpu, without --duration."""
    argv = ["taskset", "-c", args.client_cpu, loadgen, "--url", f"http://127.0.0.1:{port}{path}",
            "--conns", str(args.conns), "--depth", str(depth or args.depth)]
    if body is not None:
        argv += ["--expect-body", body]
    if not latency:
        argv.append("--no-latency")
    return argv


def parse_result(out):
    """loadgen's last line, `RESULT k=v ...`, as a dict of floats."""
    last = out.strip().splitlines()[-1]
    if not last.startswith("RESULT "):
        raise RuntimeError(f"no RESULT line in loadgen output:\n{out}")
    return {k: float(v) for k, v in (kv.split("=") for kv in last.split()[1:])}


def cpu_busy(out):
    """loadgen's `system:` line: {cpu: busy percent} over the run, every
    process included (a core busier than the server was running others)."""
    return {int(c): float(b) for c, b in re.findall(r"cpu(\d+) busy ([\d.]+)%", out)}


def load(pid, port, path, body, args, loadgen, depth=None, latency=False):
    """Warm up, then one measured loadgen run against a listening server
    `pid`: a dict of loadgen's RESULT (rps, requests, secs, p50_us, p99_us,
    gen_cpu_pct, errors) plus cpu_ns (server CPU per request), server_cpu
    (its share of one core), busy (each core's busy percent, cpu_busy) and
    cmd (the measured loadgen command)."""
    base = loadgen_argv(loadgen, port, path, body, args, depth, latency)

    def run(seconds):
        done = subprocess.run(base + ["--duration", str(seconds)], capture_output=True, text=True,
                              timeout=seconds + 60)
        if done.returncode != 0:
            raise RuntimeError(f"loadgen exited with {done.returncode}: "
                               f"{(done.stderr or done.stdout).strip()[-400:]}")
        return done

    if args.warmup > 0:
        run(args.warmup)
    argv = base + ["--duration", str(args.duration)]
    before = cpu_seconds(pid)
    done = run(args.duration)
    after = cpu_seconds(pid)
    res = parse_result(done.stdout)
    cpu = after - before
    shown = [str(Path(a).relative_to(ROOT)) if a.startswith(str(ROOT) + "/") else a for a in argv]
    res.update(cpu_ns=cpu * 1e9 / res["requests"], server_cpu=cpu / res["secs"], busy=cpu_busy(done.stdout),
               cmd=shlex.join(shown))
    return res


def measure(argv_for_port, path, body, args, loadgen):
    """Server CPU ns per request and req/s: the server `argv_for_port(port)`
    answering GET `path` with `body`."""
    port = free_port()
    srv = subprocess.Popen(["taskset", "-c", args.server_cpu, *argv_for_port(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, srv)
        res = load(srv.pid, port, path, body, args, loadgen)
    finally:
        srv.terminate()
        try:
            srv.wait(10)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
    return res["cpu_ns"], res["rps"]


def save(path, results):
    """Writes `results` as JSON to `path` (the --out option), if given."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(results, indent=2))
