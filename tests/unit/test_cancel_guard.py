"""A USB key that ignores CTAPHID CANCEL ends the call a grace period after the cancel, instead of never."""

from __future__ import annotations

import os
import threading
import time

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.hid import CtapHidDevice
from fido2.hid.base import HidDescriptor

from station.errors import KeyOperationError, Reason
from station.hid.cancel_guard import CancelGuard
from station_emulator.key import Finger, VirtualKey
from station_emulator.key.ctaphid import CtapHidResponder, VirtualHidConnection
from station_emulator.key.profiles import Quirk

RP = {"id": "login.microsoft.com", "name": "Microsoft"}
USER = {"id": b"u", "name": "kim"}
ES256 = [{"type": "public-key", "alg": -7}]


def guarded(key: VirtualKey, grace: float) -> CtapHidDevice:
    descriptor = HidDescriptor("virtual:guard", 0x1209, 0x0001, 64, 64, "test", key.serial)
    return CtapHidDevice(descriptor, CancelGuard(VirtualHidConnection(CtapHidResponder(key)), grace=grace))


def make_credential_cancelled_after(device: CtapHidDevice, seconds: float) -> float:
    cancel = threading.Event()
    timer = threading.Timer(seconds, cancel.set)
    timer.start()
    started = time.monotonic()
    try:
        Ctap2(device).make_credential(os.urandom(32), RP, USER, ES256, event=cancel)
    finally:
        timer.cancel()
        device.close()
    return time.monotonic() - started


def test_a_key_deaf_to_the_cancel_is_given_up_after_the_grace() -> None:
    key = VirtualKey("nitrokey3", quirks={Quirk.IGNORES_CANCEL}, finger=Finger.never(timeout=60))
    started = time.monotonic()
    with pytest.raises(KeyOperationError) as e:
        make_credential_cancelled_after(guarded(key, grace=0.5), 0.2)
    assert time.monotonic() - started < 10, "not left waiting for the key's own 60 s"
    assert e.value.reason is Reason.KEY_ERROR and "still busy" in e.value.message


def test_a_key_that_honours_the_cancel_answers_as_before() -> None:
    key = VirtualKey("nitrokey3", finger=Finger.never(timeout=60))
    with pytest.raises(CtapError) as e:
        make_credential_cancelled_after(guarded(key, grace=0.5), 0.2)
    assert e.value.code == CtapError.ERR.KEEPALIVE_CANCEL
    touched = VirtualKey("nitrokey3", finger=Finger.after(0.1))
    device = guarded(touched, grace=0.5)
    try:
        assert Ctap2(device).make_credential(os.urandom(32), RP, USER, ES256).auth_data.credential_data
    finally:
        device.close()
