"""authenticatorGetAssertion and getNextAssertion: proving a credential, credProtect, hmac-secret."""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import TYPE_CHECKING, Any

from fido2.ctap import CtapError
from fido2.ctap2.pin import ClientPin
from fido2.webauthn import AuthenticatorData

from station_emulator.key.call import Continuation
from station_emulator.key.credentials import Credential, ResidentCredential
from station_emulator.key.makecred import check_options, empty_pin_auth

if TYPE_CHECKING:
    from station_emulator.key.authenticator import VirtualKey
    from station_emulator.key.call import Call

log = logging.getLogger(__name__)

ERR = CtapError.ERR
FLAG = AuthenticatorData.FLAG
_KIND = "assertion"


def get_assertion(key: VirtualKey, params: dict[int, Any], call: Call) -> dict[int, Any]:
    rp_id, client_data_hash = params.get(1), params.get(2)
    if rp_id is None or client_data_hash is None:
        raise CtapError(ERR.MISSING_PARAMETER)
    if not isinstance(rp_id, str) or not isinstance(client_data_hash, bytes):
        raise CtapError(ERR.INVALID_PARAMETER)
    pin_uv_param = params.get(6)
    if pin_uv_param == b"":
        empty_pin_auth(key, call)
    options = params.get(5) or {}
    if isinstance(options, dict) and "rk" in options:
        raise CtapError(ERR.UNSUPPORTED_OPTION)
    _, up = check_options(options, command_allows_up_false=True)
    uv = False
    if pin_uv_param is not None:
        if 7 not in params:
            raise CtapError(ERR.MISSING_PARAMETER)
        key.pin.verify_token(params[7], pin_uv_param, client_data_hash, ClientPin.PERMISSION.GET_ASSERTION, rp_id)
        uv = True
    elif key.state.always_uv and up:
        raise CtapError(ERR.PUAT_REQUIRED)

    rp_id_hash = hashlib.sha256(rp_id.encode()).digest()
    allow_list = params.get(3) or []
    found = _find(key, rp_id_hash, allow_list, uv)
    if not found:
        raise CtapError(ERR.NO_CREDENTIALS)
    if up:
        key.require_presence(call)
        if uv:
            key.pin.keep_only_large_blob_write()
    extensions = params.get(4) or {}
    if not isinstance(extensions, dict):
        raise CtapError(ERR.INVALID_PARAMETER)
    hmac_input = _hmac_secret_input(key, extensions.get("hmac-secret"))

    def answer(item: tuple[Credential, ResidentCredential | None]) -> dict[int, Any]:
        return _response(key, item, client_data_hash, up, uv, hmac_input, discoverable=not allow_list)

    first = answer(found[0])
    if len(found) > 1 and not allow_list:
        first[5] = len(found)
        key.continuation = Continuation(_KIND, (answer(item) for item in found[1:]))
    key.save()
    return first


def get_next_assertion(key: VirtualKey) -> dict[int, Any]:
    continuation = key.continuation
    if continuation is None or continuation.kind != _KIND:
        raise CtapError(ERR.NOT_ALLOWED)
    try:
        response = next(continuation.items)
    except StopIteration:
        key.continuation = None
        raise CtapError(ERR.NOT_ALLOWED) from None
    key.save()
    return response


def _find(key: VirtualKey, rp_id_hash: bytes, allow_list: Any, uv: bool
          ) -> list[tuple[Credential, ResidentCredential | None]]:
    residents = {r.credential_id: r for r in key.state.residents}
    found: list[tuple[Credential, ResidentCredential | None]] = []
    if allow_list:
        if not isinstance(allow_list, list):
            raise CtapError(ERR.INVALID_PARAMETER)
        for descriptor in allow_list:
            cred_id = descriptor.get("id") if isinstance(descriptor, dict) else None
            if not isinstance(cred_id, bytes):
                raise CtapError(ERR.INVALID_PARAMETER)
            credential = key.credentials.recognise(cred_id, rp_id_hash)
            if credential is not None and (credential.cred_protect < 3 or uv):
                found.append((credential, residents.get(cred_id)))
                break
        return found
    for resident in sorted(key.state.residents, key=lambda r: r.created, reverse=True):
        if resident.rp_id_hash != rp_id_hash:
            continue
        credential = key.credentials.recognise(resident.credential_id, rp_id_hash)
        if credential is not None and (credential.cred_protect == 1 or uv):
            found.append((credential, resident))
    return found


def _hmac_secret_input(key: VirtualKey, data: Any) -> tuple[Any, bytes, bytes] | None:
    """Checks the hmac-secret input; gives (protocol, shared secret, salts) or None when not asked."""
    if data is None or "hmac-secret" not in key.profile_spec.extensions:
        return None
    if not isinstance(data, dict) or any(k not in data for k in (1, 2, 3)):
        raise CtapError(ERR.MISSING_PARAMETER)
    protocol = key.pin.protocol(data.get(4, 1))
    shared = key.pin.shared_secret(protocol, data[1])
    salt_enc, salt_auth = data[2], data[3]
    if not isinstance(salt_auth, bytes) or not hmac.compare_digest(protocol.authenticate(shared, salt_enc),
                                                                   salt_auth):
        raise CtapError(ERR.PIN_AUTH_INVALID)
    salts = protocol.decrypt(shared, salt_enc)
    if len(salts) not in (32, 64):
        raise CtapError(ERR.INVALID_LENGTH)
    return protocol, shared, salts


def _response(key: VirtualKey, item: tuple[Credential, ResidentCredential | None], client_data_hash: bytes,
              up: bool, uv: bool, hmac_input: tuple[Any, bytes, bytes] | None, discoverable: bool
              ) -> dict[int, Any]:
    credential, resident = item
    outputs: dict[str, Any] = {}
    if hmac_input is not None:
        protocol, shared, salts = hmac_input
        secret = b"".join(credential.hmac_secret(uv, salts[i:i + 32]) for i in range(0, len(salts), 32))
        outputs["hmac-secret"] = protocol.encrypt(shared, secret)
    flags = (FLAG.UP if up else 0) | (FLAG.UV if uv else 0) | (FLAG.ED if outputs else 0)
    auth_data = AuthenticatorData.create(credential.rp_id_hash, FLAG(flags), key.next_signature_count(),
                                         extensions=outputs or None)
    response: dict[int, Any] = {
        1: {"type": "public-key", "id": credential.id},
        2: bytes(auth_data),
        3: credential.sign(bytes(auth_data) + client_data_hash),
    }
    if resident is not None and discoverable:
        user = dict(resident.user) if uv else {"id": resident.user_id}
        response[4] = user
    return response
