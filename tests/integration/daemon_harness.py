"""The daemon as a real subprocess for tests: `python -m station.cli run` against the Entra emulator, with
NOTIFY_SOCKET pointing at a datagram socket the test reads, and the control socket in a short runtime dir."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from support.child import ChildProcess
from support.waiting import Collected

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
        self.received: Collected[dict[str, str]] = Collected()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    @property
    def messages(self) -> list[dict[str, str]]:
        return self.received.items

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            self.received.add(dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line))

    def wait_for(self, key: str, value: str | None = None, timeout: float = 10.0,
                 contains: str | None = None) -> dict[str, str]:
        def match(m: dict[str, str]) -> bool:
            return key in m and (value is None or m[key] == value) and (contains is None or contains in m[key])

        return self.received.wait_for(match, timeout, f"{key}{'=' + value if value else ''} ({contains or ''})")

    def close(self) -> None:
        self.sock.close()


class DaemonProcess(ChildProcess):
    """`station run` with its configuration, runtime directory and the sd_notify socket it reports to."""

    def __init__(self, config: Path, runtime_dir: Path, log_path: Path, notify: NotifySocket,
                 env: dict[str, str]) -> None:
        super().__init__([sys.executable, "-m", "station.cli", "--config", str(config), "run"], log_path, env)
        self.config = config
        self.runtime_dir = runtime_dir
        self.notify = notify

    @property
    def control_path(self) -> Path:
        return socket_path(self.runtime_dir)

    def client(self) -> ControlClient:
        return ControlClient(self.control_path)

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
    log_path.unlink(missing_ok=True)
    daemon = DaemonProcess(config, runtime_dir / "run", log_path, notify, full_env)
    proc = daemon.proc
    if wait_ready:
        deadline = time.monotonic() + START_TIMEOUT
        while not any("READY" in m for m in notify.messages):
            if proc.poll() is not None or time.monotonic() > deadline:
                kill(daemon)
                raise AssertionError(f"the daemon did not get ready (exit {proc.poll()}):\n{daemon.log()}")
            time.sleep(0.05)
    return daemon


@contextlib.contextmanager
def daemon_with_queue(directory: Path, *, users: int, seed: int, queued: int, station_id: str,
                      env: dict[str, str] | None = None, stops_cleanly: bool = True) -> Iterator[DaemonProcess]:
    """A ready daemon in ``directory`` against an emulated tenant of ``users`` people, ``queued`` of them
    waiting; stopped at the end (and, when ``stops_cleanly``, required to exit 0)."""
    with EntraEmulator(users=users, seed=seed) as emu:
        config = write_config(emu, directory)
        queue_people(directory, emu, queued)
        d = start_daemon(config, station_id=station_id, env=env)
        try:
            yield d
            if stops_cleanly:
                assert d.stop() == 0
        finally:
            kill(d)


def kill(daemon: DaemonProcess) -> None:
    daemon.ensure_gone()
    daemon.notify.close()
    with contextlib.suppress(OSError):
        for p in sorted(daemon.runtime_dir.parent.rglob("*"), reverse=True):
            p.unlink() if not p.is_dir() else p.rmdir()
        daemon.runtime_dir.parent.rmdir()
