"""The scrolling event log: every event as one timestamped line with an icon for its level."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from station.text import visible
from station.tui.model import DashboardModel

ICONS = {"success": ("✔", "green"), "warning": ("⚠", "yellow"), "error": ("✘", "red")}


class EventLog(RichLog):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(max_lines=500, wrap=True, markup=False, id=id)
        self.written = 0

    def show(self, model: DashboardModel) -> None:
        for line in model.log_since(self.written):
            icon, colour = ICONS.get(line.level, ("·", ""))
            text = Text()
            text.append(f"{model.clock_text(line.at)} ", style="dim")
            text.append(f"{icon} ", style=colour)
            text.append(visible(line.text))
            self.write(text)
            self.written = line.seq
