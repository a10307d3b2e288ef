"""authenticatorGetInfo: what a virtual key reports about itself, per profile and current state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from station.emulator.key.credentials import SUPPORTED_ALGORITHMS

if TYPE_CHECKING:
    from station.emulator.key.authenticator import VirtualKey

MAX_MSG_SIZE = 1200
MAX_CREDS_IN_LIST = 8
MAX_CRED_ID_LENGTH = 128
MAX_RPIDS_FOR_MIN_PIN = 4


def get_info(key: VirtualKey) -> dict[int, Any]:
    profile = key.profile_spec
    state = key.state
    options: dict[str, bool] = {"rk": True, "up": True, "plat": False, "clientPin": state.pin_set}
    info: dict[int, Any] = {
        0x01: list(profile.versions),
        0x02: list(profile.extensions),
        0x03: key.aaguid.bytes,
        0x04: options,
        0x05: MAX_MSG_SIZE,
        0x06: list(profile.pin_protocols),
        0x07: MAX_CREDS_IN_LIST,
        0x08: MAX_CRED_ID_LENGTH,
        0x09: ["nfc", "usb"],
        0x0A: [{"alg": alg, "type": "public-key"} for alg in SUPPORTED_ALGORITHMS],
        0x0E: key.firmware,
    }
    if profile.pin_uv_auth_token:
        options["pinUvAuthToken"] = True
        options["makeCredUvNotRqd"] = True
        options["alwaysUv"] = state.always_uv
    if profile.authnr_cfg:
        options["authnrCfg"] = True
        options["setMinPINLength"] = True
        info[0x0C] = state.force_pin_change
        info[0x0D] = state.min_pin_length
        info[0x10] = MAX_RPIDS_FOR_MIN_PIN
        if key.supports_enterprise_attestation:
            options["ep"] = state.enterprise_attestation
    if profile.cred_mgmt:
        options["credMgmt"] = True
        info[0x14] = key.remaining_resident_slots()
    return info
