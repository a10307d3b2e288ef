"""Entra health: whether the token works, the last Graph latency, throttling and the last error."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from station.text import visible
from station.tui.model import DashboardModel


class EntraHealthPanel(Static):
    def show(self, model: DashboardModel) -> None:
        e = model.entra
        text = Text()
        if e.token_ok is None:
            text.append("○ token not used yet", style="dim")
        elif e.token_ok:
            text.append("✔ token ok", style="bold")
        else:
            text.append("✘ TOKEN FAILING", style="bold")
        if e.last_latency_ms is not None:
            text.append(f"\n  latency {e.last_latency_ms:.0f} ms")
        if e.throttled:
            text.append("\n⚠ throttled by Graph", style="bold")
        if e.last_error:
            text.append(f"\n  last error: {visible(e.last_error)}", style="dim")
        self.set_class(e.token_ok is False, "-bad")
        self.set_class(e.throttled, "-warn")
        self.update(text)
