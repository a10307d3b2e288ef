"""Entra health: whether the token works, the last Graph latency, throttling and the last error."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from station.i18n import _
from station.text import visible
from station.tui.model import DashboardModel


class EntraHealthPanel(Static):
    def show(self, model: DashboardModel) -> None:
        e = model.entra
        text = Text()
        if e.token_ok is None:
            text.append("○ " + _("token not used yet"), style="dim")
        elif e.token_ok:
            text.append("✔ " + _("token ok"), style="bold")
        else:
            text.append("✘ " + _("TOKEN FAILING"), style="bold")
        if e.last_latency_ms is not None:
            text.append("\n  " + _("latency {ms} ms").format(ms=f"{e.last_latency_ms:.0f}"))
        if e.throttled:
            text.append("\n⚠ " + _("throttled by Graph"), style="bold")
        if e.last_error:
            text.append("\n  " + _("last error: {error}").format(error=visible(e.last_error)), style="dim")
        self.set_class(e.token_ok is False, "-bad")
        self.set_class(e.throttled, "-warn")
        self.update(text)
