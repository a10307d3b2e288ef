"""`station demo` on a terminal: the dashboard runs the rollout and closes by itself when the queue is done,
then the summary is printed — as the headless mode ends with it (tests/integration/test_demo.py)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path


def test_demo_on_a_terminal_exits_with_its_summary_when_the_queue_is_done(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "station.cli", "demo", "--users", "4", "--keys", "2", "--seed", "3", "--speed", "10",
         "--timeout", "240", "--state-dir", str(tmp_path / "demo")],
        stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    shown = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closes with the last process holding it
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)
    os.close(master)
    text = shown.decode("utf-8", "replace")
    assert code == 0, text[-3000:]
    assert "Demo station" in text, "the dashboard was on the terminal"
    summary = text[text.rindex("Summary"):]
    assert "enrolled: 4 of 4" in summary, summary
