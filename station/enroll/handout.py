"""PIN hand-out documents: a CSV, and a printable letter per person (name, UPN, key model, PIN, first steps).

Built from opened escrow entries; the caller decides where they go (never a log).
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable
from dataclasses import dataclass

CSV_FIELDS = ["upn", "display_name", "key_model", "passkey_name", "pin", "state", "enrolment_id", "enrolled_at"]

FIRST_USE_STEPS = [
    "Insert the security key (or hold it to the reader) when a Microsoft sign-in page asks you to sign in.",
    "Choose \"Sign-in options\", then \"Face, fingerprint, PIN or security key\", and select the security key.",
    "Enter the PIN printed below and touch the key when it blinks.",
    "You will be asked to change the PIN: choose a new one you can remember. This PIN then stops working.",
    "Destroy this letter once you have changed the PIN. Never write your new PIN on the key.",
]


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


def to_csv(entries: Iterable[Handout]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for e in entries:
        writer.writerow({f: getattr(e, f) for f in CSV_FIELDS})
    return out.getvalue()


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
    esc = html.escape
    steps = "".join(f"<li>{esc(s)}</li>" for s in FIRST_USE_STEPS)
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
