"""A key whose enrolment was resolved as done after a restart is shown done, not "already has a PIN".

The station dies right after the registration's journal write (the session's thread ends there, leaving
the key, the store and Entra as a power cut would); a new station on the same store reconciles the row to
done. The technician puts the key back: the station finds its passkey on it (a silent check, no PIN) and
says "Done — remove the key". A used key that this store did not enrol is still refused as used.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from enrol_harness import build_station
from support.waiting import wait_idle

from station.enroll.ports import Step
from station.events import EnrolmentDone, KeyRejected, PersonClaimed
from station_emulator.entra import EntraEmulator
from station_emulator.key import Finger, VirtualKey


class DiesAfterRegistered:
    """The store's journal, except that the session's thread ends right after the REGISTERED write."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def advance(self, enrolment_id: int, state: Any = None, **fields: Any) -> Any:
        row = self.inner.advance(enrolment_id, state, **fields)
        if state == Step.REGISTERED:
            raise SystemExit
        return row


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=6, seed=41) as e:
        yield e


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_key_resolved_as_done_after_a_restart_is_shown_done(emu: EntraEmulator, tmp_path: Path) -> None:
    first = build_station(emu, tmp_path, prefetch=0, journal=DiesAfterRegistered)
    try:
        (user,) = first.queue_users(1)
        key = VirtualKey("fido21", finger=Finger.after(0.1))
        first.keys.insert(key, slot="usb-1")
        claimed = first.events.wait_for(PersonClaimed)
        assert wait_idle(first.engine, 20)
    finally:
        first.close()

    second = build_station(emu, tmp_path, prefetch=0, start=False)
    try:
        assert second.engine.start().resolved == {claimed.enrolment_id: "done"}
        assert key.state.pin_set
        key.power_cycle()
        second.keys.insert(key, slot="usb-1")
        done = second.events.wait_for(EnrolmentDone, slot="usb-1")
        assert done.enrolment_id == claimed.enrolment_id and done.upn == user["userPrincipalName"]
        assert not second.events.of(KeyRejected), "not refused as a used key"
        assert len(emu.tenant.methods_of(user["id"])) == 1
        second.keys.remove("usb-1")

        used = VirtualKey("fido21", finger=Finger.after(0.1))
        used.state.pin_hash = key.state.pin_hash
        second.keys.insert(used, slot="usb-2")
        rejected = second.events.wait_for(KeyRejected, slot="usb-2")
        assert rejected.reason == "pin_already_set", "a used key this store did not enrol is still refused"
    finally:
        second.close()
