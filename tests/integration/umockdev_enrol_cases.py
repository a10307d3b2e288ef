"""Whole enrolments over the real USB path; test_usb_enrolment.py runs this module under umockdev-wrapper.

A virtual key plugged into a umockdev hidraw port → pyudev → ``UsbWatcher`` → engine, which talks
CTAP2 to the key through fido2's unmodified Linux backend and registers the passkey with the Entra
emulator over HTTPS. And the other thing a technician does at a USB port: pulling the key while it
waits for a touch, which must end the session and give the person back to the queue.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from enrol_harness import Station, build_station
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, Ctap2
from fido2.hid import CtapHidDevice
from fido2.hid.linux import get_descriptor, open_connection
from fido2.utils import websafe_decode
from fido2.webauthn import AttestationObject
from support.store_helpers import assign_key
from support.waiting import wait_idle

from station.enroll.escrow import context_for, open_sealed
from station.events import (
    EnrolmentDone,
    EnrolmentFailed,
    KeyAttached,
    KeyRejected,
    KeyRemoved,
    TouchRequired,
)
from station.hid.usb import UsbWatcher
from station_emulator.entra import EntraEmulator
from station_emulator.key import Finger, VirtualKey
from station_emulator.key.profiles import Quirk
from station_emulator.key.umockdev_hid import HidrawHandle, HidrawTestbed

RP_ID = "login.microsoft.com"
NEW_PIN = "40718293"


@dataclass
class UsbStation:
    station: Station
    testbed: HidrawTestbed
    watcher: UsbWatcher


@pytest.fixture(scope="module")
def emu() -> Iterator[EntraEmulator]:
    with EntraEmulator(users=4, seed=61) as e:
        yield e


@pytest.fixture
def usb(emu: EntraEmulator, tmp_path: Path) -> Iterator[UsbStation]:
    station = build_station(emu, tmp_path, prefetch=0, force_pin_change=True)
    testbed = HidrawTestbed()
    watcher = UsbWatcher()
    watcher.start(station.engine.key_attached, station.engine.key_removed)
    try:
        yield UsbStation(station, testbed, watcher)
    finally:
        watcher.stop()
        testbed.close()
        station.close()


def open_hidraw(handle: HidrawHandle) -> CtapHidDevice:
    """The key as any FIDO client on this machine would open it: /dev/hidrawN through fido2's Linux backend."""
    descriptor = get_descriptor(handle.devnode)
    return CtapHidDevice(descriptor, open_connection(descriptor))


def test_key_plugged_into_usb_is_enrolled_and_registered(usb: UsbStation) -> None:
    station = usb.station
    (user,) = station.queue_users(1)
    key = VirtualKey("fido21", finger=Finger.after(0.3))
    handle = usb.testbed.add_fido_key(key, port="1-2")

    done = station.events.wait_for(EnrolmentDone, timeout=20)
    assert (done.slot, done.upn) == ("USB 1-2", user["userPrincipalName"])
    attached = station.events.wait_for(KeyAttached, timeout=0)
    assert (attached.transport, attached.fingerprint) == ("usb", "usb-1-2")
    assert wait_idle(station.engine, 5)
    assert not station.events.of(EnrolmentFailed) and not station.events.of(KeyRejected)

    person = station.store.queue.get(user["userPrincipalName"])
    assert person.state == "enrolled"
    (row,) = station.store.journal.for_person(person.id)
    assert (row.state, row.transport, row.slot, row.key_fingerprint) == ("done", "usb", "USB 1-2", "usb-1-2")
    assert row.credential_id and row.pin_escrow and row.attestation_object
    (method,) = station.emu.tenant.methods_of(user["id"])
    assert method.credential_id == websafe_decode(row.credential_id)
    assert row.method_id == method.id

    pin = open_sealed(station.private_key(), row.pin_escrow, context_for(row.id))
    device = open_hidraw(handle)
    try:
        ctap = Ctap2(device)
        assert ctap.info.options.get("clientPin") is True, "the key has no PIN"
        assert ctap.info.force_pin_change, "forceChangePin was not set"
        client_pin = ClientPin(ctap)
        with pytest.raises(CtapError) as refused:
            client_pin.get_pin_token(pin, ClientPin.PERMISSION.GET_ASSERTION, RP_ID)
        assert refused.value.code == CtapError.ERR.PIN_POLICY_VIOLATION
        # The escrowed PIN is the key's PIN: it makes the forced change, and the registered passkey signs.
        client_pin.change_pin(pin, NEW_PIN)
        token = client_pin.get_pin_token(NEW_PIN, ClientPin.PERMISSION.GET_ASSERTION, RP_ID)
        cdh = os.urandom(32)
        assertion = ctap.get_assertion(RP_ID, cdh, [{"type": "public-key", "id": method.credential_id}],
                                       pin_uv_param=client_pin.protocol.authenticate(token, cdh),
                                       pin_uv_protocol=client_pin.protocol.VERSION)
        credential_data = AttestationObject(websafe_decode(row.attestation_object)).auth_data.credential_data
        assert credential_data is not None
        assertion.verify(cdh, credential_data.public_key)
    finally:
        device.close()


