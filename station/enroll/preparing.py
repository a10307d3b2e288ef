"""Which waiting hand-outs a session of this station is preparing a key for right now (station/enroll/prepare.py
does the preparing); kept apart so that an idle daemon loads none of the key-driving code."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from station.enroll.ports import PendingHandout


class Preparing:
    """The hand-outs a session of this station prepares a key for right now (one key each)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: set[int] = set()

    def take(self, waiting: Sequence[PendingHandout],
             fitting: Callable[[list[PendingHandout]], list[PendingHandout]]) -> tuple[list[PendingHandout],
                                                                                      PendingHandout | None]:
        """The waiting hand-outs no other session holds, and the first of them that fits (now held)."""
        with self._lock:
            free = [h for h in waiting if h.id not in self._held]
            chosen = next(iter(fitting(free)), None)
            if chosen is not None:
                self._held.add(chosen.id)
        return free, chosen

    def release(self, handout_id: int) -> None:
        with self._lock:
            self._held.discard(handout_id)
