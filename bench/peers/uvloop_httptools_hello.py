"""Hello-world peer: an asyncio Protocol parsing with httptools, on uvloop.

    python uvloop_httptools_hello.py --port 8080

Answers GET /plaintext and GET / with `Hello, World!`; anything else gets a
404. Pipelined requests are answered in order, and all responses produced by
one read are sent with a single write.
"""
import argparse
import asyncio
import email.utils
import time

import httptools
import uvloop

BODY = b'Hello, World!'
NOT_FOUND = b'Not Found'
PATHS = {b'/plaintext', b'/'}

_date = [0, b'']


def http_date():
    now = int(time.time())
    if now != _date[0]:
        _date[0] = now
        _date[1] = email.utils.formatdate(now, usegmt=True).encode()
    return _date[1]


def response(status, body, keep_alive):
    return b''.join((
        b'HTTP/1.1 ', status, b'\r\n'
        b'Server: uvloop-httptools\r\n'
        b'Date: ', http_date(), b'\r\n'
        b'Content-Type: text/plain\r\n'
        b'Content-Length: ', str(len(body)).encode(), b'\r\n',
        b'' if keep_alive else b'Connection: close\r\n',
        b'\r\n', body,
    ))


class HelloProtocol(asyncio.Protocol):
    __slots__ = ('transport', 'parser', 'url', 'out', 'close_after')

    def __init__(self):
        self.transport = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b''
        self.out = []
        self.close_after = False

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        self.transport = None

    # httptools callbacks
    def on_message_begin(self):
        self.url = b''

    def on_url(self, url):
        self.url += url

    def on_message_complete(self):
        keep_alive = self.parser.should_keep_alive()
        path = self.url.split(b'?', 1)[0]
        if path in PATHS:
            self.out.append(response(b'200 OK', BODY, keep_alive))
        else:
            self.out.append(response(b'404 Not Found', NOT_FOUND, keep_alive))
        if not keep_alive:
            self.close_after = True

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.out.append(response(b'400 Bad Request', b'Bad Request', False))
            self.close_after = True
        if self.out:
            self.transport.write(b''.join(self.out))
            self.out.clear()
        if self.close_after:
            self.transport.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    args = ap.parse_args()

    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(HelloProtocol, args.host, args.port, backlog=4096))
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        loop.close()


if __name__ == '__main__':
    main()
