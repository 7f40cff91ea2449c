"""Loads libfastserve and declares the C functions the package uses.

The library is $FASTSERVE_LIB when that is set (a build of one's own wins
over the copy the package carries), else the one beside this file, else the
one on the system's library path. Two handles are kept: `lib` releases the GIL
around every call (anything that may block or take a lock a worker holds),
and `fast` keeps it (short calls made from inside a batch callback, where
releasing and retaking the GIL would be pure overhead).
"""
import ctypes
import ctypes.util
import os
from array import array
from itertools import chain

from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_int,
    c_int64,
    c_size_t,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)

from ._observe import ACCESS_FN, ERROR_FN, Metrics

HERE = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    env = os.environ.get("FASTSERVE_LIB")
    if env:
        yield env
    yield os.path.join(HERE, "libfastserve.so")
    for name in ("libfastserve.so.0", "libfastserve.so"):
        yield name
    found = ctypes.util.find_library("fastserve")
    if found:
        yield found


def _load():
    errors = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            errors.append(f"{path}: not found")
            continue
        try:
            return path, ctypes.CDLL(path), ctypes.PyDLL(path)
        except OSError as e:
            errors.append(str(e))
    raise ImportError(
        "fastserve: cannot load libfastserve.so (looked at $FASTSERVE_LIB, "
        "beside the package and on the system path): " + "; ".join(errors)
    )


path, lib, fast = _load()


class ParsedHeader(Structure):
    _fields_ = [("name", c_void_p), ("name_len", c_size_t), ("value", c_void_p), ("value_len", c_size_t)]


class RequestLine(Structure):
    _fields_ = [
        ("method", c_void_p),
        ("method_len", c_size_t),
        ("path", c_void_p),
        ("path_len", c_size_t),
        ("minor_version", c_int),
    ]


class StatusLine(Structure):
    _fields_ = [("minor_version", c_int), ("status", c_int), ("reason", c_void_p), ("reason_len", c_size_t)]


class ConnBatch(Structure):
    _fields_ = [("requests", c_void_p), ("count", c_size_t), ("data", c_void_p), ("data_len", c_size_t)]


class IoVec(Structure):
    _fields_ = [("base", c_void_p), ("len", c_size_t)]


class Stats(Structure):
    _fields_ = [
        ("requests", c_uint64),
        ("bytes_in", c_uint64),
        ("bytes_out", c_uint64),
        ("open_connections", c_uint64),
        ("accepted_connections", c_uint64),
    ]


# void (*)(batch, reqs, count, data, data_len, userdata)
BATCH_FN = CFUNCTYPE(None, c_void_p, c_void_p, c_size_t, c_void_p, c_size_t, c_void_p)
# fastserve_batch_cancel_fn
BATCH_CANCEL_FN = CFUNCTYPE(None, c_void_p, POINTER(c_uint64), c_size_t)
# fastserve_stream_event_fn, fastserve_body_fn, fastserve_upgrade_fn
STREAM_EVENT_FN = CFUNCTYPE(None, c_void_p, c_int)
BODY_FN = CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t, c_int)
UPGRADE_FN = CFUNCTYPE(None, c_void_p, c_int, c_void_p, c_size_t)

_sz = c_size_t
_p = c_void_p
_b = c_char_p  # bytes in
R = c_int  # fastserve_result

