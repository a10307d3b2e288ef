"""Each pattern as the exact writes it makes to the LED class files, timed by a hand-turned clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from feedback_fakes import KernelLed, ManualScheduler, Write, make_led_dir, make_unwritable

from station.errors import FeedbackError
from station.feedback.leds import Led
from station.feedback.patterns import ATTENTION, FAILURE, IDLE, SUCCESS, WORKING, LedDriver, Pattern

PI_TRIGGERS = "none [mmc0] timer heartbeat"


class Rig:
    def __init__(self, root: Path, triggers: str = PI_TRIGGERS, max_brightness: int = 255) -> None:
        self.clock = ManualScheduler()
        self.writes: list[Write] = []
        self.errors: list[FeedbackError] = []
        self.path = make_led_dir(root, "ACT", triggers, max_brightness=max_brightness)
        self.led = KernelLed(self.path, self.clock, self.writes)
        self.led.load()
        self.driver = LedDriver(self.led, self.clock, self.errors.append)

    def show(self, pattern: Pattern, seconds: float = 0.0) -> list[tuple[float, str, str]]:
        start = len(self.writes)
        self.driver.show(pattern)
        self.clock.advance(seconds)
        return [(t, attr, value) for t, _, attr, value in self.writes[start:]]

    def file(self, attr: str) -> str:
        return (self.path / attr).read_text().strip()


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


def test_idle_is_the_kernel_heartbeat_written_once(rig: Rig) -> None:
    assert rig.show(IDLE, 10) == [(0, "trigger", "heartbeat")]
    assert rig.file("trigger") == "none mmc0 timer [heartbeat]"
    assert rig.clock.pending() == 0


def test_working_is_the_kernel_timer_at_half_a_second(rig: Rig) -> None:
    assert rig.show(WORKING, 10) == [(0, "trigger", "timer"), (0, "delay_on", "500"), (0, "delay_off", "500")]
    assert rig.file("trigger") == "none mmc0 [timer] heartbeat"


def test_failure_is_the_kernel_timer_at_a_tenth_of_a_second(rig: Rig) -> None:
    assert rig.show(FAILURE, 10) == [(0, "trigger", "timer"), (0, "delay_on", "100"), (0, "delay_off", "100")]


def test_success_is_solid_at_full_brightness_and_stays(rig: Rig) -> None:
    assert rig.show(SUCCESS, 10) == [(0, "trigger", "none"), (0, "brightness", "255")]
    assert rig.clock.pending() == 0


def test_attention_is_a_double_blink_repeating_every_1_2_seconds(rig: Rig) -> None:
    assert rig.show(ATTENTION, 2.4) == [
        (0, "trigger", "none"), (0, "brightness", "255"),
        (0.15, "brightness", "0"), (0.3, "brightness", "255"), (0.45, "brightness", "0"),
        (1.2, "brightness", "255"), (1.35, "brightness", "0"), (1.5, "brightness", "255"), (1.65, "brightness", "0"),
        (2.4, "brightness", "255"),
    ]


def test_without_kernel_triggers_idle_and_working_are_written_step_by_step(tmp_path: Path) -> None:
    rig = Rig(tmp_path, "[none]", max_brightness=1)
    assert rig.show(IDLE, 2.0) == [
        (0, "brightness", "1"),
        (0.1, "brightness", "0"), (0.35, "brightness", "1"), (0.45, "brightness", "0"), (2.0, "brightness", "1"),
    ]
    assert rig.show(WORKING, 1.0) == [(2.0, "brightness", "1"), (2.5, "brightness", "0"), (3.0, "brightness", "1")]


def test_a_timer_trigger_whose_delay_files_never_appear_falls_back_to_writing_brightness(tmp_path: Path) -> None:
    path = make_led_dir(tmp_path, "gpio", "[none] timer")
    clock = ManualScheduler()
    led = Led.open(str(path))
    driver = LedDriver(led, clock)
    driver.show(FAILURE)
    assert driver.mode == "brightness written by Station"
    assert (path / "trigger").read_text() == "none\n"
    seen = []
    for _ in range(4):
        seen.append((path / "brightness").read_text().strip())
        clock.advance(0.1)
    assert seen == ["255", "0", "255", "0"]


def test_timer_delay_files_the_station_may_not_write_mean_blinking_by_brightness(tmp_path: Path) -> None:
    clock, writes = ManualScheduler(), []
    led = KernelLed(make_led_dir(tmp_path, "ACT", PI_TRIGGERS), clock, writes, delays_writable=False)
    led.load()
    errors: list[FeedbackError] = []
    driver = LedDriver(led, clock, errors.append)
    driver.show(WORKING)
    clock.advance(1.0)
    assert [(t, attr, value) for t, _, attr, value in writes] == [
        (0, "trigger", "timer"), (0, "trigger", "none"), (0, "brightness", "255"),
        (0.5, "brightness", "0"), (1.0, "brightness", "255"),
    ]
    assert errors == [] and driver.mode == "brightness written by Station"


def test_showing_the_same_pattern_again_writes_nothing(rig: Rig) -> None:
    rig.show(WORKING)
    assert rig.show(WORKING, 5) == []


def test_a_new_pattern_stops_the_old_steps(rig: Rig) -> None:
    rig.show(ATTENTION, 0.2)
    writes = rig.show(IDLE, 5)
    assert writes == [(0.2, "trigger", "heartbeat")]


def test_release_gives_the_led_its_original_trigger_and_stops_writing(rig: Rig) -> None:
    rig.show(ATTENTION, 0.5)
    rig.driver.release()
    assert rig.file("trigger") == "none [mmc0] timer heartbeat"
    start = len(rig.writes)
    rig.clock.advance(5)
    assert rig.writes[start:] == []


def test_a_failing_led_is_reported_once_and_then_left_alone(rig: Rig) -> None:
    make_unwritable(rig.path / "brightness")
    rig.show(ATTENTION, 3)
    rig.show(SUCCESS, 3)
    rig.driver.release()
    assert len(rig.errors) == 1
    assert "Permission denied" in rig.errors[0].message
    assert rig.clock.pending() == 0
