"""The engine's access log, error hook and metrics, into `logging`.

Access records come from each worker once per pass of its event loop and
go to the `fastserve.access` logger at INFO, one line per request in the
common or combined log format. Errors the engine meets go to
`fastserve.error`: WARNING for what the server side should look at (a
handler that timed out, a client that stopped reading, the connection
limit), INFO for what a client did wrong (malformed requests, limits, slow
heads and bodies), so that a flood of bad requests stays quiet unless asked.
"""
from __future__ import annotations

import logging
import time
from ctypes import CFUNCTYPE, POINTER, Structure, c_bool, c_char_p, c_int, c_size_t, c_uint8, c_uint16, c_uint32, c_uint64, c_void_p, string_at
from typing import Any, Dict, List

access_log = logging.getLogger("fastserve.access")
error_log = logging.getLogger("fastserve.error")


class AccessRecord(Structure):
    _fields_ = [
        ("method", c_void_p),
        ("method_len", c_size_t),
        ("target", c_void_p),
        ("target_len", c_size_t),
        ("minor_version", c_uint8),
        ("referer", c_void_p),
        ("referer_len", c_size_t),
        ("user_agent", c_void_p),
        ("user_agent_len", c_size_t),
        ("peer", c_void_p),
        ("peer_len", c_size_t),
        ("peer_port", c_uint16),
        ("status", c_uint16),
        ("complete", c_bool),
        ("bytes_in", c_uint64),
        ("bytes_out", c_uint64),
        ("duration_us", c_uint64),
        ("time_us", c_uint64),
    ]


class ErrorEvent(Structure):
    _fields_ = [
        ("reason", c_int),
        ("status", c_uint16),
        ("peer_port", c_uint16),
        ("peer", c_void_p),
        ("peer_len", c_size_t),
        ("text", c_char_p),
    ]


class Metrics(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("version", c_uint32),
        ("requests", c_uint64),
        ("bytes_in", c_uint64),
        ("bytes_out", c_uint64),
        ("open_connections", c_uint64),
        ("accepted_connections", c_uint64),
        ("latency_bounds_us", c_uint64 * 16),
        ("latency_buckets", c_uint64 * 17),
        ("latency_sum_us", c_uint64),
        ("status_classes", c_uint64 * 6),
        ("status_codes", c_uint16 * 20),
        ("status_counts", c_uint64 * 20),
        ("errors", c_uint64 * 16),
    ]


ACCESS_FN = CFUNCTYPE(None, POINTER(AccessRecord), c_size_t, c_void_p)
ERROR_FN = CFUNCTYPE(None, POINTER(ErrorEvent), c_void_p)

# fastserve_error_reason, in order
REASONS = (
    "handler_failed",
    "handler_panicked",
    "bad_request",
    "uri_too_long",
    "head_too_large",
    "body_too_large",
    "not_supported",
    "header_timeout",
    "body_timeout",
    "request_timeout",
    "write_timeout",
    "connection_limit",
)
_WARN = {"handler_failed", "handler_panicked", "request_timeout", "write_timeout", "connection_limit"}

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _text(ptr, n):
    return string_at(ptr, n).decode("latin-1") if n else ""


def _quoted(s):
    # as nginx escapes: '"', '\' and bytes outside printable ASCII
    if all(" " <= c <= "~" and c not in '"\\' for c in s):
        return s
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "\\x%02X" % ord(c) for c in s)


def clf_time(seconds: float) -> str:
    t = time.gmtime(seconds)
    return "%02d/%s/%04d:%02d:%02d:%02d +0000" % (t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec)


def record_dict(r: AccessRecord) -> Dict[str, Any]:
    """A record's fields as Python values."""
    return {
        "method": _text(r.method, r.method_len),
        "target": _text(r.target, r.target_len),
        "http_version": f"HTTP/1.{r.minor_version}",
        "referer": _text(r.referer, r.referer_len),
        "user_agent": _text(r.user_agent, r.user_agent_len),
        "peer": _text(r.peer, r.peer_len),
        "peer_port": r.peer_port,
        "status": r.status,
        "complete": bool(r.complete),
        "bytes_in": r.bytes_in,
        "bytes_out": r.bytes_out,
        "duration": r.duration_us / 1e6,
        "time": r.time_us / 1e6,
    }


def format_line(d: Dict[str, Any], combined: bool) -> str:
    """`host - - [time] "request" status bytes` (and `"referer" "agent"`)."""
    request = f"{d['method']} {d['target']} {d['http_version']}" if d["method"] else "-"
    size = d["bytes_out"] or "-"
    line = f"{d['peer'] or '-'} - - [{clf_time(d['time'])}] \"{_quoted(request)}\" {d['status']} {size}"
    if combined:
        line += f" \"{_quoted(d['referer']) or '-'}\" \"{_quoted(d['user_agent']) or '-'}\""
    return line


class AccessLogger:
    """The access log callback; keep a reference while the server runs."""

    def __init__(self, fmt: str) -> None:
        if fmt not in ("common", "combined"):
            raise ValueError(f"access_log is True, 'common' or 'combined', not {fmt!r}")
        self.combined = fmt == "combined"
        self.callback = ACCESS_FN(self._on_records)

    def _on_records(self, records, count, _userdata):
        # on a worker thread, holding the GIL, once per loop pass
        try:
            if not access_log.isEnabledFor(logging.INFO):
                return
            for i in range(count):
                d = record_dict(records[i])
                access_log.info(format_line(d, self.combined), extra={"access": d})
        except Exception:  # never into the engine
            access_log.exception("access log")


class ErrorLogger:
    def __init__(self) -> None:
        self.callback = ERROR_FN(self._on_error)

    def _on_error(self, event, _userdata):
        try:
            e = event[0]
            reason = REASONS[e.reason] if 0 <= e.reason < len(REASONS) else str(e.reason)
            level = logging.WARNING if reason in _WARN else logging.INFO
            if not error_log.isEnabledFor(level):
                return
            peer = f"{_text(e.peer, e.peer_len)}:{e.peer_port}"
            what = f"answered {e.status}" if e.status else "connection closed"
            info = {"reason": reason, "status": e.status, "peer": _text(e.peer, e.peer_len), "peer_port": e.peer_port}
            error_log.log(level, "%s: %s, client %s", e.text.decode(), what, peer, extra={"fastserve_error": info})
        except Exception:
            error_log.exception("error hook")


def metrics_dict(m: Metrics) -> Dict[str, Any]:
    """fastserve_metrics as a dict."""
    classes = ["none", "1xx", "2xx", "3xx", "4xx", "5xx"]
    buckets: List[Any] = [(m.latency_bounds_us[i] / 1e6, m.latency_buckets[i]) for i in range(16)]
    buckets.append((float("inf"), m.latency_buckets[16]))
    return {
        "requests": m.requests,
        "bytes_in": m.bytes_in,
        "bytes_out": m.bytes_out,
        "open_connections": m.open_connections,
        "accepted_connections": m.accepted_connections,
        "latency": buckets,
        "latency_sum": m.latency_sum_us / 1e6,
        "status_classes": dict(zip(classes, m.status_classes)),
        "status_codes": {m.status_codes[i]: m.status_counts[i] for i in range(20)},
        "errors": dict(zip(REASONS, m.errors)),
    }
