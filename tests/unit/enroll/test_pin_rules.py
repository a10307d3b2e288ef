"""Which PIN rules a key gets: each rule the key can enforce, and in plain words what it cannot."""

from __future__ import annotations

from typing import Any

from fido2.ctap2 import Info
from fido2.webauthn import Aaguid

from station.config import EnrolmentSection
from station.enroll import pin_rules


def info(config: bool, min_pin_length: int = 4) -> Info:
    options: dict[str, Any] = {"rk": True, "clientPin": False}
    if config:
        options |= {"authnrCfg": True, "setMinPINLength": True}
    return Info(versions=["FIDO_2_0"], aaguid=Aaguid(bytes(16)), options=options, min_pin_length=min_pin_length)


def test_a_key_with_authenticator_config_gets_every_rule() -> None:
    policy = EnrolmentSection(min_pin_length=8, min_pin_length_rp_ids=["login.microsoft.com"])
    rules = pin_rules.plan(info(True), policy)
    assert (rules.force_change, rules.min_length, rules.rp_ids, rules.not_enforced) == (
        True, 8, ("login.microsoft.com",), ())
    assert rules.summary() == ("applied: PIN change forced at first use; minimum PIN length 8; minimum PIN length "
                               "reported to login.microsoft.com")
    assert pin_rules.plan(info(True, min_pin_length=8), EnrolmentSection(min_pin_length=6)).min_length is None
    assert not pin_rules.plan(info(True), EnrolmentSection(pin_change="off")).applies


def test_a_key_without_it_is_told_apart_in_words() -> None:
    rules = pin_rules.plan(info(False), EnrolmentSection(min_pin_length=8))
    assert not rules.applies and rules.pin_change_by_letter
    assert rules.summary() == ("applied: nothing — not enforced: this key cannot force a PIN change — change it at "
                               "first sign-in; this key cannot enforce a minimum PIN length of 8 on a new PIN")
    assert pin_rules.plan(info(False), EnrolmentSection(pin_change="off")).not_enforced == ()


def test_rules_a_key_refused_after_all_go_to_the_letter() -> None:
    rules = pin_rules.not_applied(pin_rules.plan(info(True), EnrolmentSection()), "the key was removed")
    assert rules.pin_change_by_letter and not rules.applies and "the key was removed" in rules.summary()
