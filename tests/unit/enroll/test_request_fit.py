"""Fitting makeCredential to what a key takes: names cut on a UTF-8 boundary, the key's algorithms only, an
excludeList the key cannot take checked in pieces, and PIN protocol 1 for keys that need it — against virtual
keys of the real models that refuse each of these."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.ctap2.pin import PinProtocolV2
from fido2.hid import CtapHidDevice

from station.enroll import pin_protocol, request_fit
from station.errors import Reason, StationError
from station_emulator.key import Finger, VirtualKey
from station_emulator.key.ctaphid import open_virtual_device
from station_emulator.key.profiles import Quirk

RP = {"id": "login.microsoft.com", "name": "Microsoft"}
PIN = "40718293"


@pytest.fixture
def ctap() -> Iterator[Callable[[VirtualKey], Ctap2]]:
    """A fresh Ctap2 session on a key through its in-process CTAPHID face; devices closed afterwards."""
    devices: list[CtapHidDevice] = []

    def open_session(key: VirtualKey) -> Ctap2:
        devices.append(open_virtual_device(key))
        return Ctap2(devices[-1])

    yield open_session
    for device in devices:
        device.close()


def test_names_are_cut_to_64_bytes_without_splitting_a_character() -> None:
    assert request_fit.cut_utf8("ö" * 40, 64) == "ö" * 32
    assert request_fit.cut_utf8("a" + "ö" * 40, 64) == "a" + "ö" * 31
    assert request_fit.cut_utf8("Kim", 64) == "Kim"
    user = request_fit.fit_user({"id": b"x", "name": "€" * 30, "displayName": "Kim"})
    assert user["name"] == "€" * 21 and len(user["name"].encode()) <= 64 and user["displayName"] == "Kim"


def test_only_the_keys_algorithms_are_asked_for() -> None:
    asked = [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -257}]
    assert request_fit.key_algorithms(asked, [{"type": "public-key", "alg": -7}]) == asked[:1]
    assert request_fit.key_algorithms(asked, None) == asked, "a key that lists none gets the whole list"
    with pytest.raises(StationError) as e:
        request_fit.key_algorithms(asked[1:], [{"type": "public-key", "alg": -7}])
    assert e.value.reason is Reason.FEATURE_MISSING


def test_titan_and_feitian_take_the_fitted_request(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    for profile in ("titan-v2", "feitian-2.1pre"):
        key = VirtualKey(profile, finger=Finger.after(0))
        session = ctap(key)
        user, params, exclude = request_fit.fit(
            session, RP, {"id": b"u" * 32, "name": "ö" * 60, "displayName": "Ö" * 60},
            [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -257}], [], {})
        client_pin = pin_protocol.set_pin(session, pin_protocol.client_pin_for(session), PIN)
        token = client_pin.get_pin_token(PIN, client_pin.PERMISSION.MAKE_CREDENTIAL, RP["id"])
        cdh = os.urandom(32)
        made = session.make_credential(cdh, RP, user, params, exclude_list=exclude or None, options={"rk": True},
                                       pin_uv_param=client_pin.protocol.authenticate(token, cdh),
                                       pin_uv_protocol=client_pin.protocol.VERSION)
        assert made.auth_data.credential_data is not None, profile


def test_an_exclude_list_the_key_cannot_take_is_checked_in_pieces(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey("crescendo-v3", finger=Finger.after(0))  # maxCredentialCountInList 1, ids up to 94 bytes
    session = ctap(key)
    held = session.make_credential(os.urandom(32), RP, {"id": b"u", "name": "a"}, [{"type": "public-key",
                                   "alg": -7}]).auth_data.credential_data.credential_id
    strangers = [os.urandom(len(held)) for _ in range(3)]
    user = {"id": b"u", "name": "a", "displayName": "A"}
    params = [{"type": "public-key", "alg": -7}]
    _, _, exclude = request_fit.fit(session, RP, user, params, [*strangers, held, os.urandom(300)], {})
    assert exclude == [{"type": "public-key", "id": held}], "only the id the key knows is sent"
    with pytest.raises(CtapError) as e:
        session.make_credential(os.urandom(32), RP, user, params, exclude_list=exclude)
    assert e.value.code == CtapError.ERR.CREDENTIAL_EXCLUDED
    assert request_fit.fit(session, RP, user, params, strangers, {})[2] == [], "none known: nothing to exclude"


def test_pin_protocol_2_that_fails_falls_back_to_1(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey("yubikey5-5.7", quirks={Quirk.PIN_PROTOCOL_2_FAILS})
    session = ctap(key)
    first = pin_protocol.client_pin_for(session)
    assert isinstance(first.protocol, PinProtocolV2)
    used = pin_protocol.set_pin(session, first, PIN)
    assert used.protocol.VERSION == 1 and key.state.pin_set
    assert pin_protocol.client_pin_for(ctap(VirtualKey("etoken-fido"))).protocol.VERSION == 1
