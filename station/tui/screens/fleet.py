"""The fleet screen: every station sharing the store (alive or stale, heartbeat, version, slots, unfinished
enrolments) and the shared queue's totals, read again every few seconds. ``f`` or Esc closes it.

The fleet view is read on a worker thread, which posts FleetRefreshed or FleetUnreachable; the screen
draws on its own thread. When a read fails the last table stays, and the top line says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from station.errors import StationError
from station.i18n import N_, _, ngettext
from station.text import visible
from station.tui.bindings import speak_bindings
from station.tui.messages import FleetRefreshed, FleetUnreachable
from station.tui.widgets.fleet_table import FleetTable, queue_text

log = logging.getLogger(__name__)

ReadFleet = Callable[[], dict[str, Any]]


class FleetScreen(ModalScreen[None]):
    BINDINGS = [Binding("f,escape", "dismiss", N_("Close fleet")), Binding("q", "dismiss", show=False)]

    def __init__(self, read_fleet: ReadFleet, *, clock_text: Callable[[float], str], refresh_seconds: float) -> None:
        super().__init__()
        speak_bindings(self)
        self.read_fleet = read_fleet
        self.clock_text = clock_text
        self.refresh_seconds = refresh_seconds

    def compose(self) -> ComposeResult:
        yield Static(Text(" " + _("Fleet · reading the station registry…"), style="bold"), id="fleet-bar")
        with VerticalScroll(id="fleet-body"):
            yield FleetTable(id="fleet-stations")
        yield Static(id="fleet-queue")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#fleet-body").border_title = _("Stations")
        self.query_one("#fleet-queue").border_title = _("Queue")
        self.refresh_fleet()
        self.set_interval(self.refresh_seconds, self.refresh_fleet)

    def refresh_fleet(self) -> None:
        self.run_worker(self._read_fleet, thread=True, exclusive=True, group="fleet", exit_on_error=False)

    def _read_fleet(self) -> None:
        try:
            fleet = self.read_fleet()
        except (StationError, OSError, ValueError) as e:
            message = getattr(e, "message", None) or str(e)
            log.debug("fleet view unreadable: %s", message)
            self.post_message(FleetUnreachable(_("cannot read the fleet: {why}").format(why=message)))
        else:
            self.post_message(FleetRefreshed(fleet))

    def on_fleet_refreshed(self, message: FleetRefreshed) -> None:
        fleet = message.fleet
        stations = [st for st in fleet.get("stations") or [] if isinstance(st, dict)]
        alive = sum(1 for st in stations if st.get("state") == "alive")
        stopped = sum(1 for st in stations if st.get("state") == "stopped")
        bar = Text(" " + _("Fleet") + " ", style="bold")
        stale = len(stations) - alive - stopped
        bar.append(" " + ngettext("{n} station", "{n} stations", len(stations)).format(n=len(stations)) + " · "
                   + ngettext("{n} alive", "{n} alive", alive).format(n=alive), style="reverse")
        if stopped:
            bar.append(" · " + ngettext("{n} stopped", "{n} stopped", stopped).format(n=stopped), style="reverse")
        if stale:
            bar.append(" · " + ngettext("{n} stale", "{n} stale", stale).format(n=stale) + " ", style="reverse bold")
        else:
            bar.append(" ", style="reverse")
        at = fleet.get("at")
        if isinstance(at, int | float):
            bar.append(" " + _("as of {clock}").format(clock=self.clock_text(float(at))))
        stale_after = fleet.get("stale_after")
        if isinstance(stale_after, int | float):
            self.query_one("#fleet-body").border_subtitle = _("stale: no heartbeat for {n} s").format(
                n=f"{stale_after:g}")
        self.query_one("#fleet-bar", Static).update(bar)
        self.query_one("#fleet-bar").set_class(False, "-down")
        self.query_one(FleetTable).show(fleet)
        self.query_one("#fleet-queue", Static).update(queue_text(fleet))

    def on_fleet_unreachable(self, message: FleetUnreachable) -> None:
        bar = Text(" " + _("Fleet") + " ", style="bold")
        bar.append(" ✘ " + _("UNREACHABLE") + " ", style="reverse bold")
        bar.append(f" {visible(message.message)}")
        self.query_one("#fleet-bar", Static).update(bar)
        self.query_one("#fleet-bar").set_class(True, "-down")
