"""authenticatorMakeCredential: new credentials, UV through pinUvAuthParam, extensions and packed attestation.

``Faults.forged`` makes the answer break one rule at a time (site, flags, AAGUID, credential id length,
attestation signature), as a counterfeit or hostile key would; the key itself keeps the real credential.

Besides CTAP's own checks it enforces what the key's profile declares or is known for: the excludeList's
length and credential id sizes, the algorithms it has (a strict key refuses a list naming any other), the
extensions it knows (a strict key refuses others), a user entity too large for it (vendor status 0xF1),
and a key that makes no credential before a PIN is set (FIPS approved mode).
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any
from uuid import UUID

from fido2.ctap import CtapError
from fido2.ctap2.pin import ClientPin
from fido2.webauthn import AttestedCredentialData, AuthenticatorData

from station_emulator.key.attestation import attestation_signer
from station_emulator.key.credentials import ResidentCredential
from station_emulator.key.info import accepted_algorithms

if TYPE_CHECKING:
    from station_emulator.key.authenticator import VirtualKey
    from station_emulator.key.call import Call

log = logging.getLogger(__name__)

ERR = CtapError.ERR
FLAG = AuthenticatorData.FLAG
CRED_PROTECT_LEVELS = (1, 2, 3)
USER_ENTITY_TOO_LARGE = 0xF1
# The model a forged answer attests to (``Faults.forged`` "aaguid"): not the one getInfo reports.
FORGED_AAGUID = UUID("0badc0de-0000-4000-8000-000000000bad")


def check_options(options: Any, command_allows_up_false: bool) -> tuple[bool, bool]:
    """The ``rk`` and ``up`` options; ``uv`` is refused: a virtual key has no built-in UV."""
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise CtapError(ERR.INVALID_PARAMETER)
    if options.get("uv"):
        raise CtapError(ERR.INVALID_OPTION)
    up = options.get("up", True)
    if not up and not command_allows_up_false:
        raise CtapError(ERR.INVALID_OPTION)
    return bool(options.get("rk", False)), bool(up)


def empty_pin_auth(key: VirtualKey, call: Call) -> None:
    """A zero-length pinUvAuthParam asks for a touch, then reports whether a PIN is set (CTAP 2.1 6.1.1)."""
    key.require_presence(call)
    raise CtapError(ERR.PIN_INVALID if key.state.pin_set else ERR.PIN_NOT_SET)


def make_credential(key: VirtualKey, params: dict[int, Any], call: Call) -> dict[int, Any]:
    client_data_hash, rp, user, cred_params = (params.get(i) for i in (1, 2, 3, 4))
    if client_data_hash is None or rp is None or user is None or cred_params is None:
        raise CtapError(ERR.MISSING_PARAMETER)
    if not isinstance(rp, dict) or not isinstance(rp.get("id"), str) or not isinstance(user, dict):
        raise CtapError(ERR.INVALID_PARAMETER)
    if not isinstance(user.get("id"), bytes):
        raise CtapError(ERR.MISSING_PARAMETER)
    pin_uv_param = params.get(8)
    if pin_uv_param == b"":
        empty_pin_auth(key, call)
    _check_user_entity(key, user)
    alg = _choose_algorithm(key, cred_params)
    rk, _ = check_options(params.get(7), command_allows_up_false=False)
    rp_id: str = rp["id"]
    rp_id_hash = hashlib.sha256(rp_id.encode()).digest()

    uv = False
    if pin_uv_param is not None:
        if 9 not in params:
            raise CtapError(ERR.MISSING_PARAMETER)
        key.pin.verify_token(params[9], pin_uv_param, client_data_hash,
                             ClientPin.PERMISSION.MAKE_CREDENTIAL, rp_id)
        uv = True
    elif key.profile_spec.credentials_need_pin and not key.state.pin_set:
        raise CtapError(ERR.PIN_NOT_SET)
    elif _uv_required(key, rk):
        raise CtapError(ERR.PUAT_REQUIRED)

    enterprise = _enterprise_attestation(key, params.get(10))
    extensions = params.get(6) or {}
    if not isinstance(extensions, dict):
        raise CtapError(ERR.INVALID_PARAMETER)
    if key.profile_spec.strict_extensions and any(e not in key.profile_spec.extensions for e in extensions):
        raise CtapError(ERR.UNSUPPORTED_OPTION)
    cred_protect = _cred_protect(key, extensions)

    exclude_list = params.get(5) or []
    _check_list_limits(key, exclude_list)
    for descriptor in exclude_list:
        excluded = key.credentials.recognise(_descriptor_id(descriptor), rp_id_hash)
        if excluded is not None and (excluded.cred_protect < 3 or uv):
            key.require_presence(call)
            raise CtapError(ERR.CREDENTIAL_EXCLUDED)

    replaced = _same_user(key, rp_id_hash, user["id"]) if rk else None
    if rk and replaced is None and key.remaining_resident_slots() == 0:
        raise CtapError(ERR.KEY_STORE_FULL)

    key.require_presence(call)

    credential = key.credentials.create(rp_id_hash, alg, cred_protect)
    outputs = _extension_outputs(key, extensions, cred_protect, rp_id)
    if rk:
        if replaced is not None:
            key.state.residents.remove(replaced)
        key.state.creation_counter += 1
        key.state.residents.append(
            ResidentCredential(credential.id, rp_id_hash, dict(rp), dict(user), key.state.creation_counter)
        )
    forges = key.faults.forges
    flags = (FLAG.UP if not forges("user_presence") else 0) | FLAG.AT | (FLAG.ED if outputs else 0) | (
        FLAG.UV if uv and not forges("user_verification") else 0)
    attested_aaguid = FORGED_AAGUID if forges("aaguid") else key.aaguid
    credential_id = credential.id.ljust(2000, b"\0") if forges("long_credential_id") else credential.id
    auth_data = AuthenticatorData.create(
        hashlib.sha256(b"evil.example").digest() if forges("rp_id_hash") else rp_id_hash,
        FLAG(flags),
        key.next_signature_count(),
        AttestedCredentialData.create(attested_aaguid.bytes, credential_id, credential.cose_public_key()),
        outputs or None,
    )
    if uv:
        key.pin.keep_only_large_blob_write()
    key.save()

    signer = attestation_signer(attested_aaguid, key.serial if enterprise else None)
    signed = bytes(auth_data) + (client_data_hash[::-1] if forges("attestation_signature") else client_data_hash)
    response: dict[int, Any] = {
        1: "packed",
        2: bytes(auth_data),
        3: {"alg": -7, "sig": signer.sign(signed), "x5c": [signer.certificate]},
    }
    if enterprise:
        response[4] = True
    log.debug("credential made for %s (rk=%s, uv=%s)", rp_id, rk, uv)
    return response


def _choose_algorithm(key: VirtualKey, cred_params: Any) -> int:
    if not isinstance(cred_params, list):
        raise CtapError(ERR.INVALID_PARAMETER)
    accepted = accepted_algorithms(key)
    chosen: int | None = None
    for param in cred_params:
        if not isinstance(param, dict) or "alg" not in param or "type" not in param:
            raise CtapError(ERR.INVALID_PARAMETER)
        if param["type"] == "public-key" and param["alg"] in accepted:
            chosen = int(param["alg"]) if chosen is None else chosen
        elif key.profile_spec.strict_algorithms:
            raise CtapError(ERR.UNSUPPORTED_ALGORITHM)
    if chosen is None:
        raise CtapError(ERR.UNSUPPORTED_ALGORITHM)
    return chosen


def _check_user_entity(key: VirtualKey, user: dict[str, Any]) -> None:
    limit = key.profile_spec.max_user_field_bytes
    if limit is None:
        return
    for name in ("name", "displayName"):
        value = user.get(name)
        if isinstance(value, str) and len(value.encode()) > limit:
            raise CtapError(USER_ENTITY_TOO_LARGE)


def _check_list_limits(key: VirtualKey, descriptors: Any) -> None:
    """An excludeList longer than maxCredentialCountInList, or an id over maxCredentialIdLength: LIMIT_EXCEEDED."""
    if not isinstance(descriptors, list):
        raise CtapError(ERR.INVALID_PARAMETER)
    spec = key.profile_spec
    if spec.max_creds_in_list is not None and len(descriptors) > spec.max_creds_in_list:
        raise CtapError(ERR.LIMIT_EXCEEDED)
    if spec.max_cred_id_length is not None and any(
            len(_descriptor_id(d)) > spec.max_cred_id_length for d in descriptors):
        raise CtapError(ERR.LIMIT_EXCEEDED)


def _uv_required(key: VirtualKey, rk: bool) -> bool:
    state = key.state
    if state.always_uv:
        return True
    if not state.pin_set:
        return False
    return rk or not key.profile_spec.pin_uv_auth_token


def _enterprise_attestation(key: VirtualKey, requested: Any) -> bool:
    if requested is None:
        return False
    if not key.supports_enterprise_attestation or not key.state.enterprise_attestation:
        raise CtapError(ERR.INVALID_PARAMETER)
    if requested not in (1, 2):
        raise CtapError(ERR.INVALID_OPTION)
    return True


def _cred_protect(key: VirtualKey, extensions: dict[str, Any]) -> int:
    requested = extensions.get("credProtect")
    if requested is None or "credProtect" not in key.profile_spec.extensions:
        return 1
    if requested not in CRED_PROTECT_LEVELS:
        raise CtapError(ERR.INVALID_OPTION)
    return int(requested)


def _extension_outputs(key: VirtualKey, extensions: dict[str, Any], cred_protect: int,
                       rp_id: str) -> dict[str, Any]:
    supported = key.profile_spec.extensions
    outputs: dict[str, Any] = {}
    if "credProtect" in extensions and "credProtect" in supported:
        outputs["credProtect"] = cred_protect
    if extensions.get("hmac-secret") is True and "hmac-secret" in supported:
        outputs["hmac-secret"] = True
    if extensions.get("minPinLength") is True and "minPinLength" in supported \
            and rp_id in key.state.min_pin_rpids:
        outputs["minPinLength"] = key.state.min_pin_length
    return outputs


def _same_user(key: VirtualKey, rp_id_hash: bytes, user_id: bytes) -> ResidentCredential | None:
    for resident in key.state.residents:
        if resident.rp_id_hash == rp_id_hash and resident.user_id == user_id:
            return resident
    return None


def _descriptor_id(descriptor: Any) -> bytes:
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("id"), bytes):
        raise CtapError(ERR.INVALID_PARAMETER)
    return bytes(descriptor["id"])
