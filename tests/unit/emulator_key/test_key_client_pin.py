"""clientPIN as python-fido2's ClientPin sees it: protocols, retries, power cycle, blocking, tokens."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, Config, Ctap2
from fido2.ctap2.pin import PinProtocol, PinProtocolV1, PinProtocolV2

from station_emulator.key import VirtualKey

ERR = CtapError.ERR
P = ClientPin.PERMISSION
RP = "login.microsoft.com"
USER = {"id": b"user-1", "name": "ada@example.com", "displayName": "Ada"}
ES256: list[Mapping[str, Any]] = [{"type": "public-key", "alg": -7}]


def make_credential(ctap: Ctap2, protocol: PinProtocol, token: bytes, rp_id: str = RP, **kw: object) -> object:
    cdh = os.urandom(32)
    return ctap.make_credential(
        cdh, {"id": rp_id, "name": rp_id}, USER, ES256,
        pin_uv_param=protocol.authenticate(token, cdh), pin_uv_protocol=protocol.VERSION, **kw,  # type: ignore[arg-type]
    )


def with_pin(ctap: Callable[[VirtualKey], Ctap2], key: VirtualKey, pin: str = "246810") -> Ctap2:
    ClientPin(ctap(key)).set_pin(pin)
    return ctap(key)


@pytest.mark.parametrize("protocol", [PinProtocolV1(), PinProtocolV2()], ids=["v1", "v2"])
def test_pin_set_and_token_works_with_both_protocols(ctap: Callable[[VirtualKey], Ctap2],
                                                     protocol: PinProtocol) -> None:
    key = VirtualKey()
    session = ctap(key)
    ClientPin(session, protocol).set_pin("246810")
    session = ctap(key)
    assert session.info.options["clientPin"] is True
    token = ClientPin(session, protocol).get_pin_token("246810", P.MAKE_CREDENTIAL, RP)
    response = make_credential(session, protocol, token)
    assert response.auth_data.is_user_verified()  # type: ignore[attr-defined]


def test_three_wrong_pins_require_a_power_cycle(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey()
    client = ClientPin(with_pin(ctap, key))
    for expected in (ERR.PIN_INVALID, ERR.PIN_INVALID, ERR.PIN_AUTH_BLOCKED):
        with pytest.raises(CtapError) as e:
            client.get_pin_token("000000", P.MAKE_CREDENTIAL, RP)
        assert e.value.code == expected
    with pytest.raises(CtapError) as e:
        client.get_pin_token("246810", P.MAKE_CREDENTIAL, RP)
    assert e.value.code == ERR.PIN_AUTH_BLOCKED
    assert client.get_pin_retries() == (5, True)

    key.power_cycle()
    client = ClientPin(ctap(key))
    assert client.get_pin_retries() == (5, False)
    client.get_pin_token("246810", P.MAKE_CREDENTIAL, RP)
    assert client.get_pin_retries() == (8, False)


def test_eight_wrong_pins_block_the_key(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey()
    with_pin(ctap, key)
    codes = []
    for _ in range(3):
        client = ClientPin(ctap(key))
        for _ in range(3):
            try:
                client.get_pin_token("000000", P.MAKE_CREDENTIAL, RP)
            except CtapError as failure:
                codes.append(failure.code)
            if client.get_pin_retries()[0] == 0:
                break
        key.power_cycle()
    assert codes[-1] == ERR.PIN_BLOCKED
    assert codes.count(ERR.PIN_BLOCKED) == 1 and len(codes) == 8
    client = ClientPin(ctap(key))
    assert client.get_pin_retries()[0] == 0
    with pytest.raises(CtapError) as e:
        client.get_pin_token("246810", P.MAKE_CREDENTIAL, RP)
    assert e.value.code == ERR.PIN_BLOCKED


def test_pin_shorter_than_minimum_is_refused(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey(min_pin_length=6)
    session = ctap(key)
    assert session.info.min_pin_length == 6
    with pytest.raises(CtapError) as e:
        ClientPin(session).set_pin("12345")
    assert e.value.code == ERR.PIN_POLICY_VIOLATION
    ClientPin(session).set_pin("123456")


def test_set_pin_twice_is_not_allowed_but_change_pin_works(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey()
    client = ClientPin(with_pin(ctap, key))
    with pytest.raises(CtapError) as e:
        client.set_pin("135790")
    assert e.value.code == ERR.NOT_ALLOWED
    client.change_pin("246810", "135790")
    with pytest.raises(CtapError) as e:
        client.get_pin_token("246810", P.MAKE_CREDENTIAL, RP)
    assert e.value.code == ERR.PIN_INVALID
    client.get_pin_token("135790", P.MAKE_CREDENTIAL, RP)


def test_token_is_bound_to_its_rp_and_permissions(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey()
    session = with_pin(ctap, key)
    client = ClientPin(session)
    token = client.get_pin_token("246810", P.MAKE_CREDENTIAL, RP)
    with pytest.raises(CtapError) as e:
        make_credential(session, client.protocol, token, rp_id="evil.example")
    assert e.value.code == ERR.PIN_AUTH_INVALID

    assertion_only = client.get_pin_token("246810", P.GET_ASSERTION, RP)
    with pytest.raises(CtapError) as e:
        make_credential(session, client.protocol, assertion_only)
    assert e.value.code == ERR.PIN_AUTH_INVALID


def test_make_credential_clears_token_permissions(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey()
    session = with_pin(ctap, key)
    client = ClientPin(session)
    token = client.get_pin_token("246810", P.MAKE_CREDENTIAL | P.AUTHENTICATOR_CFG, RP)
    make_credential(session, client.protocol, token)
    with pytest.raises(CtapError) as e:
        Config(session, client.protocol, token).set_min_pin_length(8)
    assert e.value.code == ERR.PIN_AUTH_INVALID
    fresh = client.get_pin_token("246810", P.AUTHENTICATOR_CFG)
    Config(session, client.protocol, fresh).set_min_pin_length(8)
    assert ctap(key).info.min_pin_length == 8


def test_credential_needs_uv_once_a_pin_is_set(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey()
    session = with_pin(ctap, key)
    with pytest.raises(CtapError) as e:
        session.make_credential(hashlib.sha256(b"x").digest(), {"id": RP}, USER, ES256, options={"rk": True})
    assert e.value.code == ERR.PUAT_REQUIRED


def test_unsupported_permission_is_refused(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey()
    client = ClientPin(with_pin(ctap, key))
    with pytest.raises(CtapError) as e:
        client.get_pin_token("246810", P.BIO_ENROLL)
    assert e.value.code == ERR.UNAUTHORIZED_PERMISSION
