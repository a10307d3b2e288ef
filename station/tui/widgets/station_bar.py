"""The top line: the station's name, whether intake runs or is paused, the time, the mode, the summary."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from station.i18n import _
from station.status import state_word
from station.text import visible
from station.tui.model import DashboardModel


class StationBar(Static):
    def __init__(self, *, mode: str, read_only: bool, id: str | None = None) -> None:
        super().__init__(id=id)
        self.mode = mode
        self.read_only = read_only
        self._shown: Text | None = None

    def show(self, model: DashboardModel) -> None:
        text = Text(f" {visible(model.station_name or 'Station')} ", style="bold")
        if not model.reachable:
            state, cls = " ✘ " + _("DAEMON UNREACHABLE") + " ", "-down"
        elif model.paused:
            state, cls = " ⏸ " + _("PAUSED — new keys wait") + " ", "-paused"
        elif model.state in ("idle", "working"):
            state, cls = " ▶ " + _("RUNNING") + " ", "-running"
        else:
            state, cls = f" {visible(state_word(model.state).upper())} ", "-other"
        for c in ("-down", "-paused", "-running", "-other"):
            self.set_class(c == cls, c)
        text.append(state, style="reverse bold")
        mode = _("kiosk") if self.mode == "kiosk" else _("monitor") if self.mode == "monitor" else self.mode
        text.append(f" {model.clock_text(model.clock())[:5]} · {mode.upper()}")
        if self.read_only:
            text.append(" · " + _("read-only"), style="bold")
        if model.summary:  # once a snapshot came: the line is rebuilt from the cards and totals on screen
            text.append(f" · {visible(model.header_summary())}", style="dim")
        if text != self._shown:  # called every second for the clock, which changes once a minute
            self._shown = text
            self.update(text)
