"""Block letters scaled up for a large screen keep their shape: every pixel becomes factor × factor."""

from __future__ import annotations

from station.tui.block_font import HEIGHT, block_lines, block_width, scaled


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
