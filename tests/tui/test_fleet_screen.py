"""The dashboard's fleet screen driven through Textual's Pilot with a fake station: ``f`` opens it on every
station sharing the queue and the queue totals, it reads the fleet again while open, a failed read is said
on screen, and ``f`` or Esc brings the dashboard back."""

from __future__ import annotations

from datetime import UTC

from dashboard_steps import NOW
from fake_source import FakeSource, fleet, slot, station
from pilot_wait import wait_for
from textual.pilot import Pilot

from station.tui.app import StationApp, create_app
from station.tui.screens.fleet import FleetScreen
from station.tui.screens.help import HelpScreen

SIZE = (80, 24)


def make_app(source: FakeSource) -> StationApp:
    return create_app(source, title="Front desk", clock=lambda: NOW, tz=UTC, poll_seconds=3600, fleet_seconds=0.2)


def on_screen(app: StationApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def row_of(app: StationApp, ident: str) -> str:
    return next(line for line in on_screen(app).splitlines() if ident in line)


async def until(pilot: Pilot[int], *words: str) -> None:
    """Wait for the screen to show all of ``words`` (a fleet read is drawn by several widgets)."""
    await wait_for(pilot, lambda: all(w in on_screen(pilot.app) for w in words),  # type: ignore[arg-type]
                   f"the screen showing {words!r}")


async def test_f_shows_every_station_and_the_queue_totals_and_escape_closes_it() -> None:
    source = FakeSource()
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, "f Fleet")
        await pilot.press("f")
        await until(pilot, "3 stations · 2 alive · 1 stale", "as of 22:13:20", "desk-3",
                    "132 queued · 3 in progress · 41 enrolled · 2 failed · 1 skipped")
        assert isinstance(app.screen, FleetScreen)
        assert "● alive" in row_of(app, "desk-1") and "4 s ago" in row_of(app, "desk-1")
        assert "USB 1-1 touch ada" in row_of(app, "desk-1")
        assert "idle" in row_of(app, "desk-2")
        stale = row_of(app, "desk-3")
        assert "✘ stale" in stale and "5 min ago" in stale and "USB 1-2 registering" in stale
        assert stale.rstrip(" │").endswith("1"), "the stale station's unfinished enrolment is counted"
        await pilot.press("escape")
        await wait_for(pilot, lambda: "desk-3" not in on_screen(app), "the fleet closed")
        assert not isinstance(app.screen, FleetScreen)


async def test_the_open_fleet_screen_reads_the_fleet_again_and_says_when_it_cannot() -> None:
    source = FakeSource()
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f")
        await until(pilot, "1 stale")
        source.fleet_view = fleet(station("desk-1", "Front desk", "kiosk-01", age=2.0),
                                  station("desk-3", "Lab", "pi-lab", age=1.0,
                                          slots=[slot("USB 1-2", "done", "alan@contoso.com", 5)]))
        await until(pilot, "2 stations · 2 alive", "USB 1-2 done alan")
        assert "1 stale" not in on_screen(app)
        assert "● alive" in row_of(app, "desk-3") and "USB 1-2 done alan" in row_of(app, "desk-3")
        source.unreachable = "the station daemon on /run/station/control.sock is not running"
        await until(pilot, "UNREACHABLE")
        assert "is not running" in on_screen(app)
        assert "desk-3" in on_screen(app), "the last fleet read stays on screen"
        source.unreachable = None
        await until(pilot, "2 stations · 2 alive")
        assert "UNREACHABLE" not in on_screen(app)
        await pilot.press("f")
        await wait_for(pilot, lambda: not isinstance(app.screen, FleetScreen), "the fleet closed")


async def test_the_help_screen_tells_about_f() -> None:
    app = make_app(FakeSource())
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, "f  the fleet")
        assert isinstance(app.screen, HelpScreen)