def test_key_pulled_while_waiting_for_touch_ends_the_session(usb: UsbStation) -> None:
    station = usb.station
    (user,) = station.queue_users(1, start=1)
    key = VirtualKey("fido21", finger=Finger.never(timeout=20.0))
    handle = usb.testbed.add_fido_key(key, port="1-3")
    try:
        touch = station.events.wait_for(TouchRequired, timeout=20)
    finally:
        pulled = time.time()
        usb.testbed.remove(handle)
    assert touch.slot == "USB 1-3"

    failed = station.events.wait_for(EnrolmentFailed, timeout=5)
    assert failed.at - pulled < 2.0, "removal reaches the engine and ends the session promptly"
    assert (failed.reason, failed.slot, failed.upn) == ("key_removed", "USB 1-3", user["userPrincipalName"])
    assert station.events.wait_for(KeyRemoved, timeout=1).slot == "USB 1-3"
    assert wait_idle(station.engine, 2)
    assert station.store.queue.get(user["userPrincipalName"]).state == "queued"
    assert station.emu.tenant.methods_of(user["id"]) == []
    assert key.state.residents == []
    assert not station.events.of(EnrolmentDone)


def test_a_key_deaf_to_the_cancel_frees_its_slot(usb: UsbStation) -> None:
    """A key that ignores CTAPHID CANCEL (Trussed firmware) is given up a grace period after the station's
    time limit cancels it, instead of holding the session until someone pulls it out."""
    station = usb.station
    (user,) = station.queue_users(1, start=2)
    station.engine.ctx.stall_margin = 1.0
    station.engine.ctx.policy.touch_timeout_seconds = 1.0
    key = VirtualKey("yubikey5-5.7", quirks={Quirk.IGNORES_CANCEL}, finger=Finger.never(timeout=60.0))
    handle = usb.testbed.add_fido_key(key, port="1-5")
    try:
        station.events.wait_for(TouchRequired, timeout=20)
        touch = time.monotonic()
        failed = station.events.wait_for(EnrolmentFailed, timeout=20)
        assert time.monotonic() - touch < 15, "the session did not wait for the key's own 60 s"
        assert failed.reason in ("touch_timeout", "key_error") and failed.upn == user["userPrincipalName"]
        assert wait_idle(station.engine, 5)
        assert station.store.queue.get(user["userPrincipalName"]).state == "queued"
    finally:
        usb.testbed.remove(handle)


def test_a_yubikey_preassigned_by_its_printed_serial_is_served_over_usb(usb: UsbStation) -> None:
    """A YubiKey has no USB serial string: yubikit reads the printed serial over hidraw (CTAPHID vendor
    command), and the key goes to the person it was pre-assigned to, not to the first in the queue."""
    station = usb.station
    first, owner = station.queue_users(2, start=2)
    assign_key(station.store.queue, owner["userPrincipalName"], "27182818")
    key = VirtualKey("yubikey5-5.7", serial="27182818", finger=Finger.after(0.1))
    usb.testbed.add_fido_key(key, port="1-4")
    done = station.events.wait_for(EnrolmentDone, timeout=30)
    assert done.upn == owner["userPrincipalName"]
    assert wait_idle(station.engine, 5)
    (record,) = station.store.inventory.find()
    assert (record.serial, record.identity, record.upn) == ("27182818", "27182818", owner["userPrincipalName"])
    assert station.store.queue.get(first["userPrincipalName"]).state == "queued"
