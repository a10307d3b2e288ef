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
from station.text import visible
from station.tui.messages import FleetRefreshed, FleetUnreachable
from station.tui.widgets.fleet_table import FleetTable, queue_text

log = logging.getLogger(__name__)

ReadFleet = Callable[[], dict[str, Any]]


class FleetScreen(ModalScreen[None]):
    BINDINGS = [Binding("f,escape", "dismiss", "Close fleet"), Binding("q", "dismiss", show=False)]

    def __init__(self, read_fleet: ReadFleet, *, clock_text: Callable[[float], str], refresh_seconds: float) -> None:
        super().__init__()
        self.read_fleet = read_fleet
        self.clock_text = clock_text
        self.refresh_seconds = refresh_seconds

    def compose(self) -> ComposeResult:
        yield Static(Text(" Fleet · reading the station registry…", style="bold"), id="fleet-bar")
        with VerticalScroll(id="fleet-body"):
            yield FleetTable(id="fleet-stations")
        yield Static(id="fleet-queue")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#fleet-body").border_title = "Stations"
        self.query_one("#fleet-queue").border_title = "Queue"
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
            self.post_message(FleetUnreachable(f"cannot read the fleet: {message}"))
        else:
            self.post_message(FleetRefreshed(fleet))

    def on_fleet_refreshed(self, message: FleetRefreshed) -> None:
        fleet = message.fleet
        stations = [st for st in fleet.get("stations") or [] if isinstance(st, dict)]
        alive = sum(1 for st in stations if st.get("state") == "alive")
        stopped = sum(1 for st in stations if st.get("state") == "stopped")
        bar = Text(" Fleet ", style="bold")
        bar.append(f" {len(stations)} station{'' if len(stations) == 1 else 's'} · {alive} alive", style="reverse")
        if stopped:
            bar.append(f" · {stopped} stopped", style="reverse")
        if len(stations) > alive + stopped:
            bar.append(f" · {len(stations) - alive - stopped} stale ", style="reverse bold")
        else:
            bar.append(" ", style="reverse")
        at = fleet.get("at")
        if isinstance(at, int | float):
            bar.append(f" as of {self.clock_text(float(at))}")
        stale_after = fleet.get("stale_after")
        if isinstance(stale_after, int | float):
            self.query_one("#fleet-body").border_subtitle = f"stale: no heartbeat for {stale_after:g} s"
        self.query_one("#fleet-bar", Static).update(bar)
        self.query_one("#fleet-bar").set_class(False, "-down")
        self.query_one(FleetTable).show(fleet)
        self.query_one("#fleet-queue", Static).update(queue_text(fleet))

    def on_fleet_unreachable(self, message: FleetUnreachable) -> None:
        bar = Text(" Fleet ", style="bold")
        bar.append(" ✘ UNREACHABLE ", style="reverse bold")
        bar.append(f" {visible(message.message)}")
        self.query_one("#fleet-bar", Static).update(bar)
        self.query_one("#fleet-bar").set_class(True, "-down")
