"""authenticatorConfig through python-fido2's Config: minimum PIN length, forced change, alwaysUv, ep."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from cryptography import x509
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, Config, Ctap2

from station_emulator.key import VirtualKey

ERR = CtapError.ERR
P = ClientPin.PERMISSION
RP = "login.microsoft.com"
USER = {"id": b"user-1", "name": "ada@example.com"}
ES256: list[Mapping[str, Any]] = [{"type": "public-key", "alg": -7}]
PIN = "246810"


def configured(ctap: Callable[[VirtualKey], Ctap2], key: VirtualKey) -> tuple[Ctap2, ClientPin, Config]:
    ClientPin(ctap(key)).set_pin(PIN)
    session = ctap(key)
    client = ClientPin(session)
    token = client.get_pin_token(PIN, P.AUTHENTICATOR_CFG)
    return session, client, Config(session, client.protocol, token)


def test_force_change_pin_blocks_tokens_until_the_pin_is_changed(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey()
    _, client, config = configured(ctap, key)
    config.set_min_pin_length(8, rp_ids=[RP], force_change_pin=True)
    info = ctap(key).info
    assert info.force_pin_change is True and info.min_pin_length == 8

    with pytest.raises(CtapError) as e:
        client.get_pin_token(PIN, P.MAKE_CREDENTIAL, RP)
    assert e.value.code == ERR.PIN_POLICY_VIOLATION
    with pytest.raises(CtapError) as e:
        client.change_pin(PIN, "1357913")
    assert e.value.code == ERR.PIN_POLICY_VIOLATION

    client.change_pin(PIN, "13579135")
    assert ctap(key).info.force_pin_change is False
    client.get_pin_token("13579135", P.MAKE_CREDENTIAL, RP)


def test_raising_minimum_above_current_pin_forces_a_change(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey()
    _, client, config = configured(ctap, key)
    config.set_min_pin_length(10)
    assert ctap(key).info.force_pin_change is True
    with pytest.raises(CtapError) as e:
        client.get_pin_token(PIN, P.MAKE_CREDENTIAL, RP)
    assert e.value.code == ERR.PIN_POLICY_VIOLATION


def test_minimum_cannot_be_lowered(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey(min_pin_length=6)
    _, _, config = configured(ctap, key)
    with pytest.raises(CtapError) as e:
        config.set_min_pin_length(4)
    assert e.value.code == ERR.PIN_POLICY_VIOLATION


def test_min_pin_length_extension_answers_listed_rps_only(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey()
    session, client, config = configured(ctap, key)
    config.set_min_pin_length(6, rp_ids=[RP])
    outputs = {}
    for rp_id in (RP, "other.example"):
        token = client.get_pin_token(PIN, P.MAKE_CREDENTIAL, rp_id)
        cdh = os.urandom(32)
        response = session.make_credential(
            cdh, {"id": rp_id}, USER, ES256, extensions={"minPinLength": True},
            pin_uv_param=client.protocol.authenticate(token, cdh), pin_uv_protocol=client.protocol.VERSION,
        )
        outputs[rp_id] = response.auth_data.extensions or {}
    assert outputs[RP] == {"minPinLength": 6}
    assert "minPinLength" not in outputs["other.example"]


def test_config_needs_a_token_once_a_pin_is_set(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey()
    session, _, _ = configured(ctap, key)
    with pytest.raises(CtapError) as e:
        Config(session).set_min_pin_length(8)
    assert e.value.code == ERR.PUAT_REQUIRED


def test_always_uv_requires_a_token_for_every_credential(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey()
    Config(ctap(key)).toggle_always_uv()
    session = ctap(key)
    assert session.info.options["alwaysUv"] is True
    with pytest.raises(CtapError) as e:
        session.make_credential(os.urandom(32), {"id": RP}, USER, ES256)
    assert e.value.code == ERR.PUAT_REQUIRED


def test_enterprise_attestation_only_once_enabled(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey(enterprise_attestation=True, serial="00424242")
    session = ctap(key)
    assert session.info.options["ep"] is False
    with pytest.raises(CtapError) as e:
        session.make_credential(os.urandom(32), {"id": RP}, USER, ES256, enterprise_attestation=2)
    assert e.value.code == ERR.INVALID_PARAMETER

    Config(session).enable_enterprise_attestation()
    session = ctap(key)
    assert session.info.options["ep"] is True
    response = session.make_credential(os.urandom(32), {"id": RP}, USER, ES256, enterprise_attestation=2)
    assert response.ep_att is True
    cert = x509.load_der_x509_certificate(response.att_stmt["x5c"][0])
    assert "00424242" in cert.subject.rfc4514_string()


def test_key_without_enterprise_attestation_has_no_ep_option(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    session = ctap(VirtualKey())
    assert "ep" not in session.info.options
    with pytest.raises(CtapError) as e:
        Config(session).enable_enterprise_attestation()
    assert e.value.code == ERR.UNSUPPORTED_OPTION
