"""fastserve: an HTTP/1.1 engine in Rust, driven from Python through ctypes.

- `parse_request`, `parse_response`, `parse_headers`, `ChunkedDecoder`,
  `decode_chunked`: the engine's parser, returning plain Python values;
- `Server`: decorator routes served by the engine's worker threads, with
  one crossing into Python per batch of requests;
- `fastserve.asyncio.HttpProtocol`: the same routes on the sans-I/O core,
  for an asyncio or uvloop server of your own.
"""
from ._http import Headers, HTTPException, MultiDict, Request, Response, abort
from ._lib import FastserveError
from .parse import (
    ChunkedDecoder,
    ParsedRequest,
    ParsedResponse,
    ParseError,
    decode_chunked,
    parse_headers,
    parse_request,
    parse_response,
)
from ._stream import ResponseStream, StreamResponse, Upgrade
from .server import Server

__version__ = "0.1.0"

__all__ = [
    "ChunkedDecoder",
    "FastserveError",
    "HTTPException",
    "Headers",
    "MultiDict",
    "ParseError",
    "ParsedRequest",
    "ParsedResponse",
    "Request",
    "Response",
    "ResponseStream",
    "Server",
    "StreamResponse",
    "Upgrade",
    "abort",
    "decode_chunked",
    "parse_headers",
    "parse_request",
    "parse_response",
]