_PROTOS = {
    "fastserve_result_str": (c_char_p, [c_int]),
    # parser
    "fastserve_parse_request": (R, [_b, _sz, c_uint32, POINTER(RequestLine), POINTER(ParsedHeader), POINTER(_sz), POINTER(_sz)]),
    "fastserve_parse_response": (R, [_b, _sz, c_uint32, POINTER(StatusLine), POINTER(ParsedHeader), POINTER(_sz), POINTER(_sz)]),
    "fastserve_parse_headers": (R, [_b, _sz, c_uint32, POINTER(ParsedHeader), POINTER(_sz), POINTER(_sz)]),
    "fastserve_chunked_decoder_new": (_p, [c_uint32, c_bool]),
    "fastserve_chunked_decoder_free": (None, [_p]),
    "fastserve_chunked_decode": (R, [_p, _p, POINTER(_sz), POINTER(_sz)]),
    # config and server
    "fastserve_config_new": (_p, []),
    "fastserve_config_free": (None, [_p]),
    "fastserve_config_set_workers": (R, [_p, _sz]),
    "fastserve_config_set_max_connections": (R, [_p, _sz]),
    "fastserve_config_set_max_header_bytes": (R, [_p, _sz]),
    "fastserve_config_set_max_request_line": (R, [_p, _sz]),
    "fastserve_config_set_max_headers": (R, [_p, _sz]),
    "fastserve_config_set_max_body": (R, [_p, _sz]),
    "fastserve_config_set_max_pipelined": (R, [_p, _sz]),
    "fastserve_config_set_max_unsent_bytes": (R, [_p, _sz]),
    "fastserve_config_set_socket_recv_buffer": (R, [_p, _sz]),
    "fastserve_config_set_socket_send_buffer": (R, [_p, _sz]),
    "fastserve_config_set_buffer_size": (R, [_p, _sz]),
    "fastserve_config_set_spare_buffers": (R, [_p, _sz]),
    "fastserve_config_set_shutdown_grace_ms": (R, [_p, c_uint64]),
    "fastserve_config_set_header_timeout_ms": (R, [_p, c_uint64]),
    "fastserve_config_set_body_timeout_ms": (R, [_p, c_uint64]),
    "fastserve_config_set_keepalive_timeout_ms": (R, [_p, c_uint64]),
    "fastserve_config_set_write_timeout_ms": (R, [_p, c_uint64]),
    "fastserve_config_set_request_timeout_ms": (R, [_p, c_uint64]),
    "fastserve_config_set_min_rate_grace_ms": (R, [_p, c_uint64]),
    "fastserve_config_set_min_body_rate": (R, [_p, c_uint64]),
    "fastserve_config_set_min_send_rate": (R, [_p, c_uint64]),
    "fastserve_config_set_proxy_header_timeout_ms": (R, [_p, c_uint64]),
    "fastserve_config_set_linger_timeout_ms": (R, [_p, c_uint64]),
    "fastserve_config_set_server_name": (R, [_p, _b, _sz]),
    "fastserve_config_set_driver": (R, [_p, _b, _sz]),
    "fastserve_server_new": (_p, [_p]),
    "fastserve_server_free": (None, [_p]),
    "fastserve_server_route_static": (R, [_p, _b, _sz, _b, _sz, c_uint32, c_uint16, _b, _sz, _b, _sz]),
    "fastserve_server_route_dir": (R, [_p, _b, _sz, _b, _sz, c_uint32]),
    "fastserve_server_route_batch": (R, [_p, _b, _sz, _b, _sz, c_uint32, c_uint32]),
    "fastserve_server_set_batch_handler": (R, [_p, BATCH_FN, _p]),
    "fastserve_server_set_batch_cancel": (R, [_p, BATCH_CANCEL_FN, _p]),
    "fastserve_batch_respond": (R, [_p, _b, _b, _b, _sz, _b, _sz]),
    "fastserve_batch_respond_text": (R, [_p, c_uint32, _sz, _b, _sz]),
    "fastserve_batch_respond_same": (R, [_p, c_uint32, _sz, _b, _sz]),
    "fastserve_server_complete": (R, [_p, _b, _b, _b, _b, _sz, _b, _sz, POINTER(_sz)]),
    "fastserve_server_listen": (R, [_p, _b, _sz, c_uint16]),
    "fastserve_server_port": (c_uint16, [_p]),
    "fastserve_server_driver": (c_char_p, [_p]),
    "fastserve_server_listen_tcp": (R, [_p, _b, _sz, c_uint16, c_uint32]),
    "fastserve_server_listen_unix": (R, [_p, _b, _sz, c_uint32, c_uint32]),
    "fastserve_server_listen_fd": (R, [_p, c_int, c_uint32]),
    "fastserve_server_listen_systemd": (R, [_p, _b, _sz, c_uint32]),
    "fastserve_server_start": (R, [_p]),
    "fastserve_server_stop": (R, [_p]),
    "fastserve_server_wait": (R, [_p]),
    "fastserve_server_stats": (R, [_p, POINTER(Stats)]),
    "fastserve_last_error": (c_char_p, []),
    # access log, error hook, metrics
    "fastserve_server_set_access_log": (R, [_p, ACCESS_FN, _p]),
    "fastserve_server_set_error_hook": (R, [_p, ERROR_FN, _p]),
    "fastserve_server_enable_metrics": (R, [_p]),
    "fastserve_server_route_metrics": (R, [_p, _b, _sz]),
    "fastserve_server_metrics": (R, [_p, POINTER(Metrics)]),
    # streams, request bodies and protocol switches
    "fastserve_server_route_body": (R, [_p, _b, _sz, _b, _sz, _sz, c_uint32]),
    "fastserve_server_response": (_p, [_p, c_uint64]),
    "fastserve_response_head": (R, [_p, c_uint32, _b, _sz]),
    "fastserve_response_status": (R, [_p, c_uint16]),
    "fastserve_response_body": (R, [_p, _b, _sz]),
    "fastserve_response_send": (R, [_p]),
    "fastserve_response_stream": (_p, [_p, c_int64, STREAM_EVENT_FN, _p]),
    "fastserve_stream_write": (R, [_p, _b, _sz]),
    "fastserve_stream_trailer": (R, [_p, _b, _sz, _b, _sz]),
    "fastserve_stream_end": (R, [_p]),
    "fastserve_stream_abort": (None, [_p]),
    "fastserve_response_read_body": (R, [_p, BODY_FN, _p]),
    "fastserve_response_resume_body": (R, [_p]),
    "fastserve_response_upgrade": (R, [_p, c_uint16, UPGRADE_FN, _p]),
    # sans-I/O connection
    "fastserve_conn_new": (_p, [_p]),
    "fastserve_conn_free": (None, [_p]),
    "fastserve_conn_feed": (R, [_p, _b, _sz, POINTER(ConnBatch)]),
    "fastserve_conn_feed_eof": (R, [_p, POINTER(ConnBatch)]),
    "fastserve_conn_respond_batch": (R, [_p, _b, _b, _b, _b, _sz, _b, _sz, POINTER(_sz)]),
    "fastserve_conn_output": (_sz, [_p, POINTER(IoVec), _sz]),
    "fastserve_conn_unsent": (_sz, [_p]),
    "fastserve_conn_written": (R, [_p, _sz]),
    "fastserve_conn_wants_read": (c_bool, [_p]),
    "fastserve_conn_should_close": (c_bool, [_p]),
    "fastserve_conn_shutdown": (R, [_p]),
    "fastserve_conn_set_peer": (R, [_p, _b, c_uint32]),
    "fastserve_conn_state": (c_uint32, [_p]),
    "fastserve_conn_abort": (R, [_p, c_uint16]),
    "fastserve_conn_expire": (c_bool, [_p, c_uint16, POINTER(c_uint64)]),
    "fastserve_conn_stream_start": (R, [_p, c_uint64, c_uint16, _b, _sz, c_int64]),
    "fastserve_conn_stream_write": (R, [_p, c_uint64, _b, _sz]),
    "fastserve_conn_stream_end": (R, [_p, c_uint64, _b, _sz, c_bool]),
    "fastserve_conn_upgrade": (R, [_p, c_uint64, c_uint16, _b, _sz]),
    "fastserve_conn_upgraded": (c_bool, [_p]),
    "fastserve_conn_upgrade_rest": (_sz, [_p, c_void_p, _sz]),
}

