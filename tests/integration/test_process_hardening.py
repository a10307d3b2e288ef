"""`station run` and `station kiosk` hold PINs, the Entra token and the client secret in memory: they must
never dump core.

Checked on the real processes (the kiosk on a pseudo-terminal): the core file size limit is 0 (soft and
hard, /proc/<pid>/limits) and the process is not dumpable — the kernel then gives its /proc/<pid>/ files to
root:root instead of to the process's own user and group. The station runs as root here, so it is started
with group 65534 to tell the two apart; a plain process started the same way shows that group.
"""
from __future__ import annotations

import contextlib
import os
import pty
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from daemon_harness import short_runtime_dir, write_config

from station.control import socket_path
from station_emulator.entra import EntraEmulator

NOGROUP = 65534


def core_limit(pid: int) -> list[str]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            return line.split()[4:6]
    raise AssertionError("no core limit")


def owner_group(pid: int) -> int:
    return os.stat(f"/proc/{pid}/status").st_gid


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, env=env, group=NOGROUP, extra_groups=[], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT)


def test_the_daemon_dumps_no_core(tmp_path: Path) -> None:
    plain = start([sys.executable, "-c", "import time; time.sleep(30)"], dict(os.environ), tmp_path / "plain.log")
    try:
        time.sleep(0.5)
        assert owner_group(plain.pid) == NOGROUP, "a dumpable process's /proc files carry its own group"
    finally:
        plain.kill()
        plain.wait()

    runtime = short_runtime_dir()
    with EntraEmulator(users=2, seed=77) as emu:
        config = write_config(emu, tmp_path)
        env = {**os.environ, "STATION_RUNTIME_DIR": str(runtime / "run"), "STATION_STATE_DIR": str(tmp_path / "s")}
        log = tmp_path / "daemon.log"
        daemon = start([sys.executable, "-m", "station.cli", "--config", str(config), "run"], env, log)
        try:
            deadline = time.monotonic() + 60
            while not socket_path(runtime / "run").exists():
                assert daemon.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the daemon did not start"
                time.sleep(0.1)
            assert core_limit(daemon.pid) == ["0", "0"], "no core file, and no child may raise the limit"
            assert owner_group(daemon.pid) == 0, "the daemon is not dumpable (PR_SET_DUMPABLE 0)"
        finally:
            daemon.terminate()
            daemon.wait(30)
            shutil.rmtree(runtime, ignore_errors=True)


def test_the_kiosk_dumps_no_core(tmp_path: Path) -> None:
    runtime = short_runtime_dir()
    with EntraEmulator(users=2, seed=78) as emu:
        config = write_config(emu, tmp_path)
        env = {**os.environ, "STATION_RUNTIME_DIR": str(runtime / "run"), "STATION_STATE_DIR": str(tmp_path / "s"),
               "TERM": "xterm-256color"}
        pid, fd = pty.fork()
        if pid == 0:
            os.setgroups([])
            os.setgid(NOGROUP)
            os.execve(sys.executable, [sys.executable, "-m", "station.cli", "--config", str(config), "kiosk"], env)
        drain = threading.Thread(target=read_all, args=(fd,), daemon=True)
        drain.start()
        try:
            deadline = time.monotonic() + 60
            while not socket_path(runtime / "run").exists():
                assert os.waitpid(pid, os.WNOHANG) == (0, 0), (tmp_path / "s" / "kiosk.log").read_text()
                assert time.monotonic() < deadline, "the kiosk did not start"
                time.sleep(0.1)
            assert core_limit(pid) == ["0", "0"]
            assert owner_group(pid) == 0, "the kiosk is not dumpable (PR_SET_DUMPABLE 0)"
        finally:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while os.waitpid(pid, os.WNOHANG) == (0, 0):
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.1)
            drain.join(5)
            os.close(fd)
            shutil.rmtree(runtime, ignore_errors=True)


def read_all(fd: int) -> None:
    """Keep reading the kiosk's screen so that it never blocks on a full terminal."""
    with contextlib.suppress(OSError):
        while os.read(fd, 65536):
            pass
