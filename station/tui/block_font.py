"""A small three-row block font, so a prompt can be read from a metre away — or two, ``scaled`` up.

Pure text: ``block_lines("TOUCH THE KEY")`` returns three strings of equal width built from full and
half block characters. Three rows leave no room for an accent: a German umlaut is spelt as German does without
one (Ü as UE), another accented letter as its base letter (É as E). Characters without a glyph fall back to
the plain character on the middle row.
"""

from __future__ import annotations

import unicodedata

GLYPHS: dict[str, tuple[str, str, str]] = {
    "A": ("▄▀▄", "█▀█", "█ █"),
    "B": ("█▀▄", "█▀▄", "█▄▀"),
    "C": ("█▀▀", "█  ", "█▄▄"),
    "D": ("█▀▄", "█ █", "█▄▀"),
    "E": ("█▀▀", "█▀▀", "█▄▄"),
    "F": ("█▀▀", "█▀ ", "█  "),
    "G": ("█▀▀", "█ ▄", "█▄█"),
    "H": ("█ █", "█▀█", "█ █"),
    "I": ("▀█▀", " █ ", "▄█▄"),
    "J": ("  █", "  █", "█▄█"),
    "K": ("█ █", "█▀▄", "█ █"),
    "L": ("█  ", "█  ", "█▄▄"),
    "M": ("█▄ ▄█", "█ ▀ █", "█   █"),
    "N": ("█▄ █", "█ ▀█", "█  █"),
    "O": ("█▀█", "█ █", "█▄█"),
    "P": ("█▀█", "█▀▀", "█  "),
    "Q": ("█▀█", "█ █", "▀▀█"),
    "R": ("█▀█", "█▀▄", "█ █"),
    "S": ("▄▀▀", " ▀▄", "▄▄▀"),
    "T": ("▀█▀", " █ ", " █ "),
    "U": ("█ █", "█ █", "█▄█"),
    "V": ("█ █", "█ █", "▀▄▀"),
    "W": ("█   █", "█ █ █", "▀▄▀▄▀"),
    "X": ("▀▄▀", " █ ", "▄▀▄"),
    "Y": ("█ █", "▀█▀", " █ "),
    "Z": ("▀▀█", " █ ", "█▄▄"),
    "!": ("█", "█", "▄"),
    " ": (" ", " ", " "),
    "'": ("█", " ", " "),
    "-": ("  ", "▀▀", "  "),
}
UMLAUTS = {"Ä": "AE", "Ö": "OE", "Ü": "UE"}

HEIGHT = 3


def spelt(text: str) -> str:
    """``text`` in capitals, with the letters the font has: UE for Ü, E for É (see above)."""
    out = []
    for char in text.upper():
        if char not in GLYPHS:
            base = unicodedata.normalize("NFD", char)[0]
            char = UMLAUTS.get(char) or (base if base in GLYPHS else char)
        out.append(char)
    return "".join(out)


def block_lines(text: str) -> list[str]:
    """Three rows spelling ``text`` (in capitals), letters one column apart."""
    rows = ["", "", ""]
    for i, char in enumerate(spelt(text)):
        glyph = GLYPHS.get(char, (" ", char, " "))
        for r in range(HEIGHT):
            rows[r] += ("" if i == 0 else " ") + glyph[r]
    return rows


def block_width(text: str) -> int:
    return len(block_lines(text)[0])


# A cell of half blocks is two pixels, top and bottom; scaling works on those pixels.
_PIXELS: dict[str, tuple[bool, bool]] = {"█": (True, True), "▀": (True, False), "▄": (False, True), " ": (False, False)}
_CELLS = {pixels: char for char, pixels in _PIXELS.items()}


def scaled(lines: list[str], factor: int) -> list[str]:
    """``lines`` of block letters ``factor`` times as wide and as tall (HEIGHT × factor rows); a character
    without a glyph is repeated as it is."""
    if factor <= 1:
        return list(lines)
    rows: list[list[tuple[bool, str]]] = []
    for line in lines:
        top: list[tuple[bool, str]] = []
        bottom: list[tuple[bool, str]] = []
        for char in line:
            up, down = _PIXELS.get(char, (False, False))
            other = "" if char in _PIXELS else char
            top += [(up, other)] * factor
            bottom += [(down, other)] * factor
        rows += [top] * factor + [bottom] * factor
    out = []
    for i in range(0, len(rows), 2):
        out.append("".join(a[1] or _CELLS[(a[0], b[0])] for a, b in zip(rows[i], rows[i + 1], strict=True)))
    return out
