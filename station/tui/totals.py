"""Queue totals that move with the cards: the last status snapshot's counts plus the enrolments seen since.

Events reach the dashboard at once, the status snapshot only every few seconds. Were the queue panel to show
the snapshot's counts while the cards follow events, a card would say TOUCH THE KEY beside "in progress 0",
or a finished key still count as in progress. :class:`LiveTotals` keeps the snapshot's counts as a base and
moves each enrolment seen in an event since (claimed, enrolled, failed) from where the snapshot had it to
where the event puts it, so every number on the screen follows the same cards. The next snapshot replaces
the base and forgets those moves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Final

from station.rollout import PACE_WINDOW

RATE_WINDOW: Final = float(PACE_WINDOW)  # the rolling throughput covers the last 15 minutes


@dataclass(frozen=True)
class QueueTotals:
    queued: int = 0
    claimed: int = 0
    enrolled: int = 0
    failed: int = 0
    skipped: int = 0


# Where an enrolment's person stands after each event: a failure after the claim puts them back in the queue
# (the next snapshot says "failed" instead when that was their last attempt).
CLAIMED: Final = "claimed"
ENROLLED: Final = "enrolled"
BACK_IN_QUEUE: Final = "queued"


@dataclass(frozen=True)
class Move:
    to: str
    at: float
    failed: bool = False


class LiveTotals:
    """The snapshot's queue counts, today's counts and recent completions, moved by the events since."""

    def __init__(self) -> None:
        self.base = QueueTotals()
        self.base_today_enrolled = 0
        self.base_today_failed = 0
        self.base_recent: int | None = None
        self._was: dict[int, str] = {}
        self._moves: dict[int, Move] = {}

    def snapshot(self, queue: QueueTotals, *, today_enrolled: int, today_failed: int, recent: int | None,
                 claimed: Iterable[int], enrolled: Iterable[int]) -> None:
        """A new snapshot: its counts, and the enrolments it already counts as claimed or enrolled."""
        self.base = queue
        self.base_today_enrolled, self.base_today_failed, self.base_recent = today_enrolled, today_failed, recent
        self._was = {**{e: CLAIMED for e in claimed}, **{e: ENROLLED for e in enrolled}}
        self._moves = {}

    def moved(self, enrolment_id: int | None, to: str, at: float, *, failed: bool = False) -> None:
        if enrolment_id is not None:
            self._moves[int(enrolment_id)] = Move(to, at, failed)

    def _changes(self) -> Iterable[tuple[str, Move]]:
        for eid, move in self._moves.items():
            was = self._was.get(eid, BACK_IN_QUEUE)
            if was != move.to:
                yield was, move

    @property
    def queue(self) -> QueueTotals:
        counts = dict(vars(self.base))
        for was, move in self._changes():
            counts[was] = max(0, counts[was] - 1)
            counts[move.to] += 1
        return replace(self.base, **counts)

    @property
    def today_enrolled(self) -> int:
        return self.base_today_enrolled + sum(1 for _, m in self._changes() if m.to == ENROLLED)

    @property
    def today_failed(self) -> int:
        return self.base_today_failed + sum(1 for m in self._moves.values() if m.failed)

    def recent_enrolled(self, now: float) -> int | None:
        """Enrolments finished in the last ``RATE_WINDOW`` seconds (None: the snapshot does not say)."""
        if self.base_recent is None:
            return None
        return self.base_recent + sum(1 for _, m in self._changes()
                                      if m.to == ENROLLED and m.at >= now - RATE_WINDOW)
