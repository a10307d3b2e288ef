"""One daemon per station id, on SQLite and on PostgreSQL, with real daemon processes.

What an operator relies on: a second `station run` with the same station id on the same store refuses to
start with a message naming who holds the station — before it opens the store, reconciles the journal, asks
Entra ID for anything or watches keys — while the first keeps serving; another station id on the same store
starts; once the first stops (or dies), the id is free again.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import DaemonProcess, kill, start_daemon, write_config
from pg import pg_url

from station_emulator.entra import EntraEmulator

__all__ = ["pg_url"]


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=4, seed=3) as e:
        yield e


def refused(daemon: DaemonProcess) -> str:
    assert daemon.proc.wait(30) == 1
    assert not any("READY" in m for m in daemon.notify.messages)
    return daemon.log()


def check_one_daemon_per_id(emu: EntraEmulator, tmp_path: Path, store_url: str, holder: str) -> None:
    env = {"STATION_STORE_URL": store_url}
    first = start_daemon(write_config(emu, tmp_path / "a"), env=env, station_id="desk-1")
    daemons = [first]
    try:
        since = len(emu.request_log)
        second = start_daemon(write_config(emu, tmp_path / "b"), env=env, station_id="desk-1", wait_ready=False)
        daemons.append(second)
        log = refused(second)
        assert f"station: station desk-1 is already running on this store ({holder}" in log
        assert "→ Stop the other daemon" in log
        assert len(log.strip().splitlines()) == 2, f"the refusal and its remedy, nothing else happened:\n{log}"
        assert emu.request_log[since:] == [], "the second daemon asked Entra ID nothing"
        assert not second.control_path.exists(), "and served nothing"
        assert first.client().status()["state"] == "idle", "the first keeps serving"

        other = start_daemon(write_config(emu, tmp_path / "c"), env=env, station_id="desk-2")
        daemons.append(other)
        assert other.client().status()["station"]["id"] == "desk-2", "another station id shares the store"

        first.signal(signal.SIGKILL)
        first.proc.wait(10)
        again = start_daemon(write_config(emu, tmp_path / "d"), env=env, station_id="desk-1")
        daemons.append(again)
        assert again.client().status()["station"]["id"] == "desk-1", "a dead daemon's lock is free at once"
        assert again.stop() == 0
    finally:
        for d in daemons:
            kill(d)


def test_one_daemon_per_station_id_on_sqlite(emu: EntraEmulator, tmp_path: Path) -> None:
    db = tmp_path / "shared" / "station.db"
    check_one_daemon_per_id(emu, tmp_path, f"sqlite:///{db}", "pid ")
    assert (db.parent / "station.db.desk-1.lock").exists()


def test_one_daemon_per_station_id_on_postgresql(emu: EntraEmulator, tmp_path: Path, pg_url: str) -> None:
    check_one_daemon_per_id(emu, tmp_path, pg_url, "another daemon holds its lock")


def test_the_lock_file_names_the_holder(emu: EntraEmulator, tmp_path: Path) -> None:
    config = write_config(emu, tmp_path / "a")
    first = start_daemon(config, station_id="kiosk/2")
    try:
        lock = tmp_path / "a" / "station.db.kiosk%2F2.lock"
        assert lock.read_text() == f"pid {first.proc.pid} on {socket.gethostname()}\n"
    finally:
        kill(first)
