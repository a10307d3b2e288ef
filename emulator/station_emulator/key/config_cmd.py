"""authenticatorConfig: enableEnterpriseAttestation, toggleAlwaysUv, setMinPINLength (rpIds, forceChangePin)."""

from __future__ import annotations

import logging
import struct
from typing import TYPE_CHECKING, Any

from fido2 import cbor
from fido2.ctap import CtapError
from fido2.ctap2.config import Config
from fido2.ctap2.pin import ClientPin

if TYPE_CHECKING:
    from station_emulator.key.authenticator import VirtualKey

log = logging.getLogger(__name__)

ERR = CtapError.ERR
CMD = Config.CMD
PARAM = Config.PARAM


def authenticator_config(key: VirtualKey, params: dict[int, Any]) -> dict[int, Any]:
    sub = params.get(1)
    if sub is None:
        raise CtapError(ERR.MISSING_PARAMETER)
    sub_params = params.get(2)
    if sub_params is not None and not isinstance(sub_params, dict):
        raise CtapError(ERR.INVALID_PARAMETER)
    _authorise(key, sub, sub_params, params.get(3), params.get(4))
    if sub == CMD.ENABLE_ENTERPRISE_ATT:
        if not key.supports_enterprise_attestation:
            raise CtapError(ERR.UNSUPPORTED_OPTION)
        key.state.enterprise_attestation = True
    elif sub == CMD.TOGGLE_ALWAYS_UV:
        key.state.always_uv = not key.state.always_uv
    elif sub == CMD.SET_MIN_PIN_LENGTH:
        _set_min_pin_length(key, sub_params or {})
    else:
        raise CtapError(ERR.INVALID_SUBCOMMAND)
    key.save()
    log.info("authenticatorConfig sub-command 0x%02x applied", sub)
    return {}


def _authorise(key: VirtualKey, sub: Any, sub_params: dict[int, Any] | None, protocol: Any, param: Any) -> None:
    if param is None:
        if key.state.pin_set or key.state.always_uv:
            raise CtapError(ERR.PUAT_REQUIRED)
        return
    if protocol is None:
        raise CtapError(ERR.MISSING_PARAMETER)
    if not isinstance(sub, int) or not 0 <= sub <= 0xFF:
        raise CtapError(ERR.INVALID_PARAMETER)
    message = b"\xff" * 32 + b"\x0d" + struct.pack("<B", sub)
    if sub_params is not None:
        message += cbor.encode(sub_params)
    key.pin.verify_token(protocol, param, message, ClientPin.PERMISSION.AUTHENTICATOR_CFG, None)


def _set_min_pin_length(key: VirtualKey, sub_params: dict[int, Any]) -> None:
    state = key.state
    new_min = sub_params.get(PARAM.NEW_MIN_PIN_LENGTH, state.min_pin_length)
    rp_ids = sub_params.get(PARAM.MIN_PIN_LENGTH_RPIDS)
    force = sub_params.get(PARAM.FORCE_CHANGE_PIN, False)
    if not isinstance(new_min, int) or not isinstance(force, bool):
        raise CtapError(ERR.INVALID_PARAMETER)
    if new_min < state.min_pin_length:
        raise CtapError(ERR.PIN_POLICY_VIOLATION)
    if rp_ids is not None:
        if not isinstance(rp_ids, list) or not all(isinstance(r, str) for r in rp_ids):
            raise CtapError(ERR.INVALID_PARAMETER)
        if len(rp_ids) > (key.profile_spec.max_rpids_for_min_pin or 0):
            raise CtapError(ERR.PIN_POLICY_VIOLATION)
    if force and not state.pin_set:
        raise CtapError(ERR.PIN_NOT_SET)
    state.min_pin_length = new_min
    if rp_ids is not None:
        state.min_pin_rpids = list(rp_ids)
    if force or (state.pin_set and state.pin_length < new_min):
        state.force_pin_change = True
