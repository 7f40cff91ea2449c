"""WSGI (PEP 3333) applications on the engine: `mount_wsgi(server, app)`.

Every request of the server goes to the app (a catch-all route; routes added
to the server keep precedence). The worker thread that read a batch only
queues its requests; a pool of `threads` threads builds each environ, calls
the app and answers:

- a body known whole (a list or tuple, or a first piece as long as the
  Content-Length the app gave) goes back in one `fastserve_server_complete`;
- anything else is streamed (`fastserve_response_stream`), each write
  waiting while the client is behind; a client that left ends the
  iteration;
- `wsgi.file_wrapper` over a regular file is sent with sendfile;
- `close()` of the app's iterable is always called.

Request bodies up to the server's `max_body` stream in: `wsgi.input` reads
pieces as the engine hands them over, and the socket is not read while the
app has not taken them.

The pool is in `_wsgi_pool.py`; the streams (`wsgi.input`, `wsgi.errors`,
`wsgi.file_wrapper`, a streamed reply) in `_wsgi_io.py`.
"""
from __future__ import annotations

import io
import logging
import os
import re
import stat
import threading
from ctypes import c_int, c_uint64, c_void_p
from struct import Struct
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple
from urllib.parse import unquote_to_bytes

from ._http import _RECORD, CT_TEXT, FLAG_BODY_FOLLOWS, FLAG_HTTP11, FLAG_PEER_UNIX, FLAG_QUERY, LATER, REC
from ._lib import complete_replies, fast, lib
from ._stream import OK, _objects, _on_stream_event, register
from ._wsgi_io import FileWrapper, _BodyFeed, _Errors, _ThreadStream
from ._wsgi_pool import _Pool

log = logging.getLogger("fastserve.wsgi")


lib.fastserve_response_file.restype = c_int
lib.fastserve_response_file.argtypes = [c_void_p, c_int, c_uint64, c_uint64]

_ERROR_WORD = 500 | (CT_TEXT << 16)
_ERROR_BODY = b"Internal Server Error\n"

# Response header names: lower-case name -> 0 pass, 1 Content-Length,
# 2 dropped (the engine writes its own), 3 hop-by-hop (refused).
_KIND = {"content-length": 1, "date": 2, "server": 2}
for _n in ("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers", "transfer-encoding", "upgrade"):
    _KIND[_n] = 3
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_BAD_HEAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_names: Dict[str, int] = {}  # name as the app spelled it -> kind
_status: Dict[str, int] = {}  # status line -> code
_env_names: Dict[bytes, Optional[str]] = {}  # request header name -> environ key
_starts: Dict[Any, Tuple[int, bytes, Optional[int]]] = {}  # (status, header pairs) -> _start's
_NAME_CACHE = 1024
_HEAD_CACHE = 256  # request heads whose environ is kept
_HEAD_KEY_MAX = 2048  # longer heads are not kept


def _env_key(raw: bytes) -> Optional[str]:
    key = _env_names.get(raw)
    if key is None and raw not in _env_names:
        name = raw.decode("latin-1")
        low = name.lower()
        if low == "content-type":
            key = "CONTENT_TYPE"
        elif low == "content-length":
            key = "CONTENT_LENGTH"
        elif "_" in name:
            key = None  # X_Forwarded_For must not pose as X-Forwarded-For
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        if len(_env_names) < _NAME_CACHE:
            _env_names[raw] = key
    return key


def _status_code(status: str) -> int:
    if type(status) is not str or len(status) < 3 or not status[:3].isdigit() or status[3:4] not in ("", " "):
        raise ValueError(f"status is a str such as '200 OK', not {status!r}")
    code = int(status[:3])
    if code < 200:
        raise ValueError(f"a WSGI app answers 200..999, not {code}")
    if len(_status) < _NAME_CACHE:
        _status[status] = code
    return code


def _header_kind(name: str) -> int:
    k = _names.get(name)
    if k is None:
        if type(name) is not str or not _TOKEN.match(name):
            raise ValueError(f"invalid response header name {name!r}")
        k = _KIND.get(name.lower(), 0)
        if len(_names) < _NAME_CACHE:
            _names[name] = k
    return k


# a record less its tag and connection number
_unpack = Struct("<4xIQ9I4xIHH").unpack_from
_peers: Dict[Tuple[bytes, int], Tuple[str, str]] = {}  # (host, port) -> REMOTE_ADDR, REMOTE_PORT


