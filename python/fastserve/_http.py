"""Requests, responses and the batch dispatch loop shared by `Server` and
`fastserve.asyncio.HttpProtocol`.

A batch arrives as two byte strings: the records (64 bytes each, read as 16
little-endian u32 words through one memoryview) and the data area. A Request
is a view of one record: nothing is decoded until an attribute is read.

The answers go back as columns (see fastserve.h, fastserve_batch_respond):
a status word per reply (status | content type code << 16), optional header
line lengths, body lengths, and all the bytes joined.
"""
import asyncio
import inspect
import json
import logging
import sys
from array import array
from struct import unpack_from
from urllib.parse import parse_qsl

log = logging.getLogger("fastserve")

REC_WORDS = 16  # a fastserve_batch_request is 16 u32 words
# word indexes inside a record
_TAG, _FLAGS, _ID_LO, _ID_HI, _M_OFF, _M_LEN, _T_OFF, _T_LEN, _P_LEN, _H_CNT, _H_OFF, _B_OFF, _B_LEN, _CONN = range(14)
FLAG_HEAD, FLAG_HTTP11, FLAG_QUERY = 1, 2, 4

CT_NONE, CT_TEXT, CT_JSON, CT_HTML, CT_OCTET = 0, 1, 2, 3, 4
_CT_CODES = {
    "text/plain; charset=utf-8": CT_TEXT,
    "application/json": CT_JSON,
    "text/html; charset=utf-8": CT_HTML,
    "application/octet-stream": CT_OCTET,
}

_RESERVED = {b"content-length", b"date", b"connection", b"transfer-encoding", b"server"}
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

assert array("I").itemsize == 4


class Headers:
    """Request header fields: a read-only, case-insensitive mapping (the
    first field of a name wins; `getall` gives every value). Names and values
    are str (Latin-1 decoded, so no byte is lost)."""

    __slots__ = ("_items", "_map")

    def __init__(self, items):
        self._items = items
        m = {}
        for k, v in items:
            m.setdefault(k.lower(), v)
        self._map = m

    def __getitem__(self, name):
        return self._map[name.lower()]

    def get(self, name, default=None):
        return self._map.get(name.lower(), default)

    def getall(self, name):
        n = name.lower()
        return [v for k, v in self._items if k.lower() == n]

    def __contains__(self, name):
        return isinstance(name, str) and name.lower() in self._map

    def __iter__(self):
        return iter(self._map)

    def __len__(self):
        return len(self._map)

    def keys(self):
        return self._map.keys()

    def values(self):
        return self._map.values()

    def items(self):
        """Every field as received: (name, value) pairs, original case."""
        return list(self._items)

    def __repr__(self):
        return f"Headers({self._items!r})"


