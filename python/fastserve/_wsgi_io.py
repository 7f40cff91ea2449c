"""The WSGI server's streams: `wsgi.file_wrapper`, `wsgi.errors`,
`wsgi.input` fed by the engine's streamed body, and a response stream a
pool thread writes and waits on."""
from __future__ import annotations

import io
import logging
import threading
from collections import deque
from typing import Any, Iterable, Optional

from ._lib import lib
from ._stream import BODY_DATA, BODY_END, CLOSED, EV_CLOSED, OK, WOULD_BLOCK, _objects, _on_body, register

log = logging.getLogger("fastserve.wsgi")


class FileWrapper:
    """`wsgi.file_wrapper`: a file sent with sendfile when it is a regular
    file with a descriptor, else read in `blksize` blocks."""

    def __init__(self, filelike: Any, blksize: int = 8192) -> None:
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self) -> "FileWrapper":
        return self

    def __next__(self) -> bytes:
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


class _Errors:
    """`wsgi.errors`: text to the `fastserve.wsgi` logger, line by line."""

    def __init__(self) -> None:
        self._part = ""
        self._lock = threading.Lock()

    def write(self, s: str) -> int:
        with self._lock:
            lines = (self._part + s).split("\n")
            self._part = lines.pop()
        for line in lines:
            log.error("%s", line)
        return len(s)

    def writelines(self, seq: Iterable[str]) -> None:
        for s in seq:
            self.write(s)

    def flush(self) -> None:
        with self._lock:
            part, self._part = self._part, ""
        if part:
            log.error("%s", part)


class _BodyFeed(io.RawIOBase):
    """A streamed request body: the engine's worker thread hands pieces to
    `piece`, the app's thread reads them. Reading pauses while `limit`
    bytes wait."""

    def __init__(self, handle: int, limit: int = 1 << 20) -> None:
        super().__init__()
        self._h = handle
        self._limit = limit
        self._cv = threading.Condition(threading.Lock())
        self._q: deque = deque()
        self._queued = 0
        self._paused = False
        self._state = -1  # not started; then BODY_DATA, BODY_END or BODY_ABORTED
        self._discard = False

    def readable(self) -> bool:
        return True

    def piece(self, data: bytes, ev: int) -> int:  # a worker thread
        with self._cv:
            if ev == BODY_DATA:
                if self._discard:
                    return 0
                self._q.append(memoryview(data))
                self._queued += len(data)
                self._paused = self._queued >= self._limit
            else:
                self._state = ev
            self._cv.notify()
            return 1 if self._paused else 0

    def _start(self) -> None:
        self._state = BODY_DATA
        key = register(self)
        if lib.fastserve_response_read_body(self._h, _on_body, key) != OK:
            _objects.pop(key, None)
            self._state = 2
            raise OSError("the request body cannot be read: " + lib.fastserve_last_error().decode())

    def readinto(self, buf: Any) -> int:
        if self._state == -1:
            self._start()
        resume = False
        with self._cv:
            while not self._q:
                if self._state == BODY_END:
                    return 0
                if self._state != BODY_DATA:
                    raise OSError("the request body was cut off")
                self._cv.wait()
            head = self._q[0]
            n = min(len(buf), len(head))
            buf[:n] = head[:n]
            if n == len(head):
                self._q.popleft()
            else:
                self._q[0] = head[n:]
            self._queued -= n
            if self._paused and self._queued <= self._limit // 4:
                self._paused = False
                resume = True
        if resume:
            lib.fastserve_response_resume_body(self._h)
        return n

    def finish(self) -> None:
        """The response goes out: whatever the app left unread is dropped."""
        with self._cv:
            if self._state != BODY_DATA:
                return
            self._discard = True
            self._q.clear()
            paused, self._paused = self._paused, False
        if paused:
            lib.fastserve_response_resume_body(self._h)


class _ThreadStream:
    """A response stream written from a pool thread: a write that finds the
    client behind waits for the engine's writable event."""

    __slots__ = ("ptr", "gone", "_ready")

    def __init__(self) -> None:
        self.ptr: Optional[int] = None
        self.gone = False
        self._ready = threading.Event()

    def event(self, ev: int) -> None:  # a worker thread
        if ev == EV_CLOSED:
            self.gone = True
        self._ready.set()

    def write(self, data: bytes) -> bool:
        """False once the client has gone (or the app wrote past its
        Content-Length)."""
        while not self.gone:
            self._ready.clear()
            rc = lib.fastserve_stream_write(self.ptr, data, len(data))
            if rc == OK:
                return True
            if rc != WOULD_BLOCK:
                if rc != CLOSED:
                    log.error("response body refused: %s", lib.fastserve_last_error().decode())
                self.gone = True
                break
            self._ready.wait(1.0)
        return False
