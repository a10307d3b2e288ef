"""Key inspection: what a key is (AAGUID, model, CTAP version) and whether policy lets Station enrol it.

``inspect(info, policy)`` reads a getInfo answer and returns the facts plus every refusal: AAGUID not
allowed, CTAP features the policy needs (a FIDO 2.0 key lacks the 2.1 ones), no room for another
resident credential, and a PIN already set (a used key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from fido2.ctap2 import Info

from station.config import EnrolmentSection
from station.enroll.reasons import failure
from station.errors import Reason, StationError

KNOWN_MODELS: dict[str, str] = {
    "5a7e0000-2100-4000-8000-5a7e10000021": "Virtual Key 2.1",
    "5a7e0000-2000-4000-8000-5a7e10000020": "Virtual Key 2.0",
    "cb69481e-8ff7-4039-93ec-0a2729a154a8": "YubiKey 5",
    "ee882879-721c-4913-9775-3dfcce97072a": "YubiKey 5 NFC",
    "fa2b99dc-9e39-4257-8f92-4a30d23c4118": "YubiKey 5 NFC",
    "2fc0579f-8113-47ea-b116-bb5a8db9202a": "YubiKey 5 NFC",
    "a4e9fc6d-4cbe-4758-b8ba-37598bb5bbaa": "Security Key NFC",
    "a25342c0-3cdc-4414-8e46-f4807fca511c": "YubiKey 5 NFC FIPS",
    "d8522d9f-575b-4866-88a9-ba99fa02f35b": "YubiKey Bio",
}

FIDO_2_1 = "FIDO_2_1"


def has_feature(info: Info, feature: str) -> bool:
    """Whether the key offers one of the policy's feature names (``clientPin``, ``credMgmt``, …)."""
    opts = info.options
    if feature in ("clientPin", "ep"):
        return feature in opts
    return opts.get(feature) is True


def needed_features(policy: EnrolmentSection) -> list[str]:
    """The configured features plus those the rest of the policy implies."""
    needed = list(policy.required_features)
    implied = []
    if policy.force_pin_change or policy.min_pin_length or policy.min_pin_length_rp_ids:
        implied += ["authnrCfg", "setMinPINLength"]
    if policy.enterprise_attestation:
        implied += ["authnrCfg", "ep"]
    for f in ["clientPin", *implied]:
        if f not in needed:
            needed.append(f)
    return needed


@dataclass(frozen=True)
class Inspection:
    aaguid: str
    model: str
    versions: tuple[str, ...]
    pin_set: bool
    refusals: list[StationError] = field(default_factory=list)

    @property
    def fido21(self) -> bool:
        return FIDO_2_1 in self.versions


def model_name(aaguid: str, fallback: str = "") -> str:
    return KNOWN_MODELS.get(aaguid) or fallback or "Security key"


def inspect(info: Info, policy: EnrolmentSection, product_name: str = "") -> Inspection:
    """The key's facts and every reason policy refuses it (an empty list: go ahead)."""
    aaguid = str(UUID(bytes=bytes(info.aaguid)))
    model = model_name(aaguid, product_name)
    versions = tuple(info.versions)
    refusals: list[StationError] = []
    if policy.allowed_aaguids and aaguid not in policy.allowed_aaguids:
        refusals.append(failure(Reason.AAGUID_NOT_ALLOWED, f"{model} (AAGUID {aaguid}) is not an allowed model"))
    missing = [f for f in needed_features(policy) if not has_feature(info, f)]
    if missing:
        version = "FIDO 2.1" if FIDO_2_1 in versions else "FIDO 2.0 only"
        refusals.append(failure(Reason.FEATURE_MISSING,
                                f"{model} ({version}) lacks {', '.join(missing)}, which the policy needs"))
    if info.remaining_disc_creds == 0:
        refusals.append(failure(Reason.KEY_FULL, f"{model} has no free slot for another passkey"))
    return Inspection(aaguid, model, versions, info.options.get("clientPin") is True, refusals)