def _peer(host: bytes, port: int) -> Tuple[str, str]:
    peer = (host.decode("ascii"), str(port))
    if len(_peers) >= _NAME_CACHE:
        _peers.clear()
    _peers[(host, port)] = peer
    return peer


_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")}
_hosts: Dict[str, Tuple[str, str]] = {}  # Host value -> (SERVER_NAME, SERVER_PORT)


def _host_port(host: str) -> Tuple[str, str]:
    if host[0] == "[":  # an IPv6 literal
        name, _, port = host[1:].partition("]")
        port = port[1:]
    else:
        name, _, port = host.partition(":")
    where = (name, port or "80")
    if len(_hosts) < _NAME_CACHE:
        _hosts[host] = where
    return where


def _start(status: str, headers: List[Tuple[str, str]]) -> Tuple[int, bytes, Optional[int]]:
    """start_response's arguments checked: the status code, the header
    lines the engine does not write itself, and the Content-Length given."""
    code = _status.get(status)
    if code is None:
        code = _status_code(status)
    lines = []
    length = None
    for name, value in headers:
        kind = _names.get(name)
        if kind is None:
            kind = _header_kind(name)
        if type(value) is not str:
            raise TypeError(f"response header {name} has a {type(value).__name__} value, not str")
        if kind:
            if kind == 1:
                length = int(value)
                if length < 0:
                    raise ValueError(f"Content-Length {value!r}")
            elif kind == 3:
                raise ValueError(f"{name} is a hop-by-hop header, the server's to set")
            elif _BAD_VALUE.search(value):
                raise ValueError(f"invalid value for response header {name}: {value!r}")
            continue
        lines.append(f"{name}: {value}\r\n")
    text = "".join(lines)
    # one scan for every value: a control character, or a CR or LF
    # more than the line ends
    if _BAD_HEAD.search(text) or text.count("\n") != len(lines) or text.count("\r") != len(lines):
        raise ValueError(f"invalid response header value in {headers!r}")
    return code, text.encode("latin-1"), length


