"""The queue panel: how many people are queued, in progress, done, failed and skipped, and who is next."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from station.text import visible
from station.tui.model import DashboardModel

NEXT_UP_SHOWN = 3


class QueuePanel(Static):
    def show(self, model: DashboardModel) -> None:
        q = model.queue
        table = Table.grid(expand=True)
        table.add_column()
        table.add_column(justify="right")
        for label, value in (("queued", q.queued), ("in progress", q.claimed), ("enrolled", q.enrolled),
                             ("failed", q.failed), ("skipped", q.skipped)):
            table.add_row(label, Text(str(value), style="bold"))
        table.add_row(Text("today", style="dim"),
                      Text(f"✔ {model.today_enrolled}  ✘ {model.today_failed}", style="dim"))
        if not model.next_up:
            self.update(table)
            return
        next_up = Text("next up", style="bold")
        for upn, name in model.next_up[:NEXT_UP_SHOWN]:
            next_up.append(f"\n {visible(name or upn)}", style="not bold")
        next_up.no_wrap, next_up.overflow = True, "ellipsis"
        self.update(Group(table, next_up))
