"""authenticatorCredentialManagement: metadata, enumerate RPs and credentials, delete, update user."""

from __future__ import annotations

import hashlib
import logging
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fido2 import cbor
from fido2.ctap import CtapError
from fido2.ctap2.credman import CredentialManagement
from fido2.ctap2.pin import ClientPin

from station_emulator.key.call import Continuation
from station_emulator.key.credentials import ResidentCredential

if TYPE_CHECKING:
    from station_emulator.key.authenticator import VirtualKey

log = logging.getLogger(__name__)

ERR = CtapError.ERR
CMD = CredentialManagement.CMD
PARAM = CredentialManagement.PARAM
RESULT = CredentialManagement.RESULT
_AUTHENTICATED = {CMD.GET_CREDS_METADATA, CMD.ENUMERATE_RPS_BEGIN, CMD.ENUMERATE_CREDS_BEGIN,
                  CMD.DELETE_CREDENTIAL, CMD.UPDATE_USER_INFO}


def credential_management(key: VirtualKey, params: dict[int, Any]) -> dict[int, Any]:
    sub = params.get(1)
    if sub is None:
        raise CtapError(ERR.MISSING_PARAMETER)
    if not isinstance(sub, int):
        raise CtapError(ERR.INVALID_PARAMETER)
    sub_params = params.get(2) or {}
    if not isinstance(sub_params, dict):
        raise CtapError(ERR.INVALID_PARAMETER)
    if sub in _AUTHENTICATED:
        _authorise(key, sub, params.get(2), params.get(3), params.get(4))
    elif sub not in (CMD.ENUMERATE_RPS_NEXT, CMD.ENUMERATE_CREDS_NEXT):
        raise CtapError(ERR.INVALID_SUBCOMMAND)
    if sub != CMD.ENUMERATE_RPS_NEXT and sub != CMD.ENUMERATE_CREDS_NEXT:
        key.continuation = None
    if sub == CMD.GET_CREDS_METADATA:
        return {RESULT.EXISTING_CRED_COUNT: len(key.state.residents),
                RESULT.MAX_REMAINING_COUNT: key.remaining_resident_slots()}
    if sub == CMD.ENUMERATE_RPS_BEGIN:
        return _enumerate_rps(key)
    if sub == CMD.ENUMERATE_CREDS_BEGIN:
        return _enumerate_credentials(key, sub_params.get(PARAM.RP_ID_HASH))
    if sub in (CMD.ENUMERATE_RPS_NEXT, CMD.ENUMERATE_CREDS_NEXT):
        return _next(key, "rps" if sub == CMD.ENUMERATE_RPS_NEXT else "credentials")
    resident = _resident(key, sub_params.get(PARAM.CREDENTIAL_ID))
    _check_rp_binding(key, resident.rp_id_hash)
    if sub == CMD.DELETE_CREDENTIAL:
        key.state.residents.remove(resident)
        log.info("resident credential deleted")
    else:
        user = sub_params.get(PARAM.USER)
        if not isinstance(user, dict) or user.get("id") != resident.user_id:
            raise CtapError(ERR.INVALID_PARAMETER)
        resident.user = dict(user)
    key.save()
    return {}


def _authorise(key: VirtualKey, sub: int, raw_params: Any, protocol: Any, param: Any) -> None:
    if param is None:
        raise CtapError(ERR.PUAT_REQUIRED)
    if protocol is None:
        raise CtapError(ERR.MISSING_PARAMETER)
    message = struct.pack(">B", sub) + (cbor.encode(raw_params) if raw_params is not None else b"")
    key.pin.verify_token(protocol, param, message, ClientPin.PERMISSION.CREDENTIAL_MGMT, None)


def _check_rp_binding(key: VirtualKey, rp_id_hash: bytes) -> None:
    bound = key.pin.token_bound_rp()
    if bound is not None and hashlib.sha256(bound.encode()).digest() != rp_id_hash:
        raise CtapError(ERR.PIN_AUTH_INVALID)


def _enumerate_rps(key: VirtualKey) -> dict[int, Any]:
    if key.pin.token_bound_rp() is not None:
        raise CtapError(ERR.PIN_AUTH_INVALID)
    rps: dict[bytes, dict[str, Any]] = {}
    for resident in sorted(key.state.residents, key=lambda r: r.created):
        rps.setdefault(resident.rp_id_hash, resident.rp)
    if not rps:
        raise CtapError(ERR.NO_CREDENTIALS)
    answers: list[dict[int, Any]] = [{RESULT.RP: _rp_entity(rp), RESULT.RP_ID_HASH: h} for h, rp in rps.items()]
    answers[0][RESULT.TOTAL_RPS] = len(answers)
    key.continuation = Continuation("rps", iter(answers[1:]))
    return answers[0]


def _rp_entity(rp: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rp.items() if k in ("id", "name")}


def _enumerate_credentials(key: VirtualKey, rp_id_hash: Any) -> dict[int, Any]:
    if not isinstance(rp_id_hash, bytes):
        raise CtapError(ERR.MISSING_PARAMETER)
    _check_rp_binding(key, rp_id_hash)
    residents = [r for r in sorted(key.state.residents, key=lambda r: r.created) if r.rp_id_hash == rp_id_hash]
    if not residents:
        raise CtapError(ERR.NO_CREDENTIALS)
    answers = list(_credential_answers(key, residents))
    answers[0][RESULT.TOTAL_CREDENTIALS] = len(answers)
    key.continuation = Continuation("credentials", iter(answers[1:]))
    return answers[0]


def _credential_answers(key: VirtualKey, residents: list[ResidentCredential]) -> Iterator[dict[int, Any]]:
    for resident in residents:
        credential = key.credentials.recognise(resident.credential_id, resident.rp_id_hash)
        if credential is None:
            continue
        yield {
            RESULT.USER: dict(resident.user),
            RESULT.CREDENTIAL_ID: {"type": "public-key", "id": resident.credential_id},
            RESULT.PUBLIC_KEY: dict(credential.cose_public_key()),
            RESULT.CRED_PROTECT: credential.cred_protect,
        }


def _next(key: VirtualKey, kind: str) -> dict[int, Any]:
    continuation = key.continuation
    if continuation is None or continuation.kind != kind:
        raise CtapError(ERR.NOT_ALLOWED)
    try:
        return next(continuation.items)
    except StopIteration:
        key.continuation = None
        raise CtapError(ERR.NOT_ALLOWED) from None


def _resident(key: VirtualKey, descriptor: Any) -> ResidentCredential:
    cred_id = descriptor.get("id") if isinstance(descriptor, dict) else None
    if not isinstance(cred_id, bytes):
        raise CtapError(ERR.MISSING_PARAMETER)
    for resident in key.state.residents:
        if resident.credential_id == cred_id:
            return resident
    raise CtapError(ERR.NO_CREDENTIALS)
