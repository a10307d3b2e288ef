"""Key inspection: what a key is (AAGUID, model, CTAP version) and whether policy lets Station enrol it.

``inspect(info, policy, models)`` reads a getInfo answer and returns the facts plus every refusal: a model
FIDO's metadata reports compromised or revoked, a model whose attestation cannot be verified (with
``attestation = "verify"``), AAGUID not allowed, CTAP features the policy needs (a FIDO 2.0 key lacks the
2.1 ones), no room for another resident credential, and a PIN already set (a used key). The model's name
comes from the key-model catalogue (``station.keys``), never from the USB product or NFC reader name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from fido2.ctap2 import Info

from station.config import EnrolmentSection
from station.enroll.reasons import failure
from station.errors import Reason, StationError
from station.keys.attestation import model_unattestable
from station.keys.catalogue import KeyCatalogue

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


def inspect(info: Info, policy: EnrolmentSection, models: KeyCatalogue | None = None) -> Inspection:
    """The key's facts and every reason policy refuses it (an empty list: go ahead)."""
    models = models or KeyCatalogue.builtin()
    aaguid = str(UUID(bytes=bytes(info.aaguid)))
    model = models.name(aaguid)
    versions = tuple(info.versions)
    refusals = metadata_refusals(models, aaguid, model, policy)
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


def metadata_refusals(models: KeyCatalogue, aaguid: str, model: str, policy: EnrolmentSection) -> list[StationError]:
    """What FIDO's metadata rules out before anything is written to the key: a compromised or revoked model,
    and (``attestation = "verify"``) a model whose attestation cannot be checked against its roots."""
    refusals: list[StationError] = []
    facts = models.get(aaguid)
    bad = facts.compromise if facts is not None else None
    if bad is not None:
        since = f" since {bad.effective_date}" if bad.effective_date else ""
        refusals.append(failure(Reason.MODEL_COMPROMISED,
                                f"{model} (AAGUID {aaguid}): FIDO's metadata reports {bad.status}{since}"))
    why = model_unattestable(models, aaguid) if policy.attestation == "verify" else None
    if why is not None:
        refusals.append(failure(Reason.ATTESTATION_UNTRUSTED, f"{model} cannot be attested: {why}"))
    return refusals
