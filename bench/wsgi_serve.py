"""Serves a WSGI app on fastserve: wsgi_serve.py PORT module:attr [THREADS]."""
import importlib
import sys

import fastserve
from fastserve.wsgi import mount_wsgi

port, target = int(sys.argv[1]), sys.argv[2]
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 8
module, _, attr = target.partition(":")
app = getattr(importlib.import_module(module), attr)
srv = fastserve.Server(access_log=False)
mount_wsgi(srv, app, threads=threads)
srv.run("127.0.0.1", port)
