"""The letter that goes with a key handed out for self-activation: the Temporary Access Pass, until when it
works, and how to register the key at My Security Info. A CSV, and a printable page per person.

Built from opened hand-outs; the caller decides where they go (never a log). Names are shown as text. Each
printed letter is in the person's language (Entra ID's ``preferredLanguage``, else the station's ``[station]
language``) through the gettext catalogs of station/i18n.py, laid out in that language's direction, with names,
UPNs and models isolated (``<bdi>``) and the pass always left to right; the CSV's ``language`` column carries the
person's preferredLanguage, for a mail merge. A key the station
prepared (reset, random PIN) has its PIN on the letter, and the steps say to enter it instead of setting one.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from station import csv_out
from station.i18n import N_, SOURCE_LANGUAGE, direction, language_of, translations
from station.text import visible

SECURITY_INFO_URL = "https://mysignins.microsoft.com/security-info"
CSV_FIELDS = ["upn", "display_name", "key_serial", "key_model", "temporary_access_pass", "expires", "single_use",
              "register_at", "handout_id", "language", "pin"]

REGISTER_STEPS = [
    N_("Open {url} in a browser and sign in with your account."),
    N_("When asked for a password or another method, choose \"Temporary Access Pass\" and type the pass printed "
       "below."),
    N_("Choose \"+ Add sign-in method\", then \"Passkey\" (or \"Security key\"), then \"USB device\" or "
       "\"NFC device\"."),
    N_("Insert the security key (or hold it to the reader); set a PIN when asked and touch the key when it blinks."),
    N_("Give the key a name you will recognise. From now on you sign in with the key and its PIN."),
    N_("Destroy this letter once the key is registered: the pass is of no further use."),
]
PREPARED_KEY_STEP = N_("Insert the security key (or hold it to the reader); enter the key's PIN printed below when "
                       "asked and touch the key when it blinks.")
PREPARED_DESTROY_STEP = N_("Destroy this letter once the key is registered: the pass is of no further use. You may "
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


def to_html(letters: Iterable[TapLetter], organisation: str = "", language: str = SOURCE_LANGUAGE) -> str:
    """One printable page per person, each in the person's language, else in ``language`` (the station's)."""
    pages = [_letter(e, organisation, language_of(e.language, language)) for e in letters]
    return (
        f"<!DOCTYPE html>\n<html lang=\"{language}\"><head><meta charset=\"utf-8\"><title>TAP</title>\n"
        "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}"
        ".letter{page-break-after:always;margin-bottom:4em}"
        ".tap{font-family:monospace;font-size:2em;letter-spacing:.15em;border:1px solid #000;padding:.3em .6em;"
        "display:inline-block}th{text-align:start}</style></head><body>\n" + "\n".join(pages) + "\n</body></html>\n"
    )


def _letter(e: TapLetter, organisation: str, language: str) -> str:
    _ = translations(language).gettext

    def esc(text: str) -> str:
        return html.escape(visible(text))

    def data(text: str) -> str:
        """A name, UPN, model or serial: isolated, so that right-to-left text keeps to itself."""
        return f"<bdi dir=\"auto\">{esc(text)}</bdi>"

    steps = "".join(f"<li>{esc(_(step)).format(url=data(e.register_at))}</li>" for step in e.steps())
    sender = f"<p dir=\"auto\">{esc(organisation)}</p>" if organisation else ""
    dear = esc(_("Dear {name},")).format(name=data(e.display_name or e.upn))
    yours = esc(_("This security key is for your account {upn}. You register it yourself.")).format(
        upn=f"<strong>{data(e.upn)}</strong>")
    until = esc(_("It works until {when}.")).format(when=f"<strong>{data(e.expires)}</strong>")
    once = " " + esc(_("It works for one sign-in only.")) if e.single_use else ""
    title, model, serial_word, pass_word, register, pin_word = (
        _("Your security key"), _("Key model"), _("Serial"), _("Your Temporary Access Pass:"), _("Register the key"),
        _("Your security key's PIN:"))
    key_model = e.key_model or _("security key")
    serial = f"<tr><th>{esc(serial_word)}</th><td>{data(e.key_serial)}</td></tr>" if e.key_serial else ""
    pin = f"<p>{esc(pin_word)}</p><p class=\"tap\" dir=\"ltr\">{esc(e.pin)}</p>" if e.pin else ""
    return (
        f"<section class=\"letter\" lang=\"{language}\" dir=\"{direction(language)}\">{sender}"
        f"<h1>{esc(title)}</h1><p>{dear}</p><p>{yours}</p>"
        f"<table><tr><th>{esc(model)}</th><td>{data(key_model)}</td></tr>{serial}</table>"
        f"<p>{esc(pass_word)}</p><p class=\"tap\" dir=\"ltr\">{esc(e.temporary_access_pass)}</p>"
        f"<p>{until}{once}</p>{pin}<h2>{esc(register)}</h2><ol>{steps}</ol></section>"
    )
