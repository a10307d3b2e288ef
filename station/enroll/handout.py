"""PIN hand-out documents: a CSV, and a printable letter per person (name, UPN, key model, PIN, first steps).

A key that could not be made to force a PIN change (no authenticatorConfig) gets a letter that says so and
asks the person to change the PIN at first sign-in; ``pin_rules`` is the journal's record of what the key got.

Each letter is in the person's language (``language``: Entra ID's ``preferredLanguage``, else the station's
``[station] language``) through the gettext catalogs of station/i18n.py; names, UPNs and key models are
isolated (``<bdi>``, ``dir="auto"``) so that a right-to-left name cannot reorder the sentence around it.

Built from opened escrow entries; the caller decides where they go (never a log).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from gettext import NullTranslations

from station import csv_out
from station.enroll.pin_rules import PIN_CHANGE_BY_LETTER, PIN_CHANGE_FORCED
from station.i18n import N_, NP_, SOURCE_LANGUAGE, direction, language_of, translations
from station.text import visible

CSV_FIELDS = ["upn", "display_name", "key_model", "passkey_name", "pin", "state", "enrolment_id", "enrolled_at",
              "pin_rules", "language"]

FIRST_USE_STEPS = [
    N_("Insert the security key (or hold it to the reader) when a Microsoft sign-in page asks you to sign in."),
    N_("Choose \"Sign-in options\", then \"Face, fingerprint, PIN or security key\", and select the security key."),
    N_("Enter the PIN printed below and touch the key when it blinks."),
    N_("You will be asked to change the PIN: choose a new one you can remember. This PIN then stops working."),
    N_("Destroy this letter once you have changed the PIN. Never write your new PIN on the key."),
]
CHANGE_IT_YOURSELF = N_("This key cannot force a PIN change — change it at first sign-in: right after you have "
                      "signed in, change the security key's PIN (on Windows: Settings, Accounts, Sign-in options, "
                      "Security key, Manage) to a new one you can remember. This PIN then stops working.")
LENGTH_ENFORCED = NP_("Your new PIN must be at least {n} character long: the key refuses a shorter one.",
                      "Your new PIN must be at least {n} characters long: the key refuses a shorter one.")
LENGTH_BY_LETTER = NP_("Choose a new PIN of at least {n} character: your organisation asks for it, though this key "
                       "cannot enforce it.",
                       "Choose a new PIN of at least {n} characters: your organisation asks for it, though this "
                       "key cannot enforce it.")
_ENFORCED_LENGTH = re.compile(r"(?<!of )minimum PIN length (\d+)")
_LETTER_LENGTH = re.compile(r"cannot enforce a minimum PIN length of (\d+)")
CHANGE_WHEN_YOU_LIKE = N_("You may keep this PIN, or change it to one you can remember (on Windows: Settings, "
                          "Accounts, Sign-in options, Security key, Manage).")


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
    language: str = ""  # the person's preferredLanguage (a BCP 47 tag) as the directory gave it

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

    def pin_length_step(self, tr: NullTranslations) -> str | None:
        """What the letter says about the new PIN's length: enforced by the key, asked of the person, or nothing
        (no minimum beyond the key's own)."""
        for pattern, (one, many) in ((_LETTER_LENGTH, LENGTH_BY_LETTER), (_ENFORCED_LENGTH, LENGTH_ENFORCED)):
            rules = self.pin_rules if pattern is _LETTER_LENGTH else self.pin_rules.split(" — not enforced:")[0]
            if found := pattern.search(rules):
                n = int(found.group(1))
                return tr.ngettext(one, many, n).format(n=n)
        return None

    def steps(self, tr: NullTranslations | None = None) -> list[str]:
        """The letter's first-use steps in ``tr``'s language, saying exactly what this key enforces."""
        tr = tr or NullTranslations()
        steps = [tr.gettext(self.pin_change_step if i == 3 else step) for i, step in enumerate(FIRST_USE_STEPS)]
        length = self.pin_length_step(tr)
        if length:
            steps.insert(4, length)
        return steps


def to_csv(entries: Iterable[Handout]) -> str:
    """One row per person; a cell a spreadsheet would run as a formula is written as text."""
    return csv_out.to_csv(CSV_FIELDS, (asdict(e) for e in entries))


def to_html(entries: Iterable[Handout], organisation: str = "", language: str = SOURCE_LANGUAGE) -> str:
    """One printable page per person, each in the person's language, else in ``language`` (the station's)."""
    pages = [_letter(e, organisation, language_of(e.language, language)) for e in entries]
    return (
        f"<!DOCTYPE html>\n<html lang=\"{language}\"><head><meta charset=\"utf-8\"><title>PIN</title>\n"
        "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}"
        ".letter{page-break-after:always;margin-bottom:4em}"
        ".pin{font-family:monospace;font-size:2em;letter-spacing:.2em;border:1px solid #000;padding:.3em .6em;"
        "display:inline-block}th{text-align:start}</style></head><body>\n" + "\n".join(pages) + "\n</body></html>\n"
    )


def _letter(e: Handout, organisation: str, language: str) -> str:
    tr = translations(language)
    _ = tr.gettext

    def esc(text: str) -> str:
        return html.escape(visible(text))

    def data(text: str) -> str:
        """A name, UPN or model: isolated, so that right-to-left text keeps to itself."""
        return f"<bdi dir=\"auto\">{esc(text)}</bdi>"

    steps = "".join(f"<li>{esc(step)}</li>" for step in e.steps(tr))
    sender = f"<p dir=\"auto\">{esc(organisation)}</p>" if organisation else ""
    dear = esc(_("Dear {name},")).format(name=data(e.display_name or e.upn))
    account = esc(_("This security key has been set up for your account {upn}.")).format(
        upn=f"<strong>{data(e.upn)}</strong>")
    title, model, name, first_pin, first_use = (_("Your security key"), _("Key model"), _("Name in your account"),
                                                _("Your first PIN:"), _("First use"))
    return (
        f"<section class=\"letter\" lang=\"{language}\" dir=\"{direction(language)}\">{sender}<h1>{esc(title)}</h1>"
        f"<p>{dear}</p><p>{account}</p>"
        f"<table><tr><th>{esc(model)}</th><td>{data(e.key_model)}</td></tr>"
        f"<tr><th>{esc(name)}</th><td>{data(e.passkey_name)}</td></tr></table>"
        f"<p>{esc(first_pin)}</p><p class=\"pin\" dir=\"ltr\">{esc(e.pin)}</p>"
        f"<h2>{esc(first_use)}</h2><ol>{steps}</ol></section>"
    )
