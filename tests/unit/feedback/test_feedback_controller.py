"""FeedbackController on a real event bus: events in, LED writes and tones out, LEDs given back on stop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from feedback_fakes import ManualScheduler, Write, kernel_led_opener, make_led_dir, make_unwritable

from station.config import FeedbackSection
from station.errors import FeedbackError
from station.events import (
    EnrolmentDone,
    EnrolmentFailed,
    Event,
    EventBus,
    IntakeChanged,
    KeyAttached,
    KeyRejected,
    KeyRemoved,
    StepChanged,
    TouchRequired,
)
from station.feedback.controller import FeedbackController
from station.feedback.priority import SlotSignal
from station.feedback.sound import failure_sound, success_sound
from station_emulator.key import VirtualKey
from station_emulator.key.ctaphid import open_virtual_device

PI_TRIGGERS = "none [mmc0] timer heartbeat"


class Tones:
    def __init__(self) -> None:
        self.played: list[bytes] = []

    def play(self, pcm: bytes) -> None:
        self.played.append(pcm)


class Rig:
    def __init__(self, root: Path, leds: list[str], *, sound: bool = False, wink: bool = True) -> None:
        self.root = root
        self.clock = ManualScheduler()
        self.writes: list[Write] = []
        self.errors: list[FeedbackError] = []
        self.bus = EventBus()
        self.tones = Tones()
        cfg = FeedbackSection(leds=leds, sound_device="default" if sound else "none", volume=0.25, wink=wink)
        self.fb = FeedbackController(cfg, self.bus, scheduler=self.clock,
                                     open_led=kernel_led_opener(self.clock, self.writes),
                                     player=self.tones if sound else None, on_error=self.errors.append)

    def send(self, *events: Event) -> None:
        for event in events:
            self.bus.publish(event)
        self.bus.flush()

    def trigger(self, name: str = "ACT") -> str:
        return (self.root / name / "trigger").read_text().strip()

    def shown(self) -> str:
        """What the LED shows: the active trigger, or 'on'/'off' when Station writes the brightness."""
        listing = self.trigger()
        active = next((w[1:-1] for w in listing.split() if w.startswith("[")), "none")
        if active != "none":
            delay = (self.root / "ACT" / "delay_on")
            return f"timer {delay.read_text().strip()}" if active == "timer" else active
        return "on" if (self.root / "ACT" / "brightness").read_text().strip() != "0" else "off"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    make_led_dir(tmp_path, "ACT", PI_TRIGGERS)
    r = Rig(tmp_path, [str(tmp_path / "ACT")])
    r.fb.start()
    yield r
    r.fb.stop()
    r.bus.close()


def attached(slot: str) -> KeyAttached:
    return KeyAttached(slot=slot, transport="usb", fingerprint=f"fp-{slot}")


def failed(slot: str, reason: str = "touch_timeout") -> EnrolmentFailed:
    return EnrolmentFailed(slot=slot, enrolment_id=1, upn="kim@contoso.com", reason=reason, message="m",
                           remedy="r", retryable=True)


def done(slot: str) -> EnrolmentDone:
    return EnrolmentDone(slot=slot, enrolment_id=1, upn="kim@contoso.com", display_name="Key")


def test_one_key_from_insertion_to_removal(rig: Rig) -> None:
    assert rig.shown() == "heartbeat"
    rig.send(attached("USB 1"), StepChanged(slot="USB 1", enrolment_id=1, step="pin_set"))
    assert rig.shown() == "timer 500"
    rig.send(TouchRequired(slot="USB 1", enrolment_id=1))
    assert rig.fb.signal is SlotSignal.TOUCH and rig.shown() in ("on", "off")
    rig.clock.advance(0.15)
    assert rig.shown() == "off"
    rig.send(StepChanged(slot="USB 1", enrolment_id=1, step="registering"))
    assert rig.shown() == "timer 500"
    rig.send(StepChanged(slot="USB 1", enrolment_id=1, step="done"), done("USB 1"))
    assert rig.shown() == "on"
    rig.clock.advance(1.9)
    assert rig.shown() == "on"
    rig.clock.advance(0.1)
    assert rig.shown() == "heartbeat"
    rig.send(KeyRemoved(slot="USB 1"))
    assert rig.shown() == "heartbeat" and rig.fb.slots() == {}


def test_a_failure_blinks_fast_until_that_key_is_removed(rig: Rig) -> None:
    rig.send(attached("USB 1"), failed("USB 1"))
    assert rig.shown() == "timer 100"
    rig.clock.advance(600)
    rig.send(attached("USB 2"), done("USB 2"))
    rig.clock.advance(5)
    assert rig.shown() == "timer 100"
    rig.send(KeyRemoved(slot="USB 1"))
    assert rig.shown() == "heartbeat"


def test_a_rejected_key_is_a_failure_too(rig: Rig) -> None:
    rig.send(attached("NFC 1"), KeyRejected(slot="NFC 1", reason="pin_already_set", message="m", remedy="r"))
    assert rig.fb.signal is SlotSignal.FAILURE


def test_failure_outranks_touch_outranks_work_across_keys(rig: Rig) -> None:
    rig.send(attached("USB 1"), attached("USB 2"), attached("USB 3"))
    assert rig.shown() == "timer 500"
    rig.send(TouchRequired(slot="USB 2", enrolment_id=2))
    assert rig.fb.signal is SlotSignal.TOUCH
    rig.send(failed("USB 3"))
    assert rig.shown() == "timer 100"
    rig.send(KeyRemoved(slot="USB 3"))
    assert rig.fb.signal is SlotSignal.TOUCH
    rig.send(StepChanged(slot="USB 2", enrolment_id=2, step="registering"))
    assert rig.shown() == "timer 500"


def test_a_failure_reported_after_the_key_was_pulled_leaves_nothing_blinking(rig: Rig) -> None:
    rig.send(attached("USB 1"), KeyRemoved(slot="USB 1"), failed("USB 1", reason="key_removed"))
    assert rig.shown() == "heartbeat"
    rig.send(attached("USB 2"), failed("USB 2", reason="key_removed"))
    assert rig.fb.signal is SlotSignal.WORKING


def test_late_progress_of_a_removed_key_changes_nothing(rig: Rig) -> None:
    rig.send(attached("USB 1"), KeyRemoved(slot="USB 1"), StepChanged(slot="USB 1", enrolment_id=1, step="registering"))
    assert rig.fb.slots() == {} and rig.shown() == "heartbeat"


def test_paused_intake_shows_attention_and_held_keys_wait_with_it(rig: Rig) -> None:
    rig.send(IntakeChanged(paused=True))
    assert rig.fb.signal is SlotSignal.PAUSED
    rig.send(attached("USB 1"))
    assert rig.fb.signal is SlotSignal.PAUSED
    rig.send(IntakeChanged(paused=False))
    assert rig.shown() == "timer 500"


def test_stop_gives_the_led_back_and_stops_listening(rig: Rig) -> None:
    rig.send(attached("USB 1"), TouchRequired(slot="USB 1", enrolment_id=1))
    rig.fb.stop()
    assert rig.trigger() == "none [mmc0] timer heartbeat"
    writes = len(rig.writes)
    rig.send(failed("USB 1"))
    rig.clock.advance(5)
    assert len(rig.writes) == writes


def test_a_missing_led_is_reported_once_and_the_others_still_work(tmp_path: Path) -> None:
    make_led_dir(tmp_path, "ACT", PI_TRIGGERS)
    r = Rig(tmp_path, [str(tmp_path / "station"), str(tmp_path / "ACT")])
    r.fb.start()
    try:
        r.send(attached("USB 1"), failed("USB 1"), KeyRemoved(slot="USB 1"))
        assert [e.message for e in r.errors] == [f"LED {tmp_path / 'station'} does not exist"]
        assert r.shown() == "heartbeat"
    finally:
        r.fb.stop()
        r.bus.close()


def test_an_led_that_stops_accepting_writes_is_reported_once(tmp_path: Path) -> None:
    make_led_dir(tmp_path, "ACT", "[none] timer")
    r = Rig(tmp_path, [str(tmp_path / "ACT")])
    r.fb.start()
    try:
        make_unwritable(tmp_path / "ACT" / "brightness")
        for n in range(5):
            r.send(attached(f"USB {n}"), TouchRequired(slot=f"USB {n}", enrolment_id=n), done(f"USB {n}"))
            r.clock.advance(3)
        assert len(r.errors) == 1 and "Permission denied" in r.errors[0].message
    finally:
        r.fb.stop()
        r.bus.close()


def test_success_and_failure_play_their_tones_at_the_configured_volume(tmp_path: Path) -> None:
    r = Rig(tmp_path, [], sound=True)
    r.fb.start()
    try:
        r.send(attached("USB 1"), done("USB 1"), attached("USB 2"), failed("USB 2"), failed("USB 3", "key_removed"),
               failed("USB 4", "operator_cancelled"))
    finally:
        r.fb.stop()
        r.bus.close()
    assert r.tones.played == [success_sound(0.25), failure_sound(0.25)]


def test_sound_off_plays_nothing(rig: Rig) -> None:
    rig.send(attached("USB 1"), done("USB 1"), failed("USB 1"))
    assert rig.tones.played == []


@pytest.mark.parametrize(("configured", "winks"), [(True, 1), (False, 0)])
def test_the_enrolled_key_winks_when_configured(tmp_path: Path, configured: bool, winks: int) -> None:
    r = Rig(tmp_path, [], wink=configured)
    key = VirtualKey("fido21")
    device = open_virtual_device(key)
    try:
        r.fb.on_key_success(device)
    finally:
        device.close()
        r.bus.close()
    assert key.wink_count == winks
