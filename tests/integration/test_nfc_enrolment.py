"""A whole enrolment over the real NFC path: virtual key → vpcd → pcscd → NfcWatcher → engine → Entra emulator.

And the other thing a technician does at an NFC reader: lifting the key in the middle of the enrolment,
which must reach the engine and end the session (person back in the queue, nothing registered).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from enrol_harness import Station, build_station

from station.events import EnrolmentDone, EnrolmentFailed, KeyAttached, KeyRejected, KeyRemoved, TouchRequired
from station.hid.nfc import NfcWatcher
from station_emulator.entra import EntraEmulator
from station_emulator.key import Finger, VirtualKey
from station_emulator.key.profiles import Quirk
from station_emulator.key.vpcd import VpcdCard

if TYPE_CHECKING:
    from realstack import Pcscd

pytest_plugins = ["realstack"]
pytestmark = pytest.mark.realstack


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=4, seed=23) as e:
        yield e


@pytest.fixture
def nfc_station(emu: EntraEmulator, tmp_path: Path, running_pcscd: Pcscd) -> Iterator[Station]:
    station = build_station(emu, tmp_path, prefetch=0)
    watcher = NfcWatcher()
    watcher.start(station.engine.key_attached, station.engine.key_removed)
    try:
        yield station
    finally:
        watcher.stop()
        station.close()


def test_key_on_an_nfc_reader_is_enrolled_and_registered(nfc_station: Station, running_pcscd: Pcscd) -> None:
    (user,) = nfc_station.queue_users(1)
    key = VirtualKey("fido21", finger=Finger.after(0.2))
    with VpcdCard(key, port=running_pcscd.vpcd_port()):
        done = nfc_station.events.wait_for(EnrolmentDone, timeout=30)
        assert done.slot == f"NFC {running_pcscd.reader()}"
        assert done.upn == user["userPrincipalName"]
        assert nfc_station.events.wait_for(KeyAttached).transport == "nfc"
    nfc_station.events.wait_for(KeyRemoved, timeout=2)
    assert not nfc_station.events.of(EnrolmentFailed) and not nfc_station.events.of(KeyRejected)
    methods = nfc_station.emu.tenant.methods_of(user["id"])
    assert len(methods) == 1
    assert key.state.residents, "the passkey lives on the key"


def test_key_lifted_while_waiting_for_touch_ends_the_session(nfc_station: Station, running_pcscd: Pcscd) -> None:
    (user,) = nfc_station.queue_users(1, start=1)
    card = VpcdCard(VirtualKey("fido21", finger=Finger.never(timeout=20.0)), port=running_pcscd.vpcd_port())
    card.insert()
    try:
        nfc_station.events.wait_for(TouchRequired, timeout=30)
    finally:
        lifted = time.time()
        card.remove()
    failed = nfc_station.events.wait_for(EnrolmentFailed, timeout=5)
    assert failed.at - lifted < 2.0, "removal reaches the engine and ends the session promptly"
    assert failed.reason == "key_removed"
    assert not nfc_station.emu.tenant.methods_of(user["id"])


def test_a_small_key_with_real_keys_quirks_is_enrolled_over_nfc(nfc_station: Station, running_pcscd: Pcscd) -> None:
    """HID Crescendo V3 (maxMsgSize 510, one excludeList entry) that takes only short APDUs and lists PIN
    protocol 2 but fails it: the station sizes the request, chains short APDUs and falls back to protocol 1."""
    (user,) = nfc_station.queue_users(1, start=2)
    key = VirtualKey("crescendo-v3", quirks={Quirk.SHORT_APDUS_ONLY, Quirk.PIN_PROTOCOL_2_FAILS},
                     finger=Finger.after(0.2))
    with VpcdCard(key, port=running_pcscd.vpcd_port()):
        done = nfc_station.events.wait_for(EnrolmentDone, timeout=30)
        assert done.upn == user["userPrincipalName"]
    assert not nfc_station.events.of(EnrolmentFailed) and not nfc_station.events.of(KeyRejected)
    (method,) = nfc_station.emu.tenant.methods_of(user["id"])
    assert method.attestation_level == "attested" and key.state.residents
    kinds = {e.kind: e.detail for e in nfc_station.store.audit.entries()}
    assert kinds["pin_set"]["pin_protocol"] == 1 and key.state.force_pin_change
