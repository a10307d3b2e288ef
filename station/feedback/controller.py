"""FeedbackController: the station's lights, tones and the key's wink, driven by enrolment events.

It keeps one signal per key slot from the events on the bus (attached → working, touch required →
touch, done → success for 2 s, failed or rejected → failure until that key is removed), shows the most
urgent one on every configured LED (see ``priority``), plays the success and failure tones, and offers
``on_key_success`` for the engine to call with the still-open device so a USB key winks. Events that
arrive for a slot whose key is already gone change nothing: there is no key left to act on.

The daemon creates it after the event bus, calls ``start()`` and, on shutdown, ``stop()``, which gives
every LED back the trigger it had.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Final, Protocol

from fido2.ctap import CtapDevice

from station.config import FeedbackSection
from station.enroll.steps import SessionStep
from station.errors import FeedbackError, Reason
from station.events import (
    EnrolmentDone,
    EnrolmentFailed,
    Event,
    EventBus,
    IntakeChanged,
    KeyAttached,
    KeyInspected,
    KeyRejected,
    KeyRemoved,
    PersonClaimed,
    Registered,
    StepChanged,
    TouchRequired,
)
from station.feedback.leds import Led
from station.feedback.patterns import SUCCESS_SECONDS, LedDriver, log_led_error
from station.feedback.priority import SlotSignal, most_urgent, pattern_for
from station.feedback.scheduler import Scheduled, Scheduler, ThreadScheduler
from station.feedback.sound import OFF, AlsaPlayer, failure_sound, success_sound
from station.feedback.wink import wink

log = logging.getLogger(__name__)

# Steps a session reports as it ends; its EnrolmentDone / EnrolmentFailed event says how it ended.
ENDING_STEPS: Final = frozenset(step.value for step in SessionStep if step.ends_session)
# A failure because the key was pulled, or the operator or a shutdown cancelled it, needs no signal: someone
# at the station already acted.
SILENT_REASONS: Final = frozenset({Reason.KEY_REMOVED.value, Reason.OPERATOR_CANCELLED.value})


class Player(Protocol):
    def play(self, pcm: bytes) -> None: ...


class FeedbackController:
    """Call ``start()`` once the bus exists and ``stop()`` on shutdown; ``signal`` is what the lights show."""

    def __init__(self, cfg: FeedbackSection, bus: EventBus, *, scheduler: Scheduler | None = None,
                 open_led: Callable[[str], Led] = Led.open, player: Player | None = None,
                 on_error: Callable[[FeedbackError], None] = log_led_error) -> None:
        self.cfg = cfg
        self.bus = bus
        self._owns_scheduler = scheduler is None
        self._scheduler: Scheduler = scheduler or ThreadScheduler()
        self._open_led = open_led
        self._on_error = on_error
        self._player = player
        if player is None and cfg.sound_device != OFF:
            self._player = AlsaPlayer(cfg.sound_device)
        self._lock = threading.RLock()
        self._slots: dict[str, SlotSignal] = {}
        self._expiry: dict[str, Scheduled] = {}
        self._paused = False
        self._drivers: list[LedDriver] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._sounds: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._sound_thread: threading.Thread | None = None
        self._sound_failed = False
        self._success_pcm = self._failure_pcm = b""
        self.problems: list[FeedbackError] = []

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the configured LEDs (each missing or read-only one is reported once), show idle, listen."""
        for spec in self.cfg.leds:
            try:
                led = self._open_led(spec)
            except FeedbackError as e:
                self.problems.append(e)
                self._on_error(e)
                continue
            self._drivers.append(LedDriver(led, self._scheduler, self._driver_failed))
            log.info("LED %s shows the station's state (its trigger %s is restored on stop)",
                     led.name, led.original_trigger)
        if self._player is not None:
            self._success_pcm = success_sound(self.cfg.volume)
            self._failure_pcm = failure_sound(self.cfg.volume)
            self._sound_thread = threading.Thread(target=self._play_sounds, name="feedback-sound", daemon=True)
            self._sound_thread.start()
        with self._lock:
            self._refresh()
        self._unsubscribe = self.bus.subscribe(self.handle)

    def stop(self) -> None:
        """Stop listening and give every LED back its original trigger."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        with self._lock:
            for pending in self._expiry.values():
                pending.cancel()
            self._expiry.clear()
            for driver in self._drivers:
                driver.release()
            self._drivers = []
        if self._owns_scheduler:
            self._scheduler.stop()
        if self._sound_thread is not None:
            self._sounds.put(None)
            self._sound_thread.join(15)
            self._sound_thread = None

    # -- what the station shows -----------------------------------------------------------------
    @property
    def signal(self) -> SlotSignal:
        with self._lock:
            return most_urgent(self._slots.values(), paused=self._paused)

    def slots(self) -> dict[str, SlotSignal]:
        with self._lock:
            return dict(self._slots)

    def on_key_success(self, device: CtapDevice) -> None:
        """The engine's success hook: the enrolled key, still open, winks when configured and able."""
        if self.cfg.wink and wink(device):
            log.debug("the key winked")

    # -- events ---------------------------------------------------------------------------------
    def handle(self, event: Event) -> None:
        """The bus listener."""
        with self._lock:
            if isinstance(event, KeyAttached):
                self._set(event.slot, SlotSignal.PAUSED if self._paused else SlotSignal.WORKING)
            elif isinstance(event, KeyRemoved):
                self._forget(event.slot)
            elif isinstance(event, IntakeChanged):
                self._paused = event.paused
                if not event.paused:
                    for slot, signal in list(self._slots.items()):
                        if signal is SlotSignal.PAUSED:
                            self._slots[slot] = SlotSignal.WORKING
            elif isinstance(event, TouchRequired):
                self._update(event.slot, SlotSignal.TOUCH)
            elif isinstance(event, StepChanged):
                if event.step not in ENDING_STEPS:
                    self._update(event.slot, SlotSignal.WORKING)
            elif isinstance(event, KeyInspected | PersonClaimed | Registered):
                self._update(event.slot, SlotSignal.WORKING)
            elif isinstance(event, EnrolmentDone):
                self._succeeded(event.slot)
            elif isinstance(event, EnrolmentFailed | KeyRejected):
                self._failed(event.slot, event.reason)
            else:
                return
            self._refresh()

    def _update(self, slot: str, signal: SlotSignal) -> None:
        """A progress event: it moves a present key's slot, never one that already ended."""
        if self._slots.get(slot) in (SlotSignal.WORKING, SlotSignal.TOUCH, SlotSignal.PAUSED):
            self._slots[slot] = signal

    def _set(self, slot: str, signal: SlotSignal) -> None:
        pending = self._expiry.pop(slot, None)
        if pending is not None:
            pending.cancel()
        self._slots[slot] = signal

    def _forget(self, slot: str) -> None:
        pending = self._expiry.pop(slot, None)
        if pending is not None:
            pending.cancel()
        self._slots.pop(slot, None)

    def _failed(self, slot: str, reason: str) -> None:
        if reason in SILENT_REASONS:
            return
        self._sound(self._failure_pcm)
        if slot in self._slots:
            self._set(slot, SlotSignal.FAILURE)

    def _succeeded(self, slot: str) -> None:
        self._sound(self._success_pcm)
        if slot not in self._slots:
            return
        self._set(slot, SlotSignal.SUCCESS)
        self._expiry[slot] = self._scheduler.call_later(SUCCESS_SECONDS, lambda: self._success_shown(slot))

    def _success_shown(self, slot: str) -> None:
        with self._lock:
            if self._slots.get(slot) is SlotSignal.SUCCESS:
                self._expiry.pop(slot, None)
                self._slots[slot] = SlotSignal.IDLE
                self._refresh()

    def _refresh(self) -> None:
        pattern = pattern_for(most_urgent(self._slots.values(), paused=self._paused))
        for driver in self._drivers:
            driver.show(pattern)

    # -- sound ----------------------------------------------------------------------------------
    def _sound(self, pcm: bytes) -> None:
        if self._sound_thread is not None and not self._sound_failed:
            self._sounds.put(pcm)

    def _play_sounds(self) -> None:
        assert self._player is not None
        while (pcm := self._sounds.get()) is not None:
            if self._sound_failed:
                continue
            try:
                self._player.play(pcm)
            except FeedbackError as e:
                self._sound_failed = True
                self.problems.append(e)
                self._on_error(e)

    def _driver_failed(self, error: FeedbackError) -> None:
        self.problems.append(error)
        self._on_error(error)
