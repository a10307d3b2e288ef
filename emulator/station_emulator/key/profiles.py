"""What kind of key a virtual key pretends to be: getInfo profiles and the quirks of real keys.

``fido21``, ``fido20`` and ``u2f`` are the emulator's own models (an ideal FIDO 2.1 key, a FIDO 2.0 key and
a U2F-only key). The others imitate real models and firmwares; their getInfo comes from ``real_keys.json``,
derived from what the vendors declare in FIDO MDS3 and what captured devices answered (AAGUID, versions,
options, extensions, PIN protocols, message and list limits, minimum PIN length, algorithms, firmware),
plus the behaviour those keys are known for (``behaviour``). ``Quirk`` switches add a known misbehaviour to
any profile: a key that ignores CTAPHID CANCEL, one that lists PIN protocol 2 but fails it, one that only
takes short APDUs over NFC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Final
from uuid import UUID

DEFAULT_MAX_MSG_SIZE: Final = 1024  # CTAP 2.1 §6.4: a key that does not report maxMsgSize takes 1024 bytes
DEFAULT_MIN_PIN_LENGTH: Final = 4
ES256: Final = -7
EDDSA: Final = -8


class Quirk(StrEnum):
    """A misbehaviour of real keys that can be switched on for any profile."""

    IGNORES_CANCEL = "ignores-cancel"
    PIN_PROTOCOL_2_FAILS = "pin-protocol-2-fails"
    SHORT_APDUS_ONLY = "short-apdus-only"

    @property
    def description(self) -> str:
        return {
            Quirk.IGNORES_CANCEL: "ignores CTAPHID CANCEL: a command waiting for a touch keeps waiting",
            Quirk.PIN_PROTOCOL_2_FAILS: "lists PIN protocol 2 but answers PIN_AUTH_INVALID to every protocol 2 "
                                        "pinUvAuthParam",
            Quirk.SHORT_APDUS_ONLY: "answers 6700 (wrong length) to an extended-length APDU over NFC",
        }[self]


@dataclass(frozen=True)
class Profile:
    """Capabilities of one key model. ``ctap2`` False means a U2F-only key (no CBOR over CTAPHID).

    ``options`` are the getInfo options as the factory-fresh key reports them (``clientPin`` and ``alwaysUv``
    follow the key's state). A limit that is None is not reported in getInfo; the key then enforces the
    CTAP default (maxMsgSize 1024, minimum PIN length 4) or no limit (list length, credential id length).
    ``pin_protocols`` are the ones getInfo lists; ``undeclared_pin_protocol`` is one the key accepts without
    listing it (CTAP 2.0 made the list optional). ``algorithms`` None: not reported, ES256 and EdDSA taken.
    """

    name: str
    default_aaguid: UUID
    ctap2: bool
    versions: tuple[str, ...]
    extensions: tuple[str, ...]
    pin_protocols: tuple[int, ...]
    options: dict[str, bool]
    product_name: str
    max_msg_size: int | None = 1200
    max_creds_in_list: int | None = 8
    max_cred_id_length: int | None = 128
    min_pin_length: int | None = None
    max_rpids_for_min_pin: int | None = None
    remaining_creds_reported: bool = False
    algorithms: tuple[int, ...] | None = (ES256, EDDSA)
    firmware: int | None = None
    transports: tuple[str, ...] | None = ("nfc", "usb")
    firmware_label: str = ""
    undeclared_pin_protocol: int | None = None
    # Behaviour beyond getInfo, from device captures and issue reports.
    max_user_field_bytes: int | None = None
    strict_algorithms: bool = False
    strict_extensions: bool = False
    credentials_need_pin: bool = False
    numeric_pin_only: bool = False
    quirks: frozenset[Quirk] = field(default_factory=frozenset)

    @property
    def pin_uv_auth_token(self) -> bool:
        return self.options.get("pinUvAuthToken") is True

    @property
    def authnr_cfg(self) -> bool:
        return self.options.get("authnrCfg") is True

    @property
    def set_min_pin_length(self) -> bool:
        return self.options.get("setMinPINLength") is True

    @property
    def cred_mgmt(self) -> bool:
        return self.options.get("credMgmt") is True

    @property
    def cred_mgmt_preview(self) -> bool:
        return "FIDO_2_1_PRE" in self.versions and self.options.get("credentialMgmtPreview") is True

    @property
    def client_pin(self) -> bool:
        return "clientPin" in self.options

    @property
    def selection(self) -> bool:
        return "FIDO_2_1" in self.versions

    @property
    def u2f(self) -> bool:
        return "U2F_V2" in self.versions

    @property
    def accepted_pin_protocols(self) -> tuple[int, ...]:
        extra = (self.undeclared_pin_protocol,) if self.undeclared_pin_protocol is not None else ()
        return self.pin_protocols + extra

    @property
    def enforced_max_msg_size(self) -> int:
        return self.max_msg_size if self.max_msg_size is not None else DEFAULT_MAX_MSG_SIZE

    @property
    def factory_min_pin_length(self) -> int:
        return self.min_pin_length if self.min_pin_length is not None else DEFAULT_MIN_PIN_LENGTH


_FIDO21_OPTIONS = {"rk": True, "up": True, "plat": False, "clientPin": False, "pinUvAuthToken": True,
                   "makeCredUvNotRqd": True, "alwaysUv": False, "authnrCfg": True, "setMinPINLength": True,
                   "credMgmt": True}

FIDO21 = Profile(
    name="fido21",
    default_aaguid=UUID("5a7e0000-2100-4000-8000-5a7e10000021"),
    ctap2=True,
    versions=("U2F_V2", "FIDO_2_0", "FIDO_2_1"),
    extensions=("credProtect", "hmac-secret", "minPinLength"),
    pin_protocols=(2, 1),
    options=_FIDO21_OPTIONS,
    product_name="Station Virtual Key FIDO2.1",
    min_pin_length=4,
    max_rpids_for_min_pin=4,
    remaining_creds_reported=True,
    firmware=0x00010000,
)

FIDO20 = Profile(
    name="fido20",
    default_aaguid=UUID("5a7e0000-2000-4000-8000-5a7e10000020"),
    ctap2=True,
    versions=("U2F_V2", "FIDO_2_0"),
    extensions=("hmac-secret",),
    pin_protocols=(1,),
    options={"rk": True, "up": True, "plat": False, "clientPin": False},
    product_name="Station Virtual Key FIDO2.0",
    firmware=0x00010000,
)

U2F = Profile(
    name="u2f",
    default_aaguid=UUID(int=0),
    ctap2=False,
    versions=("U2F_V2",),
    extensions=(),
    pin_protocols=(),
    options={},
    product_name="Station Virtual Key U2F",
)


def profile_from_record(name: str, record: dict[str, Any]) -> Profile:
    """A profile from one entry of ``real_keys.json`` (getInfo as the vendor declares it, plus behaviour)."""
    info = record["getInfo"]
    behaviour = record.get("behaviour", {})
    algorithms = info.get("algorithms")
    return Profile(
        name=name,
        default_aaguid=UUID(record["aaguid"]),
        ctap2=True,
        versions=tuple(info["versions"]),
        extensions=tuple(info.get("extensions") or ()),
        pin_protocols=tuple(info.get("pinUvAuthProtocols") or ()),
        options=dict(info.get("options") or {}),
        product_name=record["model"],
        max_msg_size=info.get("maxMsgSize"),
        max_creds_in_list=info.get("maxCredentialCountInList"),
        max_cred_id_length=info.get("maxCredentialIdLength"),
        min_pin_length=info.get("minPINLength"),
        max_rpids_for_min_pin=info.get("maxRPIDsForSetMinPINLength"),
        remaining_creds_reported="remainingDiscoverableCredentials" in info,
        algorithms=tuple(int(a["alg"]) for a in algorithms) if algorithms else None,
        firmware=info.get("firmwareVersion"),
        transports=tuple(info["transports"]) if info.get("transports") else None,
        firmware_label=record.get("firmware", ""),
        undeclared_pin_protocol=behaviour.get("undeclared_pin_protocol"),
        max_user_field_bytes=behaviour.get("max_user_field_bytes"),
        strict_algorithms=bool(behaviour.get("strict_algorithms")),
        strict_extensions=bool(behaviour.get("strict_extensions")),
        credentials_need_pin=bool(behaviour.get("credentials_need_pin")),
        numeric_pin_only=bool(behaviour.get("numeric_pin_only")),
        quirks=frozenset(Quirk(q) for q in behaviour.get("quirks", ())),
    )


@cache
def real_key_profiles() -> dict[str, Profile]:
    """The profiles of real key models, from the package's ``real_keys.json``."""
    text = resources.files("station_emulator.key").joinpath("real_keys.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return {name: profile_from_record(name, record) for name, record in data.items() if not name.startswith("_")}


PROFILES: dict[str, Profile] = {p.name: p for p in (FIDO21, FIDO20, U2F)} | real_key_profiles()


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown key profile {name!r}; choose one of {', '.join(PROFILES)}") from None


def parse_quirks(names: list[str] | tuple[str, ...]) -> frozenset[Quirk]:
    """Quirk switches by name; ValueError naming the valid ones for an unknown name."""
    try:
        return frozenset(Quirk(n) for n in names)
    except ValueError:
        raise ValueError(f"unknown quirk in {', '.join(names)}; choose from "
                         f"{', '.join(q.value for q in Quirk)}") from None
