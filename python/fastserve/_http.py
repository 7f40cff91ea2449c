"""Requests, responses and the batch dispatch loop shared by `Server` and
`fastserve.asyncio.HttpProtocol`.

A batch arrives as one byte string: `count` records of 64 bytes (the
layout of fastserve_batch_request), then the data area they point into. A
Request is a view of one record: nothing is decoded until an attribute is
read.

The answers go back as columns (see fastserve.h, fastserve_batch_respond):
a status word per reply (status | content type code << 16), then either the
header line lengths, body lengths and all the bytes joined, or, when every
handler returned text, just the bodies joined with NUL separators.
"""
from __future__ import annotations

import asyncio
import inspect
import json
import logging
import sys
import threading
from array import array
from struct import Struct, unpack_from
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Dict,
    Iterable,
    Iterator,
    KeysView,
    List,
    Mapping,
    Optional,
    Tuple,
    NoReturn,
    TypeVar,
    Union,
    ValuesView,
    overload,
)
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl

log = logging.getLogger("fastserve")

REC = 64  # bytes in a fastserve_batch_request
# tag, flags, id, method off/len, target off/len, path len, header count,
# headers off, body off/len, conn, peer off, peer len (u16), peer port (u16)
_RECORD = Struct("<IIQ11IHH")
assert _RECORD.size == REC
FLAG_HEAD, FLAG_HTTP11, FLAG_QUERY, FLAG_PEER_UNIX, FLAG_BODY_FOLLOWS = 1, 2, 4, 8, 16

CT_NONE, CT_TEXT, CT_JSON, CT_HTML, CT_OCTET = 0, 1, 2, 3, 4
_CT_CODES = {
    "text/plain; charset=utf-8": CT_TEXT,
    "application/json": CT_JSON,
    "text/html; charset=utf-8": CT_HTML,
    "application/octet-stream": CT_OCTET,
}

_RESERVED = {b"content-length", b"date", b"connection", b"transfer-encoding", b"server"}
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

_T = TypeVar("_T")
_Str = Union[str, bytes]
# Response(headers=...): a mapping or (name, value) pairs, str or bytes
HeaderFields = Union[Mapping[str, _Str], Mapping[bytes, _Str], Iterable[Tuple[_Str, _Str]]]
Body = Union[str, bytes, bytearray, memoryview, Dict[str, Any], List[Any]]

