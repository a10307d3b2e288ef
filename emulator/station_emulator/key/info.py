"""authenticatorGetInfo: what a virtual key reports about itself, per profile and current state.

Only what the profile declares is reported: a limit a real model leaves out of its getInfo is left out here
too (the key still enforces the CTAP default). ``clientPin``, ``alwaysUv``, forcePINChange, the current
minimum PIN length and the remaining resident slots follow the key's state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from station_emulator.key.credentials import SUPPORTED_ALGORITHMS

if TYPE_CHECKING:
    from station_emulator.key.authenticator import VirtualKey


def accepted_algorithms(key: VirtualKey) -> tuple[int, ...]:
    """The algorithms the key makes credentials with: those it declares that the emulator can sign with."""
    declared = key.profile_spec.algorithms
    if declared is None:
        return SUPPORTED_ALGORITHMS
    return tuple(a for a in declared if a in SUPPORTED_ALGORITHMS)


def get_info(key: VirtualKey) -> dict[int, Any]:
    profile = key.profile_spec
    state = key.state
    options = dict(profile.options)
    if profile.client_pin:
        options["clientPin"] = state.pin_set
    if "alwaysUv" in options:
        options["alwaysUv"] = state.always_uv
    if key.supports_enterprise_attestation:
        options["ep"] = state.enterprise_attestation
    info: dict[int, Any] = {
        0x01: list(profile.versions),
        0x02: list(profile.extensions),
        0x03: key.aaguid.bytes,
        0x04: options,
    }
    optional: dict[int, Any] = {
        0x05: profile.max_msg_size,
        0x06: list(profile.pin_protocols) or None,
        0x07: profile.max_creds_in_list,
        0x08: profile.max_cred_id_length,
        0x09: list(profile.transports) if profile.transports else None,
        0x0A: [{"alg": alg, "type": "public-key"} for alg in profile.algorithms] if profile.algorithms else None,
        0x0D: state.min_pin_length if profile.min_pin_length is not None or profile.authnr_cfg else None,
        0x0E: key.firmware if profile.firmware is not None else None,
        0x10: profile.max_rpids_for_min_pin,
        0x14: key.remaining_resident_slots() if profile.remaining_creds_reported or profile.cred_mgmt else None,
    }
    if not profile.extensions:
        del info[0x02]
    if profile.authnr_cfg:
        info[0x0C] = state.force_pin_change
    info.update({k: v for k, v in optional.items() if v is not None})
    return dict(sorted(info.items()))
