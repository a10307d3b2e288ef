"""A child process of a test with its output in a log file: stop it (SIGTERM), kill it, read and wait on its log."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


class ChildProcess:
    def __init__(self, args: Sequence[str], log_path: Path, env: Mapping[str, str], *,
                 new_session: bool = False) -> None:
        self.log_path = log_path
        self.env = dict(env)
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(list(args), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=self.env, start_new_session=new_session)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_log(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log()
            if text in log:
                return log
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not in the log of the process:\n{self.log()}")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def sigkill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then its exit status; a process still running after ``timeout`` is killed and fails the test."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.ensure_gone()
            raise AssertionError(f"the process did not end in {timeout} s; log:\n{self.tail()}") from None

    def ensure_gone(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
