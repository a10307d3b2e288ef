"""One key, one person, end to end: virtual key over CTAPHID, Entra emulator over HTTPS, real SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from enrol_harness import Station, build_station

from station.enroll.escrow import context_for, open_sealed
from station.events import EnrolmentDone, EnrolmentFailed, KeyRejected
from station_emulator.entra import EntraEmulator
from station_emulator.key import Finger, VirtualKey


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=80, seed=5) as e:
        yield e


@pytest.fixture
def station(emu: EntraEmulator, tmp_path: Path) -> Iterator[Station]:
    s = build_station(emu, tmp_path, prefetch=0)
    yield s
    s.close()


def test_one_key_is_enrolled_and_registered(station: Station) -> None:
    (user,) = station.queue_users(1)
    station.keys.insert(VirtualKey("fido21", finger=Finger.after(0.1)))
    done = station.events.wait_for(EnrolmentDone)
    assert not station.events.of(EnrolmentFailed) and not station.events.of(KeyRejected)
    assert done.upn == user["userPrincipalName"]
    methods = station.emu.tenant.methods_of(user["id"])
    assert len(methods) == 1 and methods[0].attestation_level == "attested"
    station.bus.flush()
    kinds = [e.kind for e in station.events.events if e.kind not in ("StepChanged", "StatusNote")]
    assert kinds == ["KeyAttached", "KeyInspected", "PersonClaimed", "TouchRequired", "Registered", "EnrolmentDone"]
    (row,) = station.store.journal.with_escrow()
    assert row.state == "done" and row.method_id == methods[0].id
    assert station.store.queue.get(user["userPrincipalName"]).state == "enrolled"
    pin = open_sealed(station.private_key(), row.pin_escrow, context_for(row.id))
    audit = station.store.audit.entries(enrolment_id=row.id)
    assert [e.kind for e in audit] == ["claimed", "pin_set", "credential_made", "registered", "pin_rules", "done"]
    assert row.pin_rules == "applied: PIN change forced at first use"
    assert all(pin not in str(e.detail) for e in audit)
