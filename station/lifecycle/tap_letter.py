"""The letter that goes with a key handed out for self-activation: the Temporary Access Pass, until when it
works, and how to register the key at My Security Info. A CSV, and a printable page per person.

Built from opened hand-outs; the caller decides where they go (never a log). Names are shown as text. The
letter's words are English; the CSV's ``language`` column carries the person's preferredLanguage from Entra ID
(as the PIN letters' CSV does), for a mail merge that picks a letter in that language. A key the station
prepared (reset, random PIN) has its PIN on the letter, and the steps say to enter it instead of setting one.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from station import csv_out
from station.text import visible

SECURITY_INFO_URL = "https://mysignins.microsoft.com/security-info"
CSV_FIELDS = ["upn", "display_name", "key_serial", "key_model", "temporary_access_pass", "expires", "single_use",
              "register_at", "handout_id", "language", "pin"]

REGISTER_STEPS = [
    f"Open {SECURITY_INFO_URL} in a browser and sign in with your account.",
    "When asked for a password or another method, choose \"Temporary Access Pass\" and type the pass printed "
    "below.",
    "Choose \"+ Add sign-in method\", then \"Passkey\" (or \"Security key\"), then \"USB device\" or \"NFC device\".",
    "Insert the security key (or hold it to the reader); set a PIN when asked and touch the key when it blinks.",
    "Give the key a name you will recognise. From now on you sign in with the key and its PIN.",
    "Destroy this letter once the key is registered: the pass is of no further use.",
]
PREPARED_KEY_STEP = ("Insert the security key (or hold it to the reader); enter the key's PIN printed below when "
                     "asked and touch the key when it blinks.")
PREPARED_DESTROY_STEP = ("Destroy this letter once the key is registered: the pass is of no further use. You may "
                         "change the key's PIN to one you remember (on Windows: Settings, Accounts, Sign-in "
                         "options, Security key, Manage).")


@dataclass(frozen=True)
class TapLetter:
    upn: str
    display_name: str
    key_serial: str
    key_model: str
    temporary_access_pass: str
    expires: str
    single_use: bool
    handout_id: int
    register_at: str = SECURITY_INFO_URL
    language: str = ""  # the person's preferredLanguage (a BCP 47 tag) as the directory gave it
    pin: str = ""  # the PIN of a key the station prepared; empty when the person sets one

    def steps(self) -> list[str]:
        if not self.pin:
            return list(REGISTER_STEPS)
        return [*REGISTER_STEPS[:3], PREPARED_KEY_STEP, REGISTER_STEPS[4], PREPARED_DESTROY_STEP]


def to_csv(letters: Iterable[TapLetter]) -> str:
    """One row per person; a cell a spreadsheet would run as a formula is written as text."""
    return csv_out.to_csv(CSV_FIELDS, (asdict(e) for e in letters))


def to_html(letters: Iterable[TapLetter], organisation: str = "") -> str:
    pages = [_letter(e, organisation) for e in letters]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Your security key</title>\n"
        "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}"
        ".letter{page-break-after:always;margin-bottom:4em}"
        ".tap{font-family:monospace;font-size:2em;letter-spacing:.15em;border:1px solid #000;padding:.3em .6em;"
        "display:inline-block}</style></head><body>\n" + "\n".join(pages) + "\n</body></html>\n"
    )


def _letter(e: TapLetter, organisation: str) -> str:
    def esc(text: str) -> str:
        return html.escape(visible(text))

    steps = "".join(f"<li>{esc(s)}</li>" for s in e.steps())
    pin = f"<p>Your security key's PIN:</p><p class=\"tap\">{esc(e.pin)}</p>" if e.pin else ""
    once = " It works for one sign-in only." if e.single_use else ""
    sender = f"<p>{esc(organisation)}</p>" if organisation else ""
    serial = f"<tr><th align=\"left\">Serial</th><td>{esc(e.key_serial)}</td></tr>" if e.key_serial else ""
    return (
        f"<section class=\"letter\">{sender}<h1>Your security key</h1>"
        f"<p>Dear {esc(e.display_name or e.upn)},</p>"
        f"<p>This security key is for your account <strong>{esc(e.upn)}</strong>. You register it yourself.</p>"
        f"<table><tr><th align=\"left\">Key model</th><td>{esc(e.key_model or 'security key')}</td></tr>{serial}"
        "</table>"
        f"<p>Your Temporary Access Pass:</p><p class=\"tap\">{esc(e.temporary_access_pass)}</p>"
        f"<p>It works until <strong>{esc(e.expires)}</strong>.{once}</p>{pin}"
        f"<h2>Register the key</h2><ol>{steps}</ol></section>"
    )
