"""Find a person by part of a name or UPN; answers the chosen UPN (or None when cancelled).

The list holds everyone the dashboard has heard of (next up, at a key, failed, enrolled). A full UPN
that is not in the list can be typed and confirmed with Enter.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from station.i18n import N_, _
from station.text import visible
from station.tui.bindings import speak_bindings
from station.tui.records import PersonRef

Lookup = Callable[[str], list[PersonRef]]


class FindPersonScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", N_("Cancel")), Binding("down", "to_list", show=False)]

    def __init__(self, question: str, lookup: Lookup) -> None:
        super().__init__()
        speak_bindings(self)
        self.question = question
        self.lookup = lookup

    def compose(self) -> ComposeResult:
        with Vertical(id="find-person"):
            yield Static(Text(self.question), classes="question")
            yield Input(placeholder=_("name or UPN"), id="query")
            yield OptionList(id="people")
            yield Static(_("Enter chooses · ↓ to the list · Esc cancels"), classes="hint")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    @on(Input.Changed)
    def query_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def _fill(self, query: str) -> None:
        people = self.query_one(OptionList)
        people.clear_options()
        people.add_options(Option(Text(visible(f"{p.display_name or p.upn}  {p.upn}  ({p.where})")), id=p.upn)
                           for p in self.lookup(query))
        if people.option_count:
            people.highlighted = 0

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        people = self.query_one(OptionList)
        if people.highlighted is not None and people.option_count:
            self.dismiss(people.get_option_at_index(people.highlighted).id)
        elif "@" in event.value:
            self.dismiss(event.value.strip())
        else:
            self.notify(_("Nobody matches; type a full UPN (name@domain)."), severity="warning", markup=False)

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_to_list(self) -> None:
        self.query_one(OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
