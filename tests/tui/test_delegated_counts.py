"""Keys handed out for self-activation are counted apart on the dashboard: the header's line and the queue panel,
from the status snapshot's 'delegated'; nothing is shown while there are none."""

from __future__ import annotations

from datetime import UTC

from dashboard_steps import NOW
from fake_source import status

from station.tui.model import DashboardModel
from station.tui.widgets.queue_panel import delegated_text


def test_delegated_counts_in_the_header_and_the_queue_panel() -> None:
    model = DashboardModel(clock=lambda: NOW, tz=UTC)
    model.apply_snapshot(status())
    assert delegated_text(model) is None and "delegated" not in model.header_summary()
    model.apply_snapshot({**status(), "delegated": {"handed_out": 3, "active": 2, "expired": 1}})
    assert model.header_summary().endswith("delegated: 3 handed out, 2 activated, 1 expired")
    shown = delegated_text(model)
    assert shown is not None and shown.plain == "handed out: 3 waiting · 2 activated · 1 expired"
