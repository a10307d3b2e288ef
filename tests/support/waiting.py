"""Things arriving from other threads (events, watcher callbacks, sd_notify datagrams) and waiting for one; waiting
for a station's enrolment sessions to end."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class Collected(Generic[T]):
    """A list other threads append to, with a way to wait until an item matching a predicate has arrived."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self._cond = threading.Condition()

    def add(self, item: T) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def matching(self, match: Callable[[T], bool]) -> list[T]:
        with self._cond:
            return [item for item in self.items if match(item)]

    def wait_for(self, match: Callable[[T], bool], timeout: float, what: str, *, take: bool = False,
                 latest: bool = False) -> T:
        """The first (``latest``: the last) item matching, once one has arrived; ``take`` removes it, so that
        the next wait looks for another. Fails naming ``what`` and the last items seen."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [item for item in self.items if match(item)]
                if found:
                    item = found[-1] if latest else found[0]
                    if take:
                        self.items.remove(item)
                    return item
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what} within {timeout} s; saw {self.items[-20:]}")
                self._cond.wait(left)


class HasSessions(Protocol):
    def active(self) -> int: ...


def wait_idle(engine: HasSessions, timeout: float) -> bool:
    """Wait until no enrolment session of ``engine`` (a station.enroll.engine.Engine) runs; False on timeout."""
    deadline = time.monotonic() + timeout
    while engine.active() and time.monotonic() < deadline:
        time.sleep(0.02)
    return engine.active() == 0


def wait_until(check: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Wait until ``check()`` holds; fails naming ``what`` when it does not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.005)
