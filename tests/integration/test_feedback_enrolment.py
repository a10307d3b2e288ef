"""Feedback on a real enrolment: virtual key over CTAPHID, Entra emulator over HTTPS, the engine, an LED dir.

The engine hands the enrolled key's open device to ``FeedbackController.on_key_success``, which sends
CTAPHID WINK; the LED shows success, then idle once the key is out; a refused key blinks fast until removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from enrol_harness import Station, build_station
from support.waiting import wait_idle

from station.config import FeedbackSection
from station.enroll.engine import Engine
from station.enroll.escrow import Escrow
from station.events import EnrolmentDone, KeyRejected, KeyRemoved
from station.feedback.controller import FeedbackController
from station.feedback.priority import SlotSignal
from station_emulator.entra import EntraEmulator
from station_emulator.key import Finger, VirtualKey


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=10, seed=12) as e:
        yield e


def led_dir(root: Path) -> Path:
    path = root / "ACT"
    path.mkdir()
    (path / "trigger").write_text("none [mmc0] timer heartbeat\n")
    (path / "brightness").write_text("0\n")
    (path / "max_brightness").write_text("1\n")
    return path


class Rig:
    def __init__(self, station: Station, feedback: FeedbackController, led: Path) -> None:
        self.station = station
        self.feedback = feedback
        self.led = led

    def led_state(self) -> tuple[str, str]:
        return (self.led / "trigger").read_text().strip(), (self.led / "brightness").read_text().strip()


def rig_for(emu: EntraEmulator, tmp_path: Path, *, wink: bool) -> Iterator[Rig]:
    """The harness's station, with an engine that calls the feedback's success hook (as the daemon wires it)."""
    station = build_station(emu, tmp_path, start=False, prefetch=0)
    led = led_dir(tmp_path)
    feedback = FeedbackController(FeedbackSection(leds=[str(led)], wink=wink), station.bus)
    feedback.start()
    cfg = station.config
    station.engine = Engine(policy=cfg.enrolment, station_id="station-1", station_name="Desk 1",
                            queue=station.store.queue, journal=station.store.journal, audit=station.store.audit,
                            passkeys=station.entra.passkeys, bus=station.bus,
                            escrow=Escrow.from_file(cfg.enrolment.escrow_public_key),
                            on_success=feedback.on_key_success)
    station.keys.start(station.engine.key_attached, station.engine.key_removed)
    station.engine.start()
    try:
        yield Rig(station, feedback, led)
    finally:
        station.engine.stop()
        feedback.stop()
        station.close()


@pytest.fixture
def rig(emu: EntraEmulator, tmp_path: Path) -> Iterator[Rig]:
    yield from rig_for(emu, tmp_path, wink=True)


def test_an_enrolled_usb_key_winks_and_the_led_shows_success_then_idle(rig: Rig) -> None:
    rig.station.queue_users(1)
    key = VirtualKey("fido21", finger=Finger.after(0.1))
    rig.station.keys.insert(key, slot="USB 1")
    rig.station.events.wait_for(EnrolmentDone)
    rig.station.wait(lambda: key.wink_count == 1)
    rig.station.bus.flush()
    assert rig.feedback.signal is SlotSignal.SUCCESS
    assert rig.led_state() == ("none", "1")
    rig.station.keys.remove("USB 1")
    rig.station.events.wait_for(KeyRemoved)
    rig.station.bus.flush()
    assert rig.led_state()[0] == "heartbeat"
    rig.feedback.stop()
    assert rig.led_state()[0] == "mmc0"
    assert key.wink_count == 1


def test_a_refused_key_does_not_wink_and_blinks_fast_until_removed(rig: Rig) -> None:
    key = VirtualKey("fido21", finger=Finger.after(0.1))
    rig.station.keys.insert(key, slot="USB 1")
    rejected = rig.station.events.wait_for(KeyRejected)
    assert rejected.reason == "queue_empty"
    rig.station.bus.flush()
    assert rig.feedback.signal is SlotSignal.FAILURE
    assert wait_idle(rig.station.engine, 5)
    rig.station.keys.remove("USB 1")
    rig.station.events.wait_for(KeyRemoved)
    rig.station.bus.flush()
    assert rig.feedback.signal is SlotSignal.IDLE
    assert key.wink_count == 0


def test_with_wink_off_the_key_is_left_alone(emu: EntraEmulator, tmp_path: Path) -> None:
    for rig in rig_for(emu, tmp_path, wink=False):
        rig.station.queue_users(1, start=1)
        key = VirtualKey("fido21", finger=Finger.after(0.1))
        rig.station.keys.insert(key, slot="USB 1")
        rig.station.events.wait_for(EnrolmentDone)
        assert wait_idle(rig.station.engine, 5)
        assert key.wink_count == 0
