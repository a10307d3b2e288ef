"""A small three-row block font, so a prompt can be read from a metre away.

Pure text: ``block_lines("TOUCH THE KEY")`` returns three strings of equal width built from full and
half block characters. Letters without a glyph fall back to the plain character on the middle row.
"""

from __future__ import annotations

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
}

HEIGHT = 3


def block_lines(text: str) -> list[str]:
    """Three rows spelling ``text`` (upper-cased), letters one column apart."""
    rows = ["", "", ""]
    for i, char in enumerate(text.upper()):
        glyph = GLYPHS.get(char, (" ", char, " "))
        for r in range(HEIGHT):
            rows[r] += ("" if i == 0 else " ") + glyph[r]
    return rows


def block_width(text: str) -> int:
    return len(block_lines(text)[0])
