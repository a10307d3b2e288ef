"""What Entra checks when a passkey is registered on a user's behalf (POST fido2Methods).

:func:`parse_registration` checks the body's shape and decodes it; :func:`check_client_data` and
:func:`check_authenticator_data` check the ceremony against the issued challenge; :func:`check_attestation`
verifies the packed attestation with python-fido2's verifiers against the trusted roots.
Each failure raises :class:`RegistrationRejected` with the message the route answers in a 400.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from fido2.attestation.base import (
    AttestationResult,
    AttestationVerifier,
    InvalidAttestation,
    InvalidSignature,
    UnsupportedType,
    UntrustedAttestation,
)
from fido2.attestation.packed import PackedAttestation
from fido2.webauthn import AttestationObject, AuthenticatorData, CollectedClientData

from station_emulator.entra.codec import decode_any

RP_ID = "login.microsoft.com"
ORIGIN = f"https://{RP_ID}"
RP_ID_HASH = hashlib.sha256(RP_ID.encode()).digest()
ACCEPTED_FORMATS = ("packed", "none")
FORBIDDEN_CREDENTIAL_KEYS = ("rawId", "type", "authenticatorAttachment")


class RegistrationRejected(Exception):
    """A registration Entra would refuse; ``message`` is what the 400 says."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Registration:
    display_name: str
    credential_id: bytes
    client_data: CollectedClientData
    attestation_object: AttestationObject

    @property
    def auth_data(self) -> AuthenticatorData:
        return self.attestation_object.auth_data


@dataclass(frozen=True)
class AttestationOutcome:
    attested: bool
    certificate_thumbprints: list[str]


def parse_registration(body: Any) -> Registration:
    if not isinstance(body, dict):
        raise RegistrationRejected("The request body must be a JSON object.")
    display_name = body.get("displayName", "")
    if not isinstance(display_name, str) or len(display_name) > 256:
        raise RegistrationRejected("displayName must be a string of at most 256 characters.")
    credential = body.get("publicKeyCredential")
    if not isinstance(credential, dict):
        raise RegistrationRejected("publicKeyCredential is required.")
    for key in FORBIDDEN_CREDENTIAL_KEYS:
        if key in credential:
            raise RegistrationRejected(f"Invalid property '{key}' in publicKeyCredential.")
    response = credential.get("response")
    if not isinstance(credential.get("id"), str) or not isinstance(response, dict):
        raise RegistrationRejected("publicKeyCredential must have an id and a response.")
    extensions = credential.get("clientExtensionResults", {})
    if not isinstance(extensions, dict):
        raise RegistrationRejected("clientExtensionResults must be an object.")
    try:
        credential_id = decode_any(credential["id"])
        client_data = CollectedClientData(decode_any(str(response.get("clientDataJSON", ""))))
        attestation_object = AttestationObject(decode_any(str(response.get("attestationObject", ""))))
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
        raise RegistrationRejected(f"Unable to decode the credential: {e}") from e
    return Registration(display_name or "FIDO2 security key", credential_id, client_data, attestation_object)


def check_client_data(client_data: CollectedClientData) -> None:
    if client_data.type != CollectedClientData.TYPE.CREATE:
        raise RegistrationRejected(f"clientDataJSON type must be webauthn.create, not '{client_data.type}'.")
    if client_data.origin != ORIGIN:
        raise RegistrationRejected(f"clientDataJSON origin '{client_data.origin}' does not match {ORIGIN}.")


def check_authenticator_data(registration: Registration) -> None:
    auth_data = registration.auth_data
    if auth_data.rp_id_hash != RP_ID_HASH:
        raise RegistrationRejected(f"The rpIdHash does not match the relying party '{RP_ID}'.")
    if not auth_data.is_user_present():
        raise RegistrationRejected("The authenticator data does not have the user present (UP) flag.")
    if not auth_data.is_user_verified():
        raise RegistrationRejected("User verification is required: the user verified (UV) flag is not set.")
    if auth_data.credential_data is None:
        raise RegistrationRejected("The authenticator data carries no attested credential data.")
    if auth_data.credential_data.credential_id != registration.credential_id:
        raise RegistrationRejected("publicKeyCredential.id does not match the attested credential id.")
    if registration.attestation_object.fmt not in ACCEPTED_FORMATS:
        raise RegistrationRejected(
            f"Attestation format '{registration.attestation_object.fmt}' is not supported.")


class _RootsVerifier(AttestationVerifier):
    """python-fido2's verifier with the root chosen by the attestation chain's issuer."""

    def __init__(self, roots: Sequence[x509.Certificate]):
        super().__init__([PackedAttestation()])
        self._roots = roots

    def ca_lookup(self, attestation_result: AttestationResult, auth_data: AuthenticatorData) -> bytes | None:
        if not attestation_result.trust_path:
            return None
        last = x509.load_der_x509_certificate(attestation_result.trust_path[-1])
        for root in self._roots:
            if root.subject == last.issuer:
                return root.public_bytes(serialization.Encoding.DER)
        return None


def load_roots(pems: Sequence[bytes]) -> list[x509.Certificate]:
    roots: list[x509.Certificate] = []
    for pem in pems:
        roots.extend(x509.load_pem_x509_certificates(pem))
    return roots


def check_attestation(registration: Registration, roots: Sequence[x509.Certificate], *,
                      enforced: bool) -> AttestationOutcome:
    """Verify the statement; an untrusted (but well-signed) one passes only when enforcement is off."""
    attestation = registration.attestation_object
    client_data_hash = registration.client_data.hash
    thumbprints = [x509.load_der_x509_certificate(der).fingerprint(hashes.SHA1()).hex()
                   for der in attestation.att_stmt.get("x5c", []) or []]
    try:
        _RootsVerifier(roots).verify_attestation(attestation, client_data_hash)
        return AttestationOutcome(True, thumbprints)
    except InvalidSignature as e:
        raise RegistrationRejected("The attestation signature is invalid.") from e
    except (UntrustedAttestation, UnsupportedType) as e:
        if enforced:
            raise RegistrationRejected(
                "The attestation is not trusted: attestation is enforced and the authenticator's certificate "
                "chain does not lead to a trusted root.") from e
        return AttestationOutcome(False, thumbprints)
    except InvalidAttestation as e:
        raise RegistrationRejected(f"The attestation statement is invalid: {e}") from e


def check_key_restrictions(aaguid: str, policy: Mapping[str, Any]) -> None:
    restrictions = policy.get("keyRestrictions") or {}
    if not restrictions.get("isEnforced"):
        return
    listed = aaguid.lower() in {str(a).lower() for a in restrictions.get("aaGuids") or []}
    kind = str(restrictions.get("enforcementType", "block")).lower()
    if (kind == "allow" and not listed) or (kind == "block" and listed):
        raise RegistrationRejected(
            f"The authenticator's AAGUID {aaguid} is not allowed by the FIDO2 key restriction policy.")
