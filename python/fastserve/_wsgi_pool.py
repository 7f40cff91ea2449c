"""The WSGI server's thread pool.

The pool wakes one thread when none runs, and that thread drains the queue
alone: no hand-off per request, and no threads taking turns at the GIL. A
running thread that has not started a request for BUSY seconds is taken to
wait in a view (sleep, database, lock): then a new batch wakes one more
thread, and so does the watchdog, which looks every STALL seconds while
requests run. Of two threads draining, the one that finds the other moving
goes back to sleep.

With FASTSERVE_WSGI_SCHED_BATCH=1 (Linux), pool threads run under
SCHED_BATCH: a thread woken for a batch then does not preempt the engine's
worker, which still holds the GIL in its batch callback, only to block on
the GIL at once; it runs when the worker goes back to its poll. That halves
the context switches per batch at depth 1. It is not the default because
threads a view starts inherit the policy, and a view woken while the CPU
is busy then waits for its turn instead of preempting.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from typing import Any, Callable, Dict, List

log = logging.getLogger("fastserve.wsgi")

BUSY = 0.002  # a thread whose request started longer ago is taken as blocked
STALL = 0.01  # how often the watchdog looks, while requests run
DOZE = 1.0  # the watchdog sleeps until woken after this long without requests
FLUSH_EVERY = 64  # replies completed in one call at most


def _sched_batch() -> None:
    """The calling thread under SCHED_BATCH, when asked for and there is one."""
    if os.environ.get("FASTSERVE_WSGI_SCHED_BATCH", "0") != "1":
        return
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except (AttributeError, OSError):
        pass  # not Linux, or refused: the default policy does as well


class _Pool:
    """`threads` threads running queued requests (see the module's text).
    All state is under one lock; idle threads wait on `_cv`, the watchdog
    on `_watch`."""

    def __init__(self, threads: int, run: Callable[[Any], Any], complete: Callable[[List[Any]], None]) -> None:
        lock = threading.Lock()
        self._complete = complete
        self._pending: List[Any] = []  # replies not yet completed
        self._cv = threading.Condition(lock)
        self._watch = threading.Condition(lock)
        self._q: deque = deque()
        self._run = run
        self._threads = threads
        self._started = 0
        self._idle = 0
        self._running = 0  # threads draining the queue
        self._waking = False  # an idle thread was told to start draining
        self._takeover = 0  # idle threads let in past blocked runners
        self._progress = 0.0  # when a request last started
        self._starts: Dict[int, float] = {}  # when each thread's request started (0: none)
        self._closed = False
        self._dozing = False  # the watchdog waits to be woken

    def close(self, timeout: float) -> bool:
        """No request starts any more; True once none runs (within
        `timeout` seconds)."""
        end = time.monotonic() + timeout
        with self._cv:
            self._closed = True
            self._q.clear()
            while self._running:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(min(left, 0.05))
            return True

    def put(self, items: List[Any]) -> None:
        with self._cv:
            if self._closed:
                return
            self._q.extend(items)
            if not self._waking and (self._running == 0 or time.monotonic() - self._progress >= BUSY):
                self._wake()

    def _flush(self) -> None:
        # called with the lock held; completes without it
        out, self._pending = self._pending, []
        self._cv.release()
        try:
            self._complete(out)
        except BaseException:
            log.exception("completing WSGI replies failed")
        finally:
            self._cv.acquire()

    def _wake(self) -> None:
        if self._idle:
            self._waking = True
            self._cv.notify()
        elif self._started < self._threads:
            if self._started == 0:
                threading.Thread(target=self._watchdog, name="fastserve-wsgi-watch", daemon=True).start()
            self._started += 1
            self._waking = True
            threading.Thread(target=self._work, name=f"fastserve-wsgi-{self._started}", daemon=True).start()

    def _work(self) -> None:
        _sched_batch()
        cv, q, run, now = self._cv, self._q, self._run, time.monotonic
        me = threading.get_ident()
        starts = self._starts
        with cv:
            while True:
                while not (q and (self._running == 0 or self._takeover or now() - self._progress >= BUSY)):
                    self._waking = False  # whoever was woken looked: the next batch may wake again
                    self._idle += 1
                    cv.wait()
                    self._idle -= 1
                self._waking = False
                if self._takeover:
                    self._takeover -= 1
                if self._dozing:
                    self._dozing = False
                    self._watch.notify()
                self._running += 1
                while q:
                    if self._running > 1 and self._others_live(me):
                        break  # let in past a blocked runner, which moves again
                    item = q.popleft()
                    self._progress = starts[me] = now()
                    cv.release()
                    r = None
                    try:
                        r = run(item)
                    except BaseException:  # never let one request end the thread
                        log.exception("WSGI request failed")
                    finally:
                        cv.acquire()
                    if r is not None:
                        self._pending.append(r)
                    # one complete call for the replies made while the queue
                    # was busy; the watchdog flushes those of a stalled runner
                    if self._pending and (not q or len(self._pending) >= FLUSH_EVERY):
                        self._flush()
                if self._pending:
                    self._flush()
                starts[me] = 0.0
                self._running -= 1

    def _others_live(self, me: int) -> bool:
        now = time.monotonic()
        return any(t and now - t < BUSY for k, t in self._starts.items() if k != me)

    def _watchdog(self) -> None:
        # every STALL while requests come: a queue that did not move lets
        # one more thread in. It keeps looking between batches, so that a
        # pool going idle and busy again at each batch does not wake it each
        # time; only after DOZE without requests does it wait to be woken.
        with self._watch:
            while True:
                if not self._running and time.monotonic() - self._progress >= DOZE:
                    self._dozing = True
                    self._watch.wait()
                    continue
                self._watch.wait(STALL)
                if self._pending and time.monotonic() - self._progress >= BUSY:
                    self._flush()
                if self._q and self._running and not self._takeover and time.monotonic() - self._progress >= BUSY:
                    if self._idle or self._started < self._threads:
                        self._takeover += 1
                        self._wake()
