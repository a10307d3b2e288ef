"""Throughput: enrolments in the last hour, with a sparkline of five-minute buckets."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from station.tui.model import DashboardModel


class ThroughputPanel(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(classes="rate")
        yield Sparkline([0.0])

    def show(self, model: DashboardModel) -> None:
        self.query_one(".rate", Static).update(f"{model.throughput_per_hour()} per hour")
        series = model.throughput_series()
        spark = self.query_one(Sparkline)
        if list(spark.data or []) != series:
            spark.data = series
