"""Station-side checks of a key's makeCredential answer, before anything is registered with Entra ID.

A key is a device from anywhere: its getInfo (what the AAGUID allow-list read at insertion) is unsigned, and
its answer to makeCredential could be for another site, made without a touch, or carry an attestation that
does not hold together. ``check_answer`` refuses such an answer with a reason of its own:

- ``key_rp_mismatch``: the authenticator data's rpIdHash is not SHA-256 of the rp.id the station asked for;
- ``key_no_presence``: the user-present flag is clear (no touch);
- ``key_no_verification``: the user-verified flag is clear although the request carried the PIN;
- ``aaguid_mismatch``: the attested AAGUID differs from the one getInfo reported (and the allow-list checked);
- ``credential_id_too_long``: a credential id longer than WebAuthn's 1023 bytes;
- ``attestation_invalid``: the attestation statement fails python-fido2's verifier for its format (packed:
  the signature over authData || clientDataHash with the x5c leaf, or with the credential key itself).

Trust in the attestation's root (which vendors a tenant accepts) is not decided here; Entra ID decides it.
"""

from __future__ import annotations

import hashlib
from typing import Final
from uuid import UUID

from fido2.attestation import Attestation, UnsupportedType
from fido2.attestation.base import InvalidAttestation
from fido2.ctap2 import AttestationResponse

from station.enroll.reasons import failure
from station.errors import Reason

MAX_CREDENTIAL_ID_LENGTH: Final = 1023


def check_answer(response: AttestationResponse, *, rp_id: str, client_data_hash: bytes, pin_used: bool,
                 inspected_aaguid: bytes) -> None:
    """Raise the StationError for the first thing wrong with ``response``; return when it can be registered."""
    auth_data = response.auth_data
    if auth_data.rp_id_hash != hashlib.sha256(rp_id.encode("utf-8")).digest():
        raise failure(Reason.KEY_RP_MISMATCH, f"the key's answer is for another site than {rp_id} (rpIdHash "
                                              f"{auth_data.rp_id_hash.hex()[:16]}…)")
    if not auth_data.is_user_present():
        raise failure(Reason.KEY_NO_PRESENCE, "the key made the passkey without a touch (user-present flag clear)")
    if pin_used and not auth_data.is_user_verified():
        raise failure(Reason.KEY_NO_VERIFICATION, "the key ignored the PIN (user-verified flag clear)")
    credential = auth_data.credential_data
    if credential is None:
        raise failure(Reason.KEY_ERROR, "the key made no credential data")
    if bytes(credential.aaguid) != bytes(inspected_aaguid):
        raise failure(Reason.AAGUID_MISMATCH, f"the key attested AAGUID {UUID(bytes=bytes(credential.aaguid))} "
                                              f"but reported {UUID(bytes=bytes(inspected_aaguid))} when inserted")
    if len(credential.credential_id) > MAX_CREDENTIAL_ID_LENGTH:
        raise failure(Reason.CREDENTIAL_ID_TOO_LONG, f"the key made a credential id of "
                                                     f"{len(credential.credential_id)} bytes (at most "
                                                     f"{MAX_CREDENTIAL_ID_LENGTH} allowed)")
    verifier = Attestation.for_type(response.fmt)()
    try:
        verifier.verify(response.att_stmt, auth_data, client_data_hash)
    except UnsupportedType:
        raise failure(Reason.ATTESTATION_INVALID, f"the key's attestation format {response.fmt!r} is "
                                                  "unknown") from None
    except (InvalidAttestation, NotImplementedError, TypeError) as e:
        detail = type(e).__name__ if not str(e) else f"{type(e).__name__}: {e}"
        raise failure(Reason.ATTESTATION_INVALID, f"the key's {response.fmt} attestation does not verify "
                                                  f"({detail})"[:300]) from None
