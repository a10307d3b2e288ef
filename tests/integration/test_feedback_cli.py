"""`station feedback test` as an installer runs it: LED class directories, a sound device, the output."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from realstack import require

from station.cli import main
from station.feedback.patterns import PATTERNS
from station.feedback.sound import failure_sound


def led_dir(root: Path, name: str, triggers: str = "none [mmc0] timer heartbeat") -> Path:
    path = root / name
    path.mkdir()
    (path / "trigger").write_text(triggers + "\n")
    (path / "brightness").write_text("0\n")
    (path / "max_brightness").write_text("255\n")
    return path


def test_every_pattern_is_named_in_turn_and_the_led_gets_its_trigger_back(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    act = led_dir(tmp_path, "ACT")
    code = main(["feedback", "test", "--led", str(act), "--sound", "none", "--each", "0.05"])
    out = capsys.readouterr().out
    assert code == 0
    names = [line.split(":")[0] for line in out.splitlines() if not line.startswith((" ", "LED"))]
    assert names == [p.name for p in PATTERNS]
    assert "  LED ACT: kernel heartbeat trigger" in out
    assert "LED ACT: trigger 'mmc0' restored" in out
    assert (act / "trigger").read_text() == "mmc0\n"


def test_the_tones_reach_the_sound_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require(shutil.which("aplay") is not None, "aplay is not installed (Debian package alsa-utils)")
    played = tmp_path / "played.raw"
    code = main(["feedback", "test", "--sound", f"file:FILE={played},FORMAT=raw", "--each", "0"])
    out = capsys.readouterr().out
    assert code == 0
    assert "  tone: success on" in out and "  tone: failure on" in out
    assert played.read_bytes().startswith(failure_sound(0.5))


def test_a_missing_led_is_named_once_the_rest_still_plays_and_the_exit_code_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pwr = led_dir(tmp_path, "PWR", "none [default-on] timer")
    code = main(["feedback", "test", "--led", str(tmp_path / "station"), "--led", str(pwr), "--each", "0"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.count("does not exist") == 1
    assert f"LED {tmp_path / 'station'} does not exist" in captured.err and "dtoverlay=gpio-led" in captured.err
    assert captured.out.count("  LED PWR: ") == len(PATTERNS)
    assert (pwr / "trigger").read_text() == "default-on\n"


def test_nothing_configured_says_what_to_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["feedback", "test"]) == 1
    err = capsys.readouterr().err
    assert "nothing to test" in err and "--led" in err and "--sound" in err


def test_the_command_uses_the_configured_leds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    act = led_dir(tmp_path, "ACT", "none [heartbeat] timer")
    config = tmp_path / "station.toml"
    config.write_text(f'[feedback]\nleds = ["{act}"]\n')
    monkeypatch.setenv("STATION_CONFIG", str(config))
    assert main(["feedback", "test", "--each", "0"]) == 0
    assert f"LED ACT ({act}): trigger now 'heartbeat'" in capsys.readouterr().out
    assert (act / "trigger").read_text() == "heartbeat\n"
