"""A key that comes back to a station: while its holder's passkey is live it is refused, naming the holder and
the revoke command, and never reset; once revoked, ``used_key = "reset"`` resets it (the old record becomes
``reset``) and it is enrolled for the next person. Engine + virtual keys + the Entra emulator over HTTPS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from enrol_harness import Station, build_station
from sqlalchemy import text
from support.waiting import wait_idle

from station.events import EnrolmentDone, KeyRejected
from station.lifecycle.revoke import RevokeReason, revoke
from station_emulator.entra import EntraEmulator
from station_emulator.key import Finger, VirtualKey


@pytest.fixture
def station(emu: EntraEmulator, tmp_path: Path) -> Iterator[Station]:
    s = build_station(emu, tmp_path, prefetch=0, used_key="reset")
    yield s
    s.close()


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=6, seed=41) as e:
        yield e


def enrol_then_age(station: Station, key: VirtualKey) -> None:
    """Enrol the first queued person with ``key``, take it out, and let two days pass (the journal says so)."""
    station.keys.insert(key, slot="Hub 1")
    station.events.wait_for(EnrolmentDone)
    assert wait_idle(station.engine, 10)
    station.keys.remove("Hub 1")
    with station.store.engine.begin() as conn:
        conn.execute(text("UPDATE enrolment SET updated_at = updated_at - 2 * 86400"))
    station.events.events.clear()


def next_rejection(station: Station) -> KeyRejected:
    event = station.events.wait_for(KeyRejected)
    assert wait_idle(station.engine, 10)
    station.keys.remove("Hub 1")
    station.events.events.clear()
    return event


def test_a_returned_key_is_refused_until_revoked_then_reset_for_the_next_person(station: Station) -> None:
    ann, bo = station.queue_users(1)[0], station.queue_users(1, start=1)[0]
    key = VirtualKey("fido21", finger=Finger.after(0.05))
    enrol_then_age(station, key)
    (record,) = station.store.inventory.find()
    assert record.upn == ann["userPrincipalName"]

    station.keys.insert(key, slot="Hub 1")
    refused = next_rejection(station)
    assert refused.reason == "key_belongs_to_someone"
    assert refused.message == (f"this key belongs to {ann['displayName']} — revoke it first "
                               f"(station keys revoke --serial {record.identity} --reason …)")
    assert len(key.state.residents) == 1 and key.state.pin_set, "the holder's key is never reset"
    assert station.store.queue.get(bo["userPrincipalName"]).state == "queued"
    assert station.store.inventory.get(record.id).state == "active"

    revoke(station.store.inventory, station.entra.passkeys, station.store.audit, station.store.queue, record,
           RevokeReason.LEFT)
    assert station.emu.tenant.methods_of(ann["id"]) == []

    station.keys.insert(key, slot="Hub 1")
    assert next_rejection(station).reason == "key_needs_reset"
    assert station.store.inventory.get(record.id).state == "returned"
    station.keys.insert(key, slot="Hub 1")
    done = station.events.wait_for(EnrolmentDone)
    assert done.upn == bo["userPrincipalName"]
    assert wait_idle(station.engine, 10)
    states = {k.upn: k.state for k in station.store.inventory.find()}
    assert states == {ann["userPrincipalName"]: "reset", bo["userPrincipalName"]: "active"}
    assert len(key.state.residents) == 1

