"""A banner in block letters, for words a technician must read from a metre away.

When the widget is too narrow for the block letters it falls back to the plain words, so the message
is never cut.
"""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive
from textual.widget import Widget

from station.tui.block_font import HEIGHT, block_lines, block_width


class Banner(Widget):
    """Words in large block letters (``text``), or plain when they do not fit."""

    DEFAULT_CSS = "Banner { height: auto; }"

    text: reactive[str] = reactive("", layout=True)

    def __init__(self, text: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.text = text

    def _fits(self, width: int) -> bool:
        return block_width(self.text) <= width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return HEIGHT if self._fits(width) else 1

    def render(self) -> Text:
        width = self.content_size.width
        if self._fits(width):
            return Text("\n".join(block_lines(self.text)), no_wrap=True, overflow="crop")
        return Text(self.text.upper(), style="bold", no_wrap=True, overflow="ellipsis")