class _Exchange:
    """One request's answer: start_response, write, and the reply."""

    __slots__ = ("srv", "rid", "handle", "feed", "word", "head", "length", "stream", "done")

    def __init__(self, srv: int, rid: int) -> None:
        self.srv = srv
        self.rid = rid
        self.handle: Optional[int] = None
        self.feed: Optional[_BodyFeed] = None
        self.word: Optional[int] = None
        self.head = b""
        self.length: Optional[int] = None
        self.stream: Optional[_ThreadStream] = None
        self.done: Optional[Tuple[int, int, bytes, bytes]] = None  # a reply for the pool to complete

    def start_response(self, status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info:
            try:
                if self.stream is not None:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.word is not None:
            raise AssertionError("start_response called again without exc_info")
        # the same status and headers come back response after response
        try:
            key = (status, tuple(headers))
            known = _starts.get(key)
        except TypeError:  # pairs that cannot be hashed are checked each time
            key = known = None
        if known is None:
            known = _start(status, headers)
            if key is not None:
                if len(_starts) >= _NAME_CACHE:
                    _starts.clear()
                _starts[key] = known
        self.word, self.head, self.length = known
        return self.write

    def write(self, data: bytes) -> None:
        """The legacy write(): the head goes out with the first piece."""
        if self.word is None:
            raise AssertionError("write() before start_response")
        if self.stream is None:
            self.open_stream()
        if data and not self.stream.write(bytes(data)):  # type: ignore[union-attr]
            raise OSError("the client has gone")

    def _take(self) -> Optional[int]:
        h = self.handle
        if h is None:
            h = lib.fastserve_server_response(self.srv, self.rid)
            if not h:
                return None
            self.handle = h
        if self.feed is not None:
            self.feed.finish()
        self.handle = None
        return h

    def reply(self, word: int, head: bytes, body: bytes) -> None:
        if word == 204 or word == 304:
            body = b""
        if self.handle is None and self.feed is None:
            self.done = (self.rid, word, head, body)
            return
        h = self._take()
        if h is None:
            return
        if lib.fastserve_response_head(h, word, head, len(head)) != OK or (body and lib.fastserve_response_body(h, body, len(body)) != OK):
            log.error("response refused: %s", lib.fastserve_last_error().decode())
            lib.fastserve_response_head(h, _ERROR_WORD, b"", 0)
            lib.fastserve_response_body(h, _ERROR_BODY, len(_ERROR_BODY))
        lib.fastserve_response_send(h)

    def fail(self) -> None:
        """The app raised: 500 when nothing went out yet, else the body is
        cut off."""
        if self.stream is not None:
            s, self.stream = self.stream, None
            if s.ptr is not None:
                lib.fastserve_stream_abort(s.ptr)
            return
        self.reply(_ERROR_WORD, b"", _ERROR_BODY)

    def open_stream(self) -> None:
        h = self._take()
        s = _ThreadStream()
        self.stream = s
        if h is None:
            s.gone = True
            return
        if lib.fastserve_response_head(h, self.word, self.head, len(self.head)) != OK:
            err = lib.fastserve_last_error().decode()
            lib.fastserve_response_head(h, _ERROR_WORD, b"", 0)
            lib.fastserve_response_send(h)
            s.gone = True
            raise ValueError(err)
        key = register(s)
        ptr = lib.fastserve_response_stream(h, -1 if self.length is None else self.length, _on_stream_event, key)
        if not ptr:
            _objects.pop(key, None)
            s.gone = True
            return
        s.ptr = ptr

    def end(self) -> None:
        s, self.stream = self.stream, None
        if s is not None and s.ptr is not None:
            ptr, s.ptr = s.ptr, None
            lib.fastserve_stream_end(ptr)

    def send_file(self, wrapper: FileWrapper) -> bool:
        """The wrapped file with sendfile; False when it is not a regular file."""
        f = wrapper.filelike
        try:
            fd = f.fileno()
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return False
            offset = f.tell() if hasattr(f, "tell") else os.lseek(fd, 0, os.SEEK_CUR)
        except (AttributeError, OSError, io.UnsupportedOperation):
            return False
        size = max(0, st.st_size - offset)
        if self.length is not None:
            size = min(size, self.length)
        h = self._take()
        if h is None:
            return True
        lib.fastserve_response_head(h, self.word, self.head, len(self.head))
        if lib.fastserve_response_file(h, os.dup(fd), offset, size) != OK:
            log.error("file response refused: %s", lib.fastserve_last_error().decode())
            lib.fastserve_response_head(h, _ERROR_WORD, b"", 0)
            lib.fastserve_response_body(h, _ERROR_BODY, len(_ERROR_BODY))
        lib.fastserve_response_send(h)
        return True

    def finish(self, result: Iterable[bytes]) -> None:
        """Sends the app's iterable."""
        if self.stream is None:
            t = result.__class__
            if t is list or t is tuple:
                self._check_started()
                self.reply(self.word, self.head, b"".join(result))  # type: ignore[arg-type]
                return
            if t is FileWrapper and self.word is not None and self.send_file(result):  # type: ignore[arg-type]
                return
            it = iter(result)
            for first in it:
                if first:
                    break
            else:
                self._check_started()
                self.reply(self.word, self.head, b"")
                return
            self._check_started()
            if self.length is not None and len(first) >= self.length:
                self.reply(self.word, self.head, bytes(first[: self.length]))
                return
            self.open_stream()
            if not self.stream.write(bytes(first)):  # type: ignore[union-attr]
                return
        else:
            it = iter(result)
        s = self.stream
        for piece in it:
            if piece and not s.write(bytes(piece)):  # type: ignore[union-attr]
                return  # the client left; close() follows
        self.end()

    def _check_started(self) -> None:
        if self.word is None:
            raise AssertionError("the app returned without calling start_response")


def mount_wsgi(server: Any, app: Callable[..., Iterable[bytes]], *, threads: int = 8, root_path: str = "") -> None:
    """Routes every request of `server` (a fastserve.Server, before it
    starts) to the WSGI callable `app`, run in a pool of `threads` threads.
    `root_path` is the SCRIPT_NAME the app is mounted at: a request path
    that starts with it has it taken off PATH_INFO."""
    from .server import _Route

    if not callable(app):
        raise TypeError("a WSGI app is callable")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads is a positive int, not {threads!r}")
    if root_path and (not root_path.startswith("/") or root_path.endswith("/")):
        raise ValueError(f"root_path is empty or starts with '/' and does not end with one, not {root_path!r}")
    if server._mount is not None:
        raise RuntimeError("an app is mounted on this server already")
    server._check_stopped()
    runner = _Runner(server, app, root_path)
    m = _Mount(server, _Pool(threads, runner.run, runner.complete))
    server.routes.append(_Route(None, "/", True, handler=m.handle, stream_body=True, max_body=server.max_body))
    server._mount = m


class _Mount:
    """What the server calls (see Server._mount): a batch of WSGI requests
    only is deferred whole and queued in one go; any other goes through the
    server's routes, its WSGI requests queued once the batch is answered
    (the pool may complete them only then)."""

    def __init__(self, server: Any, pool: _Pool) -> None:
        self.server = server
        self.pool = pool
        self.stash = threading.local()  # a mixed batch's WSGI requests
        self.tag: Optional[bytes] = None
        self.zeros = b""

    def handle(self, req: Any) -> Any:
        """The route's handler, in a batch that mixes other routes."""
        self.stash.items.append((req._b, req._i, req._o))
        return LATER

    def batch(self, batch: int, blob: bytes, count: int) -> bool:
        tag = self.tag
        if tag is None:
            handlers = self.server.handlers()
            tag = self.tag = bytes([handlers.index(self.handle)]) if len(handlers) <= 256 else b""
        end = count * REC
        if not tag or blob[0:end:REC].count(tag) != count:
            self.stash.items = []
            return False
        zeros = self.zeros
        if len(zeros) < 4 * count:
            zeros = self.zeros = bytes(4 * count)
        fast.fastserve_batch_respond(batch, zeros, None, zeros, count, b"", 0)
        self.pool.put([(blob, i, end) for i in range(count)])
        return True

    def answered(self) -> None:
        items, self.stash.items = self.stash.items, []
        if items:
            self.pool.put(items)

    def gone(self, rid: int) -> bool:
        return False  # a streamed reply sees the client gone when it writes

    def close(self) -> bool:
        return self.pool.close(1.0)


class _Runner:
    """Builds each request's environ and runs the app on a pool thread."""

    def __init__(self, server: Any, app: Callable[..., Any], root_path: str) -> None:
        self.server = server
        self.app = app
        self.root = root_path
        self.base: Optional[Dict[str, Any]] = None
        self.headers = [Struct(f"<{4 * n}I") for n in range(64)]
        self.paths: Dict[bytes, str] = {}  # raw path -> PATH_INFO
        self.heads: Dict[bytes, Dict[str, Any]] = {}  # request head -> its part of the environ

    def _path(self, raw: bytes) -> str:
        path = unquote_to_bytes(raw) if b"%" in raw else raw
        p = path.decode("latin-1")
        root = self.root
        if root and p.startswith(root) and (len(p) == len(root) or p[len(root)] == "/"):
            p = p[len(root) :]
        if len(self.paths) >= _NAME_CACHE:
            self.paths.clear()
        self.paths[raw] = p
        return p

    def complete(self, replies: List[Tuple[int, int, bytes, bytes]]) -> None:
        srv = self.server._srv
        if srv is not None:
            complete_replies(srv, replies)

    def _base(self) -> Dict[str, Any]:
        srv = self.server
        host = "127.0.0.1"
        for where in srv.listening:
            if where.startswith("http://"):
                host = where[7:].rstrip("/").rpartition(":")[0].strip("[]")
                break
        self.base = {
            "SCRIPT_NAME": self.root,
            "SERVER_NAME": host,
            "SERVER_PORT": str(srv.port or ""),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": _Errors(),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "wsgi.file_wrapper": FileWrapper,
        }
        return self.base

    def environ(self, blob: bytes, i: int, o: int) -> Tuple[Dict[str, Any], int, int]:
        flags, rid, mo, ml, to, tl, pl, hc, ho, bo, bl, po, plen, pport = _unpack(blob, i * REC)
        # A head seen before (the same bytes from the method to the last
        # header) gets a copy of the environ it gave; only the peer and
        # wsgi.input are the request's own.
        key = blob[o + mo : o + ho] if not bl and ho - mo <= _HEAD_KEY_MAX else None
        env = None if key is None else self.heads.get(key)
        if env is not None:
            env = env.copy()
        else:
            env = self._head_environ(blob, o, flags, mo, ml, to, tl, pl, hc, ho)
            if key is not None:
                if len(self.heads) >= _HEAD_CACHE:
                    self.heads.clear()
                self.heads[key] = env.copy()
        if flags & FLAG_PEER_UNIX:
            env["REMOTE_ADDR"] = blob[o + po : o + po + plen].decode("latin-1")
        elif plen:
            host = blob[o + po : o + po + plen]
            peer = _peers.get((host, pport))
            if peer is None:
                peer = _peer(host, pport)
            env["REMOTE_ADDR"], env["REMOTE_PORT"] = peer
        if flags & FLAG_BODY_FOLLOWS:
            return env, rid, -1
        if bl:
            env["wsgi.input"] = io.BytesIO(blob[o + bo : o + bo + bl])
            env["CONTENT_LENGTH"] = str(bl)  # a chunked body, decoded, has one too
        else:
            env["wsgi.input"] = io.BytesIO(b"")
        return env, rid, 0

    def _head_environ(self, blob: bytes, o: int, flags: int, mo: int, ml: int, to: int, tl: int, pl: int, hc: int, ho: int) -> Dict[str, Any]:
        """What the request's head puts in its environ."""
        env = (self.base or self._base()).copy()
        if ml == 3 and blob.startswith(b"GET", o + mo):
            env["REQUEST_METHOD"] = "GET"
        else:
            m = blob[o + mo : o + mo + ml]
            env["REQUEST_METHOD"] = _METHODS.get(m) or m.decode("latin-1")
        raw = blob[o + to : o + to + pl]
        p = self.paths.get(raw)
        if p is None:
            p = self._path(raw)
        env["PATH_INFO"] = p
        env["QUERY_STRING"] = blob[o + to + pl + 1 : o + to + tl].decode("latin-1") if flags & FLAG_QUERY else ""
        env["SERVER_PROTOCOL"] = "HTTP/1.1" if flags & FLAG_HTTP11 else "HTTP/1.0"
        if hc:
            st = self.headers[hc] if hc < 64 else Struct(f"<{4 * hc}I")
            f = st.unpack_from(blob, o + ho)
            key_of = _env_names.get
            for k in range(0, 4 * hc, 4):
                no = o + f[k]
                raw = blob[no : no + f[k + 1]]
                key = key_of(raw) or _env_key(raw)
                if key is None:
                    continue
                vo = o + f[k + 2]
                value = blob[vo : vo + f[k + 3]].decode("latin-1")
                old = env.get(key)
                if old is not None and key[0] == "H":
                    value = old + ("; " if key == "HTTP_COOKIE" else ", ") + value
                env[key] = value
            host = env.get("HTTP_HOST")
            if host:
                where = _hosts.get(host)
                if where is None:
                    where = _host_port(host)
                env["SERVER_NAME"], env["SERVER_PORT"] = where
        return env

    def run(self, item: Tuple[bytes, int, int]) -> Optional[Tuple[int, int, bytes, bytes]]:
        """Runs the app for one request; a reply for `complete`, or None
        when it was answered through a handle."""
        try:
            env, rid, follows = self.environ(*item)
        except Exception:
            blob, i, _ = item
            log.exception("building a WSGI environ failed")
            return (_RECORD.unpack_from(blob, i * REC)[2], _ERROR_WORD, b"", _ERROR_BODY)
        ex = _Exchange(self.server._srv, rid)
        if follows:
            h = lib.fastserve_server_response(ex.srv, rid)
            if not h:
                return None  # answered by a timeout, or the client left
            ex.handle = h
            ex.feed = _BodyFeed(h)
            env["wsgi.input"] = io.BufferedReader(ex.feed, 64 * 1024)
        result = None
        try:
            result = self.app(env, ex.start_response)
            word = ex.word
            if result.__class__ is list and word is not None and ex.stream is None and ex.handle is None:
                # the usual answer, whole in a list: finish() and reply() inline
                ex.done = (rid, word, ex.head, b"" if word == 204 or word == 304 else b"".join(result))
            else:
                ex.finish(result)
        except BaseException:
            log.exception("WSGI app failed on %s %s", env["REQUEST_METHOD"], env["PATH_INFO"])
            try:
                ex.fail()
            except BaseException:
                log.exception("answering a failed request failed")
        finally:
            close = None if result.__class__ is list else getattr(result, "close", None)
            if close is not None:
                try:
                    close()
                except BaseException:
                    log.exception("close() of a WSGI response failed")
            if ex.stream is not None:
                ex.end()
        return ex.done


__all__ = ["mount_wsgi", "FileWrapper"]
