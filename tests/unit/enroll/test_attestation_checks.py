"""The attestation part of the station's check of a makeCredential answer, per format: packed with a
certificate or self-signed by the credential key, none, and a format nobody knows."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.ctap2 import AttestationResponse
from fido2.webauthn import AttestedCredentialData, AuthenticatorData

from station.enroll.attestation_checks import check_answer
from station.errors import Reason, StationError
from station_emulator.key.attestation import attestation_signer
from station_emulator.key.profiles import get_profile

RP_ID = "login.microsoft.com"
AAGUID = get_profile("fido21").default_aaguid
CLIENT_DATA_HASH = hashlib.sha256(b"client data").digest()
FLAGS = AuthenticatorData.FLAG.UP | AuthenticatorData.FLAG.UV | AuthenticatorData.FLAG.AT


def answer(fmt: str, statement: Any | None = None, *, self_signed: bool = False,
           signed_hash: bytes = CLIENT_DATA_HASH) -> AttestationResponse:
    """A makeCredential answer for RP_ID in ``fmt``; packed is signed by the model's certificate, or with
    ``self_signed`` by the credential key itself, over authData || ``signed_hash``."""
    credential_key = ec.generate_private_key(ec.SECP256R1())
    auth_data = AuthenticatorData.create(
        hashlib.sha256(RP_ID.encode()).digest(), FLAGS, 0,
        AttestedCredentialData.create(AAGUID.bytes, os.urandom(32),
                                      ES256.from_cryptography_key(credential_key.public_key())))
    if statement is None and fmt == "packed":
        signed = bytes(auth_data) + signed_hash
        if self_signed:
            statement = {"alg": -7, "sig": credential_key.sign(signed, ec.ECDSA(hashes.SHA256()))}
        else:
            signer = attestation_signer(AAGUID)
            statement = {"alg": -7, "sig": signer.sign(signed), "x5c": [signer.certificate]}
    return AttestationResponse(fmt=fmt, auth_data=auth_data, att_stmt=statement or {})


def check(response: AttestationResponse) -> None:
    check_answer(response, rp_id=RP_ID, client_data_hash=CLIENT_DATA_HASH, pin_used=True,
                 inspected_aaguid=AAGUID.bytes)


@pytest.mark.parametrize("response", [
    answer("packed"),
    answer("packed", self_signed=True),
    answer("none"),
], ids=["packed-x5c", "packed-self", "none"])
def test_consistent_attestations_pass(response: AttestationResponse) -> None:
    check(response)


@pytest.mark.parametrize(("response", "detail"), [
    (answer("packed", signed_hash=bytes(32)), "InvalidSignature"),
    (answer("packed", self_signed=True, signed_hash=bytes(32)), "InvalidSignature"),
    (answer("packed", {"alg": -7, "sig": b"\x30\x00", "x5c": [b"not a certificate"]}), "InvalidData"),
    (answer("packed", {"sig": b"\x30\x00"}), "InvalidData"),
    (answer("none", {"sig": b"x"}), "InvalidData"),
    (answer("x-unknown", {"sig": b"x"}), "format 'x-unknown' is unknown"),
], ids=["x5c-wrong-data", "self-wrong-data", "broken-certificate", "no-alg", "none-with-statement", "unknown"])
def test_inconsistent_attestations_are_refused(response: AttestationResponse, detail: str) -> None:
    with pytest.raises(StationError) as e:
        check(response)
    assert e.value.reason is Reason.ATTESTATION_INVALID and not e.value.retryable
    assert detail in e.value.message


@pytest.mark.parametrize(("length", "refused"), [(1023, False), (1024, True)])
def test_credential_ids_up_to_1023_bytes(length: int, refused: bool) -> None:
    credential_key = ec.generate_private_key(ec.SECP256R1())
    auth_data = AuthenticatorData.create(
        hashlib.sha256(RP_ID.encode()).digest(), FLAGS, 0,
        AttestedCredentialData.create(AAGUID.bytes, os.urandom(length),
                                      ES256.from_cryptography_key(credential_key.public_key())))
    response = AttestationResponse(fmt="none", auth_data=auth_data, att_stmt={})
    if not refused:
        check(response)
        return
    with pytest.raises(StationError) as e:
        check(response)
    assert e.value.reason is Reason.CREDENTIAL_ID_TOO_LONG
