"""A scripted technician for ``station demo``: inserts virtual keys, touches them when asked, removes them.

It keeps up to ``keys`` slots busy while people wait in the queue. Each key is touched after a human-like
pause once the station asks for a touch, and pulled out a moment after the station is done with it (a fresh
key goes in after that). Now and then it picks up a key that was used before (its PIN is set) or a model the
policy does not allow, to show how the station refuses them; nobody is claimed for such a key, so the next
good key serves the person who would have had it. Its keys are all of one ``profile`` (a real model's, with
optional ``quirks``). Pauses are divided by ``speed``.

The technician reacts to events on its own thread (``Technician.run``); the bus listener only queues them.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from fido2.ctap2 import ClientPin, Ctap2

from station.enroll.pin_protocol import client_pin_for
from station.events import EnrolmentDone, EnrolmentFailed, Event, KeyRejected, PersonClaimed, TouchRequired
from station_emulator.key import Finger, VirtualKey
from station_emulator.key.ctaphid import open_virtual_device
from station_emulator.key.profiles import Quirk
from station_emulator.virtual_source import VirtualKeySource

log = logging.getLogger(__name__)

GOOD_PROFILE = "fido21"
BAD_KEY_EVERY = 6
# (low, high) seconds a person takes, before dividing by speed.
TOUCH_PAUSE = (0.8, 2.0)
REMOVE_PAUSE = (0.4, 1.0)
INSERT_PAUSE = (0.4, 1.2)
TOUCH_TIMEOUT = 120.0
# Demo keys' serials are numbers, as printed on YubiKeys (whose management application tells them as numbers).
DEMO_SERIAL_BASE = 30_000_000


class KeyKind(Enum):
    GOOD = "good"
    USED = "used"
    DISALLOWED = "disallowed"


@dataclass
class SlotState:
    key: VirtualKey
    kind: KeyKind
    claimed: bool = False
    finished: bool = False


@dataclass(order=True)
class _Action:
    due: float
    order: int
    run: Callable[[], None] = field(compare=False)


def used_key(serial: str, profile: str = GOOD_PROFILE, quirks: frozenset[Quirk] = frozenset()) -> VirtualKey:
    """A good model that someone already gave a PIN (a key handed back, or a spare taken from a drawer)."""
    key = VirtualKey(profile, serial=serial, quirks=quirks, finger=Finger.manual(timeout=TOUCH_TIMEOUT))
    device = open_virtual_device(key, path=f"virtual:prepare-{serial}")
    try:
        client_pin: ClientPin = client_pin_for(Ctap2(device))
        client_pin.set_pin(f"{random.randrange(10**8):08d}")
    finally:
        device.close()
    return key


class Technician:
    """Keeps ``keys`` slots of ``source`` busy until ``done()`` says the queue is served."""

    def __init__(self, source: VirtualKeySource, *, keys: int, speed: float, seed: int,
                 waiting: Callable[[], int], done: Callable[[], bool],
                 allowed_aaguid: str | None = None, profile: str = GOOD_PROFILE,
                 quirks: frozenset[Quirk] = frozenset()) -> None:
        self.source = source
        self.keys = max(1, keys)
        self.speed = max(0.01, speed)
        self.rng = random.Random(seed)
        self.waiting = waiting
        self.done = done
        self.allowed_aaguid = allowed_aaguid
        self.profile = profile
        self.quirks = quirks
        self.slots: dict[str, SlotState] = {}
        self.inserted = 0
        self.bad_keys = 0
        self._serials = itertools.count(1)
        self._order = itertools.count()
        self._actions: list[_Action] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- events (the bus thread; never blocks) ---------------------------------------------------
    def on_event(self, event: Event) -> None:
        slot = getattr(event, "slot", None)
        if slot is None:
            return
        if isinstance(event, PersonClaimed):
            self._later(0.0, lambda: self._claimed(slot))
        elif isinstance(event, TouchRequired):
            self._later(self._pause(TOUCH_PAUSE), lambda: self._touch(slot))
        elif isinstance(event, (EnrolmentDone, EnrolmentFailed, KeyRejected)):
            self._later(self._pause(REMOVE_PAUSE), lambda: self._remove(slot))

    # -- the technician's thread ----------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="demo-technician", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(5.0)

    def run(self) -> None:
        for index in range(self.keys):
            self._later(index * self._pause(INSERT_PAUSE) / 2, self._fill)
        while not self._stop.is_set():
            with self._cond:
                now = time.monotonic()
                if not self._actions or self._actions[0].due > now:
                    wait = self._actions[0].due - now if self._actions else 0.2
                    self._cond.wait(min(wait, 0.2))
                    due = None
                else:
                    due = heapq.heappop(self._actions)
            if due is not None:
                try:
                    due.run()
                except Exception:
                    log.exception("the demo technician fumbled")
            elif not self._actions:
                self._fill()

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        with self._cond:
            heapq.heappush(self._actions, _Action(time.monotonic() + delay, next(self._order), action))
            self._cond.notify_all()

    def _pause(self, bounds: tuple[float, float]) -> float:
        return self.rng.uniform(*bounds) / self.speed

    # -- what a technician does -----------------------------------------------------------------
    def _fill(self) -> None:
        """Insert keys into free slots while people wait who have no key yet."""
        if self.done():
            return
        unclaimed = sum(1 for s in self.slots.values() if not s.claimed and not s.finished)
        for index in range(1, self.keys + 1):
            slot = f"Virtual {index}"
            if slot in self.slots:
                continue
            if self.waiting() - unclaimed <= 0:
                return
            self._insert(slot)
            unclaimed += 1

    def _insert(self, slot: str) -> None:
        kind = self._next_kind()
        serial = str(DEMO_SERIAL_BASE + next(self._serials))
        if kind is KeyKind.USED:
            key = used_key(serial, self.profile, self.quirks)
        elif kind is KeyKind.DISALLOWED:
            key = VirtualKey(self.profile, serial=serial, aaguid=uuid.UUID(int=self.rng.getrandbits(128), version=4),
                             quirks=self.quirks, finger=Finger.manual(timeout=TOUCH_TIMEOUT))
        else:
            key = VirtualKey(self.profile, serial=serial, quirks=self.quirks,
                             finger=Finger.manual(timeout=TOUCH_TIMEOUT))
        self.inserted += 1
        self.slots[slot] = SlotState(key, kind)
        self.source.insert(key, slot=slot)

    def _next_kind(self) -> KeyKind:
        if self.inserted % BAD_KEY_EVERY != BAD_KEY_EVERY - 1:
            return KeyKind.GOOD
        self.bad_keys += 1
        if self.allowed_aaguid is not None and self.bad_keys % 2 == 0:
            return KeyKind.DISALLOWED
        return KeyKind.USED

    def _claimed(self, slot: str) -> None:
        state = self.slots.get(slot)
        if state is not None:
            state.claimed = True

    def _touch(self, slot: str) -> None:
        state = self.slots.get(slot)
        if state is not None and not state.finished:
            state.key.finger.touch()

    def _remove(self, slot: str) -> None:
        state = self.slots.pop(slot, None)
        if state is None:
            return
        state.finished = True
        if self.source.key_in(slot) is not None:
            self.source.remove(slot)
        self._later(self._pause(INSERT_PAUSE), self._fill)
