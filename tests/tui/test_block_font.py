"""Block letters scaled up for a large screen keep their shape: every pixel becomes factor × factor."""

from __future__ import annotations

from station.i18n import LANGUAGES, translations
from station.tui.block_font import GLYPHS, HEIGHT, block_lines, block_width, scaled, spelt


def test_scaling_doubles_every_pixel_of_the_half_blocks() -> None:
    assert block_lines("OK") == ["█▀█ █ █", "█ █ █▀▄", "█▄█ █ █"]
    assert scaled(block_lines("OK"), 2) == ["██████  ██  ██",
                                            "██  ██  ██  ██",
                                            "██  ██  ████  ",
                                            "██  ██  ██  ██",
                                            "██  ██  ██  ██",
                                            "██████  ██  ██"]
    big = scaled(block_lines("TOUCH THE KEY"), 3)
    assert len(big) == HEIGHT * 3 and {len(line) for line in big} == {block_width("TOUCH THE KEY") * 3}
    assert scaled(block_lines("A?"), 2)[2][-2:] == "??", "a character without a glyph is repeated as it is"
    assert scaled(block_lines("OK"), 1) == block_lines("OK")


def test_every_language_s_block_words_are_spelt_in_letters_the_font_has() -> None:
    """Three rows leave no room for an accent: Ü is spelt UE as German does without umlauts, É as E."""
    assert spelt("Schlüssel berühren") == "SCHLUESSEL BERUEHREN"
    assert spelt("Clé refusée") == "CLE REFUSEE" and spelt("Échec") == "ECHEC"
    assert block_lines("LÄUFT") == block_lines("LAEUFT")
    for language in LANGUAGES:
        tr = translations(language)
        for words in ("TOUCH THE KEY", "DONE", "FAILED", "KEY REFUSED", "INSERT A KEY", "PAUSED", "NO KEYS NOW"):
            shown = spelt(tr.gettext(words))
            assert all(char in GLYPHS for char in shown), f"{language}: {shown!r} has a letter without a glyph"
