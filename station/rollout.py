"""The rollout as a whole: how much of the imported group is done, in progress, waiting or failed, the pace,
and when the group will be finished at that pace.

One calculation for the dashboard's Rollout panel, `station status` and `station fleet`, from the queue's
counts (every person imported, on every station sharing the store) and the enrolments finished in the last
15 minutes (``PACE_WINDOW``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Final

from station.i18n import NP_, _, ngettext

BAR_FULL: Final = "█"
BAR_EMPTY: Final = "░"
TEXT_BAR_WIDTH: Final = 30
PACE_WINDOW: Final = 900  # the pace counts the enrolments finished in the last 15 minutes


@dataclass(frozen=True)
class Rollout:
    done: int
    in_progress: int
    waiting: int
    failed: int
    skipped: int
    pace_per_hour: float
    at: float

    @classmethod
    def from_counts(cls, queue: Mapping[str, int], *, recent_done: int, window: float, at: float) -> Rollout:
        """``queue``: the queue's counts by state; ``recent_done``: enrolments finished in the last ``window`` s."""
        return cls(done=int(queue.get("enrolled", 0)), in_progress=int(queue.get("claimed", 0)),
                   waiting=int(queue.get("queued", 0)), failed=int(queue.get("failed", 0)),
                   skipped=int(queue.get("skipped", 0)), pace_per_hour=recent_done * 3600.0 / window, at=at)

    @property
    def group(self) -> int:
        """Everyone who is to get a key: the imported group less those skipped."""
        return self.done + self.in_progress + self.waiting + self.failed

    @property
    def left(self) -> int:
        return self.in_progress + self.waiting

    @property
    def fraction(self) -> float:
        return self.done / self.group if self.group else 0.0

    def finish_at(self) -> float | None:
        """When everyone left is enrolled at the current pace (None: nobody is left, or there is no pace)."""
        if not self.left or self.pace_per_hour <= 0:
            return None
        return self.at + self.left / self.pace_per_hour * 3600.0

    def bar(self, width: int) -> str:
        full = round(self.fraction * width)
        return BAR_FULL * full + BAR_EMPTY * (width - full)

    def done_of_group(self) -> str:
        return ngettext("{done} of {group} done", "{done} of {group} done", self.done).format(
            done=self.done, group=self.group)

    def counts_line(self) -> str:
        line = " · ".join((self.done_of_group() + f" ({self.fraction:.0%})", counted("in_progress", self.in_progress),
                           counted("waiting", self.waiting), counted("failed", self.failed)))
        return line + (" · " + counted("skipped", self.skipped) if self.skipped else "")

    def pace_line(self, tz: tzinfo | None = None) -> str:
        pace = _("pace {n} per hour (last 15 min)").format(n=f"{self.pace_per_hour:.0f}")
        if not self.left:
            return pace + " · " + _("nobody left to enrol")
        finish = self.finish_at()
        if finish is None:
            return pace + " · " + _("no finish estimate until keys are done")
        return pace + " · " + _("at this pace done {finish}").format(finish=finish_text(self.at, finish, tz))


# A count and what it counts, in the station's language with the plural form the count takes ("1 sauté",
# "2 sautés"): every "{n} …" the technician reads is one of these.
COUNTS: Final = {
    "queued": NP_("{n} queued", "{n} queued"), "claimed": NP_("{n} claimed", "{n} claimed"),
    "in_progress": NP_("{n} in progress", "{n} in progress"), "waiting": NP_("{n} waiting", "{n} waiting"),
    "enrolled": NP_("{n} enrolled", "{n} enrolled"), "failed": NP_("{n} failed", "{n} failed"),
    "skipped": NP_("{n} skipped", "{n} skipped"), "unfinished": NP_("{n} unfinished", "{n} unfinished"),
    "enrolled_today": NP_("{n} enrolled today", "{n} enrolled today"),
    "failed_today": NP_("{n} failed today", "{n} failed today"),
}
QUEUE_STATES: Final = ("queued", "claimed", "enrolled", "failed", "skipped")


def counted(what: str, n: int) -> str:
    """``n`` and what it counts (a key of COUNTS), in the station's language."""
    return ngettext(*COUNTS[what], n).format(n=n)


def queue_line(queue: Mapping[str, int], separator: str = " · ") -> str:
    """The queue's counts by state: "queue: 4 queued · 1 claimed · 0 enrolled · 0 failed · 0 skipped"."""
    counts = separator.join(counted(state, queue.get(state, 0)) for state in QUEUE_STATES)
    return _("queue: {counts}").format(counts=counts)


def rollout_lines(queue: Mapping[str, int], *, recent_done: int, window: float, at: float) -> list[str]:
    """The rollout for `station status` and `station fleet`: counts, a progress bar, the pace and the finish."""
    r = Rollout.from_counts(queue, recent_done=recent_done, window=window, at=at)
    return [_("rollout: {counts}").format(counts=r.counts_line()),
            f"  {r.bar(TEXT_BAR_WIDTH)} {r.fraction:.0%} · {r.pace_line()}"]


def finish_text(now: float, finish: float, tz: tzinfo | None = None) -> str:
    """"by 14:30 (in 2 h 5 min)", with the date when it is not today."""
    when, today = datetime.fromtimestamp(finish, tz), datetime.fromtimestamp(now, tz)
    clock = when.strftime("%H:%M") if when.date() == today.date() else when.strftime("%Y-%m-%d %H:%M")
    minutes = max(1, round((finish - now) / 60))
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    units = ((days, _("{n} d")), (hours, _("{n} h")), (minutes, _("{n} min")))
    span = " ".join(unit.format(n=n) for n, unit in units if n)
    return _("by {clock} (in {span})").format(clock=clock, span=span)
