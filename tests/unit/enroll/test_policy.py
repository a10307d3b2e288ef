"""Key inspection: allowed models, required CTAP features, capacity and used keys become clear refusals."""

from __future__ import annotations

import uuid
from typing import Any

from fido2.ctap2 import Info
from fido2.webauthn import Aaguid

from station.config import EnrolmentSection
from station.enroll.policy import inspect, needed_features
from station.errors import Reason

V21 = "5a7e0000-2100-4000-8000-5a7e10000021"
FULL_21 = {"rk": True, "clientPin": False, "pinUvAuthToken": True, "authnrCfg": True, "credMgmt": True,
           "setMinPINLength": True}


def info(versions: tuple[str, ...] = ("FIDO_2_0", "FIDO_2_1"), aaguid: str = V21, **kw: Any) -> Info:
    options = dict(FULL_21)
    options.update(kw.pop("options", {}))
    return Info(versions=list(versions), aaguid=Aaguid(uuid.UUID(aaguid).bytes), options=options, **kw)


def reasons(i: Info, policy: EnrolmentSection) -> list[Reason]:
    return [r.reason for r in inspect(i, policy).refusals]


def test_a_blank_fido21_key_passes_the_default_policy() -> None:
    result = inspect(info(remaining_disc_creds=25), EnrolmentSection())
    assert result.refusals == [] and not result.pin_set and result.fido21
    assert result.model == "Virtual Key 2.1"


def test_a_model_off_the_allowed_list_is_refused() -> None:
    policy = EnrolmentSection(allowed_aaguids=["cb69481e-8ff7-4039-93ec-0a2729a154a8"])
    assert reasons(info(), policy) == [Reason.AAGUID_NOT_ALLOWED]
    assert reasons(info(aaguid="cb69481e-8ff7-4039-93ec-0a2729a154a8"), policy) == []


def test_a_fido20_key_passes_the_default_policy_and_is_refused_when_a_pin_rule_is_required() -> None:
    fido20 = info(versions=("FIDO_2_0",), options={"pinUvAuthToken": False, "authnrCfg": False,
                                                   "credMgmt": False, "setMinPINLength": False})
    assert inspect(fido20, EnrolmentSection()).refusals == []
    refusals = inspect(fido20, EnrolmentSection(pin_change="require")).refusals
    assert [r.reason for r in refusals] == [Reason.FEATURE_MISSING]
    assert "FIDO 2.0" in refusals[0].message and "authnrCfg" in refusals[0].message
    assert 'pin_change = "require"' in refusals[0].remedy and "when_supported" in refusals[0].remedy
    refusals = inspect(fido20, EnrolmentSection(min_pin_length=8, min_pin_length_mode="require")).refusals
    assert 'min_pin_length_mode = "require"' in refusals[0].remedy


def test_a_key_without_resident_keys_is_refused_for_what_it_lacks() -> None:
    (refusal,) = inspect(info(options={"rk": False}), EnrolmentSection()).refusals
    assert refusal.reason is Reason.FEATURE_MISSING and "store a passkey on itself" in refusal.remedy
    (refusal,) = inspect(info(options={"credMgmt": False}), EnrolmentSection(required_features=["credMgmt"])).refusals
    assert "required_features" in refusal.remedy and "credMgmt" in refusal.remedy


def test_only_a_required_pin_rule_implies_authenticator_config() -> None:
    assert needed_features(EnrolmentSection()) == ["clientPin", "rk"]
    assert "authnrCfg" in needed_features(EnrolmentSection(pin_change="require"))
    assert "authnrCfg" in needed_features(EnrolmentSection(force_pin_change=True)), "the deprecated setting maps"
    assert "authnrCfg" not in needed_features(EnrolmentSection(force_pin_change=False, required_features=[]))
    assert "authnrCfg" not in needed_features(EnrolmentSection(min_pin_length_mode="require"))
    assert "ep" in needed_features(EnrolmentSection(enterprise_attestation=True))


def test_a_full_key_is_refused() -> None:
    assert reasons(info(remaining_disc_creds=0), EnrolmentSection()) == [Reason.KEY_FULL]


def test_a_key_with_a_pin_is_reported_as_used() -> None:
    assert inspect(info(options={"clientPin": True}), EnrolmentSection()).pin_set
