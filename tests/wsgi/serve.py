"""Serves a WSGI app for the tests: `serve.py SERVER PORT module:attr
[ROOT_PATH]`, SERVER being fastserve or gunicorn (the reference). Stops on
SIGTERM."""
import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    server, port, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    root = sys.argv[4] if len(sys.argv) > 4 else ""
    if server == "gunicorn":
        env = dict(os.environ, SCRIPT_NAME=root) if root else dict(os.environ)
        exe = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        argv = [exe, "--chdir", HERE, "-w", "1", "-k", "gthread", "--threads", "8", "-b", f"127.0.0.1:{port}",
                "--log-level", "warning", target]
        os.execve(exe, argv, env)
    sys.path.insert(0, HERE)
    import fastserve
    from fastserve.wsgi import mount_wsgi

    module, _, attr = target.partition(":")
    app = getattr(importlib.import_module(module), attr)
    srv = fastserve.Server(max_body=64 << 20, shutdown_grace=2.0)
    mount_wsgi(srv, app, threads=8, root_path=root)
    srv.run("127.0.0.1", port)


if __name__ == "__main__":
    main()