class Headers:
    """Request header fields: a read-only, case-insensitive mapping (the
    first field of a name wins; `getall` gives every value). Names and values
    are str (Latin-1 decoded, so no byte is lost)."""

    __slots__ = ("_items", "_map")

    def __init__(self, items: List[Tuple[str, str]]) -> None:
        self._items = items
        m: Dict[str, str] = {}
        for k, v in items:
            m.setdefault(k.lower(), v)
        self._map = m

    def __getitem__(self, name: str) -> str:
        return self._map[name.lower()]

    @overload
    def get(self, name: str) -> Optional[str]: ...

    @overload
    def get(self, name: str, default: _T) -> Union[str, _T]: ...

    def get(self, name: str, default: Any = None) -> Any:
        return self._map.get(name.lower(), default)

    def getall(self, name: str) -> List[str]:
        n = name.lower()
        return [v for k, v in self._items if k.lower() == n]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._map

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def keys(self) -> KeysView[str]:
        return self._map.keys()

    def values(self) -> ValuesView[str]:
        return self._map.values()

    def items(self) -> List[Tuple[str, str]]:
        """Every field as received: (name, value) pairs, original case."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class MultiDict(Dict[str, str]):
    """A dict of the first value of each name (what `d[name]` and `d.get`
    give), which also keeps every value: `getall(name)` (KeyError when
    absent) and `getlist(name)` (an empty list when absent)."""

    __slots__ = ("_pairs",)

    def __init__(self, pairs: Iterable[Tuple[str, str]] = ()) -> None:
        super().__init__()
        self._pairs = list(pairs)
        for k, v in self._pairs:
            self.setdefault(k, v)

    def getall(self, name: str) -> List[str]:
        values = self.getlist(name)
        if not values:
            raise KeyError(name)
        return values

    def getlist(self, name: str) -> List[str]:
        return [v for k, v in self._pairs if k == name]

    def multi_items(self) -> List[Tuple[str, str]]:
        """Every (name, value) pair, in order, repeated names included."""
        return list(self._pairs)


class HTTPException(Exception):
    """Raised in a handler (see `abort`): the request is answered `status`
    with `message` (the status's reason phrase when None) as plain text, and
    nothing is logged."""

    def __init__(self, status: int, message: Optional[str] = None, headers: Optional[HeaderFields] = None) -> None:
        if message is None:
            try:
                message = HTTPStatus(status).phrase
            except ValueError:
                message = ""
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.headers = headers

    def response(self) -> "Response":
        body = self.message + "\n" if _body_allowed(self.status) else ""
        return Response(body, status=self.status, headers=self.headers)


def abort(status: int, message: Optional[str] = None, headers: Optional[HeaderFields] = None) -> "NoReturn":
    """Ends the handler: the request is answered `status` (see
    HTTPException)."""
    raise HTTPException(status, message, headers)


def _body_allowed(status):
    return not (status < 200 or status == 204 or status == 304)


class _Area:
    """The bytes Requests read: a batch (its records, then the data area
    from offset `o`), and `g`, which batch it is (for their caches)."""

    __slots__ = ("b", "o", "g")

    def __init__(self, blob: bytes, data_offset: int, number: int = 0) -> None:
        self.b = blob
        self.o = data_offset
        self.g = number


class Request:
    """One request. Attributes are decoded when read:

    - method, path, target (str), query_string (str), query (a MultiDict:
      the first value of each name, percent-decoded, and `getall`/`getlist`
      for all of them), params (dict of the route's path parameters,
      percent-decoded), headers (Headers), body (bytes), json() (an invalid
      body answers 400), form (a MultiDict of an
      application/x-www-form-urlencoded body; empty for any other body),
      cookies (dict), client ((host, port) of the peer, or None),
      http_version ("1.0"/"1.1"), id (the engine's id).

    A sync handler may keep its Request (or pass it to a thread): each one
    stays valid for good.
    """

    __slots__ = ("_a", "_i", "_c", "_m")

    def __init__(self, blob: bytes, index: int, data_offset: int, patterns: Optional[List[Any]] = None) -> None:
        self._a = _Area(blob, data_offset)
        self._i = index  # this request's record
        self._c: Optional[Tuple[int, Dict[str, Any]]] = None  # (the area's batch number, {name: decoded value})
        self._m = patterns  # route patterns by tag, for params

    @property
    def _b(self) -> bytes:
        return self._a.b  # the batch: records, then the data area

    @property
    def _o(self) -> int:
        return self._a.o  # where the data area starts

    def _fields(self):
        return _RECORD.unpack_from(self._a.b, self._i * REC)

    def _bytes(self, off, n):
        a = self._a
        o = a.o + off
        return a.b[o : o + n]

    @property
    def method(self) -> str:
        f = self._fields()
        return self._bytes(f[3], f[4]).decode("latin-1")

    @property
    def path(self) -> str:
        f = self._fields()
        return self._bytes(f[5], f[7]).decode("latin-1")

    @property
    def target(self) -> str:
        f = self._fields()
        return self._bytes(f[5], f[6]).decode("latin-1")

    @property
    def query_string(self) -> str:
        f = self._fields()
        if not f[1] & FLAG_QUERY:
            return ""
        return self._bytes(f[5] + f[7] + 1, f[6] - f[7] - 1).decode("latin-1")

    def _cached(self, name, make):
        # pooled Requests are re-aimed at each batch without clearing this:
        # a cache made for an earlier batch is dropped here
        c = self._c
        g = self._a.g
        if c is None or c[0] != g:
            c = self._c = (g, {})
        v = c[1].get(name)
        if v is None:
            v = c[1][name] = make()
        return v

    @property
    def query(self) -> MultiDict:
        return self._cached("query", lambda: MultiDict(parse_qsl(self.query_string, keep_blank_values=True)))

    @property
    def form(self) -> MultiDict:
        def make():
            ct = self.headers.get("content-type", "")
            if ct.partition(";")[0].strip().lower() != "application/x-www-form-urlencoded":
                return MultiDict()
            text = self.body.decode("utf-8", "surrogateescape")
            return MultiDict(parse_qsl(text, keep_blank_values=True))

        return self._cached("form", make)

    @property
    def cookies(self) -> Dict[str, str]:
        def make():
            jar: SimpleCookie = SimpleCookie()
            for field in self.headers.getall("cookie"):
                try:
                    jar.load(field)
                except CookieError:
                    continue  # a malformed field is skipped, not an error
            return {k: m.value for k, m in jar.items()}

        return self._cached("cookies", make)

    @property
    def client(self) -> Optional[Tuple[str, int]]:
        f = self._fields()
        if f[1] & FLAG_PEER_UNIX or not f[14]:
            return None
        return self._bytes(f[13], f[14]).decode("ascii"), f[15]

    @property
    def params(self) -> Dict[str, str]:
        """The path parameters of the route's pattern ("/users/{id}" gives
        {"id": ...}), percent-decoded as UTF-8 (an invalid sequence becomes
        U+FFFD); empty for a route without parameters."""

        def make():
            # the engine chose the route: its pattern, by tag, extracts them
            m = self._m
            tag = self._fields()[0]
            if m is None or tag >= len(m) or m[tag] is None:
                return {}
            return m[tag].match(self.path) or {}

        return self._cached("params", make)

    def _set_params(self, params: Dict[str, str]) -> None:
        c = self._c
        g = self._a.g
        if c is None or c[0] != g:
            c = self._c = (g, {})
        c[1]["params"] = params

    @property
    def headers(self) -> Headers:
        def make():
            f = self._fields()
            b, o = self._a.b, self._a.o
            items = []
            for k in range(f[8]):
                no, nl, vo, vl = unpack_from("<4I", b, o + f[9] + 16 * k)
                items.append((b[o + no : o + no + nl].decode("latin-1"), b[o + vo : o + vo + vl].decode("latin-1")))
            return Headers(items)

        return self._cached("headers", make)

    @property
    def body(self) -> bytes:
        f = self._fields()
        return self._bytes(f[10], f[11])

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as e:  # JSONDecodeError and UnicodeDecodeError
            raise HTTPException(400, f"invalid JSON body: {e}") from None

    @property
    def http_version(self) -> str:
        return "1.1" if self._fields()[1] & FLAG_HTTP11 else "1.0"

    @property
    def id(self) -> int:
        return self._fields()[2]

    def stream(self) -> AsyncIterator[bytes]:
        """The body in pieces as it arrives, for `async for`. On a route
        with stream_body=True the socket is read only as fast as the
        pieces are taken; elsewhere the whole body is the one piece."""
        from ._stream import body_stream

        return body_stream(self)

    async def start_response(
        self,
        status: int = 200,
        headers: Optional[HeaderFields] = None,
        content_type: Optional[str] = "text/plain; charset=utf-8",
        length: Optional[int] = None,
    ) -> Any:
        """Sends the status and headers now and returns a ResponseStream to
        `await write()` the body with, then `await end()`. For the request of
        the async def handler running it; the handler's return value is then
        not sent."""
        from ._stream import start_response

        return await start_response(self, status, headers, content_type, length)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.target}>"


# Header lines of recent headers= values, by their (name, value) pairs: a
# handler that answers every request with the same fields checks and
# encodes them once.
_HEADS: Dict[Tuple[Any, ...], bytes] = {}
_HEADS_MAX = 256


def _header_lines(headers):
    items = headers.items() if hasattr(headers, "items") else headers
    items = tuple(items)
    key: Optional[Tuple[Any, ...]] = items
    try:
        head = _HEADS.get(items)
    except TypeError:  # an unhashable name or value, e.g. a bytearray
        key = head = None
    if head is not None:
        return head
    out = []
    plain = True  # only str and bytes: safe as a key (1 == True == 1.0)
    for name, value in items:
        if not isinstance(name, (str, bytes)) or not isinstance(value, (str, bytes)):
            plain = False
        n = name.encode("latin-1") if isinstance(name, str) else bytes(name)
        v = value.encode("latin-1") if isinstance(value, str) else bytes(value)
        if not n or not set(n) <= _TOKEN or any(b < 0x20 and b != 9 or b == 0x7F for b in v):
            raise ValueError(f"invalid header field {name!r}: {value!r}")
        if n.lower() in _RESERVED:
            raise ValueError(f"{name} is set by the server")
        out.append(n + b": " + v + b"\r\n")
    head = b"".join(out)
    if key is not None and plain:
        if len(_HEADS) >= _HEADS_MAX:
            _HEADS.clear()  # fields that change with every response
        _HEADS[key] = head
    return head


def _json(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class Response:
    """A response with a status, extra header fields and a content type.

    body: str (sent as UTF-8, text/plain by default), bytes
    (application/octet-stream by default), a dict/list (JSON), or None
    (empty). headers: a mapping or (name, value) pairs; Content-Length,
    Date, Connection, Server and Transfer-Encoding are the server's.
    1xx, 204 and 304 responses have no body (and no Content-Length): one
    given for them raises ValueError.
    """

    __slots__ = ("status", "body", "_word", "_head")
    status: int
    body: bytes

    def __init__(
        self,
        body: Optional[Body] = b"",
        status: int = 200,
        headers: Optional[HeaderFields] = None,
        content_type: Optional[str] = None,
    ) -> None:
        if not isinstance(status, int) or not 200 <= status <= 999:
            raise ValueError(f"status must be an int in 200..999, not {status!r}")
        if body is None:
            body, ct = b"", CT_NONE
        elif isinstance(body, str):
            body, ct = body.encode(), CT_TEXT
        elif isinstance(body, (bytes, bytearray, memoryview)):
            body, ct = bytes(body), CT_OCTET
        elif isinstance(body, (dict, list)):
            body, ct = _json(body), CT_JSON
        else:
            raise TypeError(f"a Response body is str, bytes, dict or list, not {type(body).__name__}")
        if not _body_allowed(status):
            if body:
                raise ValueError(f"a {status} response has no body; {len(body)} bytes were given")
            ct = CT_NONE
        head = _header_lines(headers) if headers else b""
        if content_type is not None:
            code = _CT_CODES.get(content_type)
            if code is None:
                ct = CT_NONE
                head = _header_lines([("Content-Type", content_type)]) + head
            else:
                ct = code
        self.status = status
        self.body = body  # type: ignore[assignment]  # bytes by now
        self._word = status | (ct << 16)
        self._head = head

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self.body)} bytes>"


_INTERNAL_ERROR = Response("Internal Server Error\n", status=500)

# What a handler returns; an async def handler, an awaitable of it.
Result = Union[Body, Response, None, Tuple[Optional[Body], int], Tuple[Optional[Body], int, HeaderFields]]
Handler = Callable[[Request], Union[Result, Awaitable[Result]]]


class _Failed:
    """A handler raised; the request gets a 500."""

    __slots__ = ()


FAILED = _Failed()


class _Later:
    """A handler that returns LATER answers its request itself, through
    fastserve_server_complete or fastserve_server_response (the WSGI
    adapter's thread pool does)."""

    __slots__ = ()


LATER = _Later()
TEXT_200 = 200 | (CT_TEXT << 16)
_text_word = array("I", [TEXT_200]).tobytes()


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
    if t is tuple:
        if not 2 <= len(r) <= 3:
            log.error("handler returned a tuple of %d; a handler returns (body, status) or (body, status, headers)", len(r))
            return _INTERNAL_ERROR._word, b"", _INTERNAL_ERROR.body
        try:
            r = Response(*r)
        except Exception:
            log.exception("handler returned a tuple that makes no response")
            return _INTERNAL_ERROR._word, b"", _INTERNAL_ERROR.body
        return r._word, r._head, r.body
    if isinstance(r, Response):
        return r._word, r._head, r.body
    if r is FAILED:
        return _INTERNAL_ERROR._word, b"", _INTERNAL_ERROR.body
    log.error("handler returned %r; a handler returns str, bytes, dict, list, Response, a tuple or None", type(r))
    return _INTERNAL_ERROR._word, b"", _INTERNAL_ERROR.body


def is_special(r):
    """Whether a handler's result is more than one reply: a stream (an
    iterator, async iterator or StreamResponse) or a protocol switch."""
    t = r.__class__
    if t is str or t is bytes or t is dict or t is list or t is tuple or r is None:
        return False
    return getattr(t, "_fastserve_special", False) or hasattr(r, "__anext__") or hasattr(r, "__next__")


async def ready(r):
    """`r` as the result of a coroutine: answered like an async handler's."""
    return r


try:
    from operator import call as _call  # Python 3.11+
except ImportError:

    def _call(fn, arg):
        return fn(arg)


# pooled Requests kept past this many are let go after their batch
_POOL_KEEP = 4096


class _Pool:
    """One thread's Requests, request k aimed at record k of whatever batch
    the shared area holds: a batch costs no Request objects. A handler that
    keeps its Request (a reference past the call: stored, in a coroutine,
    in a traceback a log handler holds) is found by its reference count
    once the batch is done (`Dispatch.run`); it gets an area of its own, so
    that it stays valid for good, and the pool a new Request in its place."""

    __slots__ = ("area", "reqs", "refs", "patterns", "busy")

    def __init__(self, patterns):
        self.area = _Area(b"", 0)
        self.reqs = []
        self.refs = 0  # a pooled Request's reference count, seen as in `run`
        self.patterns = patterns
        self.busy = False

    def grow(self, count):
        reqs = self.reqs
        reqs.extend(self.fresh(k) for k in range(len(reqs), count))
        self.refs = _refs_of(reqs[:count])[0]

    def fresh(self, k):
        r = Request.__new__(Request)
        r._a = self.area
        r._i = k
        r._c = None
        r._m = self.patterns
        return r

    def release(self, reqs):
        """Takes the Requests of `reqs` a handler kept out of the pool."""
        a = self.area
        for k, n in enumerate(_refs_of(reqs)):
            if n != self.refs:
                reqs[k]._a = _Area(a.b, a.o, a.g)
                self.reqs[k] = self.fresh(k)


def _refs_of(reqs):
    return list(map(sys.getrefcount, reqs))


class Dispatch:
    """Runs the handlers of one batch. `run` returns the reply columns and
    the coroutines of async handlers, each with its request id."""

    def __init__(self, handlers, patterns=None):
        # handlers[tag] takes a Request; an async def handler returns a
        # coroutine, which defers its reply. patterns[tag] extracts the
        # route's path parameters.
        self.handlers = list(handlers)
        self.patterns = None if patterns is None else list(patterns)
        self._local = threading.local()  # each thread's _Pool

    def run(self, blob, count):
        """Calls the handler of each of the `count` requests in `blob` (the
        records, then the data area). Returns (results, text): text is every
        result joined with NUL separators when all of them are str, else
        None."""
        out = self.call(blob, count)
        try:
            return out, "\0".join(out)
        except TypeError:
            return out, None

    def call(self, blob, count):
        """As `run`, without the text: the results."""
        end = count * REC
        handlers = self.handlers
        try:
            pool = self._local.pool
        except AttributeError:
            pool = self._local.pool = _Pool(self.patterns)
        if pool.busy:  # called from a handler of this thread's batch
            pool = _Pool(self.patterns)
        if len(pool.reqs) < count:
            pool.grow(count)
        a = pool.area
        a.b = blob
        a.o = end
        a.g += 1
        reqs = pool.reqs[:count]
        if len(handlers) <= 256:
            tags: Any = blob[0:end:REC]  # a record's tag is its first byte
        else:
            tags = array("I", blob[:end])[:: REC // 4]
        # The handlers are called by map, from C: one route's batch is
        # map(handler, reqs). A handler that raises stops map there; its
        # request gets its answer and map goes on with the next.
        if tags.count(tags[0]) == count:
            calls = map(handlers[tags[0]], reqs)
        else:
            calls = map(_call, map(handlers.__getitem__, tags), reqs)
        out: List[Any] = []
        pool.busy = True
        try:
            while True:
                try:
                    out.extend(calls)
                    break
                except BaseException:
                    # SystemExit or KeyboardInterrupt raised by a handler
                    # fails its own request only: a real Ctrl-C never
                    # lands here
                    out.append(_failed(reqs[len(out)]))
        finally:
            pool.busy = False
        # no handler kept its Request: each is referenced by the pool, reqs
        # and map only
        if sum(map(sys.getrefcount, reqs)) != pool.refs * count:
            pool.release(reqs)
        a.b = b""  # the pool does not keep the batch alive
        if count > _POOL_KEEP:
            del pool.reqs[_POOL_KEEP:]
        return out

    def columns(self, out, blob):
        """The reply columns for `run`'s results: (status, header_lens,
        body_lens, data, deferred), the first four ready for the C call (None
        for a column left out), deferred a list of (request id, coroutine)."""
        return self._general(out, blob)

    @staticmethod
    def _general(out, blob):
        status = array("I")
        hlens = array("I")
        blens = array("I")
        parts = []
        deferred = []
        any_head = False
        for k, r in enumerate(out):
            if r is LATER:
                status.append(0)
                hlens.append(0)
                blens.append(0)
                continue
            if r.__class__ is _coroutine or is_special(r):
                if r.__class__ is not _coroutine:
                    r = ready(r)  # streamed or switched from the loop
                deferred.append((unpack_from("<Q", blob, k * REC + 8)[0], r))
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


def _failed(req):
    e = sys.exc_info()[1]
    if isinstance(e, HTTPException):
        return _http_error(e)
    log.exception("handler for %s %s failed", req.method, req.target)
    return FAILED


def _http_error(e):
    try:
        return e.response()
    except Exception:
        log.exception("HTTPException(%r) makes no response", e.status)
        return FAILED


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
    except HTTPException as e:
        return _http_error(e)
    except (asyncio.CancelledError, GeneratorExit):
        raise  # the task is cancelled, or the coroutine closed
    except BaseException:
        # as for sync handlers: a SystemExit or KeyboardInterrupt from the
        # handler fails its request, not the loop every request runs on
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
