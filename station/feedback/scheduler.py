"""When LED patterns change: a scheduler that runs callbacks later, on one thread of its own.

Patterns the kernel cannot play (double blink, a software heartbeat, a solid light that ends) are timed
sequences of brightness writes. :class:`ThreadScheduler` runs them for every LED on one daemon thread;
tests hand the feedback code a scheduler with a hand-driven clock instead, so nothing really sleeps.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)


class Scheduled(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    def call_later(self, delay: float, fn: Callable[[], None]) -> Scheduled: ...

    def stop(self) -> None: ...


class _Entry:
    __slots__ = ("cancelled", "fn", "when")

    def __init__(self, when: float, fn: Callable[[], None]) -> None:
        self.when = when
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ThreadScheduler:
    """Runs each callback once its delay has passed (monotonic clock); a failing callback is logged."""

    def __init__(self, name: str = "feedback") -> None:
        self._name = name
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Entry]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def call_later(self, delay: float, fn: Callable[[], None]) -> Scheduled:
        entry = _Entry(time.monotonic() + max(0.0, delay), fn)
        with self._cond:
            if self._stopped:
                entry.cancel()
                return entry
            heapq.heappush(self._heap, (entry.when, next(self._seq), entry))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()
        return entry

    def stop(self) -> None:
        """Drop everything pending and end the thread (waiting for a callback that is running)."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cond.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                if self._stopped:
                    return
                _, _, entry = heapq.heappop(self._heap)
            if entry.cancelled:
                continue
            try:
                entry.fn()
            except Exception:
                log.exception("feedback callback failed")
