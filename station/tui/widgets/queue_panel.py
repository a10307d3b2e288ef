"""The queue panel: the rollout of the imported group — a progress bar, how many are done, in progress,
waiting, failed and skipped, the pace and the estimated finish (station/rollout.py does the sums) — then
today's count, keys handed out for self-activation (when any) and who is next. Every count has its word beside
its symbol."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from station.i18n import _
from station.rollout import Rollout, counted, finish_text
from station.text import visible
from station.tui.model import DashboardModel
from station.tui.totals import RATE_WINDOW

NEXT_UP_SHOWN = 3
BAR_WIDTH = 16  # fits the narrow side panel with the percentage beside it


def rollout_text(model: DashboardModel) -> Text:
    now = model.clock()
    r = Rollout.from_counts(vars(model.queue), recent_done=model.recent_enrolled(), window=RATE_WINDOW, at=now)
    text = Text()
    text.append(r.bar(BAR_WIDTH), style="bold")
    text.append(f" {r.fraction:.0%}\n")
    text.append("✔ " + r.done_of_group() + "\n", style="bold")
    text.append("▶ " + counted("in_progress", r.in_progress) + "\n○ " + counted("waiting", r.waiting)
                + "\n✘ " + counted("failed", r.failed))
    if r.skipped:
        text.append("\n– " + counted("skipped", r.skipped))
    text.append("\n" + _("pace {n} per hour").format(n=f"{r.pace_per_hour:.0f}"), style="dim")
    finish = r.finish_at()
    if not r.left:
        text.append("\n" + _("nobody left to enrol"), style="dim")
    elif finish is None:
        text.append("\n" + _("no finish estimate"), style="dim")
    else:
        text.append("\n" + _("done {finish}").format(finish=finish_text(now, finish, model.tz)), style="dim")
    return text


def delegated_text(model: DashboardModel) -> Text | None:
    """Keys handed out for the person to register (station handout), counted apart; None when there are none."""
    d = model.delegated
    if not any(d.values()):
        return None
    return Text(_("handed out: {waiting} waiting · {active} activated · {expired} expired").format(
        waiting=d.get("handed_out", 0), active=d.get("active", 0), expired=d.get("expired", 0)), style="dim")


class QueuePanel(Static):
    def show(self, model: DashboardModel) -> None:
        today = _("today: {done} done · {failed} failed").format(done=model.today_enrolled, failed=model.today_failed)
        parts: list[Text] = [rollout_text(model), Text(today, style="dim")]
        handed_out = delegated_text(model)
        if handed_out is not None:
            parts.append(handed_out)
        if model.next_up:
            next_up = Text(_("next up"), style="bold")
            for upn, name in model.next_up[:NEXT_UP_SHOWN]:
                next_up.append(f"\n {visible(name or upn)}", style="not bold")
            next_up.no_wrap, next_up.overflow = True, "ellipsis"
            parts.append(next_up)
        self.update(Group(*parts))