class Request:
    """One request. Attributes are decoded when first read:

    - method, path (str), query_string (str), query (dict of the first value
      of each name, percent-decoded), headers (Headers), body (bytes),
      json(), http_version ("1.0"/"1.1"), id (the engine's request id).
    """

    __slots__ = ("_w", "_d", "_i", "_c")

    def __init__(self, words, data, index):
        self._w = words  # the batch's records as a memoryview of u32
        self._d = data  # the batch's data area (bytes)
        self._i = index * REC_WORDS
        self._c = None  # decoded values, by name

    def _str(self, off_word, len_word):
        w, i = self._w, self._i
        o = w[i + off_word]
        return self._d[o : o + w[i + len_word]].decode("latin-1")

    @property
    def method(self):
        return self._str(_M_OFF, _M_LEN)

    @property
    def path(self):
        return self._str(_T_OFF, _P_LEN)

    @property
    def target(self):
        return self._str(_T_OFF, _T_LEN)

    @property
    def query_string(self):
        w, i = self._w, self._i
        if not w[i + _FLAGS] & FLAG_QUERY:
            return ""
        o = w[i + _T_OFF] + w[i + _P_LEN] + 1
        return self._d[o : w[i + _T_OFF] + w[i + _T_LEN]].decode("latin-1")

    def _cached(self, name, make):
        c = self._c
        if c is None:
            c = self._c = {}
        v = c.get(name)
        if v is None:
            v = c[name] = make()
        return v

    @property
    def query(self):
        def make():
            q = {}
            for k, v in parse_qsl(self.query_string, keep_blank_values=True):
                q.setdefault(k, v)
            return q

        return self._cached("query", make)

    @property
    def headers(self):
        def make():
            w, i, d = self._w, self._i, self._d
            n, off = w[i + _H_CNT], w[i + _H_OFF]
            items = []
            for k in range(n):
                no, nl, vo, vl = unpack_from("<4I", d, off + 16 * k)
                items.append((d[no : no + nl].decode("latin-1"), d[vo : vo + vl].decode("latin-1")))
            return Headers(items)

        return self._cached("headers", make)

    @property
    def body(self):
        w, i = self._w, self._i
        o = w[i + _B_OFF]
        return self._d[o : o + w[i + _B_LEN]]

    def json(self):
        return json.loads(self.body)

    @property
    def http_version(self):
        return "1.1" if self._w[self._i + _FLAGS] & FLAG_HTTP11 else "1.0"

    @property
    def id(self):
        w, i = self._w, self._i
        return w[i + _ID_LO] | (w[i + _ID_HI] << 32)

    def __repr__(self):
        return f"<Request {self.method} {self.target}>"


def _header_lines(headers):
    out = []
    items = headers.items() if hasattr(headers, "items") else headers
    for name, value in items:
        n = name.encode("latin-1") if isinstance(name, str) else bytes(name)
        v = value.encode("latin-1") if isinstance(value, str) else bytes(value)
        if not n or not set(n) <= _TOKEN or any(b < 0x20 and b != 9 or b == 0x7F for b in v):
            raise ValueError(f"invalid header field {name!r}: {value!r}")
        if n.lower() in _RESERVED:
            raise ValueError(f"{name} is set by the server")
        out.append(n + b": " + v + b"\r\n")
    return b"".join(out)