# fastserve_conn_state bits
CONN_READING_HEAD, CONN_READING_BODY, CONN_PENDING, CONN_UNSENT, CONN_IDLE = 1, 2, 4, 8, 16

for _handle in (lib, fast):
    for _name, (_res, _args) in _PROTOS.items():
        _f = getattr(_handle, _name)
        _f.restype = _res
        _f.argtypes = _args


def result_str(code: int) -> str:
    return lib.fastserve_result_str(code).decode()


class FastserveError(Exception):
    """A fastserve call failed; `.code` is the fastserve_result."""

    def __init__(self, code: int, what: str = "") -> None:
        self.code = code
        super().__init__(f"{what}: {result_str(code)}" if what else result_str(code))


def check(code, what=""):
    if code != 0:
        raise FastserveError(code, what)


def complete_replies(srv, replies) -> None:
    """Hands (request id, status word, head, body) replies to the engine in
    one `fastserve_server_complete`."""
    ids, words, heads, bodies = zip(*replies)
    data = b"".join(chain.from_iterable(zip(heads, bodies)))
    lib.fastserve_server_complete(
        srv,
        array("Q", ids).tobytes(),
        array("I", words).tobytes(),
        array("I", list(map(len, heads))).tobytes(),  # a list first: faster than from map
        array("I", list(map(len, bodies))).tobytes(),
        len(replies),
        data,
        len(data),
        None,
    )
