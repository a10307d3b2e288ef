"""The tones through real ALSA: aplay from alsa-utils, writing to ALSA's file plugin (no sound card needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from realstack import require

from station.config import FeedbackSection
from station.errors import FeedbackError
from station.events import EnrolmentDone, EnrolmentFailed, EventBus, KeyAttached
from station.feedback.controller import FeedbackController
from station.feedback.sound import AlsaPlayer, failure_sound, success_sound


@pytest.fixture(autouse=True)
def _aplay() -> None:
    require(shutil.which("aplay") is not None, "aplay is not installed (Debian package alsa-utils)")


def file_device(path: Path) -> str:
    """An ALSA device that writes the raw samples it plays to ``path`` (padded with silence to a period)."""
    return f"file:FILE={path},FORMAT=raw"


def test_aplay_receives_exactly_the_generated_pcm(tmp_path: Path) -> None:
    out = tmp_path / "played.raw"
    pcm = success_sound(0.5)
    AlsaPlayer(file_device(out)).play(pcm)
    played = out.read_bytes()
    assert played[:len(pcm)] == pcm
    assert set(played[len(pcm):]) <= {0}


def test_an_unknown_device_gives_aplays_reason_and_how_to_list_devices() -> None:
    with pytest.raises(FeedbackError) as caught:
        AlsaPlayer("hw:97,0").play(success_sound(0.5))
    assert "'hw:97,0'" in caught.value.message and "audio open error" in caught.value.message
    assert "aplay -L" in caught.value.remedy


def test_the_controller_plays_success_then_failure_on_the_configured_device(tmp_path: Path) -> None:
    out = tmp_path / "played.raw"
    bus = EventBus()
    fb = FeedbackController(FeedbackSection(sound_device=file_device(out), volume=0.3), bus)
    fb.start()
    try:
        bus.publish(KeyAttached(slot="USB 1", transport="usb", fingerprint="a"))
        bus.publish(EnrolmentDone(slot="USB 1", enrolment_id=1, upn="kim@contoso.com", display_name="Key"))
        bus.flush()
    finally:
        fb.stop()
    assert out.read_bytes().startswith(success_sound(0.3))
    fb = FeedbackController(FeedbackSection(sound_device=file_device(out), volume=0.3), bus)
    fb.start()
    try:
        bus.publish(KeyAttached(slot="USB 1", transport="usb", fingerprint="a"))
        bus.publish(EnrolmentFailed(slot="USB 1", enrolment_id=1, upn=None, reason="touch_timeout", message="m",
                                    remedy="r", retryable=True))
        bus.flush()
    finally:
        fb.stop()
        bus.close()
    assert out.read_bytes().startswith(failure_sound(0.3))
    assert fb.problems == []


def test_a_broken_sound_device_is_reported_once_and_enrolment_events_go_on(tmp_path: Path) -> None:
    reported: list[FeedbackError] = []
    bus = EventBus()
    fb = FeedbackController(FeedbackSection(sound_device="hw:97,0"), bus, on_error=reported.append)
    fb.start()
    try:
        for n in range(3):
            bus.publish(KeyAttached(slot=f"USB {n}", transport="usb", fingerprint=str(n)))
            bus.publish(EnrolmentDone(slot=f"USB {n}", enrolment_id=n, upn="kim@contoso.com", display_name="Key"))
        bus.flush()
    finally:
        fb.stop()
        bus.close()
    assert len(reported) == 1 and "hw:97,0" in reported[0].message
