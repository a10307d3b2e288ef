"""The help screen: what each key does and how to read a card."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from station.i18n import N_, _
from station.tui.bindings import speak_bindings

# Translators: keep the [b]…[/b] markup, the key names and the symbols.
HELP = N_("""\
[b]Keys[/b]
  [b]p[/b]  pause or resume intake (keys inserted while paused wait)
  [b]r[/b]  retry a failed person (the selected card's, or one you pick)
  [b]s[/b]  skip a person (the selected card's, or one you pick)
  [b]/[/b]  find a person
  [b]f[/b]  the fleet: every station sharing the queue, its keys, queue totals
  [b]k[/b]  keys: every key enrolled, by state; revoke or replace one (privileged dashboards)
  [b]h[/b]  hand a key out: the person registers it with a Temporary Access Pass (privileged dashboards)
  [b]Tab[/b] or a click  select a card
  [b]?[/b]  this help       [b]q[/b]  quit (asks while keys are being enrolled)

[b]A card per key[/b]
  ✔ done step   ● current step   ✘ failed step   ○ still ahead
  TOUCH THE KEY — touch the key's sensor now
  DONE — remove the key: it belongs to the person named
  FAILED / KEY REFUSED — read the reason, then do what the arrow (→) says

Press Esc or ? to close.""")


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", N_("Close"))]

    def __init__(self) -> None:
        super().__init__()
        speak_bindings(self)

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Static(_(HELP))

    def on_click(self) -> None:
        self.dismiss()
