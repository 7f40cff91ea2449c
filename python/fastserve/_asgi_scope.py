"""ASGI scopes from the engine's batch records (see _http.py for the layout).

Built on the worker thread that read the batch, from the one byte string
the batch arrived as: a record unpacked once, the header fields of a request
in one more unpack.
"""
from __future__ import annotations

from struct import Struct
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote

from ._http import FLAG_BODY_FOLLOWS, FLAG_HTTP11, FLAG_PEER_UNIX, FLAG_QUERY, REC

# a record less its tag and connection number
_records = Struct("<4xIQ9I4xIHH").iter_unpack
_ONE = Struct("<4I")  # one header's spans
_FIELDS: Dict[int, Any] = {}  # header count -> Struct of its spans
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")}
SPEC_VERSION = "2.4"  # send() on a closed connection raises OSError
# shared by every scope (as the server's own constants; not to be changed)
_ASGI = {"version": "3.0", "spec_version": SPEC_VERSION}


def _fields_struct(n: int) -> Any:
    s = _FIELDS.get(n)
    if s is None:
        s = _FIELDS[n] = Struct("<%dI" % (4 * n))
    return s


def _is_websocket(method: str, headers: List[Tuple[bytes, bytes]]) -> bool:
    if method != "GET":
        return False
    for n, v in headers:
        if n == b"upgrade" and v.lower() == b"websocket":
            return True
    return False


