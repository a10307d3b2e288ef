"""`station kiosk` as a process on a real pseudo-terminal: the daemon starts, the dashboard draws, the control
socket answers meanwhile, and q quits — stopping the station cleanly with its log in kiosk.log."""

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
from pathlib import Path

from daemon_harness import queue_people, short_runtime_dir, write_config

from station.control import socket_path
from station.control_client import ControlClient
from station_emulator.entra import EntraEmulator


def read_until(fd: int, needle: bytes, timeout: float = 30.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{needle!r} never appeared on the terminal; last output: {seen[-2000:]!r}")
        ready, _, _ = select.select([fd], [], [], min(left, 0.5))
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


def test_station_kiosk_runs_the_station_with_its_dashboard_and_q_stops_it(tmp_path: Path) -> None:
    with EntraEmulator(users=3, seed=4) as emu:
        config = write_config(emu, tmp_path)
        queue_people(tmp_path, emu, 3)
        runtime = short_runtime_dir()
        state = tmp_path / "state"
        env = {**os.environ, "TERM": "xterm-256color", "STATION_RUNTIME_DIR": str(runtime),
               "STATION_STATE_DIR": str(state), "STATION_STATION_NAME": "Desk 9"}
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        proc = subprocess.Popen([sys.executable, "-m", "station.cli", "--config", str(config), "kiosk"],
                                stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        try:
            read_until(master, b"Pause/resume")
            status = ControlClient(socket_path(runtime)).status()
            assert status["queue"]["queued"] == 3 and status["station"]["pid"] == proc.pid
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
        assert not socket_path(runtime).exists()
        log = (state / "kiosk.log").read_text()
        assert "station stopped" in log


def _drain(fd: int) -> bool:
    try:
        return bool(os.read(fd, 65536))
    except OSError:
        return False
