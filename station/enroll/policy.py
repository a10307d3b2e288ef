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
from station.enroll import pin_rules
from station.enroll.reasons import failure
from station.errors import Reason, StationError
from station.i18n import _
from station.keys.attestation import model_unattestable
from station.keys.catalogue import KeyCatalogue

FIDO_2_1 = "FIDO_2_1"


def has_feature(info: Info, feature: str) -> bool:
    """Whether the key offers one of the policy's feature names (``clientPin``, ``credMgmt``, …)."""
    opts = info.options
    if feature in ("clientPin", "ep"):
        return feature in opts
    return opts.get(feature) is True


ENROLMENT_NEEDS = ("clientPin", "rk")
PIN_RULE_FEATURES = ("authnrCfg", "setMinPINLength")


def needed_features(policy: EnrolmentSection) -> list[str]:
    """What enrolment needs (a PIN, a resident passkey), the configured features, and what the policy implies:
    authenticatorConfig only where a PIN rule is ``"require"``d, and for enterprise attestation."""
    implied = list(PIN_RULE_FEATURES) if pin_rules.required_by_policy(policy) else []
    if policy.enterprise_attestation:
        implied += ["authnrCfg", "ep"]
    return list(dict.fromkeys([*ENROLMENT_NEEDS, *policy.required_features, *implied]))


def feature_refusal(info: Info, policy: EnrolmentSection, model: str) -> StationError | None:
    """FEATURE_MISSING naming the real cause — the key itself, or the setting that asks for more — or None."""
    missing = [f for f in needed_features(policy) if not has_feature(info, f)]
    if not missing:
        return None
    version = "FIDO 2.1" if FIDO_2_1 in info.versions else (
        "FIDO 2.1 preview" if "FIDO_2_1_PRE" in info.versions else "FIDO 2.0")
    message = f"{model} ({version}) lacks {', '.join(missing)}"
    if "rk" in missing or "clientPin" in missing:
        remedy = _("This key model cannot store a passkey on itself, which a passkey for Entra ID needs. Take a "
                   "FIDO2 key that can.") if "rk" in missing else _(
            "This key model cannot be protected by a PIN, which a passkey for Entra ID needs. Take a FIDO2 key "
            "that can.")
        return StationError(message, reason=Reason.FEATURE_MISSING, remedy=remedy, retryable=False)
    requiring = pin_rules.required_by_policy(policy)
    if requiring and any(f in PIN_RULE_FEATURES for f in missing):
        settings = " and ".join(requiring)
        remedy = _("The configuration ({settings}) refuses keys that cannot enforce PIN rules; this model has no "
                   "authenticatorConfig. Take a FIDO 2.1 key with authenticatorConfig, or set the setting to "
                   "\"when_supported\" to enrol it with the PIN change on the person's letter.").format(
            settings=settings)
        return StationError(f"{message}, which {settings} needs", reason=Reason.FEATURE_MISSING, remedy=remedy,
                            retryable=False)
    causes = (["required_features"] if set(missing) & set(policy.required_features) else []) + (
        ["enterprise_attestation = true"] if policy.enterprise_attestation else [])
    remedy = _("The configuration ({settings}) asks for {features}, which this key model lacks. Take a key model "
               "that has it, or change the setting.").format(settings=", ".join(causes), features=", ".join(missing))
    return StationError(f"{message}, which the configuration asks for", reason=Reason.FEATURE_MISSING,
                        remedy=remedy, retryable=False)


@dataclass(frozen=True)
class Inspection:
    aaguid: str
    model: str
    versions: tuple[str, ...]
    pin_set: bool
    refusals: list[StationError] = field(default_factory=list)
    firmware: str = ""

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
    missing = feature_refusal(info, policy, model)
    if missing is not None:
        refusals.append(missing)
    if info.remaining_disc_creds == 0:
        refusals.append(failure(Reason.KEY_FULL, f"{model} has no free slot for another passkey"))
    return Inspection(aaguid, model, versions, info.options.get("clientPin") is True, refusals,
                      firmware_text(info.firmware_version))


def firmware_text(version: int | None) -> str:
    """getInfo's firmwareVersion as a person reads it: 0x050704 → "5.7.4" (YubiKey's encoding, which most
    vendors share); a number that does not fit that shape as it is."""
    if version is None:
        return ""
    if 0x10000 <= version < 0x1000000:
        return f"{version >> 16}.{(version >> 8) & 0xFF}.{version & 0xFF}"
    return str(version)


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
