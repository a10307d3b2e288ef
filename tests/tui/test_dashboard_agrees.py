"""Header, cards and panels tell the same story at every step of an enrolment, between status snapshots too.

The fake station's snapshot is read once at start (the poll period is an hour): everything after comes from
events, as it does for the seconds between two snapshots of a real station.
"""

from __future__ import annotations

import re

from dashboard_steps import claimed, done, make_app, touch
from fake_source import T0, FakeSource, status
from pilot_wait import wait_for
from test_dashboard_app import card_text, on_screen, started
from textual.pilot import Pilot

from station.events import Event, KeyRemoved
from station.tui.app import StationApp

SIZE = (120, 36)


def panel_number(app: StationApp, panel: str, label: str) -> int:
    found = re.search(rf"(\d+) {label}", on_screen(app, panel))
    assert found, f"{label!r} not in {panel}:\n{on_screen(app, panel)}"
    return int(found.group(1))


def header(app: StationApp) -> str:
    return on_screen(app, "#station-bar")


async def step(pilot: Pilot[int], source: FakeSource, events: list[Event], card_says: str) -> None:
    source.emit(*events)
    await wait_for(pilot, lambda: card_says in card_text(pilot.app, "USB 1-1"), card_says)  # type: ignore[arg-type]


async def test_header_cards_and_panels_agree_at_every_step() -> None:
    source = FakeSource()
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert "idle · 132 queued · 41 enrolled today" in header(app)
        assert panel_number(app, "#queue", "in progress") == 0

        await step(pilot, source, claimed("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0), "CLAIM")
        assert "working · 1 key · 131 queued · 41 enrolled today" in header(app)
        assert (panel_number(app, "#queue", "waiting"), panel_number(app, "#queue", "in progress")) == (131, 1)
        assert "Ada Lovelace" not in on_screen(app, "#queue"), "the person at the key is not listed as next up"

        await step(pilot, source, touch("USB 1-1", 1, at=T0 + 5), "touch the key's sensor now")
        assert "working · 1 key · 131 queued" in header(app)
        assert panel_number(app, "#queue", "in progress") == 1

        await step(pilot, source, done("USB 1-1", 1, "ada@contoso.com", "Ada Lovelace", at=T0 + 20),
                   "Done — remove the key")
        assert "idle · 131 queued · 42 enrolled today" in header(app), "no 'working · 1 key' beside a done card"
        assert (panel_number(app, "#queue", "in progress"), panel_number(app, "#queue", "of 175 done")) == (0, 42)
        assert "42 enrolled today" in on_screen(app, "#throughput")
        assert "4 per hour (last 15 min)" in on_screen(app, "#throughput")
        rollout = " ".join(line.strip("│ ") for line in on_screen(app, "#queue").splitlines())
        assert "24% ✔ 42 of 175 done" in rollout and "pace 4 per hour" in rollout
        assert "done by 2023-11-16 06:59 (in 1 d 8 h 45 min)" in rollout, "131 left at 4 an hour"

        source.emit(KeyRemoved(slot="USB 1-1", at=T0 + 30))
        await wait_for(pilot, lambda: "Next up" in on_screen(app, "#cards"), "the idle prompt")
        assert "Next up: Grace Hopper" in on_screen(app, "#cards"), "Ada, enrolled, is no longer next"
        assert "idle · 131 queued · 42 enrolled today" in header(app)

        # The station's next snapshot counts the same enrolment: nothing on the screen moves.
        source.status = status(queue={"queued": 131, "claimed": 0, "enrolled": 42, "failed": 2, "skipped": 1},
                               today={"enrolled": 42, "failed": 2}, pace={"window_seconds": 900, "enrolled": 1})
        app.refresh_status()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "idle · 131 queued · 42 enrolled today" in header(app)
        assert (panel_number(app, "#queue", "in progress"), panel_number(app, "#queue", "of 175 done")) == (0, 42)
        assert "4 per hour (last 15 min)" in on_screen(app, "#throughput")
