"""One key's card: the slot and key model, the person, the step bar, and what to do next in large type.

While presence is awaited the card says TOUCH THE KEY in block letters; when the enrolment is done it
says so in green with the person's name and asks for the key back; when it failed it shows the reason
and the remedy in red. Icons and words carry the meaning too, never colour alone.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from station.i18n import _
from station.text import visible
from station.tui.model import Outcome, SlotCard
from station.tui.widgets.banner import Banner
from station.tui.widgets.step_bar import StepBar

STATE_CLASSES = ("-working", "-touch", "-done", "-failed")


def elapsed_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


class SlotCardView(Vertical, can_focus=True):
    """Draws one SlotCard. Focus (a click or Tab) selects the card for r and s."""

    def __init__(self, card: SlotCard, now: float, *, paused: bool) -> None:
        super().__init__(classes="slot-card")
        self.slot = card.slot
        self.upn = card.upn
        self.outcome = card.outcome
        self._ready = False
        self._first = (card, now, paused)

    def on_mount(self) -> None:
        self._ready = True
        card, now, paused = self._first
        self.show(card, now, paused=paused)

    def compose(self) -> ComposeResult:
        yield Static(classes="who")
        yield Static(classes="upn")
        yield StepBar()
        yield Banner(classes="prompt")
        yield Static(classes="detail")

    def show(self, card: SlotCard, now: float, *, paused: bool) -> None:
        self.upn, self.outcome = card.upn, card.outcome
        if not self._ready:
            self._first = (card, now, paused)
            return
        self.border_title = Text(visible(" · ".join(p for p in (card.title, card.model) if p)))
        self.show_elapsed(card, now)
        state = state_class(card)
        for cls in STATE_CLASSES:
            self.set_class(cls == state, cls)
        who, upn = self.query_one(".who", Static), self.query_one(".upn", Static)
        who.update(who_text(card, paused=paused))
        upn.update(upn_text(card))
        upn.display = bool(card.upn and card.display_name)
        bar = self.query_one(StepBar)
        bar.stage, bar.outcome = card.stage, card.outcome
        banner = self.query_one(Banner)
        banner.text = banner_text(card)
        banner.display = bool(banner.text)
        detail = self.query_one(".detail", Static)
        lines = detail_text(card)
        detail.update(lines)
        detail.display = bool(lines.plain)

    def show_elapsed(self, card: SlotCard, now: float) -> None:
        """Only the elapsed time in the border changes (once a second)."""
        self.border_subtitle = elapsed_text(card.elapsed(now))


def state_class(card: SlotCard) -> str:
    if card.outcome is Outcome.DONE:
        return "-done"
    if card.outcome in (Outcome.FAILED, Outcome.REJECTED):
        return "-failed"
    return "-touch" if card.touch else "-working"


def who_text(card: SlotCard, *, paused: bool) -> Text:
    """The person's name (their UPN when the directory has no name), on a line of its own (station.tcss cuts
    what does not fit with an ellipsis, never wrapping it into the UPN's line)."""
    if card.upn:
        return Text(visible(card.display_name or card.upn), style="bold")
    if card.outcome is not Outcome.WORKING:
        return Text(_("no person assigned"), style="dim")
    if paused and card.enrolment_id is None and not card.model:
        return Text("⏸ " + _("waiting: intake is paused"), style="bold")
    return Text(_("checking the key…"), style="dim")


def upn_text(card: SlotCard) -> Text:
    """The person's UPN, the second field under the name (shown only when there is a name above it)."""
    return Text(visible(card.upn), style="dim")


def banner_text(card: SlotCard) -> str:
    """The card's words in block letters (station/tui/block_font.py draws the letters of every language's)."""
    # Translators: the card's large block letters; short, in capitals.
    if card.outcome is Outcome.DONE:
        return _("DONE")
    if card.outcome is Outcome.FAILED:
        return _("FAILED")
    if card.outcome is Outcome.REJECTED:
        return _("KEY REFUSED")
    return _("TOUCH THE KEY") if card.touch else ""


def detail_text(card: SlotCard) -> Text:
    text = Text()
    if card.outcome is Outcome.DONE:
        text.append("✔ " + _("Done — remove the key"), style="bold")
        if card.display_name or card.upn:
            text.append("\n  " + _("{name} is enrolled").format(name=visible(card.display_name or card.upn)))
        if card.note:
            text.append(f"\n  {visible(card.note)}", style="italic")
    elif card.outcome in (Outcome.FAILED, Outcome.REJECTED):
        text.append(f"✘ {visible(card.message or card.reason)}", style="bold")
        if card.remedy:
            text.append(f"\n→ {visible(card.remedy)}")
        if card.reason:
            retry = _(", can be retried") if card.retryable else ""
            text.append(f"\n  ({visible(card.reason)}{retry})", style="dim")
    elif card.touch:
        text.append("▶ " + _("touch the key's sensor now"), style="bold")
    if card.pin and card.outcome is not Outcome.REJECTED:
        text.append(("\n" if text.plain else "") + "PIN  ")
        text.append(" ".join(card.pin[i:i + 4] for i in range(0, len(card.pin), 4)), style="bold reverse")
    return text
