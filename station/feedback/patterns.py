"""The LED patterns a technician learns, and the driver that plays them on one LED.

idle: slow heartbeat · working: steady blink · success: solid for 2 s · failure: fast blink until the key
is removed · attention: double blink (intake paused, or a key waits for a touch).

A pattern is a timed sequence of on/off steps. Where the LED offers the kernel trigger that plays it
(``heartbeat``, or ``timer`` with ``delay_on``/``delay_off``) the kernel blinks it and Station writes once;
otherwise :class:`LedDriver` writes ``brightness`` at each step from the scheduler's thread, after
selecting the ``none`` trigger. An LED that fails a write is reported once and then left alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from station.errors import FeedbackError
from station.feedback.leds import Led
from station.feedback.scheduler import Scheduled, Scheduler

log = logging.getLogger(__name__)

Step = tuple[bool, float]


@dataclass(frozen=True)
class Pattern:
    """``steps`` are (lit, seconds) pairs, played in a loop when ``repeat``; else the last state stays."""

    name: str
    description: str
    steps: tuple[Step, ...]
    repeat: bool = True
    trigger: str | None = None
    timer_ms: tuple[int, int] | None = None
    demo_seconds: float = 3.0


IDLE = Pattern("idle", "slow heartbeat: ready for a key",
               steps=((True, 0.1), (False, 0.25), (True, 0.1), (False, 1.55)), trigger="heartbeat", demo_seconds=4.0)
WORKING = Pattern("working", "steady blink: enrolling, leave the key in",
                  steps=((True, 0.5), (False, 0.5)), trigger="timer", timer_ms=(500, 500))
SUCCESS = Pattern("success", "solid for 2 s: done, remove the key",
                  steps=((True, 2.0),), repeat=False, demo_seconds=2.0)
FAILURE = Pattern("failure", "fast blink until the key is removed: this key failed",
                  steps=((True, 0.1), (False, 0.1)), trigger="timer", timer_ms=(100, 100))
ATTENTION = Pattern("attention", "double blink: touch the key, or intake is paused",
                    steps=((True, 0.15), (False, 0.15), (True, 0.15), (False, 0.75)))
PATTERNS = (IDLE, WORKING, SUCCESS, FAILURE, ATTENTION)
SUCCESS_SECONDS = SUCCESS.steps[0][1]


def log_led_error(error: FeedbackError) -> None:
    log.warning("%s; %s", error.message, error.remedy)


class LedDriver:
    """Shows one pattern at a time on one LED; ``release`` restores what the LED showed before."""

    def __init__(self, led: Led, scheduler: Scheduler,
                 on_error: Callable[[FeedbackError], None] = log_led_error) -> None:
        self.led = led
        self._scheduler = scheduler
        self._on_error = on_error
        self._lock = threading.RLock()
        self._pattern: Pattern | None = None
        self._trigger = led.original_trigger
        self._generation = 0
        self._pending: Scheduled | None = None
        self.failed: FeedbackError | None = None
        self.mode = ""

    @property
    def pattern(self) -> Pattern | None:
        return self._pattern

    def show(self, pattern: Pattern) -> None:
        """Switch to ``pattern`` (nothing is written when it already shows)."""
        with self._lock:
            if self.failed is not None or pattern is self._pattern:
                return
            self._cancel()
            self._pattern = pattern
            try:
                self._start(pattern)
            except FeedbackError as e:
                self._fail(e)

    def release(self) -> None:
        """Stop the pattern and give the LED back its original trigger (and brightness)."""
        with self._lock:
            self._cancel()
            self._pattern = None
            if self.failed is not None:
                return
            try:
                self.led.restore()
            except FeedbackError as e:
                self._fail(e)

    def _start(self, pattern: Pattern) -> None:
        if pattern.trigger == "timer" and pattern.timer_ms is not None and self.led.supports("timer"):
            self._trigger = "timer"
            if self.led.start_timer(*pattern.timer_ms):
                self.mode = f"kernel timer trigger, {pattern.timer_ms[0]}/{pattern.timer_ms[1]} ms"
                return
        elif pattern.trigger is not None and self.led.supports(pattern.trigger):
            self._set_trigger(pattern.trigger)
            self.mode = f"kernel {pattern.trigger} trigger"
            return
        self._set_trigger("none")
        self.mode = "brightness written by Station"
        self._step(self._generation, 0)

    def _set_trigger(self, trigger: str) -> None:
        if self._trigger != trigger:
            self.led.set_trigger(trigger)
            self._trigger = trigger

    def _step(self, generation: int, index: int) -> None:
        with self._lock:
            pattern = self._pattern
            if generation != self._generation or self.failed is not None or pattern is None:
                return
            lit, seconds = pattern.steps[index]
            try:
                self.led.set_on(lit)
            except FeedbackError as e:
                self._fail(e)
                return
            following = index + 1
            if following == len(pattern.steps):
                if not pattern.repeat:
                    return
                following = 0
            self._pending = self._scheduler.call_later(seconds, lambda: self._step(generation, following))

    def _cancel(self) -> None:
        self._generation += 1
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def _fail(self, error: FeedbackError) -> None:
        self._cancel()
        self.failed = error
        self._on_error(error)