def _json(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class Response:
    """A response with a status, extra header fields and a content type.

    body: str (sent as UTF-8, text/plain by default), bytes
    (application/octet-stream by default), or a dict/list (JSON).
    headers: a mapping or (name, value) pairs; Content-Length, Date,
    Connection, Server and Transfer-Encoding are the server's.
    """

    __slots__ = ("status", "body", "_word", "_head")

    def __init__(self, body=b"", status=200, headers=None, content_type=None):
        if not isinstance(status, int) or not 200 <= status <= 999:
            raise ValueError(f"status must be an int in 200..999, not {status!r}")
        if isinstance(body, str):
            body, ct = body.encode(), CT_TEXT
        elif isinstance(body, (bytes, bytearray, memoryview)):
            body, ct = bytes(body), CT_OCTET
        elif isinstance(body, (dict, list)):
            body, ct = _json(body), CT_JSON
        else:
            raise TypeError(f"a Response body is str, bytes, dict or list, not {type(body).__name__}")
        head = _header_lines(headers) if headers else b""
        if content_type is not None:
            code = _CT_CODES.get(content_type)
            if code is None:
                ct = CT_NONE
                head = _header_lines([("Content-Type", content_type)]) + head
            else:
                ct = code
        self.status = status
        self.body = body
        self._word = status | (ct << 16)
        self._head = head

    def __repr__(self):
        return f"<Response {self.status} {len(self.body)} bytes>"


_INTERNAL_ERROR = Response("Internal Server Error\n", status=500)


class _Failed:
    """A handler raised; the request gets a 500."""

    __slots__ = ()


FAILED = _Failed()
_text_word = array("I", [200 | (CT_TEXT << 16)]).tobytes()


async def _probe():
    pass


_c = _probe()
_coroutine = type(_c)
_c.close()


def convert(r):
    """A handler's return value as (status word, header lines, body)."""
    t = r.__class__
    if t is str:
        return 200 | (CT_TEXT << 16), b"", r.encode()
    if t is Response:
        return r._word, r._head, r.body
    if t is bytes or t is bytearray or t is memoryview:
        return 200 | (CT_OCTET << 16), b"", bytes(r)
    if t is dict or t is list:
        return 200 | (CT_JSON << 16), b"", _json(r)
    if r is None:
        return 204, b"", b""
    if isinstance(r, Response):
        return r._word, r._head, r.body
    if r is FAILED:
        return _INTERNAL_ERROR._word, b"", _INTERNAL_ERROR.body
    log.error("handler returned %r; a handler returns str, bytes, dict, list, Response or None", type(r))
    return _INTERNAL_ERROR._word, b"", _INTERNAL_ERROR.body


def _refcount_baseline():
    r = object()
    return sys.getrefcount(r)


_BASELINE = _refcount_baseline()


class Dispatch:
    """Runs the handlers of one batch: `run` returns the reply columns and the
    coroutines of async handlers, each with its request id."""

    def __init__(self, handlers, on_error=None):
        # handlers[tag] is a callable taking a Request; async def handlers
        # return a coroutine, which defers the reply
        self.handlers = handlers

    def run(self, recs, data, count):
        """`recs`: count*64 bytes of records; `data`: the data area.
        Returns (status, header_lens or None, body_lens, joined, deferred)
        where the first four are bytes ready for the C call and deferred is
        a list of (request id, coroutine)."""
        words = memoryview(recs).cast("I")
        tags = words[::REC_WORDS].tolist()
        handlers = self.handlers
        grc = sys.getrefcount
        base = _BASELINE
        out = []
        append = out.append
        req = Request(words, data, 0)
        i = 0
        mixed = False
        # The hot loop: one Request object is reused while no handler keeps
        # a reference to it (a kept one keeps its own record and data).
        for tag in tags:
            req._i = i
            try:
                r = handlers[tag](req)
            except Exception:
                log.exception("handler for %s %s failed", req.method, req.target)
                r = FAILED
            append(r)
            if r.__class__ is not str:
                mixed = True
            if grc(req) > base:
                req = Request(words, data, 0)
            elif req._c is not None:
                req._c = None
            i += REC_WORDS
        if not mixed:
            joined = "".join(out)
            if joined.isascii():
                # every handler returned text: three C-speed conversions
                body = joined.encode("ascii")
                return _text_word * count, None, array("I", map(len, out)).tobytes(), body, ()
        return self._general(out, words)

    def _general(self, out, words):
        status = array("I")
        hlens = array("I")
        blens = array("I")
        parts = []
        deferred = []
        any_head = False
        for k, r in enumerate(out):
            if r.__class__ is _coroutine:
                w = k * REC_WORDS
                deferred.append((words[w + _ID_LO] | (words[w + _ID_HI] << 32), r))
                status.append(0)
                hlens.append(0)
                blens.append(0)
                continue
            word, head, body = convert(r)
            status.append(word)
            hlens.append(len(head))
            blens.append(len(body))
            if head:
                any_head = True
                parts.append(head)
            parts.append(body)
        return (
            status.tobytes(),
            hlens.tobytes() if any_head else None,
            blens.tobytes(),
            b"".join(parts),
            deferred,
        )


def columns_of(results):
    """Reply columns for a list of handler results (no coroutines)."""
    status = array("I")
    hlens = array("I")
    blens = array("I")
    parts = []
    for r in results:
        word, head, body = convert(r)
        status.append(word)
        hlens.append(len(head))
        blens.append(len(body))
        parts.append(head)
        parts.append(body)
    return status.tobytes(), hlens.tobytes(), blens.tobytes(), b"".join(parts)


async def run_async(coro, req_desc=""):
    """Awaits an async handler's coroutine; its result, or FAILED."""
    try:
        return await coro
    except Exception:
        log.exception("async handler %sfailed", req_desc)
        return FAILED


def is_async(fn):
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))


def new_event_loop():
    """uvloop's loop when uvloop is installed, else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
