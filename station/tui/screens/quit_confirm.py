"""Asks before quitting while enrolments are in flight; answers True to quit."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from station.i18n import N_, _, ngettext
from station.text import visible
from station.tui.bindings import speak_bindings


class QuitConfirmScreen(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", N_("Quit")), Binding("n,escape", "answer(False)", N_("Stay"))]

    def __init__(self, in_flight: list[str], *, stops_station: bool) -> None:
        super().__init__()
        speak_bindings(self)
        self.in_flight = in_flight
        self.stops_station = stops_station

    def compose(self) -> ComposeResult:
        count = len(self.in_flight)
        lines = ["⚠ " + ngettext("{n} enrolment is in flight:", "{n} enrolments are in flight:", count).format(n=count)]
        lines += [f"   {visible(what)}" for what in self.in_flight]
        lines.append(_("Quitting stops the station and interrupts them.") if self.stops_station
                     else _("They continue in the daemon; only this view closes."))
        with Vertical(id="quit-confirm"):
            yield Static(Text("\n".join(lines)))
            with Horizontal(classes="buttons"):
                yield Button(_("Quit (y)"), id="quit", variant="error")
                yield Button(_("Stay (n)"), id="stay", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#stay", Button).focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "quit")

    def action_answer(self, quit_now: bool) -> None:
        self.dismiss(quit_now)
