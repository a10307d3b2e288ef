"""`station run` drives the configured LED: idle heartbeat, attention while paused, the trigger given back on
SIGTERM; a missing LED is one line in the log and the station serves all the same."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from daemon_harness import kill, start_daemon, write_config

from station_emulator.entra import EntraEmulator


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=4, seed=21) as e:
        yield e


def led_dir(root: Path, name: str) -> Path:
    path = root / name
    path.mkdir(parents=True)
    (path / "trigger").write_text("none [mmc0] timer heartbeat\n")
    (path / "brightness").write_text("0\n")
    (path / "max_brightness").write_text("1\n")
    return path


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.05)


def test_the_daemon_shows_its_state_on_the_led_and_gives_it_back_on_stop(emu: EntraEmulator, tmp_path: Path) -> None:
    act = led_dir(tmp_path / "leds", "ACT")
    missing = tmp_path / "leds" / "station"
    config = write_config(emu, tmp_path, f'\n[feedback]\nleds = ["{missing}", "{act}"]\n')
    daemon = start_daemon(config)
    try:
        trigger = act / "trigger"
        eventually(lambda: trigger.read_text() == "heartbeat\n")
        daemon.client().command("pause")
        eventually(lambda: trigger.read_text() == "none\n")
        daemon.client().command("resume")
        eventually(lambda: trigger.read_text() == "heartbeat\n")
        assert daemon.stop() == 0
        assert trigger.read_text() == "mmc0\n"
        log = daemon.log()
        assert log.count("does not exist") == 1 and str(missing) in log
    finally:
        kill(daemon)
