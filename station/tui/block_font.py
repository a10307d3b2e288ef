"""A small three-row block font, so a prompt can be read from a metre away — or two, ``scaled`` up.

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
