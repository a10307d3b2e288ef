"""A full disk or a read-only store, for real: a small tmpfs filled up, a read-only bind mount, and a PostgreSQL
database set read-only.

What an operator relies on: every command says so in one line (no traceback) and stores nothing half; the
daemon's status says "store not writable: …" instead of "idle", a key inserted meanwhile is refused before
it gets a PIN, and once space is freed the daemon takes keys again by itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from daemon_harness import write_config
from enrol_harness import Recorder
from pg import ADMIN_URL, pg_url
from realstack import require

from station.config import load_config
from station.daemon import Daemon
from station.events import EnrolmentDone, KeyRejected
from station.store import NewPerson, open_store
from station_emulator.entra import EntraEmulator
from station_emulator.key import Finger, VirtualKey
from station_emulator.virtual_source import VirtualKeySource

__all__ = ["pg_url"]

TMPFS_SIZE = "8m"


def _mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)
    require(result.returncode == 0, f"cannot mount ({result.stderr.strip()}); needs root")


@pytest.fixture
def small_fs() -> Iterator[Path]:
    """A fresh tmpfs of a few MiB, unmounted afterwards."""
    require(os.geteuid() == 0, "mounting a tmpfs needs root")
    where = Path(tempfile.mkdtemp(prefix="st-full-"))
    _mount("-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(where))
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, timeout=30)
        with contextlib.suppress(OSError):
            where.rmdir()


def fill(fs: Path) -> Path:
    """Fill ``fs`` to the last byte with one file; the file."""
    filler = fs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def station(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "station.cli", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


def assert_one_line(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"station: {text}"), result.stderr
    assert len(lines) == 2 and lines[1].lstrip().startswith("→"), "one line and its remedy"


def test_an_import_on_a_full_disk_says_so_in_one_line_and_stores_nothing(small_fs: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{small_fs / 'station.db'}"
    store = open_store(url, "cli")
    store.close()
    people = tmp_path / "people.csv"
    people.write_text("upn,display_name\n" + "".join(f"p{i}@contoso.com,{'Person ' * 20}{i}\n"
                                                     for i in range(5000)))
    filler = fill(small_fs)
    result = station("queue", "import-csv", str(people), "--store", url, env={})
    assert_one_line(result, f"store not writable: disk full (0 KiB free) ({small_fs / 'station.db'})")
    filler.unlink()
    listed = station("queue", "list", "--json", "--store", url, env={})
    assert listed.returncode == 0 and json.loads(listed.stdout) == [], "nothing of the import was stored"


def test_a_read_only_store_says_so_in_one_line(small_fs: Path) -> None:
    store = open_store(f"sqlite:///{small_fs / 'station.db'}", "cli")
    store.close()
    readonly = Path(tempfile.mkdtemp(prefix="st-ro-"))
    _mount("--bind", str(small_fs), str(readonly))
    try:
        _mount("-o", "remount,bind,ro", str(readonly))
        url = f"sqlite:///{readonly / 'station.db'}"
        result = station("queue", "add", "--upn", "kim@contoso.com", "--name", "Kim", "--store", url, env={})
        assert_one_line(result, f"store not writable: read-only filesystem ({readonly / 'station.db'})")
    finally:
        subprocess.run(["umount", "-l", str(readonly)], check=False, timeout=30)
        readonly.rmdir()


def test_the_daemon_refuses_keys_while_the_disk_is_full_and_recovers_by_itself(small_fs: Path,
                                                                                 tmp_path: Path) -> None:
    with EntraEmulator(users=4, seed=5) as emu:
        config = write_config(emu, tmp_path)
        db = small_fs / "station.db"
        cfg = load_config(config, environ={"STATION_STORE_URL": f"sqlite:///{db}", "STATION_STATION_ID": "full-1",
                                           "STATION_ENROLMENT_PREFETCH": "0"})
        users = sorted(emu.tenant.users.values(), key=lambda u: u["userPrincipalName"])[:2]
        store = open_store(cfg.store_url, "setup")
        store.queue.add_people(NewPerson(upn=u["userPrincipalName"], display_name=u["displayName"],
                                         object_id=u["id"], source="test") for u in users)
        store.close()
        source = VirtualKeySource()
        daemon = Daemon(cfg, watchers=[source], control=False, keep_log_level=True)
        events = Recorder(daemon.bus)
        daemon.start()
        try:
            assert daemon.status()["state"] == "idle"
            filler = fill(small_fs)
            assert daemon.tick(), "a full store is reported, not a failed loop (the watchdog keeps being fed)"
            status = daemon.status()
            assert status["state"] == "store not writable"
            assert status["summary"].startswith(f"store not writable: disk full (0 KiB free) ({db})")

            key = VirtualKey("fido21", finger=Finger.after(0.1))
            source.insert(key, slot="usb-1")
            refused = events.wait_for(KeyRejected, slot="usb-1")
            assert refused.reason == "store_not_writable" and "disk full" in refused.message
            assert refused.remedy.startswith("Remove the key: it was not changed")
            assert not key.state.pin_set, "the key was refused before any PIN was set"
            source.remove("usb-1")

            filler.unlink()
            assert daemon.tick()
            assert daemon.status()["state"] == "idle", "writable again: the daemon takes keys by itself"
            source.insert(VirtualKey("fido21", finger=Finger.after(0.1)), slot="usb-2")
            done = events.wait_for(EnrolmentDone, slot="usb-2", timeout=30)
            assert done.upn == users[0]["userPrincipalName"]
        finally:
            daemon.shutdown(grace=5.0)


def test_a_read_only_postgresql_store_says_so_in_one_line(pg_url: str) -> None:
    store = open_store(pg_url, "cli")
    store.close()
    name = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    result = station("queue", "add", "--upn", "kim@contoso.com", "--name", "Kim", "--store", pg_url, env={})
    assert_one_line(result, f"store not writable: read-only ({pg_url})")


def test_a_daemon_starting_on_a_full_disk_says_so_in_one_line(small_fs: Path, tmp_path: Path) -> None:
    fill(small_fs)
    result = station("run", env={"STATION_STORE_URL": f"sqlite:///{small_fs / 'station.db'}",
                                 "STATION_STATION_ID": "desk-1", "STATION_RUNTIME_DIR": str(tmp_path / "run")})
    assert_one_line(result, f"store not writable: disk full (0 KiB free) ({small_fs / 'station.db'})")


def test_a_file_a_command_writes_on_a_full_disk_is_one_line(small_fs: Path) -> None:
    fill(small_fs)
    result = station("config", "init", "--config", str(small_fs / "station.toml"), env={})
    assert_one_line(result, "No space left on device")
