"""fastserve's parser from Python, on the cases of tests/parse.rs."""
import pytest

from fastserve import ChunkedDecoder, ParseError, decode_chunked, parse_headers, parse_request, parse_response

SHORT = (
    b"GET /plaintext HTTP/1.1\r\n"
    b"Host: localhost:8080\r\n"
    b"Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7\r\n"
    b"Connection: keep-alive\r\n"
    b"User-Agent: wrk/4.1.0\r\n"
    b"Accept-Encoding: gzip\r\n"
    b"Cache-Control: no-cache\r\n\r\n"
)

LONG = (
    b"GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n"
    b"Host: www.kittyhell.com\r\n"
    b"User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; ja-JP-mac; rv:1.9.2.3) Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n"
    b"Accept-Encoding: gzip,deflate\r\n"
    b"Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n"
    b"Keep-Alive: 115\r\n"
    b"Connection: keep-alive\r\n"
    b"Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; __utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; __utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|utmcct=/reader/|utmcmd=referral\r\n"
    b"Referer: http://www.example.com/\r\n"
    b"DNT: 1\r\n\r\n"
)

MODES = ["strict", "pico"]


@pytest.mark.parametrize("mode", MODES)
def test_benchmark_requests(mode):
    r = parse_request(SHORT, mode=mode)
    assert (r.consumed, r.method, r.path, r.minor_version, len(r.headers)) == (len(SHORT), b"GET", b"/plaintext", 1, 6)
    assert r.headers[0] == (b"Host", b"localhost:8080")
    assert r.headers[5] == (b"Cache-Control", b"no-cache")
    r = parse_request(LONG, mode=mode)
    assert r.consumed == len(LONG) and r.path.endswith(b"pink.jpg") and len(r.headers) == 11
    assert r.headers[10] == (b"DNT", b"1")
    assert r.headers[8][1].startswith(b"wp_ozh") and r.headers[8][1].endswith(b"referral")
    # the body is not part of the head
    r = parse_request(b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody")
    assert r.consumed == 38


def test_pico_vectors():
    p = lambda b: parse_request(b, mode="pico")  # noqa: E731
    assert p(b"GET / HTTP/1.0\r\n\r\n").consumed == 18
    r = p(b"GET /hoge HTTP/1.1\r\nHost: example.com\r\nCookie: \r\n\r\n")
    assert (r.minor_version, r.headers) == (1, [(b"Host", b"example.com"), (b"Cookie", b"")])
    # continuation lines keep their leading whitespace and lose trailing
    r = p(b"GET / HTTP/1.0\r\nfoo: \r\nfoo: b\r\n  \tc \r\n\r\n")
    assert r.headers == [(b"foo", b""), (b"foo", b"b"), (None, b"  \tc")]
    assert p(b"GET / HTTP/1.0\r\nfoo: a \t \r\n\r\n").headers == [(b"foo", b"a")]
    assert p(b"GET / HTTP/1.1\nHost: a\n\n") is not None
    assert p(b"GET   /   HTTP/1.1\r\n\r\n").path == b"/"
    assert p(b"\r\nGET / HTTP/1.1\r\n\r\n") is not None
    assert p(b"GET /hoge HTTP/1.1\r\n\r") is None
    assert p(b"GET /hoge HTTP/1.1") is None
    for bad in [
        b"GET / HTTP/1.0\r\nfoo : ab\r\n\r\n",
        b"GET / HTTP/1.0\r\n:a\r\n\r\n",
        b" / HTTP/1.0\r\n\r\n",
        b"GET  HTTP/1.0\r\n\r\n",
        b"G\0T / HTTP/1.0\r\n\r\n",
        b"G(T / HTTP/1.0\r\n\r\n",
        b"GET /\x7fhello HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.0\r\nab\xffcd: x\r\n\r\n",
        b"GET / HTTP/1.0\r\nx: a\rb\r\n\r\n",
        b"GET / HTTP/1.0\r\nx: a\x01b\r\n\r\n",
        b"GET / HTTP/1.0\r\nx: a\x7fb\r\n\r\n",
        b"GET / HTTP/1.10\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"GET / HTTP/1.1\r\r\n\r\n",
    ]:
        with pytest.raises(ParseError):
            p(bad)
    assert p(b"GET /\xe3\x81\x82 HTTP/1.1\r\nx: \xff\r\n\r\n").path == b"/\xe3\x81\x82"


STRICT_ERRORS = [
    (b"GET / HTTP/1.1\nHost: a\n\n", "invalid line ending"),
    (b"GET / HTTP/1.1\r\nHost: a\n\r\n", "invalid line ending"),
    (b"GET  / HTTP/1.1\r\n\r\n", "invalid request target"),
    (b"GET /  HTTP/1.1\r\n\r\n", "invalid HTTP version"),
    (b"GET /\xe3 HTTP/1.1\r\n\r\n", "invalid request target"),
    (b"GET / HTTP/2.0\r\n\r\n", "unsupported HTTP version"),
    (b"GET / HTTP/x.0\r\n\r\n", "invalid HTTP version"),
    (b"GET / HTTP/1.1\r\nA: b\r\n  folded\r\n\r\n", "invalid header name"),
    (b"GET / HTTP/1.1\r\nA : b\r\n\r\n", "invalid header name"),
    (b"GET / HTTP/1.1\r\nA: b\0c\r\n\r\n", "invalid header value"),
    (b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", "invalid line ending"),
    (b"G@T / HTTP/1.1\r\n\r\n", "invalid method"),
    (b" / HTTP/1.1\r\n\r\n", "invalid method"),
]


def test_strict_vectors():
    assert parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n") is not None
    assert parse_request(b"\r\nGET / HTTP/1.1\r\n\r\n") is not None
    for data, reason in STRICT_ERRORS:
        with pytest.raises(ParseError) as e:
            parse_request(data)
        assert e.value.reason == reason, data


def test_too_many_headers():
    with pytest.raises(ParseError) as e:
        parse_request(b"GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n", max_headers=2)
    assert e.value.reason == "too many headers"
    assert len(parse_request(b"GET / HTTP/1.1\r\na: 1\r\nb: 2\r\n\r\n", max_headers=2).headers) == 2


@pytest.mark.parametrize("mode", MODES)
def test_every_prefix_is_partial(mode):
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\n"
    for msg in (SHORT, LONG):
        for n in range(len(msg)):
            assert parse_request(msg[:n], mode=mode) is None, n
    for n in range(len(resp)):
        assert parse_response(resp[:n], mode=mode) is None, n
    hdrs = SHORT[25:]
    for n in range(len(hdrs)):
        assert parse_headers(hdrs[:n], mode=mode) is None, n
    headers, consumed = parse_headers(hdrs, mode=mode)
    assert consumed == len(hdrs) and headers[0] == (b"Host", b"localhost:8080")


def test_responses():
    r = parse_response(b"HTTP/1.1 404 Not Found\r\nA: b\r\n\r\n", mode="pico")
    assert (r.status, r.reason, r.minor_version, r.headers) == (404, b"Not Found", 1, [(b"A", b"b")])
    r = parse_response(b"HTTP/1.0 200\r\n\r\n", mode="pico")
    assert (r.status, r.reason) == (200, b"")
    assert parse_response(b"HTTP/1.1   200   OK\r\n\r\n", mode="pico").reason == b"OK"
    for bad in (b"HTTP/1.1 2000 OK\r\n\r\n", b"HTTP/1.1 2x0 OK\r\n\r\n"):
        with pytest.raises(ParseError) as e:
            parse_response(bad, mode="pico")
        assert e.value.reason == "invalid status code"
    with pytest.raises(ParseError):
        parse_response(b"HTTP/1.1   200   OK\r\n\r\n")


CHUNKED = [
    (b"5\r\nhello\r\n6;a=b\r\n world\r\n0\r\n\r\nNEXT", b"hello world", b"NEXT"),
    (b"5\r\nhello\r\n0\r\nTrailer: x\r\n\r\nGET /", b"hello", b"GET /"),
]


@pytest.mark.parametrize("body,want,rest", CHUNKED)
def test_chunked_whole_and_split_everywhere(body, want, rest):
    assert decode_chunked(body) == (want, rest)
    for split in range(len(body) + 1):
        d = ChunkedDecoder()
        got, done, after = d.decode(body[:split])
        if done:
            after += body[split:]
        else:
            more, done, after = d.decode(body[split:])
            got += more
        assert (got, done, after) == (want, True, rest), split
        d.close()


def test_chunked_errors_and_partial():
    assert decode_chunked(b"5\r\nhel") is None
    for bad in (b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n", b"ffffffffffffffffff\r\nabc"):
        with pytest.raises(ParseError):
            decode_chunked(bad)
    # pico mode accepts what strict mode refuses: "A " with a trailing space
    assert decode_chunked(b"A \r\n0123456789\r\n0\r\n\r\n", mode="pico") == (b"0123456789", b"")


def test_bad_mode():
    with pytest.raises(ValueError):
        parse_request(b"GET / HTTP/1.1\r\n\r\n", mode="lenient")
