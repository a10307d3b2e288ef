"""The kiosk and monitor dashboards with hostile names in the queue (tests/hostile_text.py): `station kiosk` on a
real pseudo-terminal shows the next person "Eve [/] [/bold]" as written (as markup it raised MarkupError,
which stopped the dashboard and the daemon with it) and no name's escape sequence reaches the terminal; the
control socket answers meanwhile and q stops the station cleanly. `station tui` attached to a daemon shows the
same names safely."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import DaemonProcess, kill, short_runtime_dir, start_daemon, write_config
from hostile_text import ALL, PRINTABLE, assert_terminal_safe, seed_people
from pilot_wait import screen_text, wait_for
from test_tui_kiosk_command import _drain, read_until

from station.control import socket_path
from station.control_client import ControlClient
from station.tui.app import create_app
from station.tui.source import ControlSource
from station_emulator.entra import EntraEmulator

FIRST = PRINTABLE["stray_close_tag"]  # "Eve [/] [/bold]"
STATION_NAME = "Desk \x1b]52;c;SGFja2Vk\x07Nine"
# Byte sequences of the catalogue's names that must never reach the terminal as they are.
NEVER = [b"\x1b]52;c;SGFja2VkIQ==", b"\x1b]52;c;SGFja2Vk\x07", b"\x1b[2J\x1b[HScreen", b"Eight\xc2\x9b",
         "Dave\u202e".encode(), b"Nul\x00", b"Bob\rOver"]


def hostile_queue(directory: Path) -> dict[str, str]:
    names = {"eve@contoso.example": FIRST}
    names.update({f"p{i}@contoso.example": name for i, name in enumerate(ALL.values()) if name != FIRST})
    seed_people(directory / "station.db", names)
    return names


def test_station_kiosk_shows_hostile_names_and_keeps_running(tmp_path: Path) -> None:
    with EntraEmulator(users=3, seed=4) as emu:
        config = write_config(emu, tmp_path)
        hostile_queue(tmp_path)
        runtime = short_runtime_dir()
        state = tmp_path / "state"
        env = {**os.environ, "TERM": "xterm-256color", "STATION_RUNTIME_DIR": str(runtime),
               "STATION_STATE_DIR": str(state), "STATION_STATION_NAME": STATION_NAME}
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
        proc = subprocess.Popen([sys.executable, "-m", "station.cli", "--config", str(config), "kiosk"],
                                stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        try:
            # Each part of the screen is drawn once; whichever came first is already in what was read.
            seen = b""
            for needle in (b"Pause/resume", FIRST.encode(), b"\\x1b]52;c;SGFja2Vk\\x07Nine"):
                if needle not in seen:
                    seen += read_until(master, needle)
            status = ControlClient(socket_path(runtime)).status()
            assert status["next_up"][0]["display_name"] == FIRST and status["station"]["pid"] == proc.pid
            until = time.monotonic() + 2.0  # a few redraws more: the clock, the status poll
            while time.monotonic() < until:
                if select.select([master], [], [], 0.2)[0]:
                    seen += os.read(master, 65536)
            for sequence in NEVER:
                assert sequence not in seen, f"{sequence!r} reached the terminal"
            assert proc.poll() is None, "the kiosk stopped"
            os.write(master, b"q")
            deadline = time.monotonic() + 30
            while proc.poll() is None and time.monotonic() < deadline:
                select.select([master], [], [], 0.2) and _drain(master)
            assert proc.wait(5) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            os.close(master)
        log = (state / "kiosk.log").read_text()
        assert "station stopped" in log and "the dashboard failed" not in log
        assert_terminal_safe(log, "kiosk.log")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    with EntraEmulator(users=3, seed=6) as emu:
        config = write_config(emu, tmp_path)
        hostile_queue(tmp_path)
        d = start_daemon(config, env={"STATION_STATION_NAME": STATION_NAME})
        try:
            yield d
        finally:
            kill(d)


async def test_station_tui_monitor_shows_hostile_names_safely(daemon: DaemonProcess) -> None:
    app = create_app(ControlSource(daemon.control_path, read_only=True), mode="monitor", poll_seconds=0.3)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: f"Next up: {FIRST} (eve@contoso.example)" in screen_text(app), "next up")
        assert "Desk \\x1b]52;c;SGFja2Vk\\x07Nine" in screen_text(app)
        await pilot.press("slash")
        await wait_for(pilot, lambda: PRINTABLE["brackets"] in screen_text(app), "the people list")
        assert_terminal_safe(screen_text(app), "the monitor's find-person")
        await pilot.press("escape")
        await pilot.press("f")
        await wait_for(pilot, lambda: "desk" in screen_text(app).lower() and "alive" in screen_text(app), "the fleet")
        assert_terminal_safe(screen_text(app), "the monitor's fleet")
        assert app.is_running and app._exception is None
    assert daemon.client().status()["next_up"][0]["display_name"] == FIRST
