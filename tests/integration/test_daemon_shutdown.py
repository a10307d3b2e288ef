"""Stopping the daemon in the middle of an enrolment, on the real NFC path.

A virtual key sits on a vpcd reader of a test-owned pcscd; the daemon (a subprocess) finds it with its own
NfcWatcher and enrols it against the Entra emulator. What an operator relies on: `station status --json`
answers while a key is being enrolled; SIGTERM after the touch lets the registration finish (the person is
enrolled, once); SIGTERM while the key waits for a touch ends that enrolment in an explained terminal
state with the person back in the queue and nothing registered; either way the daemon exits 0.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from daemon_harness import DaemonProcess, kill, queue_people, start_daemon, write_config
from support.wire_shape import shape_problems

from station.store import open_store
from station.wire import StatusSnapshot
from station_emulator.entra import EntraEmulator
from station_emulator.key import Finger, VirtualKey
from station_emulator.key.vpcd import VpcdCard

if TYPE_CHECKING:
    from realstack import Pcscd

pytest_plugins = ["realstack"]
pytestmark = pytest.mark.realstack

TERMINAL = {"done", "failed", "needs_reset", "abandoned"}


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=4, seed=31) as e:
        yield e


class Events:
    """The daemon's events, as a subscriber of its control socket sees them."""

    def __init__(self, daemon: DaemonProcess) -> None:
        self.seen: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._stream = daemon.client().subscribe()
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self) -> None:
        try:
            for event in self._stream:
                with self._cond:
                    self.seen.append(event)
                    self._cond.notify_all()
        except OSError:
            return

    def wait_for(self, kind: str, timeout: float = 20.0, **match: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((e for e in self.seen if e["kind"] == kind
                         and all(e.get(k) == v for k, v in match.items())), None)

        with self._cond:
            assert self._cond.wait_for(lambda: found() is not None, timeout), \
                f"no {kind} {match}; saw {[e['kind'] for e in self.seen]}"
            event = found()
            assert event is not None
            return event


def journal_and_person(directory: Path, upn: str) -> tuple[list[Any], str]:
    store = open_store(f"sqlite:///{directory / 'station.db'}", "test")
    try:
        person = store.queue.get(upn)
        return store.journal.for_person(person.id), person.state
    finally:
        store.close()


def test_sigterm_after_the_touch_lets_the_registration_finish(emu: EntraEmulator, tmp_path: Path,
                                                              running_pcscd: Pcscd) -> None:
    (user,) = queue_people(tmp_path, emu, 1)
    daemon = start_daemon(write_config(emu, tmp_path))
    key = VirtualKey("fido21", finger=Finger.manual(timeout=30.0))
    try:
        events = Events(daemon)
        with VpcdCard(key, port=running_pcscd.vpcd_port()):
            events.wait_for("TouchRequired", timeout=30)
            busy = daemon.station("status", "--json")
            assert busy.returncode == 0, busy.stderr
            status = json.loads(busy.stdout)
            assert shape_problems(status, StatusSnapshot) == []
            assert status["state"] == "working"
            (slot,) = status["slots"]
            assert slot["step"] == "touch" and slot["upn"] == user["userPrincipalName"]
            assert slot["slot"] == f"NFC {running_pcscd.reader()}"

            emu.faults.latency_ms = 2500
            key.finger.touch()
            events.wait_for("StepChanged", step="registering")
            daemon.signal(signal.SIGTERM)
            assert daemon.proc.wait(30) == 0
        daemon.notify.wait_for("STOPPING", "1", timeout=1)
    finally:
        emu.faults.latency_ms = 0
        kill(daemon)
    rows, state = journal_and_person(tmp_path, user["userPrincipalName"])
    assert [r.state for r in rows] == ["done"]
    assert rows[0].method_id and rows[0].pin_escrow
    assert state == "enrolled"
    assert len(emu.tenant.methods_of(user["id"])) == 1


def test_sigterm_while_waiting_for_a_touch_ends_the_enrolment_cleanly(emu: EntraEmulator, tmp_path: Path,
                                                                     running_pcscd: Pcscd) -> None:
    (user,) = queue_people(tmp_path, emu, 1, start=1)
    daemon = start_daemon(write_config(emu, tmp_path))
    key = VirtualKey("fido21", finger=Finger.manual(timeout=30.0))
    try:
        events = Events(daemon)
        with VpcdCard(key, port=running_pcscd.vpcd_port()):
            events.wait_for("TouchRequired", timeout=30)
            daemon.signal(signal.SIGTERM)
            assert daemon.proc.wait(15) == 0
        log = daemon.log()
    finally:
        kill(daemon)
    rows, state = journal_and_person(tmp_path, user["userPrincipalName"])
    assert len(rows) == 1 and rows[0].state in TERMINAL - {"done"}
    assert rows[0].error_reason == "operator_cancelled"
    assert "cancelled: the station is stopping" in (rows[0].error_message or "")
    assert state == "queued", "the person goes back to the queue"
    assert not emu.tenant.methods_of(user["id"])
    assert "station stopped" in log
