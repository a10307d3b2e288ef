"""The LED class files: finding an LED, reading what it offers, clear errors, and putting it back."""

from __future__ import annotations

from pathlib import Path

import pytest
from feedback_fakes import make_led_dir, make_unwritable

from station.errors import FeedbackError, Reason
from station.feedback.leds import Led, parse_triggers, resolve_led


def test_open_reads_the_offered_triggers_the_active_one_and_the_brightness_range(tmp_path: Path) -> None:
    make_led_dir(tmp_path, "ACT", "none [mmc0] timer heartbeat", brightness=0, max_brightness=255)
    led = Led.open("ACT", root=tmp_path)
    assert led.path == tmp_path / "ACT"
    assert led.triggers == ["none", "mmc0", "timer", "heartbeat"]
    assert led.original_trigger == "mmc0"
    assert led.max_brightness == 255
    assert led.supports("heartbeat") and not led.supports("pattern")


def test_trigger_listing_without_brackets_means_none_is_active() -> None:
    assert parse_triggers("none timer") == (["none", "timer"], "none")
    assert parse_triggers("[none] default-on") == (["none", "default-on"], "none")


def test_pi_led_names_from_older_kernels_are_found_under_either_name(tmp_path: Path) -> None:
    make_led_dir(tmp_path, "led0")
    make_led_dir(tmp_path, "PWR")
    assert resolve_led("ACT", tmp_path) == tmp_path / "led0"
    assert resolve_led("led1", tmp_path) == tmp_path / "PWR"
    assert resolve_led("station", tmp_path) == tmp_path / "station"
    assert resolve_led(str(tmp_path / "led0"), tmp_path) == tmp_path / "led0"


def test_a_missing_led_is_one_error_naming_the_path_and_how_to_find_the_right_one(tmp_path: Path) -> None:
    with pytest.raises(FeedbackError) as caught:
        Led.open("station", root=tmp_path)
    err = caught.value
    assert err.reason is Reason.FEEDBACK_UNAVAILABLE
    assert str(tmp_path / "station") in err.message and "does not exist" in err.message
    assert f"ls {tmp_path}" in err.remedy and "dtoverlay=gpio-led" in err.remedy


def test_an_led_the_station_may_not_write_names_the_file_and_the_permission_fix(tmp_path: Path) -> None:
    path = make_led_dir(tmp_path, "ACT", "[none] timer")
    make_unwritable(path / "brightness")
    led = Led(path)
    led.triggers, led.original_trigger = ["none", "timer"], "none"
    with pytest.raises(FeedbackError) as caught:
        led.set_on(True)
    assert str(path / "brightness") in caught.value.message
    assert "Permission denied" in caught.value.message
    assert "udev rule" in caught.value.remedy


def test_restore_puts_back_the_trigger_it_found(tmp_path: Path) -> None:
    path = make_led_dir(tmp_path, "ACT", "none [mmc0] timer heartbeat")
    led = Led.open(str(path))
    led.set_trigger("none")
    led.set_on(True)
    led.restore()
    assert (path / "trigger").read_text() == "mmc0\n"


def test_restore_of_an_led_without_trigger_puts_back_its_brightness(tmp_path: Path) -> None:
    path = make_led_dir(tmp_path, "station", "[none] timer heartbeat", brightness=1, max_brightness=1)
    led = Led.open(str(path))
    led.set_trigger("heartbeat")
    led.restore()
    assert (path / "trigger").read_text() == "none\n"
    assert (path / "brightness").read_text() == "1\n"


def test_restore_of_a_blinking_led_puts_back_its_blink_rate(tmp_path: Path) -> None:
    path = make_led_dir(tmp_path, "PWR", "none [timer] heartbeat")
    (path / "delay_on").write_text("50\n")
    (path / "delay_off").write_text("950\n")
    led = Led.open(str(path))
    led.start_timer(100, 100)
    assert (path / "delay_on").read_text() == "100\n"
    led.restore()
    assert (path / "trigger").read_text() == "timer\n"
    assert ((path / "delay_on").read_text(), (path / "delay_off").read_text()) == ("50\n", "950\n")
