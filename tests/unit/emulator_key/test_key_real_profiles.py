"""Virtual keys that behave like real models: getInfo as the vendors declare it, and what those keys enforce."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any
from uuid import UUID

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, CredentialManagement, Ctap2
from fido2.ctap2.pin import PinProtocolV1, PinProtocolV2
from fido2.hid import CAPABILITY, CtapHidDevice

from station_emulator.key import Finger, VirtualKey
from station_emulator.key.nfc_applet import FidoApplet
from station_emulator.key.profiles import PROFILES, Quirk, real_key_profiles

ERR = CtapError.ERR
P = ClientPin.PERMISSION
RP = {"id": "login.microsoft.com", "name": "Microsoft"}
USER = {"id": b"u" * 32, "name": "kim@contoso.com", "displayName": "Kim"}
ES256: list[Mapping[str, Any]] = [{"type": "public-key", "alg": -7}]
REQUIRED = {"yubikey5-5.4", "yubikey5-5.7", "yubikey5-fips-5.7", "security-key-5.2", "titan-v2", "nitrokey3",
            "feitian-2.1pre", "crescendo-v3", "etoken-fido", "token2-pinplus"}
RECORDS = json.loads(resources.files("station_emulator.key").joinpath("real_keys.json").read_text())


def make(ctap: Ctap2, pin: str, *, user: Mapping[str, Any] = USER, params: list[Mapping[str, Any]] = ES256,
         exclude: list[Mapping[str, Any]] | None = None, protocol: Any = None) -> Any:
    client = ClientPin(ctap, protocol)
    token = client.get_pin_token(pin, P.MAKE_CREDENTIAL, RP["id"])
    cdh = os.urandom(32)
    return ctap.make_credential(cdh, RP, user, params, exclude_list=exclude, options={"rk": True},
                                pin_uv_param=client.protocol.authenticate(token, cdh),
                                pin_uv_protocol=client.protocol.VERSION)


def test_every_required_real_model_has_a_profile() -> None:
    assert set(real_key_profiles()) >= REQUIRED
    assert set(PROFILES) >= REQUIRED


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_get_info_is_what_the_model_declares(name: str, ctap: Callable[[VirtualKey], Ctap2]) -> None:
    declared = RECORDS[name]["getInfo"]
    info = ctap(VirtualKey(name)).info
    assert UUID(bytes=bytes(info.aaguid)) == UUID(RECORDS[name]["aaguid"])
    assert info.versions == declared["versions"]
    assert info.extensions == declared.get("extensions", [])
    assert info.pin_uv_protocols == declared.get("pinUvAuthProtocols", [])
    assert info.max_msg_size == declared.get("maxMsgSize", 1024)
    assert (info.max_creds_in_list or None) == declared.get("maxCredentialCountInList")
    assert (info.max_cred_id_length or None) == declared.get("maxCredentialIdLength")
    assert info.min_pin_length == declared.get("minPINLength", 4)
    assert [a["alg"] for a in info.algorithms or []] == [a["alg"] for a in declared.get("algorithms", [])]
    for option, value in declared["options"].items():
        assert option in info.options and (option == "clientPin" or info.options[option] == value), option


def test_a_request_over_max_msg_size_is_refused(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey("crescendo-v3", finger=Finger.after(0))
    session = ctap(key)
    ClientPin(session).set_pin("40718293")
    with pytest.raises(CtapError) as e:
        make(session, "40718293", user={**USER, "displayName": "K" * 400})
    assert e.value.code == ERR.REQUEST_TOO_LARGE
    assert make(session, "40718293").auth_data.credential_data is not None


def test_exclude_list_limits_are_enforced(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey("crescendo-v3", finger=Finger.after(0))
    session = ctap(key)
    ClientPin(session).set_pin("40718293")
    for exclude in ([{"type": "public-key", "id": os.urandom(40)}] * 2,
                    [{"type": "public-key", "id": os.urandom(95)}]):
        with pytest.raises(CtapError) as e:
            make(session, "40718293", exclude=exclude)
        assert e.value.code == ERR.LIMIT_EXCEEDED
    assert make(session, "40718293", exclude=[{"type": "public-key", "id": os.urandom(94)}])


def test_feitian_refuses_a_list_naming_an_algorithm_it_lacks(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey("feitian-2.1pre", finger=Finger.after(0))
    session = ctap(key)
    ClientPin(session).set_pin("40718293")
    with pytest.raises(CtapError) as e:
        make(session, "40718293", params=[*ES256, {"type": "public-key", "alg": -257}])
    assert e.value.code == ERR.UNSUPPORTED_ALGORITHM
    assert make(session, "40718293", params=ES256).auth_data.credential_data is not None


def test_titan_refuses_a_large_user_entity(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey("titan-v2", finger=Finger.after(0))
    session = ctap(key)
    ClientPin(session).set_pin("40718293")
    with pytest.raises(CtapError) as e:
        make(session, "40718293", user={**USER, "name": "ö" * 33})
    assert e.value.code == 0xF1
    assert make(session, "40718293", user={**USER, "name": "ö" * 32}).auth_data.credential_data is not None


def test_fips_key_needs_a_pin_of_eight_and_has_no_u2f(plug: Callable[[VirtualKey], CtapHidDevice]) -> None:
    key = VirtualKey("yubikey5-fips-5.7", finger=Finger.after(0))
    device = plug(key)
    assert device.capabilities & CAPABILITY.NMSG
    session = Ctap2(device)
    assert session.info.options["alwaysUv"] is True and "U2F_V2" not in session.info.versions
    with pytest.raises(CtapError) as e:
        session.make_credential(os.urandom(32), RP, USER, ES256, options={"rk": True})
    assert e.value.code == ERR.PIN_NOT_SET
    with pytest.raises(CtapError) as e:
        ClientPin(session).set_pin("4071829")
    assert e.value.code == ERR.PIN_POLICY_VIOLATION
    ClientPin(session).set_pin("40718293")
    assert make(Ctap2(plug(key)), "40718293").auth_data.credential_data is not None


def test_fido_2_1_pre_key_gives_legacy_tokens_and_preview_credential_management(
        ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey("yubikey5-5.4", finger=Finger.after(0))
    session = ctap(key)
    assert not ClientPin.is_token_supported(session.info)
    ClientPin(session).set_pin("40718293")
    response = make(session, "40718293")
    client = ClientPin(session)
    token = client.get_pin_token("40718293", P.CREDENTIAL_MGMT)
    manager = CredentialManagement(session, client.protocol, token)
    assert manager.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 1
    manager.delete_cred({"type": "public-key", "id": response.auth_data.credential_data.credential_id})
    assert key.state.residents == []


def test_a_key_that_lists_no_pin_protocol_takes_protocol_1(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey("etoken-fido", finger=Finger.after(0))
    session = ctap(key)
    assert session.info.pin_uv_protocols == [] and "clientPin" in session.info.options
    ClientPin(session, PinProtocolV1()).set_pin("40718293")
    assert make(session, "40718293", protocol=PinProtocolV1()).auth_data.credential_data is not None


def test_quirk_protocol_2_listed_but_failing(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey("yubikey5-5.7", quirks={Quirk.PIN_PROTOCOL_2_FAILS}, finger=Finger.after(0))
    session = ctap(key)
    assert 2 in session.info.pin_uv_protocols
    with pytest.raises(CtapError) as e:
        ClientPin(session, PinProtocolV2()).set_pin("40718293")
    assert e.value.code == ERR.PIN_AUTH_INVALID and not key.state.pin_set
    ClientPin(session, PinProtocolV1()).set_pin("40718293")
    assert make(session, "40718293", protocol=PinProtocolV1()).auth_data.credential_data is not None


def test_quirk_ignores_ctaphid_cancel(plug: Callable[[VirtualKey], CtapHidDevice]) -> None:
    key = VirtualKey("nitrokey3", quirks={Quirk.IGNORES_CANCEL}, finger=Finger.manual(timeout=10))
    session = Ctap2(plug(key))
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    touch = threading.Timer(1.0, key.finger.touch)
    timer.start()
    touch.start()
    try:
        response = session.make_credential(os.urandom(32), RP, USER, ES256, options={"rk": True}, event=cancel)
    finally:
        timer.cancel()
        touch.cancel()
    assert cancel.is_set() and response.auth_data.credential_data is not None


def test_quirk_short_apdus_only_over_nfc() -> None:
    applet = FidoApplet(VirtualKey("yubikey5-5.7", quirks={Quirk.SHORT_APDUS_ONLY}))
    applet.power_on()
    select = bytes.fromhex("00A4040008A0000006472F0001")
    assert applet.process(select)[-2:] == b"\x90\x00"
    get_info = bytes.fromhex("80100000") + b"\x00\x00\x01\x04\x00\x00"
    assert applet.process(get_info) == b"\x67\x00"
    answer = applet.process(bytes.fromhex("801000000104"))
    assert answer[0] == 0x00 and answer[-2] in (0x90, 0x61), "a short APDU is answered: status OK, getInfo follows"


def test_token2_pin_plus_takes_numeric_pins_only(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey("token2-pinplus")
    session = ctap(key)
    for refused in ("4071", "40718a93"):
        with pytest.raises(CtapError) as e:
            ClientPin(session).set_pin(refused)
        assert e.value.code == ERR.PIN_POLICY_VIOLATION and not key.state.pin_set
    ClientPin(session).set_pin("407182")
    assert key.state.pin_set
