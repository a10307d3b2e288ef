"""What may interrupt one session while it runs, and the two watches that do: the touch timer and the stall watch.

Every CTAP call a session makes carries ``cancel_event``: setting it makes python-fido2 send CTAPHID CANCEL.
It is set when the key is removed, when nobody touches the key within the touch timeout (counted from the
key's first "touch me" keepalive), when the key makes no progress (it keeps answering "processing") for the
touch timeout plus the stall margin while the session waits on it, and when the station stops the session
(the operator, a shutdown, a lost lease). ``state()`` tells ``transitions`` which of these happened.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Final

from fido2.ctap import STATUS

from station.config import EnrolmentSection
from station.enroll.steps import SessionStep
from station.enroll.transitions import Interrupted, StopCause

log = logging.getLogger(__name__)

STALL_POLL_SECONDS: Final = 0.25


class Interrupts:
    def __init__(self, slot: str, policy: EnrolmentSection, stall_margin: float, on_touch: Callable[[], None]) -> None:
        self.slot = slot
        self.policy = policy  # read at each use: a reload (SIGHUP) changes the touch timeout of running sessions
        self.stall_margin = stall_margin
        self.cancel_event = threading.Event()
        self.removed = threading.Event()
        self.timed_out = threading.Event()
        self.stalled = threading.Event()
        self._stopped: StopCause | None = None
        self._on_touch = on_touch
        self._touch_timer: threading.Timer | None = None
        self._touch_announced = False
        self._progress_at = time.monotonic()

    @property
    def stall_limit(self) -> float:
        return self.policy.touch_timeout_seconds + self.stall_margin

    # -- causes ---------------------------------------------------------------------------------
    def key_removed(self) -> None:
        self.removed.set()
        self.cancel_event.set()

    def stop(self, cause: StopCause) -> None:
        if self._stopped is None:
            self._stopped = cause
        self.cancel_event.set()

    def state(self) -> Interrupted:
        return Interrupted(removed=self.removed.is_set(), timed_out=self.timed_out.is_set(),
                           stalled=self.stalled.is_set(), stopped=self._stopped)

    # -- the touch timer ------------------------------------------------------------------------
    def on_keepalive(self, status: int) -> None:
        """python-fido2's keepalive callback: the first "touch me" announces the touch and starts its timer."""
        if status != STATUS.UPNEEDED or self._touch_announced:
            return
        self._touch_announced = True
        self._on_touch()
        self._touch_timer = threading.Timer(self.policy.touch_timeout_seconds, self._touch_expired)
        self._touch_timer.daemon = True
        self._touch_timer.start()

    def stop_touch_timer(self) -> None:
        if self._touch_timer is not None:
            self._touch_timer.cancel()
            self._touch_timer = None
        self._touch_announced = False

    def _touch_expired(self) -> None:
        self.timed_out.set()
        self.cancel_event.set()

    # -- the stall watch ------------------------------------------------------------------------
    def progressed(self) -> None:
        self._progress_at = time.monotonic()

    def watch(self, step: Callable[[], SessionStep], finished: threading.Event) -> None:
        """Start a thread that cancels the session when the key it waits on makes no progress for too long."""
        threading.Thread(target=self._watch, args=(step, finished), name=f"watch {self.slot}", daemon=True).start()

    def _watch(self, step: Callable[[], SessionStep], finished: threading.Event) -> None:
        while not finished.wait(STALL_POLL_SECONDS):
            now = step()
            limit = self.stall_limit
            if now.waits_on_key and time.monotonic() - self._progress_at > limit:
                log.warning("the key in %s made no progress in %s for %g s; cancelling", self.slot, now, limit)
                self.stalled.set()
                self.cancel_event.set()
                return
