"""The fido20 and u2f profiles, as python-fido2's clients see them."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from fido2.client import DefaultClientDataCollector, Fido2Client
from fido2.ctap import CtapError
from fido2.ctap1 import Ctap1
from fido2.ctap2 import ClientPin, Config, CredentialManagement, Ctap2
from fido2.hid import CAPABILITY, CtapHidDevice
from fido2.server import Fido2Server
from fido2.webauthn import PublicKeyCredentialRpEntity, PublicKeyCredentialUserEntity

from station_emulator.key import VirtualKey
from station_emulator.key.attestation import attestation_signer

ERR = CtapError.ERR
P = ClientPin.PERMISSION
ES256: list[Mapping[str, Any]] = [{"type": "public-key", "alg": -7}]


def test_fido20_has_no_config_credman_or_permission_tokens(ctap: Callable[[VirtualKey], Ctap2]) -> None:
    key = VirtualKey("fido20")
    session = ctap(key)
    assert session.info.versions == ["U2F_V2", "FIDO_2_0"]
    assert session.info.pin_uv_protocols == [1]
    for option in ("authnrCfg", "credMgmt", "pinUvAuthToken"):
        assert option not in session.info.options
    with pytest.raises(ValueError):
        Config(session)
    assert not CredentialManagement.is_supported(session.info)

    ClientPin(session).set_pin("246810")
    session = ctap(key)
    client = ClientPin(session)
    with pytest.raises(CtapError) as e:
        session.client_pin(1, ClientPin.CMD.GET_TOKEN_USING_PIN, permissions=P.MAKE_CREDENTIAL,
                           permissions_rpid="example.com")
    assert e.value.code == ERR.INVALID_SUBCOMMAND
    token = client.get_pin_token("246810", P.MAKE_CREDENTIAL, "example.com")
    cdh = os.urandom(32)
    made = session.make_credential(cdh, {"id": "example.com"}, {"id": b"u"}, ES256,
                                   pin_uv_param=client.protocol.authenticate(token, cdh), pin_uv_protocol=1)
    assert made.auth_data.is_user_verified()
    with pytest.raises(CtapError) as e:
        session.make_credential(os.urandom(32), {"id": "example.com"}, {"id": b"u"}, ES256)
    assert e.value.code == ERR.PUAT_REQUIRED


def test_u2f_profile_speaks_no_ctap2(plug: Callable[[VirtualKey], CtapHidDevice]) -> None:
    device = plug(VirtualKey("u2f"))
    assert not device.capabilities & CAPABILITY.CBOR
    with pytest.raises(ValueError):
        Ctap2(device)


def test_u2f_register_and_authenticate(plug: Callable[[VirtualKey], CtapHidDevice]) -> None:
    key = VirtualKey("u2f")
    ctap1 = Ctap1(plug(key))
    assert ctap1.get_version() == "U2F_V2"
    app, challenge = os.urandom(32), os.urandom(32)
    registration = ctap1.register(challenge, app)
    registration.verify(app, challenge)
    assert registration.certificate == attestation_signer(key.aaguid).certificate

    challenge = os.urandom(32)
    signature = ctap1.authenticate(challenge, app, registration.key_handle)
    signature.verify(app, challenge, registration.public_key)
    assert signature.user_presence & 1
    with pytest.raises(Exception) as e:
        ctap1.authenticate(challenge, os.urandom(32), registration.key_handle)
    assert getattr(e.value, "code", None) == 0x6A80


def test_u2f_key_registers_through_fido2_client(plug: Callable[[VirtualKey], CtapHidDevice]) -> None:
    server = Fido2Server(PublicKeyCredentialRpEntity(name="Example", id="example.com"))
    options, state = server.register_begin(PublicKeyCredentialUserEntity(name="ada", id=b"user-1"))
    client = Fido2Client(plug(VirtualKey("u2f")), DefaultClientDataCollector("https://example.com"))
    response = client.make_credential(options.public_key)
    auth_data = server.register_complete(state, response)
    assert response.response.attestation_object.fmt == "fido-u2f"
    assert auth_data.credential_data is not None
