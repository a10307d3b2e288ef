"""What kind of key a virtual key pretends to be: getInfo profiles ``fido21``, ``fido20`` and ``u2f``."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class Profile:
    """Capabilities of one key model. ``ctap2`` False means a U2F-only key (no CBOR over CTAPHID)."""

    name: str
    default_aaguid: UUID
    ctap2: bool
    versions: tuple[str, ...]
    extensions: tuple[str, ...]
    pin_protocols: tuple[int, ...]
    pin_uv_auth_token: bool
    authnr_cfg: bool
    cred_mgmt: bool
    selection: bool
    product_name: str


FIDO21 = Profile(
    name="fido21",
    default_aaguid=UUID("5a7e0000-2100-4000-8000-5a7e10000021"),
    ctap2=True,
    versions=("U2F_V2", "FIDO_2_0", "FIDO_2_1"),
    extensions=("credProtect", "hmac-secret", "minPinLength"),
    pin_protocols=(2, 1),
    pin_uv_auth_token=True,
    authnr_cfg=True,
    cred_mgmt=True,
    selection=True,
    product_name="Station Virtual Key FIDO2.1",
)

FIDO20 = Profile(
    name="fido20",
    default_aaguid=UUID("5a7e0000-2000-4000-8000-5a7e10000020"),
    ctap2=True,
    versions=("U2F_V2", "FIDO_2_0"),
    extensions=("hmac-secret",),
    pin_protocols=(1,),
    pin_uv_auth_token=False,
    authnr_cfg=False,
    cred_mgmt=False,
    selection=False,
    product_name="Station Virtual Key FIDO2.0",
)

U2F = Profile(
    name="u2f",
    default_aaguid=UUID(int=0),
    ctap2=False,
    versions=("U2F_V2",),
    extensions=(),
    pin_protocols=(),
    pin_uv_auth_token=False,
    authnr_cfg=False,
    cred_mgmt=False,
    selection=False,
    product_name="Station Virtual Key U2F",
)

PROFILES: dict[str, Profile] = {p.name: p for p in (FIDO21, FIDO20, U2F)}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown key profile {name!r}; choose one of {', '.join(PROFILES)}") from None
