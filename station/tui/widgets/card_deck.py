"""The cards of every key present, in a grid that gains columns as the screen widens.

With no key present it shows what to do instead: insert a key (and who is next), or that intake is paused.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import ScrollableContainer, Vertical
from textual.events import Resize
from textual.widgets import Static

from station.i18n import _, ngettext
from station.text import visible
from station.tui.model import DashboardModel
from station.tui.widgets.banner import Banner
from station.tui.widgets.slot_card import SlotCardView

CARD_MIN_WIDTH = 52


def waiting_for_own_keys(queued: int) -> str:
    """The idle hint when nobody is next in line: the queue is empty, or everyone left waits for their own key."""
    if not queued:
        return _("Nobody is waiting in the queue.")
    return ngettext("{n} person waits for a key of their own (pre-assigned): insert one of those keys.",
                    "{n} people wait for a key of their own (pre-assigned): insert one of those keys.",
                    queued).format(n=queued)


class IdlePrompt(Vertical):
    """What the empty station asks for."""

    def compose(self) -> ComposeResult:
        yield Banner(_("INSERT A KEY"))
        yield Static(classes="hint")

    def show(self, model: DashboardModel) -> None:
        banner, hint = self.query_one(Banner), self.query_one(".hint", Static)
        self.set_class(model.paused or model.state == "store not writable", "-paused")
        if model.paused:
            banner.text = _("PAUSED")
            hint.update(Text("⏸ " + _("Intake is paused: keys inserted now wait. Press p to resume.")))
        elif model.state == "store not writable":
            banner.text = _("NO KEYS NOW")
            hint.update(Text(f"✘ {visible(model.summary.split(' · ')[0])}. " + _(
                "Keys are refused (and not changed) until the administrator frees space; the station goes on "
                "by itself.")))
        else:
            banner.text = _("INSERT A KEY")
            upn, name = model.next_up[0] if model.next_up else ("", "")
            hint.update(Text(_("Next up: {name} ({upn})").format(name=visible(name or upn), upn=visible(upn)) if upn
                             else waiting_for_own_keys(model.queue.queued)))


class CardDeck(ScrollableContainer):
    """Keeps one SlotCardView per card in the model, in the order keys arrived."""

    def compose(self) -> ComposeResult:
        yield IdlePrompt()

    def on_resize(self, event: Resize) -> None:
        self._fit_columns(event.size.width)

    def _fit_columns(self, width: int) -> None:
        """As many columns as fit and as there are cards: one key alone gets the whole width, and its large
        text grows with it."""
        self.styles.grid_size_columns = max(1, min(len(self.views), width // CARD_MIN_WIDTH))

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.views: dict[str, SlotCardView] = {}

    def show(self, model: DashboardModel) -> None:
        now = model.clock()
        for slot in [s for s in self.views if s not in model.cards]:
            self.views.pop(slot).remove()
        for slot, card in model.cards.items():
            view = self.views.get(slot)
            if view is None:
                view = self.views[slot] = SlotCardView(card, now, paused=model.paused)
                self.mount(view)
            else:
                view.show(card, now, paused=model.paused)
        self._fit_columns(self.size.width)
        prompt = self.query_one(IdlePrompt)
        prompt.display = not model.cards
        prompt.show(model)

    def tick(self, model: DashboardModel) -> None:
        """Advance the elapsed times (once a second) without redrawing anything else."""
        now = model.clock()
        for slot, view in self.views.items():
            card = model.cards.get(slot)
            if card is not None:
                view.show_elapsed(card, now)
