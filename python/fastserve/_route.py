"""Route paths and their matching, the same rules as the engine's router
(src/server/pattern.rs and router.rs; both are tested against
tests/routing/cases.tsv).

A path is exact ("/users/me"), a pattern ("/users/{id}": one non-empty
segment; "/files/{path*}": the non-empty rest, last only), or, with
prefix=True, a prefix without parameters. A request goes to the first route
whose path and method match, in this order: exact paths, then patterns (at
the first segment where two differ a literal beats a parameter, which beats
a tail), then prefixes (longest first); registration order breaks ties. A
GET route also answers HEAD.
"""
from __future__ import annotations

import re
from typing import Dict, Iterable, List, Optional, Tuple
from urllib.parse import unquote

EXACT, PATTERN, PREFIX = 0, 1, 2
_NAME = re.compile(r"[A-Za-z0-9_]+\Z")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


def check_method(m: str) -> str:
    """`m` if it is a method token, else ValueError."""
    if not isinstance(m, str) or not _TOKEN.match(m):
        raise ValueError(f"method {m!r} is not a token (letters, digits and !#$%&'*+-.^_`|~)")
    return m


class Pattern:
    """A compiled route path. `match(path)` gives the percent-decoded
    parameters (a dict, empty for exact and prefix paths) or None."""

    __slots__ = ("path", "kind", "names", "segs", "lead", "rank")

    def __init__(self, path: str, prefix: bool = False) -> None:
        def bad(why):
            return ValueError(f"route path {path!r}: {why}")

        if not path.startswith("/") and path != "*":
            raise bad("must start with '/' (or be \"*\")")
        self.path = path
        self.names: Tuple[str, ...] = ()
        self.segs: Tuple[Tuple[int, str], ...] = ()
        self.lead = path
        self.rank: Tuple[int, ...] = ()
        if "{" not in path and "}" not in path:
            self.kind = PREFIX if prefix else EXACT
            return
        if prefix:
            raise bad("a prefix route takes no parameters (a tail parameter {name*} captures the rest)")
        parts = path[1:].split("/")
        segs: List[Tuple[int, str]] = []
        names: List[str] = []
        for i, s in enumerate(parts):
            opens, closes = s.count("{"), s.count("}")
            if not opens and not closes:
                segs.append((0, s))
                continue
            if opens != closes:
                raise bad("unbalanced braces")
            if opens > 1 or not (s.startswith("{") and s.endswith("}")):
                raise bad("a parameter takes a whole segment, as in /a/{name}/b")
            name = s[1:-1]
            tail = name.endswith("*")
            if tail:
                name = name[:-1]
                if i + 1 != len(parts):
                    raise bad("a tail parameter {name*} must be the last segment")
            if not name:
                raise bad("a parameter needs a name")
            if not _NAME.match(name) or not name.isascii():
                raise bad("a parameter name holds only letters, digits and '_'")
            if name in names:
                raise bad(f"parameter {name!r} appears twice")
            names.append(name)
            segs.append((2 if tail else 1, name))
        self.kind = PATTERN
        self.names = tuple(names)
        self.segs = tuple(segs)
        self.lead = path[: path.index("{")]
        self.rank = tuple(k for k, _ in segs)

    def match(self, path: str) -> Optional[Dict[str, str]]:
        kind = self.kind
        if kind == EXACT:
            return {} if path == self.path else None
        if kind == PREFIX:
            return {} if path.startswith(self.path) else None
        if not path.startswith(self.lead):
            return None
        parts = path[1:].split("/")
        segs = self.segs
        out: Dict[str, str] = {}
        for i, (k, v) in enumerate(segs):
            if k == 2:  # the rest, '/' included
                rest = "/".join(parts[i:])
                if not rest:
                    return None
                out[v] = unquote(rest)
                return out
            if i >= len(parts):
                return None
            s = parts[i]
            if k == 0:
                if s != v:
                    return None
            elif not s:
                return None
            else:
                out[v] = unquote(s)
        return out if len(parts) == len(segs) else None


def order(routes: Iterable[Tuple[Pattern, object]]) -> List[Tuple[Pattern, object]]:
    """`(pattern, route)` pairs in matching order (stable)."""
    return sorted(routes, key=lambda pr: (pr[0].kind, pr[0].rank, -len(pr[0].path) if pr[0].kind == PREFIX else 0))


def allows(methods: Optional[Tuple[str, ...]], method: str) -> bool:
    return methods is None or method in methods or (method == "HEAD" and "GET" in methods)


def allow_header(methods_lists: Iterable[Optional[Tuple[str, ...]]]) -> str:
    """The Allow value for the routes whose path matched: each method once,
    in route order, HEAD right after GET."""
    out: List[str] = []
    for ms in methods_lists:
        for m in ms or ():
            for x in (m, "HEAD") if m == "GET" else (m,):
                if x not in out:
                    out.append(x)
    return ", ".join(out)


# What a route for any method stands for in the server's Allow (the engine's
# list: RFC 9110's methods and PATCH, without CONNECT and TRACE).
ANY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def server_allow(methods_lists: Iterable[Optional[Tuple[str, ...]]], without: str = "") -> str:
    """The Allow value of OPTIONS * (and of a CONNECT no route takes, without
    CONNECT): every route's methods, ANY_METHOD for an any-method route, and
    OPTIONS, each once."""
    lists = list(methods_lists)
    extra = [ANY_METHOD] if any(ms is None for ms in lists) else []
    out = allow_header(lists + extra + [("OPTIONS",)]).split(", ")
    return ", ".join(m for m in out if m and m != without)
