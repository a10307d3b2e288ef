"""The bound on concurrent Graph calls, in which a session's own calls go before prefetches.

``with gate:`` is a call some session (or a reconciliation) waits for — a registration after a touch, the
options of a person nothing was prefetched for: it starts as soon as fewer than ``limit`` calls are under
way. ``with gate.background():`` is a prefetch: it starts only while no such call waits for a permit and
fewer than ``background_limit`` prefetches are under way, so prefetches never hold more than
``limit - r`` permits while r session calls are under way, nor more than half of them (the one, with a
limit of 1): a registration arriving while options are being prefetched finds a free permit instead of
queueing behind them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType


class GraphGate:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a Graph gate needs at least one permit")
        self.limit = limit
        self.background_limit = max(1, limit // 2)
        self._cond = threading.Condition()
        self._busy = 0
        self._background = 0
        self._waiting = 0

    def __enter__(self) -> None:
        with self._cond:
            self._waiting += 1
            try:
                while self._busy >= self.limit:
                    self._cond.wait()
            finally:
                self._waiting -= 1
            self._busy += 1
            if not self._waiting:
                self._cond.notify_all()  # prefetches held back for the session calls that waited may go

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._release(0)

    @contextmanager
    def background(self) -> Iterator[None]:
        """A permit for a call nobody waits for yet; it yields to every session call that waits."""
        with self._cond:
            while self._busy >= self.limit or self._waiting or self._background >= self.background_limit:
                self._cond.wait()
            self._busy += 1
            self._background += 1
        try:
            yield
        finally:
            self._release(1)

    def _release(self, background: int) -> None:
        with self._cond:
            self._busy -= 1
            self._background -= background
            self._cond.notify_all()
