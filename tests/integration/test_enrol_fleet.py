"""Fifty people enrolled by four keys at once, as a technician would: insert, touch, remove, next key.

Every registration is verified by the Entra emulator (attestation, challenge, user), and each key then
proves its passkey works: the escrowed PIN is opened with the operator's private key, the forced PIN
change is made, and a getAssertion signed by the new credential verifies against the registered key.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from enrol_harness import Station, build_station
from fido2.ctap2 import ClientPin, Ctap2
from fido2.utils import websafe_decode
from fido2.webauthn import AttestationObject
from support.store_helpers import recent_rows

from station.enroll.escrow import context_for, open_sealed
from station.events import EnrolmentDone, EnrolmentFailed, KeyRejected, PersonClaimed, TouchRequired
from station_emulator.entra import EntraEmulator
from station_emulator.key import Finger, VirtualKey
from station_emulator.key.ctaphid import open_virtual_device

PEOPLE = 50
SLOTS = 4


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=PEOPLE, seed=11) as e:
        yield e


@pytest.fixture
def station(emu: EntraEmulator, tmp_path: Path) -> Iterator[Station]:
    s = build_station(emu, tmp_path, prefetch=SLOTS, min_pin_length=8,
                      min_pin_length_rp_ids=["login.microsoft.com"])
    yield s
    s.close()


def technician(station: Station, slot: str, keys: list[VirtualKey], stop: threading.Event) -> None:
    """Insert a fresh key, wait for the slot's outcome, remove the key; until the queue runs dry."""
    def outcomes() -> int:
        return sum(len(station.events.of(kind, slot=slot)) for kind in (EnrolmentDone, KeyRejected, EnrolmentFailed))

    while not stop.is_set():
        before = outcomes()
        key = VirtualKey("fido21", finger=Finger.after(0.05))
        station.keys.insert(key, slot=slot)
        station.wait(lambda before=before: outcomes() > before, timeout=30)
        station.keys.remove(slot)
        if station.events.of(KeyRejected, slot=slot):
            return
        keys.append(key)


def prove_credential(key: VirtualKey, pin: str, attestation_b64: str, credential_b64: str) -> None:
    """Re-insert the key, make the forced PIN change, and verify a getAssertion with the registered key."""
    key.power_cycle()
    device = open_virtual_device(key)
    try:
        ctap = Ctap2(device)
        assert ctap.info.force_pin_change, "forceChangePin was not set as the last key-side step"
        client_pin = ClientPin(ctap)
        client_pin.change_pin(pin, "59173048")
        token = client_pin.get_pin_token("59173048", ClientPin.PERMISSION.GET_ASSERTION, "login.microsoft.com")
        cdh = os.urandom(32)
        credential_id = websafe_decode(credential_b64)
        assertion = ctap.get_assertion("login.microsoft.com", cdh, [{"type": "public-key", "id": credential_id}],
                                       pin_uv_param=client_pin.protocol.authenticate(token, cdh),
                                       pin_uv_protocol=client_pin.protocol.VERSION)
        credential_data = AttestationObject(websafe_decode(attestation_b64)).auth_data.credential_data
        assert credential_data is not None
        assertion.verify(cdh, credential_data.public_key)
    finally:
        device.close()


def test_fifty_people_four_keys_at_once(station: Station) -> None:
    users = station.queue_users(PEOPLE)
    started = time.monotonic()
    keys: list[VirtualKey] = []
    stop = threading.Event()
    threads = [threading.Thread(target=technician, args=(station, f"Hub {i + 1}", keys, stop))
               for i in range(SLOTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    stop.set()
    elapsed = time.monotonic() - started
    station.bus.flush()

    assert station.events.of(EnrolmentFailed) == []
    assert len(station.events.of(EnrolmentDone)) == PEOPLE
    assert station.store.queue.counts()["enrolled"] == PEOPLE
    rows = [r for r in recent_rows(station.store.journal, 200) if r.state == "done"]
    assert len(rows) == PEOPLE and len(keys) == PEOPLE
    by_fingerprint = {f"virtual-{k.serial}": k for k in keys}
    private_key = station.private_key()
    for user in users:
        methods = station.emu.tenant.methods_of(user["id"])
        assert len(methods) == 1, f"{user['userPrincipalName']} has {len(methods)} passkeys"
    for row in rows:
        person = station.store.queue.get_by_id(row.person_id)
        assert person is not None
        (method,) = station.emu.tenant.methods_of(person.object_id)
        assert method.credential_id == websafe_decode(row.credential_id)
        pin = open_sealed(private_key, row.pin_escrow, context_for(row.id))
        prove_credential(by_fingerprint[row.key_fingerprint], pin, row.attestation_object, row.credential_id)

    # Prefetching: no person's creation options were fetched between their touch and their registration.
    touched = {e.enrolment_id: e.at for e in station.events.of(TouchRequired)}
    for row in rows:
        person = station.store.queue.get_by_id(row.person_id)
        assert person is not None
        gets = [r.time for r in station.emu.request_log
                if r.method == "GET" and f"/users/{person.object_id}/" in r.path and "creationOptions" in r.path]
        assert gets and max(gets) < touched[row.id]
    assert len(station.events.of(PersonClaimed)) == PEOPLE
    assert elapsed < 60, f"took {elapsed:.1f} s"
