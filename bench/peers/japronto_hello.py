"""Hello-world peer on japronto (Python 3.7 only), for bench/http_bench.py.

    python japronto_hello.py --port 8080

Answers GET /plaintext and GET / with `Hello, World!` from one worker process.
"""
import argparse

from japronto import Application


def hello(request):
    return request.Response(text='Hello, World!')


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--workers', type=int, default=1)
    args = ap.parse_args()

    app = Application()
    app.router.add_route('/plaintext', hello, method='GET')
    app.router.add_route('/', hello, method='GET')
    app.run(host=args.host, port=args.port, worker_num=args.workers)


if __name__ == '__main__':
    main()
