"""`python -m fastserve module:app`: an ASGI or WSGI app on the engine.

With --workers N > 1 the server runs N processes, each with its own engine
and its own Python, all on one port (SO_REUSEPORT: the kernel spreads the
connections); the parent forwards SIGTERM/SIGINT and exits 0 when they all
did. One process with N engine threads would still run every request's
Python under one GIL.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import signal
import socket
import sys
from typing import Any, Dict, List, Optional

_LEVELS = ("critical", "error", "warning", "info", "debug")

# --flag -> Server keyword
_LIMITS = {
    "limit_body": "max_body",
    "limit_header_bytes": "max_header_bytes",
    "limit_headers": "max_headers",
    "limit_request_line": "max_request_line",
    "limit_connections": "max_connections",
    "limit_pipelined": "max_pipelined",
    "limit_unsent": "max_unsent_bytes",
}
_TIMEOUTS = {
    "timeout_header": "header_timeout",
    "timeout_body": "body_timeout",
    "timeout_keep_alive": "keepalive_timeout",
    "timeout_write": "write_timeout",
    "timeout_request": "request_timeout",
    "timeout_graceful_shutdown": "shutdown_grace",
    "timeout_linger": "linger_timeout",
}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="fastserve",
        description="Serve an ASGI or WSGI app on fastserve's HTTP/1.1 engine.",
    )
    ap.add_argument("app", help="the app as module:attribute, e.g. examples.fastapi_app:app")
    ap.add_argument("--host", default=None, help="address to listen on (127.0.0.1)")
    ap.add_argument("--port", type=int, default=None, help="TCP port (8000; 0: a free one)")
    ap.add_argument("--uds", help="listen on this Unix socket path instead")
    ap.add_argument("--fd", type=int, help="serve on this listening socket descriptor instead")
    ap.add_argument("--workers", type=int, default=1, help="processes, each with its own engine, on one port (1)")
    ap.add_argument("--interface", choices=("auto", "asgi", "wsgi"), default="auto",
                    help="the app's interface; auto: ASGI for an async callable, else WSGI")
    ap.add_argument("--log-level", choices=_LEVELS, default="info")
    ap.add_argument("--access-log", action="store_true", help="log each request on stdout")
    ap.add_argument("--access-log-format", choices=("common", "combined"), default="common",
                    help="the access log's format (common)")
    ap.add_argument("--root-path", default="", help="the path prefix the app is mounted under behind a proxy")
    ap.add_argument("--lifespan", choices=("auto", "on", "off"), default="auto", help="ASGI lifespan events (auto)")
    ap.add_argument("--threads", type=int, default=None, help="WSGI: size of the thread pool requests run in")
    ap.add_argument("--driver", choices=("auto", "epoll", "io_uring"), default=None,
                    help="the engine's event loop (auto: epoll today; FASTSERVE_DRIVER overrides)")
    ap.add_argument("--app-dir", default=".", help="put this directory first on sys.path (.)")
    ap.add_argument("--factory", action="store_true", help="the attribute is a function that returns the app")
    for flag, knob in _LIMITS.items():
        ap.add_argument("--" + flag.replace("_", "-"), type=int, default=None, metavar="N",
                        help=f"Server({knob}=N)")
    ap.add_argument("--timeout-idle", dest="timeout_keep_alive", type=float, default=None, metavar="S",
                    help="alias of --timeout-keep-alive")
    for flag, knob in _TIMEOUTS.items():
        ap.add_argument("--" + flag.replace("_", "-"), type=float, default=None, metavar="S",
                        help=f"Server({knob}=S), seconds")
    return ap


def load_app(spec: str, app_dir: str = ".", factory: bool = False) -> Any:
    """The object `module:attr` names (attr may be dotted)."""
    mod_name, sep, attr = spec.partition(":")
    if not sep or not mod_name or not attr:
        raise SystemExit(f"fastserve: the app is given as module:attribute, not {spec!r}")
    if app_dir is not None:
        sys.path.insert(0, os.path.abspath(app_dir))
    try:
        obj: Any = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        if e.name and mod_name.startswith(e.name):
            raise SystemExit(f"fastserve: cannot import module {mod_name!r}") from None
        raise
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SystemExit(f"fastserve: module {mod_name!r} has no attribute {attr!r}") from None
    if factory:
        obj = obj()
    return obj


def server_options(args: argparse.Namespace) -> Dict[str, Any]:
    opts: Dict[str, Any] = {}
    for flag, knob in {**_LIMITS, **_TIMEOUTS}.items():
        v = getattr(args, flag)
        if v is not None:
            opts[knob] = v
    if args.access_log:
        opts["access_log"] = args.access_log_format
    if args.driver is not None:
        opts["driver"] = args.driver
    return opts


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # the access log is the app's output, as a line per request on stdout
    access = logging.getLogger("fastserve.access")
    h = logging.StreamHandler(sys.stdout)
    h.setFormatter(logging.Formatter("%(message)s"))
    access.addHandler(h)
    access.propagate = False


def serve(args: argparse.Namespace, fd: Optional[int] = None) -> int:
    """One process: the app mounted on a Server, until SIGTERM/SIGINT."""
    import fastserve

    app = load_app(args.app, args.app_dir, args.factory)
    interface = args.interface
    if interface == "auto":
        from .asgi import is_asgi_app

        interface = "asgi" if is_asgi_app(app) else "wsgi"
    server = fastserve.Server(**server_options(args))
    if interface == "asgi":
        from .asgi import LifespanFailure, mount_asgi

        mount_asgi(server, app, root_path=args.root_path, lifespan=args.lifespan, max_body=args.limit_body)
    else:
        try:
            from .wsgi import mount_wsgi  # type: ignore[import-not-found]
        except ImportError as e:
            raise SystemExit(f"fastserve: {args.app} is not an ASGI app, and WSGI apps cannot be served here: {e}") from None

        LifespanFailure = None  # type: ignore[assignment,misc]
        extra = {} if args.threads is None else {"threads": args.threads}
        mount_wsgi(server, app, root_path=args.root_path, **extra)
    # What the app allocated at import lives on: the collector skips it.
    # Each request makes a few container objects that live until its call
    # runs on the loop; collecting the youngest generation every 700 of
    # them walks those again and again.
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    where: Dict[str, Any] = {}
    if fd is not None:
        where["fd"] = fd
    elif args.fd is not None:
        where["fd"] = args.fd
    elif args.uds:
        where["unix"] = args.uds
    else:
        where["host"] = args.host or "127.0.0.1"
        where["port"] = 8000 if args.port is None else args.port
    try:
        server.run(**where)
    except Exception as e:
        if LifespanFailure is not None and isinstance(e, LifespanFailure):
            print(f"fastserve: {e}", file=sys.stderr, flush=True)
            return 3
        raise
    return 0


def _shared_port(args: argparse.Namespace) -> "tuple[socket.socket, int]":
    # held (bound, not listening) while the workers run, so that port 0
    # gives them all the same free port
    host = args.host or "127.0.0.1"
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((host, 8000 if args.port is None else args.port))
    return s, s.getsockname()[1]


def run_workers(args: argparse.Namespace) -> int:
    """N processes, forked before the app is imported."""
    held: Any = None
    fd = None
    if args.fd is not None:
        fd = args.fd
    elif args.uds:
        # one Unix path cannot be bound twice: the workers share this socket
        held = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(args.uds):
            os.unlink(args.uds)
        held.bind(args.uds)
        held.listen(1024)
        fd = held.fileno()
    else:
        held, args.port = _shared_port(args)
    pids: List[int] = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                code = serve(args, None if fd is None else os.dup(fd))
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except BaseException:
                logging.getLogger("fastserve").exception("worker failed")
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        pids.append(pid)

    def forward(sig: int, _frame: Any) -> None:
        for p in pids:
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    worst = 0
    for p in pids:
        while True:
            try:
                _, status = os.waitpid(p, 0)
                break
            except InterruptedError:
                continue
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            worst = code if code > 0 else 1
            forward(signal.SIGTERM, None)  # one failed: stop the others
    if held is not None:
        held.close()
        if args.uds:
            try:
                os.unlink(args.uds)
            except OSError:
                pass
    return worst


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    if args.workers < 1:
        raise SystemExit("fastserve: --workers is at least 1")
    _logging(args.log_level)
    if args.workers > 1:
        return run_workers(args)
    return serve(args)
