"""The WSGI apps bench/wsgi_bench.py serves: a bare hello and a Flask one."""


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, World!"]


def _flask():
    try:
        from flask import Flask
    except ImportError:
        return None
    app = Flask(__name__)

    @app.route("/")
    def index():
        return "Hello, World!"

    return app


flask_app = _flask()
