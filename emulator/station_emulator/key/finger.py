"""The user-presence "finger" of a virtual key: when, or whether, someone touches it.

A waiting authenticator sends keepalive UPNEEDED about every 100 ms (that is what makes clients prompt
for touch) until the finger touches, refuses, the client cancels or the user-action timeout runs out.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable

from fido2.ctap import STATUS

log = logging.getLogger(__name__)

KEEPALIVE_INTERVAL = 0.1
DEFAULT_TOUCH_TIMEOUT = 30.0
MANUAL_TOUCH_GRACE = 0.5


class Touch(enum.Enum):
    """How a wait for user presence ended."""

    TOUCHED = "touched"
    DENIED = "denied"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


class _Mode(enum.Enum):
    AFTER = "after"
    NEVER = "never"
    DENY = "deny"
    MANUAL = "manual"


class Finger:
    """Pluggable user presence.

    ``Finger.after(s)`` touches ``s`` seconds into each request, ``Finger.never()`` never touches (the key
    answers USER_ACTION_TIMEOUT after ``timeout``), ``Finger.deny()`` refuses at once (OPERATION_DENIED) and
    ``Finger.manual()`` waits for :meth:`touch`, called by a scripted technician. A manual touch counts for
    the request that is waiting, or for one that starts within half a second after it.
    """

    def __init__(self, mode: _Mode, delay: float = 0.0, timeout: float = DEFAULT_TOUCH_TIMEOUT) -> None:
        self._mode = mode
        self.delay = delay
        self.timeout = timeout
        self._cond = threading.Condition()
        self._touched_at: float | None = None
        self.waiting = threading.Event()

    @classmethod
    def after(cls, seconds: float, *, timeout: float = DEFAULT_TOUCH_TIMEOUT) -> Finger:
        return cls(_Mode.AFTER, delay=max(0.0, seconds), timeout=timeout)

    @classmethod
    def never(cls, *, timeout: float = DEFAULT_TOUCH_TIMEOUT) -> Finger:
        return cls(_Mode.NEVER, timeout=timeout)

    @classmethod
    def deny(cls) -> Finger:
        return cls(_Mode.DENY)

    @classmethod
    def manual(cls, *, timeout: float = DEFAULT_TOUCH_TIMEOUT) -> Finger:
        return cls(_Mode.MANUAL, timeout=timeout)

    @property
    def mode(self) -> str:
        return self._mode.value

    def touch(self) -> None:
        """Touch the key (manual mode): releases the waiting request, or the one about to start."""
        with self._cond:
            self._touched_at = time.monotonic()
            self._cond.notify_all()

    def await_touch(
        self,
        *,
        cancel: threading.Event,
        keepalive: Callable[[int], None],
        timeout: float | None = None,
        started: float | None = None,
    ) -> Touch:
        """Block until the touch, a refusal, a cancel or the timeout; keepalive UPNEEDED meanwhile.

        ``started`` (``time.monotonic()``) is when the request first asked for presence; U2F polling
        passes it so an ``after`` delay counts from the first poll. ``timeout`` defaults to the finger's.
        """
        now = time.monotonic()
        started = now if started is None else started
        limit = now + (self.timeout if timeout is None else timeout)
        if self._mode is _Mode.DENY:
            keepalive(STATUS.UPNEEDED)
            return Touch.DENIED
        self.waiting.set()
        try:
            while True:
                if cancel.is_set():
                    return Touch.CANCELLED
                now = time.monotonic()
                if self._touched(started, now):
                    return Touch.TOUCHED
                if now >= limit:
                    return Touch.TIMEOUT
                keepalive(STATUS.UPNEEDED)
                wake = min(limit, now + KEEPALIVE_INTERVAL)
                if self._mode is _Mode.AFTER:
                    wake = min(wake, max(now, started + self.delay))
                with self._cond:
                    if self._mode is _Mode.MANUAL and self._touched(started, time.monotonic()):
                        continue
                    self._cond.wait(max(0.0, wake - time.monotonic()))
        finally:
            self.waiting.clear()

    def _touched(self, started: float, now: float) -> bool:
        if self._mode is _Mode.AFTER:
            return now >= started + self.delay
        if self._mode is _Mode.MANUAL:
            with self._cond:
                if self._touched_at is not None and self._touched_at >= started - MANUAL_TOUCH_GRACE:
                    self._touched_at = None
                    return True
        return False

    def __repr__(self) -> str:
        if self._mode is _Mode.AFTER:
            return f"Finger.after({self.delay})"
        return f"Finger.{self._mode.value}()"
