"""Preflight of the tenant's Passkey (FIDO2) policy: what would make registrations fail, found before
any key is touched. Each finding is one OK/FAIL line with a remedy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from station.entra.http import GraphHttp
from station.entra.remedies import AAGUID_REFUSED, ENABLE_FIDO2, ENABLE_SELF_SERVICE

POLICY_PATH = "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2"


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str
    remedy: str = ""

    def line(self) -> str:
        text = f"{'OK  ' if self.ok else 'FAIL'} {self.check}: {self.detail}"
        return text if self.ok or not self.remedy else f"{text}\n     → {self.remedy}"


@dataclass(frozen=True)
class Fido2Policy:
    enabled: bool
    self_service: bool
    attestation_enforced: bool
    restrictions_enforced: bool
    enforcement_type: str
    aaguids: frozenset[str] = field(default_factory=frozenset)
    targets: tuple[str, ...] = ()

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Fido2Policy:
        restrictions = body.get("keyRestrictions") or {}
        targets = tuple(str(t.get("id", "")) for t in body.get("includeTargets") or [] if isinstance(t, dict))
        return cls(
            enabled=str(body.get("state", "")).lower() == "enabled",
            self_service=bool(body.get("isSelfServiceRegistrationAllowed")),
            attestation_enforced=bool(body.get("isAttestationEnforced")),
            restrictions_enforced=bool(restrictions.get("isEnforced")),
            enforcement_type=str(restrictions.get("enforcementType") or "block").lower(),
            aaguids=frozenset(str(a).lower() for a in restrictions.get("aaGuids") or []),
            targets=targets,
        )

    def refuses(self, aaguid: str) -> bool:
        if not self.restrictions_enforced:
            return False
        listed = aaguid.lower() in self.aaguids
        return not listed if self.enforcement_type == "allow" else listed


def read_policy(http: GraphHttp) -> Fido2Policy:
    """The tenant's FIDO2 method configuration (beta, as the contract documents it; needs Policy.Read.All)."""
    return Fido2Policy.of(http.get_json(POLICY_PATH, purpose="policy", what="read the FIDO2 policy",
                                        version="beta"))


def review(policy: Fido2Policy, allowed_aaguids: Iterable[str]) -> list[Finding]:
    """What in ``policy`` would stop Station registering the configured key models."""
    findings = [
        Finding("FIDO2 method", policy.enabled, "enabled" if policy.enabled else "disabled", ENABLE_FIDO2),
        Finding("self-service setup", policy.self_service,
                "allowed" if policy.self_service else "not allowed; the provisioning API needs it",
                ENABLE_SELF_SERVICE),
    ]
    if policy.targets and "all_users" not in policy.targets:
        findings.append(Finding("targets", True, f"only {len(policy.targets)} group(s); queued people outside "
                                "them will be refused"))
    configured = [a.lower() for a in allowed_aaguids]
    refused = [a for a in configured if policy.refuses(a)]
    if not policy.restrictions_enforced:
        findings.append(Finding("key restrictions", True, "none enforced"))
    elif not configured:
        findings.append(Finding(
            "key restrictions", True,
            f"{policy.enforcement_type} list of {len(policy.aaguids)} AAGUID(s); set enrolment.allowed_aaguids "
            "to have Station refuse other models before touching them"))
    else:
        findings.append(Finding(
            "key restrictions", not refused,
            f"{policy.enforcement_type} list excludes {', '.join(refused)}" if refused
            else f"{policy.enforcement_type} list admits all {len(configured)} configured model(s)",
            AAGUID_REFUSED))
    findings.append(Finding(
        "attestation", True,
        "enforced: only keys whose attestation chains to the FIDO metadata service register"
        if policy.attestation_enforced else "not enforced"))
    return findings
