"""Serves a WSGI app for the tests: `serve.py SERVER PORT module:attr
[ROOT_PATH]`, SERVER being fastserve (its command line) or gunicorn (the
reference). Stops on SIGTERM."""
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
    argv = [sys.executable, "-m", "fastserve", target, "--interface", "wsgi", "--port", str(port), "--app-dir", HERE,
            "--threads", "8", "--limit-body", str(64 << 20), "--timeout-graceful-shutdown", "2", "--log-level", "warning"]
    if root:
        argv += ["--root-path", root]
    os.execv(sys.executable, argv)


if __name__ == "__main__":
    main()
