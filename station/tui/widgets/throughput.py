"""Throughput: the rolling rate over the last 15 minutes, today's total, and a sparkline of the last hour
(five-minute buckets of what this dashboard saw)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from station.i18n import _
from station.rollout import counted
from station.tui.model import DashboardModel


class ThroughputPanel(Vertical):
    _rate = ""

    def compose(self) -> ComposeResult:
        yield Static(classes="rate")
        yield Sparkline([0.0])

    def show(self, model: DashboardModel) -> None:
        rate = (_("{n} per hour (last 15 min)").format(n=model.throughput_per_hour()) + "\n"
                + counted("enrolled_today", model.today_enrolled))
        if rate != self._rate:  # called every second; an update redraws the screen
            self._rate = rate
            self.query_one(".rate", Static).update(rate)
        series = model.throughput_series()
        spark = self.query_one(Sparkline)
        if list(spark.data or []) != series:
            spark.data = series
