"""`already_registered` has two causes and two remedies. The key itself refusing (it holds a credential on the
person's exclude list, which Entra ID fills with that person's own passkeys) means the key is theirs: hand it
over. Entra ID refusing the registration means the passkey already exists there, perhaps for someone else: the
technician must not hand the key to this person."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from enrol_harness import Station, build_station

from station.events import EnrolmentFailed
from station_emulator.entra import EntraEmulator
from station_emulator.entra.codec import url_token_encode
from station_emulator.entra.tenant import Fido2Method
from station_emulator.key import Finger, VirtualKey


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=4, seed=23) as e:
        yield e


@pytest.fixture
def station(emu: EntraEmulator, tmp_path: Path) -> Iterator[Station]:
    s = build_station(emu, tmp_path, prefetch=0)
    yield s
    s.close()


def test_the_key_holding_the_persons_own_passkey_is_handed_to_them(station: Station, emu: EntraEmulator) -> None:
    (user,) = station.queue_users(1)
    key = VirtualKey("fido21", finger=Finger.after(0.1))
    old = key.credentials.create(hashlib.sha256(b"login.microsoft.com").digest(), -7, 1)
    emu.tenant.add_method(Fido2Method(id=url_token_encode(old.id), user_id=user["id"], credential_id=old.id,
                                      display_name="Old key", created=time.time(), aaguid=str(key.aaguid),
                                      model=None, attestation_level="attested", attestation_certificates=[]))
    station.keys.insert(key)
    failed = station.events.wait_for(EnrolmentFailed)
    assert failed.reason == "already_registered"
    assert "this person's own passkey" in failed.remedy and "Hand it to them" in failed.remedy


def test_a_passkey_entra_already_has_is_not_handed_to_this_person(station: Station, emu: EntraEmulator) -> None:
    station.queue_users(1, start=1)
    emu.faults.inject(409, path=r".*/fido2Methods$", method="POST")
    try:
        station.keys.insert(VirtualKey("fido21", finger=Finger.after(0.1)))
        failed = station.events.wait_for(EnrolmentFailed)
    finally:
        emu.faults.clear()
    assert failed.reason == "already_registered"
    assert "hand" not in failed.remedy.lower().replace("do not hand the key out", "")
    assert "perhaps for someone else" in failed.remedy and "Set it aside" in failed.remedy
