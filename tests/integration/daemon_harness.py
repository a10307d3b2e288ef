"""The daemon as a real subprocess for tests: `python -m station.cli run` against the Entra emulator, with
NOTIFY_SOCKET pointing at a datagram socket the test reads, and the control socket in a short runtime dir."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from station.config_template import emulator_config
from station.control import socket_path
from station.control_client import ControlClient
from station.store import NewPerson, open_store
from station_emulator.entra import EntraEmulator

START_TIMEOUT = 30.0


class NotifySocket:
    """The systemd side of sd_notify: collects every datagram the daemon sends."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.messages: list[dict[str, str]] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self._cond:
                self.messages.append(fields)
                self._cond.notify_all()

    def wait_for(self, key: str, value: str | None = None, timeout: float = 10.0,
                 contains: str | None = None) -> dict[str, str]:
        def match(m: dict[str, str]) -> bool:
            return key in m and (value is None or m[key] == value) and (contains is None or contains in m[key])

        with self._cond:
            ok = self._cond.wait_for(lambda: any(match(m) for m in self.messages), timeout)
            assert ok, f"no {key}{'=' + value if value else ''} ({contains or ''}) in {self.messages}"
            return next(m for m in self.messages if match(m))

    def close(self) -> None:
        self.sock.close()


@dataclass
class DaemonProcess:
    proc: subprocess.Popen[bytes]
    config: Path
    runtime_dir: Path
    log_path: Path
    notify: NotifySocket
    env: dict[str, str] = field(repr=False)

    @property
    def control_path(self) -> Path:
        return socket_path(self.runtime_dir)

    def client(self) -> ControlClient:
        return ControlClient(self.control_path)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def wait_log(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log()
            if text in log:
                return log
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not in the daemon log:\n{self.log()}")

    def station(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run another `station` command against this daemon's configuration."""
        return subprocess.run([sys.executable, "-m", "station.cli", "--config", str(self.config), *args],
                              env=self.env, capture_output=True, text=True, timeout=timeout)


def write_config(emu: EntraEmulator, directory: Path, extra: str = "") -> Path:
    """A configuration for ``emu`` written by the code behind `station config init --emulator`."""
    directory.mkdir(parents=True, exist_ok=True)
    info = directory / "emulator.json"
    emu.write_info(info)
    path = directory / "station.toml"
    path.write_text(emulator_config(info, directory) + extra, encoding="utf-8")
    return path


def queue_people(config_dir: Path, emu: EntraEmulator, count: int, start: int = 0) -> list[dict[str, str]]:
    users = sorted(emu.tenant.users.values(), key=lambda u: u["userPrincipalName"])[start:start + count]
    store = open_store(f"sqlite:///{config_dir / 'station.db'}", "test")
    try:
        store.queue.add_people(NewPerson(upn=u["userPrincipalName"], display_name=u["displayName"],
                                         object_id=u["id"], source="test") for u in users)
    finally:
        store.close()
    return users


def short_runtime_dir() -> Path:
    """Unix socket paths are limited to 107 bytes; pytest's tmp paths can be longer."""
    return Path(tempfile.mkdtemp(prefix="st-run-", dir="/tmp"))


def start_daemon(config: Path, *, env: dict[str, str] | None = None, wait_ready: bool = True,
                 station_id: str = "daemon-test") -> DaemonProcess:
    runtime_dir = short_runtime_dir()
    notify = NotifySocket(runtime_dir)
    full_env = {**os.environ, **(env or {})}
    full_env.update(STATION_RUNTIME_DIR=str(runtime_dir / "run"), STATION_STATE_DIR=str(config.parent / "state"),
                    NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC="2000000", STATION_STATION_ID=station_id,
                    PYTHONUNBUFFERED="1")
    log_path = config.parent / "daemon.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "station.cli", "--config", str(config), "run"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=full_env)
    daemon = DaemonProcess(proc, config, runtime_dir / "run", log_path, notify, full_env)
    if wait_ready:
        deadline = time.monotonic() + START_TIMEOUT
        while not any("READY" in m for m in notify.messages):
            if proc.poll() is not None or time.monotonic() > deadline:
                kill(daemon)
                raise AssertionError(f"the daemon did not get ready (exit {proc.poll()}):\n{daemon.log()}")
            time.sleep(0.05)
    return daemon


def kill(daemon: DaemonProcess) -> None:
    if daemon.proc.poll() is None:
        daemon.proc.kill()
        daemon.proc.wait(10)
    daemon.notify.close()
    with contextlib.suppress(OSError):
        for p in sorted(daemon.runtime_dir.parent.rglob("*"), reverse=True):
            p.unlink() if not p.is_dir() else p.rmdir()
        daemon.runtime_dir.parent.rmdir()
