"""The fleet table: every station sharing the store — alive or stale, heartbeat age, version, its busy slots
and unfinished enrolments — drawn from a fleet view (``station.fleet.FleetView.to_dict()``); and the
one line of queue totals shown under it."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from station.enroll.steps import step_word
from station.i18n import N_, _, ngettext
from station.rollout import COUNTS, PACE_WINDOW, rollout_lines
from station.text import visible

QUEUE_WORDS = (("queued", "queued"), ("claimed", "in_progress"), ("enrolled", "enrolled"), ("failed", "failed"),
               ("skipped", "skipped"))  # the queue's states and their words (station.rollout.COUNTS)
COLUMNS = (N_("Station"), N_("State"), N_("Heartbeat"), N_("Version"), N_("Slots"), N_("Unfin."))


class FleetTable(Static):
    def show(self, fleet: dict[str, Any]) -> None:
        stations = [st for st in fleet.get("stations") or [] if isinstance(st, dict)]
        if not stations:
            self.update(Text(_("No station has registered with this store yet."), style="dim"))
            return
        table = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False, show_edge=False, collapse_padding=True)
        station, state, heartbeat, version, slots, unfinished = (_(c) for c in COLUMNS)
        table.add_column(station, ratio=2)
        table.add_column(state, no_wrap=True)
        table.add_column(heartbeat, no_wrap=True)
        table.add_column(version, no_wrap=True)
        table.add_column(slots, ratio=3)
        table.add_column(unfinished, justify="right", no_wrap=True)
        for st in stations:
            table.add_row(*station_row(st))
        self.update(table)


def station_row(st: dict[str, Any]) -> list[Text]:
    """One station's cells. A stale or cleanly stopped station says so in words."""
    alive = st.get("state") == "alive"
    muted = "" if alive else "dim"
    ident = str(st.get("id", ""))
    name = Text(visible(ident), style="bold")
    where = visible(" · ".join(str(x) for x in (st.get("name"), st.get("host")) if x and x != ident))
    if where:
        name.append(f"\n{where}", style="dim")
    if alive:
        state = Text("● " + _("alive"), style="bold")
    elif st.get("state") == "stopped":
        state = Text("■ " + _("stopped"), style="dim")
    else:
        state = Text("✘ " + _("stale"), style="bold reverse")
    unfinished = int(st.get("unfinished") or 0)
    age = _("{age} ago").format(age=age_text(float(st.get("heartbeat_age") or 0.0)))
    return [name, state, Text(age, style=muted),
            Text(visible(st.get("version") or "?"), style=muted), slots_text(st.get("slots") or [], alive),
            Text(str(unfinished), style="bold" if unfinished else "dim")]


def slots_text(slots: list[dict[str, Any]], alive: bool) -> Text:
    """Each busy slot on its own line: the slot, its step and whose key it becomes ("USB 1-1 touch ada")."""
    busy = [s for s in slots if isinstance(s, dict) and s.get("slot")]
    if not busy:
        return Text(_("idle") if alive else "—", style="dim")
    text = Text()
    for i, s in enumerate(busy):
        person = str(s.get("upn") or "").split("@", 1)[0]
        text.append(("\n" if i else "") + f"{visible(s['slot'])} ")
        text.append(visible(step_word(str(s.get("step") or "?"))), style="bold")
        if person:
            text.append(f" {visible(person)}")
    return text


def queue_text(fleet: dict[str, Any]) -> Text:
    """The shared queue's totals on one line, then the rollout as `station fleet` prints it."""
    q = fleet.get("queue") or {}
    text = Text()
    for i, (key, what) in enumerate(QUEUE_WORDS):
        n = int(q.get(key, 0) or 0)
        before, _n, after = ngettext(*COUNTS[what], n).partition("{n}")
        text.append((" · " if i else "") + before)
        text.append(str(n), style="bold")
        text.append(after)
    counts = {key: int(q.get(key, 0) or 0) for key, _ in QUEUE_WORDS}
    for line in rollout_lines(counts, recent_done=int(fleet.get("recent_enrolled", 0) or 0), window=PACE_WINDOW,
                              at=float(fleet.get("at") or 0.0)):
        text.append(f"\n{line}")
    return text


def age_text(seconds: float) -> str:
    """A heartbeat's age as an operator reads it: "12 s", "5 min", "3 h", "2 d"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"
