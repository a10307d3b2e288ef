"""Preflight of the FIDO2 policy: each problem that would make registrations fail is one FAIL finding."""

from __future__ import annotations

from typing import Any

from station.entra import remedies
from station.entra.policy import Fido2Policy, review

YUBIKEY = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
VIRTUAL = "a3f7c6e2-5b1d-4e8a-9c0f-2d6b8e4a1f37"


def policy(**over: Any) -> Fido2Policy:
    body: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration",
        "id": "Fido2", "state": "enabled", "isSelfServiceRegistrationAllowed": True,
        "isAttestationEnforced": False,
        "keyRestrictions": {"isEnforced": False, "enforcementType": "block", "aaGuids": []},
        "includeTargets": [{"targetType": "group", "id": "all_users"}],
    }
    body.update(over)
    return Fido2Policy.of(body)


def failures(p: Fido2Policy, allowed: list[str]) -> dict[str, str]:
    return {f.check: f.remedy for f in review(p, allowed) if not f.ok}


def test_a_permissive_policy_passes() -> None:
    assert failures(policy(), [YUBIKEY]) == {}


def test_disabled_method_fails() -> None:
    assert failures(policy(state="disabled"), []) == {"FIDO2 method": remedies.ENABLE_FIDO2}


def test_self_service_off_fails_with_its_remedy() -> None:
    found = failures(policy(isSelfServiceRegistrationAllowed=False), [])
    assert found == {"self-service setup": remedies.ENABLE_SELF_SERVICE}


def test_allow_list_missing_a_configured_model_fails() -> None:
    p = policy(keyRestrictions={"isEnforced": True, "enforcementType": "allow", "aaGuids": [YUBIKEY.upper()]})
    assert failures(p, [YUBIKEY]) == {}
    assert failures(p, [YUBIKEY, VIRTUAL]) == {"key restrictions": remedies.AAGUID_REFUSED}
    finding = next(f for f in review(p, [YUBIKEY, VIRTUAL]) if f.check == "key restrictions")
    assert VIRTUAL in finding.detail and "FAIL" in finding.line()


def test_block_list_naming_a_configured_model_fails() -> None:
    p = policy(keyRestrictions={"isEnforced": True, "enforcementType": "block", "aaGuids": [VIRTUAL]})
    assert failures(p, [YUBIKEY]) == {}
    assert "key restrictions" in failures(p, [VIRTUAL])


def test_restrictions_not_enforced_refuse_nothing() -> None:
    p = policy(keyRestrictions={"isEnforced": False, "enforcementType": "allow", "aaGuids": [YUBIKEY]})
    assert failures(p, [VIRTUAL]) == {}


def test_attestation_enforcement_is_reported() -> None:
    detail = next(f.detail for f in review(policy(isAttestationEnforced=True), []) if f.check == "attestation")
    assert detail.startswith("enforced")
