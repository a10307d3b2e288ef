"""authenticatorReset: only within 10 s of power-up, only with a touch; wipes PIN and credentials."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, Ctap2

from station_emulator.key import Finger, VirtualKey

ERR = CtapError.ERR
USER = {"id": b"user-1", "name": "ada@example.com"}
ES256: list[Mapping[str, Any]] = [{"type": "public-key", "alg": -7}]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def used_key(ctap: Callable[[VirtualKey], Ctap2], clock: FakeClock) -> tuple[VirtualKey, bytes]:
    key = VirtualKey(clock=clock)
    made = ctap(key).make_credential(os.urandom(32), {"id": "example.com"}, USER, ES256, options={"rk": True})
    ClientPin(ctap(key)).set_pin("246810")
    assert made.auth_data.credential_data is not None
    return key, made.auth_data.credential_data.credential_id


def test_reset_within_ten_seconds_of_power_up_wipes_the_key(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    clock = FakeClock()
    key, cred_id = used_key(ctap, clock)
    serial = key.serial
    clock.now += 9.5
    ctap(key).reset()
    session = ctap(key)
    assert session.info.options["clientPin"] is False
    assert session.info.remaining_disc_creds == 25
    with pytest.raises(CtapError) as e:
        session.get_assertion("example.com", os.urandom(32), [{"type": "public-key", "id": cred_id}])
    assert e.value.code == ERR.NO_CREDENTIALS
    assert key.serial == serial


def test_reset_after_the_window_needs_a_reinsertion(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    clock = FakeClock()
    key, _ = used_key(ctap, clock)
    clock.now += 10.5
    with pytest.raises(CtapError) as e:
        ctap(key).reset()
    assert e.value.code == ERR.NOT_ALLOWED
    assert ctap(key).info.options["clientPin"] is True

    clock.now += 100
    key.power_cycle()
    clock.now += 2
    ctap(key).reset()
    assert ctap(key).info.options["clientPin"] is False


def test_reset_refused_without_touch(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    clock = FakeClock()
    key, _ = used_key(ctap, clock)
    key.finger = Finger.deny()
    with pytest.raises(CtapError) as e:
        ctap(key).reset()
    assert e.value.code == ERR.OPERATION_DENIED
    assert ctap(key).info.options["clientPin"] is True
