"""PIN hand-out documents: a CSV, and a printable letter per person (name, UPN, key model, PIN, first steps).

A key that could not be made to force a PIN change (no authenticatorConfig) gets a letter that says so and
asks the person to change the PIN at first sign-in; ``pin_rules`` is the journal's record of what the key got.

Built from opened escrow entries; the caller decides where they go (never a log).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from station import csv_out
from station.enroll.pin_rules import PIN_CHANGE_BY_LETTER, PIN_CHANGE_FORCED
from station.text import visible

CSV_FIELDS = ["upn", "display_name", "key_model", "passkey_name", "pin", "state", "enrolment_id", "enrolled_at",
              "pin_rules"]

FIRST_USE_STEPS = [
    "Insert the security key (or hold it to the reader) when a Microsoft sign-in page asks you to sign in.",
    "Choose \"Sign-in options\", then \"Face, fingerprint, PIN or security key\", and select the security key.",
    "Enter the PIN printed below and touch the key when it blinks.",
    "You will be asked to change the PIN: choose a new one you can remember. This PIN then stops working.",
    "Destroy this letter once you have changed the PIN. Never write your new PIN on the key.",
]
CHANGE_IT_YOURSELF = ("This key cannot force a PIN change — change it at first sign-in: right after you have "
                      "signed in, change the security key's PIN (on Windows: Settings, Accounts, Sign-in options, "
                      "Security key, Manage) to a new one you can remember. This PIN then stops working.")
LENGTH_ENFORCED = "Your new PIN must be at least {n} characters long: the key refuses a shorter one."
LENGTH_BY_LETTER = ("Choose a new PIN of at least {n} characters: your organisation asks for it, though this key "
                    "cannot enforce it.")
_ENFORCED_LENGTH = re.compile(r"(?<!of )minimum PIN length (\d+)")
_LETTER_LENGTH = re.compile(r"cannot enforce a minimum PIN length of (\d+)")
CHANGE_WHEN_YOU_LIKE = ("You may keep this PIN, or change it to one you can remember (on Windows: Settings, Accounts, "
                        "Sign-in options, Security key, Manage).")


@dataclass(frozen=True)
class Handout:
    upn: str
    display_name: str
    key_model: str
    passkey_name: str
    pin: str
    state: str
    enrolment_id: int
    enrolled_at: str
    pin_rules: str = ""

    @property
    def pin_change_by_letter(self) -> bool:
        return PIN_CHANGE_BY_LETTER in self.pin_rules

    @property
    def pin_change_step(self) -> str:
        """What the letter says about changing the PIN: forced by the key, by the person, or up to them.

        An enrolment journaled before the PIN rules were recorded (no ``pin_rules``) had the change forced.
        """
        if self.pin_change_by_letter:
            return CHANGE_IT_YOURSELF
        if self.pin_rules and PIN_CHANGE_FORCED not in self.pin_rules:
            return CHANGE_WHEN_YOU_LIKE
        return FIRST_USE_STEPS[3]

    @property
    def pin_length_step(self) -> str | None:
        """What the letter says about the new PIN's length: enforced by the key, asked of the person, or nothing
        (no minimum beyond the key's own)."""
        if found := _LETTER_LENGTH.search(self.pin_rules):
            return LENGTH_BY_LETTER.format(n=found.group(1))
        if found := _ENFORCED_LENGTH.search(self.pin_rules.split(" — not enforced:")[0]):
            return LENGTH_ENFORCED.format(n=found.group(1))
        return None

    def steps(self) -> list[str]:
        """The letter's first-use steps, saying exactly what this key enforces."""
        steps = [self.pin_change_step if i == 3 else step for i, step in enumerate(FIRST_USE_STEPS)]
        if self.pin_length_step:
            steps.insert(4, self.pin_length_step)
        return steps


def to_csv(entries: Iterable[Handout]) -> str:
    """One row per person; a cell a spreadsheet would run as a formula is written as text."""
    return csv_out.to_csv(CSV_FIELDS, (asdict(e) for e in entries))


def to_html(entries: Iterable[Handout], organisation: str = "") -> str:
    """One printable page per person."""
    pages = [_letter(e, organisation) for e in entries]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Security key PINs</title>\n"
        "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}"
        ".letter{page-break-after:always;margin-bottom:4em}"
        ".pin{font-family:monospace;font-size:2em;letter-spacing:.2em;border:1px solid #000;padding:.3em .6em;"
        "display:inline-block}</style></head><body>\n" + "\n".join(pages) + "\n</body></html>\n"
    )


def _letter(e: Handout, organisation: str) -> str:
    def esc(text: str) -> str:
        return html.escape(visible(text))

    steps = "".join(f"<li>{esc(step)}</li>" for step in e.steps())
    sender = f"<p>{esc(organisation)}</p>" if organisation else ""
    return (
        f"<section class=\"letter\">{sender}<h1>Your security key</h1>"
        f"<p>Dear {esc(e.display_name or e.upn)},</p>"
        f"<p>This security key has been set up for your account <strong>{esc(e.upn)}</strong>.</p>"
        f"<table><tr><th align=\"left\">Key model</th><td>{esc(e.key_model)}</td></tr>"
        f"<tr><th align=\"left\">Name in your account</th><td>{esc(e.passkey_name)}</td></tr></table>"
        f"<p>Your first PIN:</p><p class=\"pin\">{esc(e.pin)}</p>"
        f"<h2>First use</h2><ol>{steps}</ol></section>"
    )
