"""Which PIN rules a key gets: each rule of the policy the key can enforce, and plainly what it cannot.

The policy asks for a PIN change at first use (``pin_change``) and a minimum PIN length (``min_pin_length``,
``min_pin_length_rp_ids``). A key enforces them only through authenticatorConfig's setMinPINLength (FIDO 2.1
``authnrCfg`` + ``setMinPINLength``). With ``"when_supported"`` (the default) a key without it is still
enrolled and the rule it cannot enforce is named — on the technician's card, on the person's letter ("this
key cannot force a PIN change — change it at first sign-in"), in the journal and in the audit log; with
``"require"`` such a key is refused at inspection, with the setting to change in the remedy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from fido2.ctap2 import ClientPin, Config, Ctap2, Info

from station.config import EnrolmentSection

PIN_CHANGE_BY_LETTER: Final = "this key cannot force a PIN change — change it at first sign-in"
PIN_CHANGE_FORCED: Final = "PIN change forced at first use"


def supports_pin_rules(info: Info) -> bool:
    """Whether the key can set a minimum PIN length and force a PIN change (authenticatorConfig)."""
    return info.options.get("authnrCfg") is True and info.options.get("setMinPINLength") is True


def wants_min_length(policy: EnrolmentSection) -> bool:
    return bool(policy.min_pin_length or policy.min_pin_length_rp_ids)


def required_by_policy(policy: EnrolmentSection) -> list[str]:
    """The settings whose ``"require"`` makes authenticatorConfig a must (empty: none does)."""
    settings = []
    if policy.pin_change == "require":
        settings.append('pin_change = "require"')
    if policy.min_pin_length_mode == "require" and wants_min_length(policy):
        settings.append('min_pin_length_mode = "require"')
    return settings


@dataclass(frozen=True)
class PinRules:
    """What the last key-side step sets (``force_change``, ``min_length``, ``rp_ids``) and what it cannot."""

    force_change: bool = False
    min_length: int | None = None
    rp_ids: tuple[str, ...] = ()
    not_enforced: tuple[str, ...] = ()

    @property
    def applies(self) -> bool:
        return self.force_change or self.min_length is not None or bool(self.rp_ids)

    @property
    def pin_change_by_letter(self) -> bool:
        return PIN_CHANGE_BY_LETTER in self.not_enforced

    def applied(self) -> list[str]:
        done = [PIN_CHANGE_FORCED] if self.force_change else []
        if self.min_length is not None:
            done.append(f"minimum PIN length {self.min_length}")
        if self.rp_ids:
            done.append(f"minimum PIN length reported to {', '.join(self.rp_ids)}")
        return done

    def summary(self) -> str:
        """One line for the journal and the audit log: what was applied, what was not."""
        applied = "; ".join(self.applied()) or "nothing"
        missing = "; ".join(self.not_enforced)
        return f"applied: {applied}" + (f" — not enforced: {missing}" if missing else "")


def plan(info: Info, policy: EnrolmentSection) -> PinRules:
    """The PIN rules for this key under ``policy`` (the key's getInfo as read at inspection or after a reset)."""
    wants_change = policy.pin_change != "off"
    wants_length = wants_min_length(policy)
    if not supports_pin_rules(info):
        missing = [PIN_CHANGE_BY_LETTER] if wants_change else []
        if wants_length:
            missing.append(f"this key cannot enforce a minimum PIN length of {policy.min_pin_length} on a new PIN")
        return PinRules(not_enforced=tuple(missing))
    current = info.min_pin_length
    return PinRules(
        force_change=wants_change,
        min_length=policy.min_pin_length if policy.min_pin_length > current else None,
        rp_ids=tuple(policy.min_pin_length_rp_ids),
    )


def not_applied(rules: PinRules, why: str) -> PinRules:
    """``rules`` that could not be set on the key after all, and why; a wanted PIN change goes to the letter."""
    letter = (PIN_CHANGE_BY_LETTER,) if rules.force_change else ()
    return PinRules(not_enforced=(*letter, *rules.not_enforced, why))


def apply(ctap: Ctap2, client_pin: ClientPin, pin: str, rules: PinRules) -> None:
    """setMinPINLength with RP ids and forceChangePin — the last key-side step of an enrolment.

    The fresh PIN token is needed: makeCredential used up the previous one's permissions.
    """
    token = client_pin.get_pin_token(pin, ClientPin.PERMISSION.AUTHENTICATOR_CFG)
    Config(ctap, client_pin.protocol, token).set_min_pin_length(
        min_pin_length=rules.min_length, rp_ids=list(rules.rp_ids) or None, force_change_pin=rules.force_change)
