"""A banner in block letters, for words a technician must read from a metre away.

The letters grow with the room they have — twice or three times as wide and tall when that fits the width,
so that a technician two metres from a large screen reads them — and when the widget is too narrow for
the block letters it falls back to the plain words, so the message is never cut.
"""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive
from textual.widget import Widget

from station.tui.block_font import HEIGHT, block_lines, block_width, scaled

MAX_SCALE = 3
ROWS_PER_SCALE = 20  # rows of terminal per step: up to 39 rows letters stay 3 rows high, from 40 rows 6, from 60 rows 9


class Banner(Widget):
    """Words in large block letters (``text``), or plain when they do not fit."""

    DEFAULT_CSS = "Banner { height: auto; }"

    text: reactive[str] = reactive("", layout=True)

    def __init__(self, text: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.text = text

    def scale(self, width: int, screen_height: int) -> int:
        """How many times the block letters fit across ``width``, as far as the screen's height allows (up to
        MAX_SCALE); 0: not even once."""
        fits = width // max(1, block_width(self.text))
        return min(MAX_SCALE, fits, max(1, screen_height // ROWS_PER_SCALE))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return HEIGHT * self.scale(width, viewport.height) or 1

    def render(self) -> Text:
        factor = self.scale(self.content_size.width, self.app.size.height)
        if factor:
            return Text("\n".join(scaled(block_lines(self.text), factor)), no_wrap=True, overflow="crop")
        return Text(self.text.upper(), style="bold", no_wrap=True, overflow="ellipsis")