class Scopes:
    """What every scope of one server shares, and the per-request parts."""

    def __init__(self, root_path: str = "", server: Optional[Tuple[str, int]] = None) -> None:
        self.root_path = root_path
        self.raw_root = root_path.encode("utf-8")
        self.server = server
        self.state: Optional[Dict[str, Any]] = None  # lifespan state, once started
        self.heads: Dict[bytes, Dict[str, Any]] = {}  # request head -> its scope, less client and state

    def calls(self, blob: bytes, o: int, first: int, stop: int, runner: Any, http: Any, websocket: Any) -> List[Any]:
        """The calls of records first..stop-1 (data area at `o`): a scope
        each, made into `http(runner, id, scope, body)` (body None when it
        follows in pieces) or `websocket(runner, id, scope)`; each is put
        in `runner.live` by its id. This is the per-request work of the
        worker thread, so what repeats is looked up rather than made again
        (scopes of heads seen before, paths, header names, clients)."""
        out = []
        append = out.append
        live = runner.live
        state = self.state
        records = _records
        clients = _clients
        base = {
            "type": "http",
            "asgi": _ASGI,
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "",
            "raw_path": b"",
            "query_string": b"",
            "root_path": self.root_path,
            "headers": None,
            "client": None,
            "server": self.server,
        }
        copy = dict.copy
        heads = self.heads
        get = heads.get
        for flags, rid, moff, mlen, toff, tlen, plen, hcount, hoff, boff, blen, poff, plen2, pport in records(blob[first * REC : stop * REC]):
            # a head seen before (the same bytes from the method to the last
            # header, no body) gets a copy of its scope: only the client,
            # the state and the headers' list are the request's own
            kept = get(blob[o + moff : o + hoff]) if not blen and hoff - moff <= _HEAD_KEY_MAX else None
            if kept is not None:
                scope = copy(kept)
                scope["headers"] = kept["headers"].copy()
            else:
                scope = self._scope(blob, o, flags, moff, mlen, toff, tlen, plen, hcount, hoff, base)
                if not blen and hoff - moff <= _HEAD_KEY_MAX and scope["type"] == "http":
                    if len(heads) >= _HEADS:
                        heads.clear()
                    kept = copy(scope)
                    kept["headers"] = scope["headers"].copy()
                    heads[blob[o + moff : o + hoff]] = kept
            if plen2 and not flags & FLAG_PEER_UNIX:
                p = o + poff
                client = clients.get((blob[p : p + plen2], pport))
                scope["client"] = client if client is not None else _client(blob[p : p + plen2], pport)
            if state is not None:
                scope["state"] = state.copy()
            if kept is not None or scope["type"] == "http":
                if flags & FLAG_BODY_FOLLOWS:
                    c = http(runner, rid, scope, None)
                else:
                    c = http(runner, rid, scope, blob[o + boff : o + boff + blen] if blen else b"")
            else:
                c = websocket(runner, rid, scope)
            live[rid] = c
            append(c)
        return out

    def _scope(self, blob: bytes, o: int, flags: int, moff: int, mlen: int, toff: int, tlen: int, plen: int, hcount: int, hoff: int, base: Dict[str, Any]) -> Dict[str, Any]:
        """What the request's head puts in its scope (the client and the
        state are added per request)."""
        names = _names
        if mlen == 3 and blob.startswith(b"GET", o + moff):
            method = "GET"
        else:
            mb = blob[o + moff : o + moff + mlen]
            method = _METHODS.get(mb) or mb.decode("latin-1")
        t = o + toff
        raw = blob[t : t + plen]
        path = _paths.get(raw)
        if path is None:
            path = _path(raw)
        if hcount == 1:  # Host alone
            no, nl, vo, vl = _ONE.unpack_from(blob, o + hoff)
            no += o
            name = blob[no : no + nl]
            vo += o
            headers = [(names.get(name) or _name(name), blob[vo : vo + vl])]
        elif hcount:
            headers = []
            spans = (_FIELDS.get(hcount) or _fields_struct(hcount)).unpack_from(blob, o + hoff)
            for k in range(0, 4 * hcount, 4):
                no = o + spans[k]
                name = blob[no : no + spans[k + 1]]
                vo = o + spans[k + 2]
                headers.append((names.get(name) or _name(name), blob[vo : vo + spans[k + 3]]))
        else:
            headers = []
        # a copy of the shared parts costs less than a dict made whole
        scope = base.copy()
        if method != "GET":
            scope["method"] = method
        if self.root_path:
            scope["path"] = self.root_path + path
            scope["raw_path"] = self.raw_root + raw
        else:
            scope["path"] = path
            scope["raw_path"] = raw
        if flags & FLAG_QUERY:
            scope["query_string"] = blob[t + plen + 1 : t + tlen]
        if not flags & FLAG_HTTP11:
            scope["http_version"] = "1.0"
        scope["headers"] = headers
        # a handshake has Host, Upgrade, Connection, Sec-WebSocket-Key and -Version
        if hcount > 3 and _is_websocket(method, headers):
            scope["type"] = "websocket"
            scope["scheme"] = "ws"
            del scope["method"]
            scope["subprotocols"] = _subprotocols(headers)
        return scope


# Caches of what repeats from request to request, each emptied when full.
_CACHE = 1024
_paths: Dict[bytes, str] = {}  # raw path -> decoded path
_names: Dict[bytes, bytes] = {}  # header name as sent -> lower case
_clients: Dict[Tuple[bytes, int], Tuple[str, int]] = {}  # (host, port) -> scope's client
_HEADS = 256  # request heads whose scope is kept
_HEAD_KEY_MAX = 2048  # longer heads are not kept


def _path(raw: bytes) -> str:
    path = raw.decode("latin-1")
    if b"%" in raw:
        path = unquote(path, "utf-8", "replace")
    if len(_paths) >= _CACHE:
        _paths.clear()
    _paths[raw] = path
    return path


def _name(raw: bytes) -> bytes:
    low = raw.lower()
    if len(_names) >= _CACHE:
        _names.clear()
    _names[raw] = low
    return low


def _client(host: bytes, port: int) -> Tuple[str, int]:
    client = (host.decode("ascii"), port)
    if len(_clients) >= _CACHE:
        _clients.clear()
    _clients[(host, port)] = client
    return client


def _subprotocols(headers: List[Tuple[bytes, bytes]]) -> List[str]:
    out = []
    for n, v in headers:
        if n == b"sec-websocket-protocol":
            out += [p.strip() for p in v.decode("latin-1").split(",") if p.strip()]
    return out
