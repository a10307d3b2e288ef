"""The key-model catalogue and what inspection makes of it: names from MDS (or the built-in MDS-derived table,
never a reader or USB product name), a revoked model refused before anything else, and with
``attestation = "verify"`` a model the metadata cannot vouch for refused at insertion."""

from __future__ import annotations

from typing import Any

from fido2.ctap2 import Info
from mds_blob import REVOKED_AAGUID, YUBIKEY_5_AAGUID, real_payload

from station.config import EnrolmentSection
from station.enroll.policy import inspect
from station.errors import Reason
from station.keys.catalogue import KeyCatalogue

UNKNOWN = "0d15ea5e-0000-4000-8000-00000000c0de"


def info(aaguid: str, **kw: Any) -> Info:
    return Info.from_dict({1: ["FIDO_2_0", "FIDO_2_1"], 3: bytes.fromhex(aaguid.replace("-", "")),
                           4: {"rk": True, "clientPin": False, "pinUvAuthToken": True, "authnrCfg": True,
                               "setMinPINLength": True}, **kw})


def test_built_in_names_come_from_mds_data_and_unknown_models_show_their_aaguid() -> None:
    builtin = KeyCatalogue.builtin()
    assert not builtin.loaded
    assert builtin.name(YUBIKEY_5_AAGUID) == "YubiKey 5 Series"
    assert builtin.name(YUBIKEY_5_AAGUID.upper()) == "YubiKey 5 Series"
    assert builtin.name("5a7e0000-2100-4000-8000-5a7e10000021") == "Virtual Key 2.1"
    assert builtin.name(UNKNOWN) == f"Security key (AAGUID {UNKNOWN})"
    assert builtin.name("00000000-0000-0000-0000-000000000000") == "Security key (no AAGUID)"
    assert inspect(info(UNKNOWN), EnrolmentSection()).model == f"Security key (AAGUID {UNKNOWN})"


def test_a_loaded_payload_gives_names_statuses_and_roots_per_aaguid() -> None:
    catalogue = KeyCatalogue.from_payload(real_payload(), "test")
    assert catalogue.loaded and len(catalogue) == 239
    yubikey = catalogue.get(YUBIKEY_5_AAGUID)
    assert yubikey is not None and yubikey.name == "YubiKey 5 Series"
    assert yubikey.certification == "FIDO_CERTIFIED_L1" and len(yubikey.roots) == 1
    assert yubikey.compromise is None
    revoked = catalogue.get(REVOKED_AAGUID)
    assert revoked is not None and revoked.compromise is not None
    assert (revoked.compromise.status, revoked.compromise.effective_date) == ("REVOKED", "2023-12-20")
    assert catalogue.get(UNKNOWN) is None and catalogue.name(UNKNOWN) == f"Security key (AAGUID {UNKNOWN})"


def test_a_revoked_model_is_the_first_refusal() -> None:
    catalogue = KeyCatalogue.from_payload(real_payload(), "test")
    policy = EnrolmentSection(allowed_aaguids=[YUBIKEY_5_AAGUID])
    result = inspect(info(REVOKED_AAGUID), policy, catalogue)
    assert result.model == "TruU Windows Authenticator"
    assert [r.reason for r in result.refusals][:2] == [Reason.MODEL_COMPROMISED, Reason.AAGUID_NOT_ALLOWED]
    assert "REVOKED since 2023-12-20" in result.refusals[0].message
    assert inspect(info(YUBIKEY_5_AAGUID), EnrolmentSection(), catalogue).refusals == []


def test_verify_refuses_at_insertion_what_cannot_be_attested() -> None:
    verify = EnrolmentSection(attestation="verify")
    catalogue = KeyCatalogue.from_payload(real_payload(), "test")
    assert inspect(info(YUBIKEY_5_AAGUID), verify, catalogue).refusals == []
    unlisted = inspect(info(UNKNOWN), verify, catalogue).refusals
    assert [r.reason for r in unlisted] == [Reason.ATTESTATION_UNTRUSTED]
    assert "FIDO's metadata does not list this model" in unlisted[0].message
    without = inspect(info(YUBIKEY_5_AAGUID), verify, KeyCatalogue.builtin()).refusals
    assert "no FIDO metadata is loaded (station mds load FILE)" in without[0].message
    assert inspect(info(UNKNOWN), EnrolmentSection(), catalogue).refusals == []
