"""fastserve's HTTP/1.x parser, returning plain Python values.

    >>> parse_request(b"GET /a?b=1 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    ParsedRequest(method=b'GET', path=b'/a?b=1', minor_version=1, headers=[(b'Host', b'x')], consumed=32)

Every function returns None while the message is incomplete (call it again
with more bytes, from the start of the message) and raises ParseError for
malformed input. `mode` is "strict" (RFC 9112, the default) or "pico"
(picohttpparser's acceptance: bare LF, runs of spaces, continuation lines,
which come back with the name None).
"""
from __future__ import annotations

import ctypes
from ctypes import byref, c_size_t
from typing import List, NamedTuple, Optional, Tuple, Union

from . import _lib
from ._lib import lib

_MODES = {"strict": 0, "pico": 1}
PARTIAL = 1

BytesLike = Union[bytes, bytearray, memoryview]
# (name, value); a continuation line (mode="pico") has the name None
HeaderList = List[Tuple[Optional[bytes], bytes]]


class ParseError(ValueError):
    """Malformed input. `.code` is the fastserve_result code, `.reason` its text."""

    def __init__(self, code: int) -> None:
        self.code = code
        self.reason: str = _lib.result_str(code)
        super().__init__(self.reason)


class ParsedRequest(NamedTuple):
    method: bytes
    path: bytes
    minor_version: int
    headers: HeaderList
    consumed: int


class ParsedResponse(NamedTuple):
    minor_version: int
    status: int
    reason: bytes
    headers: HeaderList
    consumed: int


def _mode(mode):
    try:
        return _MODES[mode]
    except KeyError:
        raise ValueError(f"mode must be 'strict' or 'pico', not {mode!r}") from None


def _slice(data, base, ptr, n):
    if ptr is None:
        return b"" if n == 0 else None
    off = ptr - base
    return data[off : off + n]


def _headers(data, base, arr, n):
    out = []
    for i in range(n):
        h = arr[i]
        name = None if h.name is None else _slice(data, base, h.name, h.name_len)
        out.append((name, _slice(data, base, h.value, h.value_len)))
    return out


def _call(fn, data, max_headers, *args):
    data = bytes(data)
    buf = ctypes.create_string_buffer(data, len(data))
    base = ctypes.addressof(buf)
    arr = (_lib.ParsedHeader * max_headers)()
    n = c_size_t(max_headers)
    consumed = c_size_t(0)
    code = fn(buf, len(data), *args, arr, byref(n), byref(consumed))
    if code == PARTIAL:
        return None
    if code != 0:
        raise ParseError(code)
    return data, base, _headers(data, base, arr, n.value), consumed.value


def parse_request(data: BytesLike, *, mode: str = "strict", max_headers: int = 100) -> Optional[ParsedRequest]:
    """Parses a request head (request line and header fields)."""
    line = _lib.RequestLine()
    r = _call(lambda b, n, a, nh, c: lib.fastserve_parse_request(b, n, _mode(mode), byref(line), a, nh, c), data, max_headers)
    if r is None:
        return None
    data, base, headers, consumed = r
    return ParsedRequest(
        _slice(data, base, line.method, line.method_len),
        _slice(data, base, line.path, line.path_len),
        line.minor_version,
        headers,
        consumed,
    )


def parse_response(data: BytesLike, *, mode: str = "strict", max_headers: int = 100) -> Optional[ParsedResponse]:
    """Parses a response head (status line and header fields)."""
    line = _lib.StatusLine()
    r = _call(lambda b, n, a, nh, c: lib.fastserve_parse_response(b, n, _mode(mode), byref(line), a, nh, c), data, max_headers)
    if r is None:
        return None
    data, base, headers, consumed = r
    return ParsedResponse(line.minor_version, line.status, _slice(data, base, line.reason, line.reason_len), headers, consumed)


def parse_headers(data: BytesLike, *, mode: str = "strict", max_headers: int = 100) -> Optional[Tuple[HeaderList, int]]:
    """Parses header fields through the empty line: (headers, consumed)."""
    r = _call(lambda b, n, a, nh, c: lib.fastserve_parse_headers(b, n, _mode(mode), a, nh, c), data, max_headers)
    if r is None:
        return None
    return r[2], r[3]


class ChunkedDecoder:
    """Decodes a chunked body fed in pieces.

        d = ChunkedDecoder()
        body, done, rest = d.decode(piece)

    `body` is the data decoded from this piece; once `done`, `rest` holds the
    bytes that followed the body (the next message). With
    consume_trailer=True (the default) the trailer section is read too.
    """

    def __init__(self, *, mode: str = "strict", consume_trailer: bool = True) -> None:
        self._d = lib.fastserve_chunked_decoder_new(_mode(mode), consume_trailer)
        self.done = False

    def decode(self, data: BytesLike) -> Tuple[bytes, bool, bytes]:
        if self.done:
            raise ValueError("the body already ended")
        data = bytes(data)
        buf = ctypes.create_string_buffer(data, len(data))
        n = c_size_t(len(data))
        rest = c_size_t(0)
        code = lib.fastserve_chunked_decode(self._d, buf, byref(n), byref(rest))
        if code == PARTIAL:
            return buf.raw[: n.value], False, b""
        if code != 0:
            raise ParseError(code)
        self.done = True
        return buf.raw[: n.value], True, buf.raw[n.value : n.value + rest.value]

    def close(self) -> None:
        if self._d:
            lib.fastserve_chunked_decoder_free(self._d)
            self._d = None

    __del__ = close


def decode_chunked(data: BytesLike, *, mode: str = "strict", consume_trailer: bool = True) -> Optional[Tuple[bytes, bytes]]:
    """Decodes a whole chunked body: (body, rest), or None if it is incomplete."""
    d = ChunkedDecoder(mode=mode, consume_trailer=consume_trailer)
    try:
        body, done, rest = d.decode(data)
    finally:
        d.close()
    return (body, rest) if done else None
