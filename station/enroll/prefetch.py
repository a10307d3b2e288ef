"""Creation options fetched ahead of time for the people next in the queue.

The engine calls ``refresh()`` from its prefetch thread: it fetches options for the next ``size`` queued
people (plus ``ahead``) and drops (then refetches) any whose challenge would expire within ``margin``. Those
fetches run side by side, up to the gate's ``background_limit`` at once, and each yields to the Graph calls
sessions wait for (graph_gate.py). A session ``take``s the options for the person it claimed, so the only
Graph call between the touch and "done" is the registration; every ``take`` sets ``demand``, which wakes the
engine to fill the cache up again at once. A person a session has asked for is never fetched again in the
background, and a fetch already under way is waited for, so one person never holds two live challenges
from this station.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import cast

from station.enroll.graph_gate import GraphGate
from station.enroll.ports import Clock, Options, PasskeysPort, Person, QueuePort, SystemClock
from station.errors import StationError

log = logging.getLogger(__name__)


def user_key(person: Person) -> str:
    """The id Graph calls use for a person: the Entra object id, else the UPN."""
    return person.object_id or person.upn


class Prefetcher:
    def __init__(self, queue: QueuePort, passkeys: PasskeysPort, gate: GraphGate, *, size: int,
                 margin: timedelta, clock: Clock | None = None) -> None:
        self.queue = queue
        self.passkeys = passkeys
        self.gate = gate
        self.size = size
        self.margin = margin
        self.clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._cache: dict[int, Options] = {}
        self._inflight: dict[int, threading.Event] = {}
        self._taken: set[int] = set()
        self.demand = threading.Event()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), UTC)

    def cached(self) -> list[int]:
        with self._lock:
            return sorted(self._cache)

    def refresh(self, go: Callable[[], bool] | None = None, ahead: int = 0) -> int:
        """Fetch options for the next ``size`` + ``ahead`` people that lack fresh ones; how many were fetched.

        ``go``, when given, is asked before each fetch; once it returns False no further fetch starts. A size
        of 0 turns prefetching off whatever ``ahead`` says.
        """
        if self.size <= 0:
            return 0
        people = self.queue.peek_next(self.size + ahead)
        wanted = {p.id for p in people}
        now = self.now()
        with self._lock:
            for pid in list(self._cache):
                if pid not in wanted or self._cache[pid].expired(now, self.margin):
                    del self._cache[pid]
            self._taken &= wanted
            todo = deque(p for p in people if self._wanted(p.id))
        fetched: list[Person] = []
        helpers = [threading.Thread(target=self._work, args=(todo, go, fetched), name="prefetch", daemon=True)
                   for _ in range(min(len(todo), self.gate.background_limit) - 1)]
        for t in helpers:
            t.start()
        self._work(todo, go, fetched)
        for t in helpers:
            t.join()
        return len(fetched)

    def _work(self, todo: deque[Person], go: Callable[[], bool] | None, fetched: list[Person]) -> None:
        """Fetch for the people in ``todo``, in order, one at a time, until none is left or ``go`` says stop."""
        while True:
            with self._lock:
                if not todo:
                    return
                person = todo.popleft()
            with self.gate.background():
                if go is not None and not go():
                    return
                with self._lock:
                    if not self._wanted(person.id):
                        continue
                    done = self._inflight[person.id] = threading.Event()
                options: Options | None = None
                try:
                    options = self._call(person)
                except StationError as e:
                    log.info("prefetch of creation options for %s failed: %s", person.upn, e.message)
                    options = None
                finally:
                    with self._lock:
                        del self._inflight[person.id]
                        if options is not None:
                            self._cache[person.id] = options
                            fetched.append(person)
                    done.set()

    def _wanted(self, person_id: int) -> bool:
        """Whether a background fetch for this person is still needed (not cached, under way or taken)."""
        return person_id not in self._cache and person_id not in self._inflight and person_id not in self._taken

    def take(self, person: Person, timeout: float = 60.0) -> Options | None:
        """The prefetched options for ``person`` if still fresh (removing them); None otherwise."""
        with self._lock:
            self._taken.add(person.id)
            pending = self._inflight.get(person.id)
        self.demand.set()
        if pending is not None:
            pending.wait(timeout)
        with self._lock:
            options = self._cache.pop(person.id, None)
        if options is not None and options.expired(self.now(), self.margin):
            return None
        return options

    def fetch(self, person: Person) -> Options:
        """Fetch options for ``person`` now (a claimed person nothing was prefetched for)."""
        with self.gate:
            return self._call(person)

    def _call(self, person: Person) -> Options:
        return cast(Options, self.passkeys.creation_options(user_key(person)))
