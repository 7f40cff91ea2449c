"""Hello-world RSGI app for granian, for bench/http_bench.py.

    granian --interface rsgi --port 8080 --working-dir bench/peers granian_hello:app

Answers GET /plaintext and GET / with `Hello, World!`; anything else gets a 404.
"""

HEADERS = [('content-type', 'text/plain')]


async def app(scope, proto):
    if scope.proto != 'http':
        return
    if scope.path in ('/plaintext', '/'):
        proto.response_str(200, HEADERS, 'Hello, World!')
    else:
        proto.response_str(404, HEADERS, 'Not Found')
