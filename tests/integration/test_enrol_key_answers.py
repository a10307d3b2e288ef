"""A key whose makeCredential answer breaks the rules is refused before anything reaches Entra ID.

Each forged answer comes from a virtual key with ``Faults(forged=…)`` and runs through the real engine,
store and the Entra emulator over HTTPS: the enrolment ends with the forgery's own reason, no passkey is
registered (no POST reached Graph), the person is back in the queue, and the station goes on to enrol the
same person with the next, honest key.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from enrol_harness import Station, build_station
from support.waiting import wait_idle

from station.enroll.reasons import remedy_for
from station.events import EnrolmentDone, EnrolmentFailed
from station_emulator.entra import EntraEmulator
from station_emulator.key import VirtualKey
from station_emulator.key.faults import FORGERIES, Faults

V21 = "5a7e0000-2100-4000-8000-5a7e10000021"

REASONS = {
    "rp_id_hash": "key_rp_mismatch",
    "user_presence": "key_no_presence",
    "user_verification": "key_no_verification",
    "aaguid": "aaguid_mismatch",
    "long_credential_id": "credential_id_too_long",
    "attestation_signature": "attestation_invalid",
}


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=12, seed=31) as e:
        yield e


@pytest.fixture
def station(emu: EntraEmulator, tmp_path: Path) -> Iterator[Station]:
    s = build_station(emu, tmp_path, prefetch=0, allowed_aaguids=[V21])
    yield s
    s.close()


def registrations_of(emu: EntraEmulator, user_id: str) -> list[Any]:
    return [r for r in emu.request_log if r.method == "POST" and user_id in r.path and "fido2Methods" in r.path]


def test_every_forgery_is_covered() -> None:
    assert set(REASONS) == FORGERIES


@pytest.mark.parametrize("forgery", sorted(REASONS))
def test_a_forged_answer_registers_nothing(station: Station, emu: EntraEmulator, forgery: str) -> None:
    offset = sorted(REASONS).index(forgery)
    (user,) = station.queue_users(1, start=offset)
    forged_key = VirtualKey("fido21", faults=Faults(forged={forgery}))
    station.keys.insert(forged_key, slot="Hub 1")

    event = station.events.wait_for(EnrolmentFailed)
    assert event.reason == REASONS[forgery], event
    assert event.remedy == remedy_for(REASONS[forgery]) and not event.retryable
    assert event.enrolment_id is not None
    wait_idle(station.engine, 5)
    assert registrations_of(emu, user["id"]) == [], "the forged answer reached Graph"
    assert emu.tenant.methods_of(user["id"]) == []
    row = station.store.journal.get(event.enrolment_id)
    assert row is not None and row.state == "needs_reset" and row.error_reason == REASONS[forgery]
    assert row.credential_id is None and row.attestation_object is None
    assert station.store.queue.get(user["userPrincipalName"]).state == "queued"

    station.keys.remove("Hub 1")
    station.keys.insert(VirtualKey("fido21"), slot="Hub 2")
    done = station.events.wait_for(EnrolmentDone)
    assert done.upn == user["userPrincipalName"]
    assert len(emu.tenant.methods_of(user["id"])) == 1
