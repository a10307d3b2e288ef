"""Asks before quitting while enrolments are in flight; answers True to quit."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from station.text import visible


class QuitConfirmScreen(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "Quit"), Binding("n,escape", "answer(False)", "Stay")]

    def __init__(self, in_flight: list[str], *, stops_station: bool) -> None:
        super().__init__()
        self.in_flight = in_flight
        self.stops_station = stops_station

    def compose(self) -> ComposeResult:
        count = len(self.in_flight)
        lines = [f"⚠ {count} enrolment{'s are' if count != 1 else ' is'} in flight:"]
        lines += [f"   {visible(what)}" for what in self.in_flight]
        lines.append("Quitting stops the station and interrupts them." if self.stops_station
                     else "They continue in the daemon; only this view closes.")
        with Vertical(id="quit-confirm"):
            yield Static(Text("\n".join(lines)))
            with Horizontal(classes="buttons"):
                yield Button("Quit (y)", id="quit", variant="error")
                yield Button("Stay (n)", id="stay", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#stay", Button).focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "quit")

    def action_answer(self, quit_now: bool) -> None:
        self.dismiss(quit_now)
